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
