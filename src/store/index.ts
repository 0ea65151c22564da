import type { Store } from './store.js';

export type {
  AppendOptions,
  AppendResult,
  LogBounds,
  NewEvent,
  ReadQuery,
  RetentionPolicy,
  Store,
  StoredEvent,
} from './store.js';
export type { SqliteStoreOptions } from './store-sqlite.js';
export type { PostgresStoreOptions } from './store-postgres.js';
export type { JetStreamStoreOptions } from './store-jetstream.js';

/** Options for {@link openStore}; a backend ignores those that do not apply to it. */
export interface OpenStoreOptions {
  /** SQLite only: `'NORMAL'` survives a process crash, `'FULL'` also power loss. Defaults to `'NORMAL'`. */
  synchronous?: 'NORMAL' | 'FULL';
  /** How often `watch` looks for other processes' appends where the backend must poll. Defaults to 1000 ms. */
  pollIntervalMs?: number;
  /** How long idempotency keys are remembered. Defaults to 24 h. */
  idempotencyTtlMs?: number;
  /**
   * The deadline of every store call, in ms (`store_timeout_ms`): past it, `append` rejects with
   * STORE_UNAVAILABLE (nothing was stored) or STORE_TIMEOUT (sent, outcome unknown), reads and
   * `ping` with STORE_UNAVAILABLE. Defaults to 5000 ms. See each backend's `timeoutMs`.
   */
  timeoutMs?: number;
}

/**
 * Opens the event log named by `url`; the scheme picks the backend, whose module is loaded only
 * then (nothing registers itself on import):
 * - `sqlite:PATH`: a SQLite file, `PATH` relative to the working directory or absolute
 *   (`sqlite:./data/events.db`, `sqlite:/var/lib/specstream/events.db`); the URL form
 *   `sqlite:///var/lib/specstream/events.db` works too. Parent directories are created.
 * - `sqlite::memory:`: a private in-memory log, gone on close (tests, demos).
 *
 * - `postgres://` or `postgresql://`: a PostgreSQL database shared by several nodes (`pg` URL;
 *   `?schema=NAME` picks the schema, default `specstream`). See {@link PostgresStore}.
 * - `nats://`: a NATS JetStream stream shared by several nodes (`?stream=NAME` picks the stream,
 *   default `SPECSTREAM`; several servers as `nats://a:4222,b:4222`). See {@link JetStreamStore}.
 *
 * Rejects with a TypeError for any other scheme, and with STORE_UNAVAILABLE when the store cannot
 * be opened.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (typeof url !== 'string') throw new TypeError('openStore: url must be a string such as sqlite:./data/events.db');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite': {
      const { SqliteStore } = await import('./store-sqlite.js');
      return SqliteStore.open(sqlitePath(url), {
        synchronous: options.synchronous,
        pollIntervalMs: options.pollIntervalMs,
        idempotencyTtlMs: options.idempotencyTtlMs,
        timeoutMs: options.timeoutMs,
      });
    }
    case 'postgres':
    case 'postgresql': {
      // The URL may carry a password: the store never echoes it.
      const { PostgresStore } = await import('./store-postgres.js');
      return PostgresStore.open(url, { pollIntervalMs: options.pollIntervalMs, idempotencyTtlMs: options.idempotencyTtlMs, timeoutMs: options.timeoutMs });
    }
    case 'nats': {
      const { JetStreamStore } = await import('./store-jetstream.js');
      return JetStreamStore.open(url, { pollIntervalMs: options.pollIntervalMs, idempotencyTtlMs: options.idempotencyTtlMs, timeoutMs: options.timeoutMs });
    }
    case undefined:
      throw new TypeError('openStore: the store URL needs a scheme, e.g. sqlite:./data/events.db');
    default:
      throw new TypeError(`openStore: unknown store scheme "${scheme}:"; supported: sqlite:PATH, sqlite::memory:, postgres://, nats://`);
  }
}

/** The file path of a `sqlite:` URL. */
function sqlitePath(url: string): string {
  let path = url.slice('sqlite:'.length);
  // URL form: sqlite:///abs/path (empty host) -> /abs/path.
  if (path.startsWith('///')) path = path.slice(2);
  else if (path.startsWith('//')) {
    throw new TypeError('openStore: write sqlite:PATH or sqlite:///absolute/path (a sqlite: URL has no host)');
  }
  if (path === '') throw new TypeError('openStore: sqlite: needs a path, e.g. sqlite:./data/events.db');
  return path;
}
