/**
 * The event log: one interface, several backends (SQLite embedded, PostgreSQL, NATS JetStream).
 *
 * Every backend keeps these promises:
 * - Ids are `evt_` + a 26-character ULID and strictly increase in log order: a reader that has
 *   seen id X never later reads a newly stored event whose id is below X, whatever the number of
 *   writers or server nodes.
 * - `time` is the time the event entered the log and equals the ULID's timestamp, so a time bound
 *   is an id bound (`idLowerBoundAt`).
 * - `append` resolves only once the batch is durable; a batch is stored all-or-nothing.
 */

/** An event as a publisher submits it: the store assigns `id`, `time` and `specversion`. */
export interface NewEvent {
  type: string;
  source: string;
  subject?: string;
  data: Record<string, unknown>;
}

/** A stored event: a CloudEvents 1.0 structured-mode JSON envelope. */
export interface StoredEvent {
  specversion: '1.0';
  id: string;
  type: string;
  source: string;
  subject?: string;
  /** RFC 3339 with milliseconds, UTC; the ULID timestamp of `id`. */
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
}

export interface AppendOptions {
  /**
   * Makes a retry safe. A repeated key whose `fingerprint` matches returns the events stored the
   * first time (`replayed: true`) and stores nothing; a different fingerprint rejects with
   * IDEMPOTENCY_CONFLICT. Callers scope keys (e.g. prefix with the API key id).
   */
  idempotencyKey?: string;
  /** A digest of the request the key was used with; required with `idempotencyKey`. */
  fingerprint?: string;
}

export interface AppendResult {
  events: StoredEvent[];
  /** True when the idempotency key was seen before and nothing was stored now. */
  replayed: boolean;
}

/** A range of the log. All bounds are optional; the lower bounds combine (the later one wins). */
export interface ReadQuery {
  /** Exclusive lower bound: events with an id greater than this. */
  afterId?: string;
  /** Inclusive lower bound on `time`. */
  since?: Date;
  /** Inclusive upper bound on id. */
  untilId?: string;
  /** Inclusive upper bound on `time`. */
  until?: Date;
  /**
   * Concrete event types to include (globs are expanded against the catalog by the caller).
   * `undefined` means every type; an empty array matches nothing.
   */
  types?: readonly string[];
  /** At most this many events, oldest first. Must be a positive integer. */
  limit: number;
}

/** How much history to keep. 0 (or undefined) disables a limit. */
export interface RetentionPolicy {
  /** Delete events older than this many milliseconds. */
  maxAgeMs?: number;
  /** Keep at most this many events (the newest). */
  maxCount?: number;
}

/** The extent of the retained log. */
export interface LogBounds {
  /** The oldest retained event's id, or undefined when the log is empty. */
  firstId?: string;
  /** The newest event's id, or undefined when the log is empty. */
  lastId?: string;
}

export interface Store {
  /** The backend's name for logs and the WS `status` frame (`sqlite`, `postgres`, `jetstream`). */
  readonly kind: string;

  /**
   * Persists a batch atomically and resolves with the stored envelopes, in the order given, once
   * they are durable. Concurrent calls may be committed together (group commit); ids then follow
   * call order within the group (a backend that commits several groups at once orders those
   * groups as they commit). Rejects with STORE_UNAVAILABLE when the backend cannot be reached (nothing stored),
   * IDEMPOTENCY_CONFLICT as described in `AppendOptions`, STORE_CLOSED after `close()`.
   */
  append(events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult>;

  /** Events in the range, oldest first, at most `query.limit`. */
  read(query: ReadQuery): Promise<StoredEvent[]>;

  /** One event by id, or undefined. */
  get(id: string): Promise<StoredEvent | undefined>;

  /** The oldest and newest retained ids. */
  bounds(): Promise<LogBounds>;

  /**
   * The newest retained event's id among `types` (concrete types; every type when undefined), or
   * undefined when none is retained; `[]` matches nothing. A live-only stream's resume point: it
   * names no event of another type. Cost: one index lookup per type (SQLite, PostgreSQL); on
   * JetStream one direct get per type plus a scan of the mixed-type messages stored after the
   * newest single-type message found.
   */
  lastIdOf(types: readonly string[] | undefined): Promise<string | undefined>;

  /**
   * Calls `onAppend` (without arguments, possibly coalesced) after new events become readable,
   * from this process or another node. Resolves once listening, so a `read` issued after it
   * resolves misses nothing. Stops when `signal` aborts.
   */
  watch(onAppend: () => void, signal: AbortSignal): Promise<void>;

  /** Deletes events outside the policy (and expired idempotency records); resolves with how many events went. */
  applyRetention(policy: RetentionPolicy): Promise<number>;

  /** Resolves when the backend answers; rejects with STORE_UNAVAILABLE otherwise. For `/readyz`. */
  ping(): Promise<void>;

  /** Flushes pending appends and releases resources. Safe to call twice; afterwards every call rejects with STORE_CLOSED. */
  close(): Promise<void>;
}

/** An event as its envelope's JSON text, for writers that forward bytes without looking inside. */
export interface EncodedEvent {
  id: string;
  type: string;
  /** The CloudEvents envelope: exactly `JSON.stringify` of the event `read` returns. */
  json: string;
}

/**
 * Optional backend capability: `read` without parsing and re-serializing `data`. The stream hub
 * uses it when present (replay and fan-out then cost no JSON work per event) and falls back to
 * `read` + `JSON.stringify` otherwise. Same range, filter, order and limit rules as `read`.
 */
export interface EncodedRead {
  readEncoded(query: ReadQuery): Promise<EncodedEvent[]>;
}

/**
 * Optional backend capability: the newest events this process already holds, from its own commits
 * and the backend's change deliveries (PostgreSQL NOTIFY payloads, JetStream's consumer), without a
 * round trip. The stream hub's tail asks it first and reads the log (`readEncoded`) only when it
 * answers `undefined`.
 */
export interface TailRead {
  /**
   * Every event after `afterId`, oldest first, at most `limit`, when this process holds all of
   * them; `[]` when it holds the log up to its newest known event and nothing follows `afterId`;
   * `undefined` when it cannot tell without reading the log (`afterId` is older than what it holds,
   * or it knows of newer events than it holds). `watch` wakes the caller after it holds more.
   */
  readTail(afterId: string, limit: number): EncodedEvent[] | undefined;
}
