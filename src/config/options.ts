/**
 * Every configuration option, with its type, default and meaning. This table is the single
 * source for the YAML file keys, the `SPECSTREAM_*` environment variables, the `--flags` and the
 * README's configuration reference (an option `foo_bar` is `SPECSTREAM_FOO_BAR` and `--foo-bar`).
 */

export type OptionKind = 'string' | 'integer' | 'boolean' | 'list';

export interface OptionSpec {
  kind: OptionKind;
  default: string | number | boolean | readonly string[];
  description: string;
  /** Extra environment variable names honoured besides SPECSTREAM_<NAME> (lower precedence). */
  aliases?: readonly string[];
  min?: number;
  max?: number;
  choices?: readonly string[];
}

export const OPTIONS = {
  host: { kind: 'string', default: '127.0.0.1', description: 'Interface to listen on.', aliases: ['HOST'] },
  port: {
    kind: 'integer',
    default: 8080,
    min: 0,
    max: 65535,
    description: 'Port to listen on; 0 picks a free port (the start-up log says which).',
    aliases: ['PORT'],
  },
  workers: {
    kind: 'integer',
    default: 1,
    min: 0,
    max: 256,
    description:
      'Server processes sharing the port and the log (`serve` only; see Workers): 1 runs one process, 0 one per core. Connection limits and rate limits apply per process. Needs a store the processes share (a SQLite file, PostgreSQL or NATS), not `sqlite::memory:`.',
  },
  specs: {
    kind: 'string',
    default: '',
    description:
      'The spec bundle to serve: a folder with openapi.yaml, asyncapi.yaml and optional specstream.yaml defaults (see Serving your own API). Empty: the native bundle `specs/`.',
  },
  store: {
    kind: 'string',
    default: 'sqlite:./data/events.db',
    description: 'Event log URL: `sqlite:PATH`, `sqlite::memory:`, `postgres://USER@HOST/DB[?schema=S]` or `nats://HOST:PORT[?stream=S]` (see Running several nodes).',
  },
  sqlite_synchronous: {
    kind: 'string',
    default: 'NORMAL',
    choices: ['NORMAL', 'FULL'],
    description: 'SQLite durability: NORMAL survives a process crash (kill -9), FULL also a power loss.',
  },
  store_timeout_ms: {
    kind: 'integer',
    default: 5000,
    min: 100,
    max: 600_000,
    description:
      'Deadline of every store call, in ms; past it a publish is a 503 `STORE_UNAVAILABLE` (nothing was stored) or `STORE_TIMEOUT` (sent, not confirmed: retry with the same Idempotency-Key), a read a 503 `STORE_UNAVAILABLE`.',
  },
  readiness_timeout_ms: {
    kind: 'integer',
    default: 1500,
    min: 50,
    max: 60_000,
    description: '`GET /readyz` answers 503 when the store has not answered within this many ms.',
  },
  keys: {
    kind: 'list',
    default: [],
    description:
      'API keys as `id:secret:scope,scope` (env: `;`-separated; flag: repeat `--key`). None: a development key is generated and printed.',
  },
  allow_anonymous: {
    kind: 'boolean',
    default: false,
    description: 'Let requests without credentials through with `anonymous_scopes`.',
  },
  anonymous_scopes: {
    kind: 'list',
    default: ['events:read'],
    description: 'Scopes of anonymous requests when `allow_anonymous` is on.',
  },
  jwt_secret: {
    kind: 'string',
    default: '',
    description:
      'HS256 shared secret (at least 32 bytes) that verifies JWT bearer tokens and signs the tokens `POST /v1/tokens` mints. Empty: no HS tokens are accepted, and minted tokens are signed with a random per-process key (valid on this process only, until it restarts).',
  },
  jwt_public_key: {
    kind: 'string',
    default: '',
    description: 'Path of a PEM public key (RSA: RS256/384/512 and PS256/384/512; EC P-256/384/521: ES256/384/512; Ed25519: EdDSA) that verifies JWT bearer tokens. Empty: none.',
  },
  jwks_url: {
    kind: 'string',
    default: '',
    description: 'A JWKS (RFC 7517) that verifies JWT bearer tokens by `kid`: an `https://` URL (cached, fetched again for an unknown `kid` at most every 30 s) or a file path (re-read for an unknown `kid`, at most every 30 s). Empty: none.',
  },
  jwks_timeout_ms: {
    kind: 'integer',
    default: 3000,
    min: 100,
    max: 60_000,
    description: 'Deadline of one JWKS fetch; past it the request is a 503 `JWKS_UNAVAILABLE`.',
  },
  jwt_audience: { kind: 'string', default: '', description: 'Required `aud` of JWTs (comma-separated: any of them). Empty: `aud` is not checked.' },
  jwt_issuer: { kind: 'string', default: '', description: 'Required `iss` of JWTs (comma-separated: any of them); also the `iss` of minted tokens. Empty: `iss` is not checked (minted tokens say `specstream`).' },
  jwt_scope_claim: {
    kind: 'string',
    default: '',
    description: 'The JWT claim holding the scopes (a space-separated string or an array). Empty: `scope`, else `scp`.',
  },
  jwt_clock_tolerance_s: {
    kind: 'integer',
    default: 30,
    min: 0,
    max: 600,
    description: 'Clock skew allowed when checking a JWT\'s `exp`, `nbf` and `iat`, in seconds.',
  },
  jwt_query_token: {
    kind: 'boolean',
    default: true,
    description: 'Accept JWTs as `?token=` (browsers). `false`: a JWT in the query is a 403 `QUERY_TOKEN_DISABLED` (RFC 9700 section 4.3.2 advises against credentials in URLs).',
  },
  jwt_cookie: {
    kind: 'string',
    default: '',
    description: 'Name of a cookie that carries a JWT (same-site dashboards), read on the operations that declare a cookie scheme (read operations only). Empty: cookies are ignored.',
  },
  token_ttl_s: {
    kind: 'integer',
    default: 900,
    min: 1,
    max: 86_400,
    description: 'Lifetime of a token minted by `POST /v1/tokens` when the request gives no `ttl_s` (15 minutes).',
  },
  token_max_ttl_s: {
    kind: 'integer',
    default: 3600,
    min: 1,
    max: 86_400,
    description: 'Longest lifetime `POST /v1/tokens` grants; a longer `ttl_s` is a 400 `VALIDATION_FAILED`.',
  },
  publish_rate_per_s: {
    kind: 'integer',
    default: 0,
    min: 0,
    max: 1_000_000,
    description: 'Publish requests per second each key or token subject may make on average (a token bucket); `0`: unlimited. A key may set its own in `specstream.yaml`. Past it: 429 `RATE_LIMITED` with `Retry-After`.',
  },
  publish_burst: {
    kind: 'integer',
    default: 0,
    min: 0,
    max: 1_000_000,
    description: 'Publish requests a key may make at once after a quiet period (the bucket size); `0`: the same as `publish_rate_per_s`. A key may set its own.',
  },
  cors_origins: {
    kind: 'list',
    default: [],
    description: 'Origins allowed to call the API from a browser (comma-separated; `*` for any).',
  },
  public_url: {
    kind: 'string',
    default: '',
    description:
      'The URL browsers reach this server at (e.g. `https://events.example.com`); pages of its origin may open WebSocket streams. Empty: `http://HOST:PORT` as listened on, for a loopback HOST only.',
  },
  ws_subprotocols: {
    kind: 'list',
    default: [],
    description: 'WebSocket subprotocols the server accepts, in order of preference (comma-separated); none by default, so an offered subprotocol is never selected.',
  },
  heartbeat_s: { kind: 'integer', default: 30, min: 1, max: 3600, description: 'Seconds between SSE heartbeats and WebSocket pings (a peer that misses a pong is closed).' },
  status_s: { kind: 'integer', default: 5, min: 1, max: 3600, description: 'Seconds between WebSocket status frames.' },
  retry_ms: {
    kind: 'integer',
    default: 2000,
    min: 0,
    max: 600_000,
    description: 'The SSE `retry:` a client waits before reconnecting.',
  },
  retention_max_age_s: {
    kind: 'integer',
    default: 604_800,
    min: 0,
    description: 'Delete events older than this many seconds (0 keeps them forever). Default 7 days.',
  },
  retention_max_count: {
    kind: 'integer',
    default: 0,
    min: 0,
    description: 'Keep at most this many events (0: no limit).',
  },
  retention_interval_s: {
    kind: 'integer',
    default: 60,
    min: 1,
    description: 'Seconds between retention passes.',
  },
  body_limit_bytes: {
    kind: 'integer',
    default: 1_048_576,
    min: 1024,
    description: 'Largest accepted request body; larger is a 413.',
  },
  body_max_depth: {
    kind: 'integer',
    default: 64,
    min: 2,
    max: 512,
    description: 'Deepest nesting of objects and arrays accepted in a JSON body (the body is level 1); deeper is a 400 `TOO_DEEP`.',
  },
  headers_timeout_ms: {
    kind: 'integer',
    default: 10_000,
    min: 100,
    max: 600_000,
    description: 'Deadline for a request line and headers to arrive (Node `headersTimeout`); past it the connection gets a 408 `REQUEST_TIMEOUT` and is closed.',
  },
  body_timeout_ms: {
    kind: 'integer',
    default: 30_000,
    min: 100,
    max: 3_600_000,
    description: 'Deadline for a request body to arrive completely, from the end of its headers; past it a 408 `REQUEST_TIMEOUT` and the connection is closed.',
  },
  request_timeout_ms: {
    kind: 'integer',
    default: 60_000,
    min: 100,
    max: 3_600_000,
    description: 'Deadline for a whole request (headers and body) to arrive (Node `requestTimeout`); at least `headers_timeout_ms`. Past it a 408 `REQUEST_TIMEOUT` and the connection is closed.',
  },
  max_url_bytes: {
    kind: 'integer',
    default: 8192,
    min: 256,
    max: 1_048_576,
    description: 'Longest request target (path and query); longer is a 414 `URL_TOO_LONG`.',
  },
  max_header_bytes: {
    kind: 'integer',
    default: 65_536,
    min: 16_384,
    max: 1_048_576,
    description: 'Largest request line plus headers (Node `maxHeaderSize`); larger is a 431 `HEADERS_TOO_LARGE` and the connection is closed.',
  },
  max_connections: {
    kind: 'integer',
    default: 10_000,
    min: 1,
    description: 'Open SSE and WebSocket streams allowed in total; beyond is a 429.',
  },
  max_connections_per_key: {
    kind: 'integer',
    default: 100,
    min: 1,
    description: 'Open streams allowed per API key; beyond is a 429.',
  },
  ring_size: {
    kind: 'integer',
    default: 8192,
    min: 16,
    max: 10_000_000,
    description:
      'Newest events the stream hub keeps in memory, encoded once and shared by every subscriber; a subscriber further behind reads from the store (the WS status `queue_max`).',
  },
  ring_max_bytes: {
    kind: 'integer',
    default: 67_108_864,
    min: 65_536,
    description: 'Memory the in-memory ring may hold (approximate, both encodings counted); older events are evicted first. Default 64 MiB.',
  },
  ledger_size: {
    kind: 'integer',
    default: 1_000_000,
    min: 4096,
    description:
      'Ids and types of recent events the hub remembers (27 bytes each) to count exactly what a subscriber behind retention missed (the `dropped` notice).',
  },
  idle_timeout_s: {
    kind: 'integer',
    default: 0,
    min: 0,
    description: 'Close a stream that has delivered nothing for this many seconds (0: never; heartbeats keep proxies alive).',
  },
  log_level: {
    kind: 'string',
    default: 'info',
    choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    description: 'pino log level.',
  },
  response_validation: {
    kind: 'boolean',
    default: false,
    description: 'Validate every JSON response against the OpenAPI document (on in tests).',
  },
  preload_app: {
    kind: 'boolean',
    default: false,
    description:
      'Build the app (express, the request validators, the handlers) before listening, rather than at the first request: the first request is not delayed (0.7 s and more), and the server holds about 13 MiB more at rest.',
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** `foo_bar` -> `SPECSTREAM_FOO_BAR`. */
export function envName(option: string): string {
  return `SPECSTREAM_${option.toUpperCase()}`;
}

/** `foo_bar` -> `--foo-bar`. */
export function flagName(option: string): string {
  return `--${option.replace(/_/g, '-')}`;
}
