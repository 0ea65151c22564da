import { randomBytes, randomInt } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';
import { errors, SpecstreamError } from '../errors.js';
import { idLowerBoundAt, isEventId, timeOfId } from './event-id.js';
import type {
  AppendOptions,
  AppendResult,
  EncodedEvent,
  EncodedRead,
  LogBounds,
  NewEvent,
  ReadQuery,
  RetentionPolicy,
  Store,
  StoredEvent,
  TailRead,
} from './store.js';
import { appendGroupSql } from './postgres-append-group.js';
import { TailCache } from './tail-cache.js';
import { prepareAppend, checkedLimit, positiveOption, envelope, envelopeJson, queueAppend, readRange, refusedByStore, storeDidNotAnswer, storedFormTooLarge, takeGroup, withDeadline, NO_LOWER_BOUND, type PendingAppend, type PreparedAppend } from './store-arguments.js';

/** Options of {@link PostgresStore.open}. */
export interface PostgresStoreOptions {
  /**
   * The schema holding the log's tables; created if missing. Several logs can share one database
   * under different schemas. Also settable as the URL's `?schema=` parameter. Defaults to `specstream`.
   */
  schema?: string;
  /**
   * How often `watch` also polls the log head, in case a notification was lost (e.g. while the
   * listening connection was being re-established). Defaults to 1000 ms.
   */
  pollIntervalMs?: number;
  /** How long an idempotency key is remembered. Defaults to 24 h (86 400 000 ms). */
  idempotencyTtlMs?: number;
  /** Connections in the pool used by appends and reads (the LISTEN connection is extra). Defaults to 10. */
  poolSize?: number;
  /**
   * The deadline of every call, in ms: a database that stops answering (connection open, no
   * replies) makes calls fail instead of hang. `append` then rejects with STORE_UNAVAILABLE
   * (nothing was stored: a call that expires before its group's COMMIT is sent is left out of
   * the commit) or, once the COMMIT is sent, STORE_TIMEOUT (the outcome is unknown: retry with
   * the idempotency key); reads and `ping` reject with STORE_UNAVAILABLE. The server also ends
   * our statements after this long (`statement_timeout`) and our transactions left idle by a
   * stalled network after twice this long (`idle_in_transaction_session_timeout`), so that a
   * stalled node does not keep the log's lock. Defaults to 5000 ms.
   */
  timeoutMs?: number;
  /** How long to wait for a connection before an operation fails with STORE_UNAVAILABLE. Defaults to `timeoutMs`. */
  connectTimeoutMs?: number;
  /**
   * How long a query may take before the client gives up on it (its connection is then discarded)
   * and the operation fails with STORE_UNAVAILABLE. Defaults to `timeoutMs`.
   */
  queryTimeoutMs?: number;
  /**
   * How many group commits one node runs at once while it is the only node committing, each on
   * its own pooled connection (see `flushLoop`; while other nodes commit too, one). Groups in
   * flight together may commit in either order (each group's calls get ids in call order). At
   * most `poolSize - 1`. Defaults to 2.
   */
  groupsInFlight?: number;
  /** The clock (ms since the epoch) for ids, idempotency expiry and retention; for tests. Defaults to `Date.now`. */
  clock?: () => number;
}

const DEFAULT_SCHEMA = 'specstream';
const DEFAULT_POLL_INTERVAL_MS = 1000;
const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const DEFAULT_POOL_SIZE = 10;
const DEFAULT_GROUPS_IN_FLIGHT = 2;
/** 2^40: one half of an id's 80-bit random part (8 base32 characters). */
const ID_HALF = 2 ** 40;
/** The prepared statement of a group commit (one per pooled connection; each pool serves one schema). */
const APPEND_STATEMENT = 'specstream_append_group';
const DEFAULT_TIMEOUT_MS = 5000;
/** The least `idle_in_transaction_session_timeout` we set: long enough for any group commit's round trips. */
const MIN_IDLE_IN_TRANSACTION_MS = 10_000;
const RETENTION_CHUNK = 5000;
/**
 * Bounds of one group commit: its rows travel as array parameters of one INSERT, and a bind
 * message is limited to 1 GB; calls beyond go into the next group.
 */
const MAX_GROUP_EVENTS = 20_000;
const MAX_GROUP_LENGTH = 64 * 1024 * 1024;
const LISTEN_RETRY_MIN_MS = 100;
const LISTEN_RETRY_MAX_MS = 5000;
/** Exclusive lower and inclusive upper id bounds that no id reaches (ids are `evt_` + base32). */

/**
 * Schema migrations, applied in order inside one transaction that holds a transaction-level
 * advisory lock keyed by the schema name, so nodes starting together migrate once and in turn.
 * `schema_version` records how many ran. Append new steps, never edit shipped ones. A step is SQL
 * run with `search_path` set to the schema, or a function of the quoted schema name giving it
 * (for function bodies, which must name their tables with the schema: they run with the caller's
 * `search_path`).
 *
 * - `id` is `COLLATE "C"`: byte order, which is ULID order, whatever the database's locale.
 * - `data` is the exact `JSON.stringify` text of the payload (not jsonb, which would reorder keys),
 *   so `readEncoded` can forward it without parsing.
 * - `log_head` is one row holding the newest id ever stored; it is the lock that orders commits
 *   (see `PostgresStore`) and it survives retention emptying `events`.
 * - Step 2: `append_group`, the whole locked section of a group commit as one function, so that
 *   the `log_head` lock is held for one statement instead of across client round trips.
 */
const MIGRATIONS: ReadonlyArray<string | ((schema: string) => string)> = [
  `CREATE TABLE events (
     id text COLLATE "C" PRIMARY KEY,
     type text NOT NULL,
     source text NOT NULL,
     subject text,
     data text NOT NULL
   );
   CREATE INDEX events_type_id ON events (type, id);
   CREATE TABLE idempotency (
     key text PRIMARY KEY,
     fingerprint text NOT NULL,
     event_ids text[] NOT NULL,
     created_at bigint NOT NULL
   );
   CREATE INDEX idempotency_created_at ON idempotency (created_at);
   CREATE TABLE log_head (
     one boolean PRIMARY KEY DEFAULT true CHECK (one),
     last_id text COLLATE "C"
   );
   INSERT INTO log_head (one, last_id) VALUES (true, NULL);`,
  (s) => appendGroupSql(s),
];

/** Most events a node reads to follow another node's commit into its cache (more: its tail reads the log). */
const FOLLOW_READ_LIMIT = 5000;
/** How long after another node's commit this node still shares the `log_head` lock (see `flushLoop`), ms. */
const SHARED_LOCK_WINDOW_MS = 1000;
/** Longest a node lets its calls gather before a group while other nodes commit (see `flushLoop`), ms. */
const GATHER_MAX_MS = 3;
/** Most of this node's groups held while waiting for another node's commit to come first. */
const MAX_OWN_SEGMENTS = 64;
/** SQLSTATE classes that mean "the database cannot serve this now", not a bug in the query. */
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58', '40', 'XX']);

type EventRow = [id: string, type: string, source: string, subject: string | null, data: string];
/** `append_group`'s answer: an outcome letter per call (`s`, `r`, `c`), ids per call, the ids, the head before. */
type AppendGroupRow = [outcomes: string, lens: number[], ids: string[], prev: string];


interface Watcher {
  onAppend: () => void;
  scheduled: boolean;
  active: boolean;
}

/**
 * The shared event log for several Specstream nodes: one PostgreSQL schema through `pg`.
 *
 * **Ordering.** Ids must increase in commit order across every node, or a reader that has read up
 * to X could later see a transaction commit an id below X (the classic gap of sequence/ULID ids
 * under concurrent transactions). Each group commit is therefore one statement, the function
 * `append_group` (see `appendGroupSql`), run in autocommit: it locks the single `log_head` row
 * (`SELECT last_id ... FOR UPDATE`), assigns ids above that head (from this node's clock, or
 * continuing the head's millisecond when the clock is behind), inserts, stores the new head and
 * sends `pg_notify`; the row lock is held from id assignment to commit. A writer on any node waits
 * for the lock and, in READ COMMITTED, then reads the head the previous writer committed, so its
 * ids are greater, whatever the clocks of the nodes; and since it commits later too, commit order
 * is id order. A reader never sees a later commit with a smaller id. The cost is one serialised
 * commit at a time across the cluster, but the lock is held for one statement's execution and its
 * WAL flush, never across a round trip to a node, and group commit amortises it: every `append`
 * made while a node's commits are in flight goes into its next group (`groupsInFlight` at once).
 *
 * **Tailing.** The commit runs `pg_notify` inside the transaction, delivered only once it commits;
 * `watch` LISTENs on one connection per store (re-established with backoff, waking the watchers
 * after each reconnect), and also polls `log_head` every `pollIntervalMs` as a fallback.
 */
export class PostgresStore implements Store, EncodedRead, TailRead {
  readonly kind = 'postgres';

  /**
   * Connects to `connectionString` (a `postgres://` URL; `?schema=` picks the schema), creates or
   * migrates the schema, and resolves with the store. Rejects with STORE_UNAVAILABLE when the
   * database cannot be reached.
   */
  static async open(connectionString: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const { url, schema: urlSchema } = splitSchema(connectionString);
    const resolved = resolveOptions({ ...options, schema: options.schema ?? urlSchema });
    const clientConfig: pg.ClientConfig = {
      connectionString: url,
      connectionTimeoutMillis: resolved.connectTimeoutMs,
      query_timeout: resolved.queryTimeoutMs,
      statement_timeout: resolved.timeoutMs,
      idle_in_transaction_session_timeout: Math.max(2 * resolved.timeoutMs, MIN_IDLE_IN_TRANSACTION_MS),
      keepAlive: true,
      // Names the schema so an operator (or a test) can tell one log's connections from another's.
      application_name: `specstream ${resolved.schema}`.slice(0, 63),
    };
    const pool = new pg.Pool({ ...clientConfig, max: resolved.poolSize, idleTimeoutMillis: 30_000 });
    // An idle client whose connection dies emits here; without a listener that would crash the process.
    pool.on('error', () => {});
    try {
      await migrate(pool, resolved.schema);
      const head = await pool.query<[string | null]>({
        text: `SELECT last_id FROM ${quoteIdent(resolved.schema)}.log_head`,
        rowMode: 'array',
      });
      return new PostgresStore(pool, clientConfig, resolved, head.rows[0]?.[0] ?? null);
    } catch (error) {
      await pool.end().catch(() => {});
      if (error instanceof Error && /newer than this Specstream/.test(error.message)) throw error;
      throw errors.storeUnavailable('Cannot open the PostgreSQL store', undefined, { cause: error });
    }
  }

  private readonly schema: string;
  private readonly table: { events: string; idempotency: string; head: string };
  private readonly channel: string;
  private readonly appendSql: string;
  private readonly groupsInFlight: number;
  private readonly poolSize: number;
  private readonly clock: () => number;
  private readonly pollIntervalMs: number;
  private readonly idempotencyTtlMs: number;
  private readonly timeoutMs: number;

  private pending: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private readonly watchers = new Set<Watcher>();
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private listenRetryMs = LISTEN_RETRY_MIN_MS;
  private listenRetry: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private lastKnownId: string | null;
  /** The newest events, from this node's commits and the notifications (see `readTail`). */
  private readonly tail = new TailCache();
  /** This store's id in its commits' notifications (so that it knows its own). */
  private readonly nodeId = randomBytes(6).toString('hex');
  /**
   * This node's committed groups that do not continue the cache yet (another node's commit came
   * between), by the head they follow: added once that commit's events are in.
   */
  private readonly ownSegments = new Map<string, EncodedEvent[]>();
  /** Notifications are followed one at a time, in commit order (following one may read the log). */
  private following: Promise<void> = Promise.resolve();
  /** When another node's commit was last notified (ms since the epoch). */
  private othersCommittedAt = 0;
  /** The calls of this node's last two groups, and its last commit's duration and end (performance.now ms). */
  private lastGroupSizes: [number, number] = [0, 0];
  private lastCommitMs = 0;
  private lastCommitDoneAt = 0;
  /** Wakes `gather` when a call is queued. */
  private gathered: (() => void) | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly clientConfig: pg.ClientConfig,
    options: Required<PostgresStoreOptions>,
    lastId: string | null,
  ) {
    this.schema = options.schema;
    const s = quoteIdent(options.schema);
    this.table = { events: `${s}.events`, idempotency: `${s}.idempotency`, head: `${s}.log_head` };
    // Channel names are identifiers (at most 63 bytes); one channel per schema.
    this.channel = `specstream_${options.schema}`.slice(0, 63);
    this.clock = options.clock;
    this.pollIntervalMs = options.pollIntervalMs;
    this.idempotencyTtlMs = options.idempotencyTtlMs;
    this.timeoutMs = options.timeoutMs;
    this.lastKnownId = lastId;
    this.poolSize = options.poolSize;
    this.groupsInFlight = options.groupsInFlight;
    this.appendSql =
      `SELECT outcomes, lens, ids, prev FROM ${s}.append_group($1::bigint, $2::bigint, $3::bigint, $4::int[], $5::text[], $6::text[], ` +
      `$7::bigint, $8::text[], $9::text[], $10::text[], $11::text[], $12::text, $13::text)`;
  }

  append(events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    if (this.closed) return Promise.reject(errors.storeClosed());
    let call: PreparedAppend;
    try {
      call = prepareAppend(events, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const appended = queueAppend(call, this.pending, this.timeoutMs);
    this.gathered?.();
    this.scheduleFlush();
    return appended;
  }

  async read(query: ReadQuery): Promise<StoredEvent[]> {
    return (await this.selectRange(query)).map(toEnvelope);
  }

  /** `read` as JSON text (the `EncodedRead` capability), built from the stored columns without parsing `data`. */
  async readEncoded(query: ReadQuery): Promise<EncodedEvent[]> {
    const events = (await this.selectRange(query)).map(toEncoded);
    // A complete read of the log after some point (the hub's tail catching up) continues the cache.
    if (query.types === undefined && query.untilId === undefined && query.until === undefined && query.since === undefined) {
      this.tail.extendFromRead(query.afterId ?? NO_LOWER_BOUND, events);
      if (this.ownSegments.size > 0) this.takeOwnSegments();
    }
    return events;
  }

  /**
   * See `TailRead`: served from the events this node committed itself and those the other nodes'
   * notifications carried, once `watch` is listening; `undefined` before, after the LISTEN
   * connection was lost (until it is back), and while a commit is known that the cache lacks (a
   * notification too large to carry its events).
   */
  readTail(afterId: string, limit: number): EncodedEvent[] | undefined {
    if (this.closed) return undefined;
    return this.tail.read(afterId, limit);
  }

  private async selectRange(query: ReadQuery): Promise<EventRow[]> {
    this.assertOpen();
    const range = readRange(query);
    if (range === undefined) return [];
    const { lower, upper, types, limit } = range;
    const result = await this.run<EventRow>(
      types === undefined
        ? `SELECT id, type, source, subject, data FROM ${this.table.events}
           WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3`
        : `SELECT id, type, source, subject, data FROM ${this.table.events}
           WHERE type = ANY($4::text[]) AND id > $1 AND id <= $2 ORDER BY id LIMIT $3`,
      types === undefined ? [lower, upper, limit] : [lower, upper, limit, types],
    );
    return result.rows;
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    this.assertOpen();
    const { rows } = await this.run<EventRow>(
      `SELECT id, type, source, subject, data FROM ${this.table.events} WHERE id = $1`,
      [id],
    );
    return rows[0] === undefined ? undefined : toEnvelope(rows[0]);
  }

  async bounds(): Promise<LogBounds> {
    this.assertOpen();
    const { rows } = await this.run<[string | null, string | null]>(
      `SELECT (SELECT id FROM ${this.table.events} ORDER BY id LIMIT 1),
              (SELECT id FROM ${this.table.events} ORDER BY id DESC LIMIT 1)`,
    );
    const [firstId, lastId] = rows[0]!;
    return firstId === null || lastId === null ? {} : { firstId, lastId };
  }

  /** See `Store.lastIdOf`: one `(type, id)` index lookup per type. */
  async lastIdOf(types: readonly string[] | undefined): Promise<string | undefined> {
    if (types === undefined) return (await this.bounds()).lastId;
    this.assertOpen();
    if (types.length === 0) return undefined;
    const { rows } = await this.run<[string | null]>(
      `SELECT max(l.id) FROM unnest($1::text[]) AS t(type)
         CROSS JOIN LATERAL (SELECT id FROM ${this.table.events} e WHERE e.type = t.type ORDER BY id DESC LIMIT 1) l`,
      [[...new Set(types)]],
    );
    return rows[0]?.[0] ?? undefined;
  }

  /**
   * Registers `onAppend`: called (coalesced, in a microtask) when a NOTIFY arrives for a commit
   * by any node, when the poll sees the head move, and after the LISTEN connection is
   * re-established. Resolves once LISTEN is in place; rejects with STORE_UNAVAILABLE if it cannot be.
   */
  async watch(onAppend: () => void, signal: AbortSignal): Promise<void> {
    this.assertOpen();
    if (typeof onAppend !== 'function') throw new TypeError('watch: onAppend must be a function');
    if (signal.aborted) return;
    await this.ensureListening();
    if (signal.aborted) return;
    const watcher: Watcher = { onAppend, scheduled: false, active: true };
    this.watchers.add(watcher);
    signal.addEventListener(
      'abort',
      () => {
        watcher.active = false;
        this.watchers.delete(watcher);
      },
      { once: true },
    );
    this.startPolling();
  }

  async applyRetention(policy: RetentionPolicy): Promise<number> {
    this.assertOpen();
    const maxAgeMs = checkedLimit(policy.maxAgeMs, 'maxAgeMs');
    const maxCount = checkedLimit(policy.maxCount, 'maxCount');
    const now = this.clock();
    let below = NO_LOWER_BOUND;
    if (maxAgeMs > 0) below = idLowerBoundAt(now - maxAgeMs);
    if (maxCount > 0) {
      const { rows } = await this.run<[string]>(
        `SELECT id FROM ${this.table.events} ORDER BY id DESC LIMIT 1 OFFSET $1`,
        [Math.floor(maxCount) - 1],
      );
      const oldestKept = rows[0]?.[0];
      if (oldestKept !== undefined && oldestKept > below) below = oldestKept;
    }
    let deleted = 0;
    if (below !== NO_LOWER_BOUND) {
      for (;;) {
        const result = await this.run(
          `DELETE FROM ${this.table.events} WHERE id IN
             (SELECT id FROM ${this.table.events} WHERE id < $1 ORDER BY id LIMIT ${RETENTION_CHUNK})`,
          [below],
        );
        deleted += result.rowCount ?? 0;
        if ((result.rowCount ?? 0) < RETENTION_CHUNK || this.closed) break;
      }
      this.tail.dropWhile((event) => event.id < below);
    }
    await this.run(`DELETE FROM ${this.table.idempotency} WHERE created_at < $1`, [now - this.idempotencyTtlMs]);
    return deleted;
  }

  async ping(): Promise<void> {
    this.assertOpen();
    try {
      await withDeadline(this.pool.query(`SELECT 1 FROM ${this.table.head}`), this.timeoutMs, () => storeDidNotAnswer(this.timeoutMs));
    } catch (error) {
      if (errors.storeUnavailable.is(error)) throw error;
      if (this.closed) throw errors.storeClosed();
      throw errors.storeUnavailable('The event store is unavailable', undefined, { cause: error });
    }
  }

  /**
   * Commits every append still queued (their promises settle as usual), stops listening and
   * closes the pool. Safe to call twice; afterwards every method rejects with STORE_CLOSED.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      while (this.flushing !== undefined || this.pending.length > 0) {
        if (this.flushing === undefined) this.scheduleFlush();
        await this.flushing;
      }
      if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
      if (this.listenRetry !== undefined) clearTimeout(this.listenRetry);
      for (const watcher of this.watchers) watcher.active = false;
      this.watchers.clear();
      const listener = this.listener;
      this.listener = undefined;
      await listener?.end().catch(() => {});
      await this.pool.end().catch(() => {});
    })();
    return this.closing;
  }

  // ---- appends --------------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushing !== undefined) return; // the running flush picks the queue up
    // Everything appended in this turn of the event loop goes into the first group.
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flushLoop());
  }

  /**
   * Commits the queue group by group, each group formed from what queued while the others were
   * committing. Commits are serialised across the cluster by the `log_head` lock, which is held
   * until the commit is flushed to disk, so every commit should carry as many events as it can:
   *
   * - While no other node commits, up to `groupsInFlight` groups commit at once (each on its own
   *   connection), so that the next one is waiting for the lock when the previous releases it;
   *   another starts only once as many calls wait as the one committing holds (where the flush is
   *   what takes time, smaller groups would only queue for the lock).
   * - While other nodes commit too, the lock is never idle for want of this node: one group at a
   *   time, and before starting it the node lets its calls gather (until as many wait as its last
   *   two groups held, at most half the last commit's time, at most GATHER_MAX_MS), so that its
   *   concurrent callers are not split into ever smaller groups that each wait for a flush.
   */
  private async flushLoop(): Promise<void> {
    const running = new Map<Promise<void>, number>();
    try {
      while (this.pending.length > 0 || running.size > 0) {
        const shared = Date.now() - this.othersCommittedAt < SHARED_LOCK_WINDOW_MS;
        if (shared && running.size === 0) await this.gather();
        while (this.pending.length > 0 && running.size < (shared ? 1 : this.groupsInFlight)) {
          if (running.size > 0 && this.pending.length < Math.max(...running.values())) break;
          const group = takeGroup(this.pending, MAX_GROUP_EVENTS, MAX_GROUP_LENGTH);
          if (group.length === 0) continue;
          this.lastGroupSizes = [this.lastGroupSizes[1], group.length];
          const commit: Promise<void> = this.commitGroup(group).finally(() => running.delete(commit));
          running.set(commit, group.length);
        }
        if (running.size > 0) await Promise.race(running.keys());
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Waits (briefly, see `flushLoop`) for this node's calls to gather before a group starts. */
  private async gather(): Promise<void> {
    const target = this.lastGroupSizes[0] + this.lastGroupSizes[1];
    const deadline = this.lastCommitDoneAt + Math.min(GATHER_MAX_MS, this.lastCommitMs / 2);
    while (this.pending.length < target && !this.closed) {
      const wait = deadline - performance.now();
      if (wait <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.gathered = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.gathered = undefined;
    }
  }

  /**
   * Commits one group with one statement (`append_group`, see the migrations) and settles its
   * calls' promises, in call (= id) order. The statement runs in autocommit: it is its own
   * transaction, and the `log_head` lock it takes is released when it commits, without a round
   * trip to this process in between.
   */
  private async commitGroup(group: readonly PendingAppend[]): Promise<void> {
    // Calls that expired while queued were told nothing was stored: leave them out.
    let calls = group.filter((call) => !call.settled);
    for (let attempt = 1; calls.length > 0; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        const failure = errors.storeUnavailable(undefined, undefined, { cause: error });
        for (const call of calls) call.reject(failure);
        return;
      }
      const onError = () => {};
      client.on('error', onError);
      // Expired while a connection was found: left out. From here to the send nothing awaits, so
      // no deadline fires in between: what is sent is exactly what is marked sent.
      calls = calls.filter((call) => !call.settled);
      let row: AppendGroupRow | undefined;
      let failure: unknown;
      try {
        if (calls.length === 0) return;
        const values = this.groupArguments(calls);
        for (const call of calls) call.sent = true;
        const started = performance.now();
        const result = await client.query<AppendGroupRow>({ name: APPEND_STATEMENT, text: this.appendSql, values, rowMode: 'array' });
        this.lastCommitDoneAt = performance.now();
        this.lastCommitMs = this.lastCommitDoneAt - started;
        row = result.rows[0];
      } catch (error) {
        failure = error;
      } finally {
        client.off('error', onError);
        client.release(failure !== undefined);
      }
      if (row !== undefined) {
        await this.settleGroup(calls, row);
        return;
      }
      // An error with a SQLSTATE ended the statement, and with it its transaction: nothing was
      // stored. Without one (the connection died, the client gave up waiting) it may have committed.
      const mayBeStored = sqlStateOf(failure) === undefined;
      if (!mayBeStored) for (const call of calls) call.sent = false;
      if (!mayBeStored && isConnectionLost(failure) && attempt < this.poolSize + 2) {
        // A pooled connection that died while idle (server restart, pg_terminate_backend) without
        // the pool knowing yet: nothing was stored, so try again on a fresh one.
        continue;
      }
      if (!mayBeStored && calls.length > 1 && !isUnavailable(failure)) {
        // The database refused the group for something in it (a constraint, a trigger, a data
        // exception), not for being unreachable: one call may be the cause. Each call is committed
        // alone, so the others are stored and the culprit gets its own error.
        for (const call of calls) await this.commitGroup([call]);
        return;
      }
      // No SQLSTATE: the caller is told the outcome is unknown (STORE_TIMEOUT) and may retry with
      // its idempotency key. Nothing is acknowledged that is not stored.
      const error = mayBeStored ? errors.storeTimeout(undefined, undefined, { cause: failure }) : appendFailure(failure);
      for (const call of calls) call.reject(error);
      return;
    }
  }

  /** The parameters of `append_group` for `calls` (see `appendGroupSql`). */
  private groupArguments(calls: readonly PendingAppend[]): unknown[] {
    const counts: number[] = [];
    const keys: Array<string | null> = [];
    const fingerprints: Array<string | null> = [];
    const types: string[] = [];
    const sources: string[] = [];
    const subjects: Array<string | null> = [];
    const data: string[] = [];
    let keyed = false;
    for (const call of calls) {
      counts.push(call.events.length);
      keys.push(call.key ?? null);
      fingerprints.push(call.fingerprint ?? null);
      if (call.key !== undefined) keyed = true;
      for (const event of call.events) {
        types.push(event.type);
        sources.push(event.source);
        subjects.push(event.subject ?? null);
      }
      data.push(...call.payloads);
    }
    const now = Math.floor(this.clock());
    return [
      now,
      randomInt(ID_HALF),
      randomInt(ID_HALF / 2),
      counts,
      keyed ? keys : null,
      keyed ? fingerprints : null,
      now - this.idempotencyTtlMs,
      types,
      sources,
      subjects,
      data,
      this.channel,
      this.nodeId,
    ];
  }

  /** Settles a committed group's calls from `append_group`'s answer, in call order. */
  private async settleGroup(calls: readonly PendingAppend[], [outcomes, lens, ids, prev]: AppendGroupRow): Promise<void> {
    const results: Array<AppendResult | Error | { replay: string[] }> = [];
    const replayIds = new Set<string>();
    /** The group's new events as JSON text: the log's events right after `prev`. */
    const committed: EncodedEvent[] = [];
    let newest: string | undefined;
    let at = 0;
    calls.forEach((call, i) => {
      const callIds = ids.slice(at, at + lens[i]!);
      at += lens[i]!;
      const outcome = outcomes[i];
      if (outcome === 'c') results.push(errors.idempotencyConflict());
      else if (outcome === 'r') {
        results.push({ replay: callIds });
        for (const id of callIds) replayIds.add(id);
      } else {
        let timeMs = -1;
        let time = '';
        const events = call.events.map((event, k) => {
          const id = callIds[k]!;
          const ms = timeOfId(id);
          if (ms !== timeMs) {
            timeMs = ms;
            time = new Date(ms).toISOString();
          }
          const subject = event.subject ?? null;
          const payload = call.payloads[k]!;
          committed.push({ id, type: event.type, json: envelopeJson(id, event.type, event.source, subject, time, payload) });
          return envelope(id, event.type, event.source, subject, time, JSON.parse(payload) as Record<string, unknown>);
        });
        if (events.length > 0) newest = events.at(-1)!.id;
        results.push({ events, replayed: false });
      }
    });
    // Events replayed from an earlier commit (read after this one); those that retention removed are not replayed.
    const replayed = new Map<string, StoredEvent>();
    let replayFailure: unknown;
    if (replayIds.size > 0) {
      try {
        const { rows } = await this.run<EventRow>(
          `SELECT id, type, source, subject, data FROM ${this.table.events} WHERE id = ANY($1::text[])`,
          [[...replayIds]],
        );
        for (const row of rows) replayed.set(row[0], toEnvelope(row));
      } catch (error) {
        replayFailure = error;
      }
    }
    calls.forEach((call, i) => {
      const result = results[i]!;
      if (result instanceof Error) call.reject(result);
      else if ('replay' in result) {
        if (replayFailure !== undefined) call.reject(replayFailure);
        else call.resolve({ events: result.replay.flatMap((id) => replayed.get(id) ?? []), replayed: true });
      } else call.resolve(result);
    });
    if (newest !== undefined) {
      this.tail.noteHead(newest);
      if (this.tail.extend(prev, committed)) {
        if (this.ownSegments.size > 0) this.takeOwnSegments();
        this.advance(newest);
      } else if (this.tail.lastId !== undefined && prev > this.tail.lastId && this.ownSegments.size < MAX_OWN_SEGMENTS) {
        // Another node committed just before: its notification brings what comes before this, then
        // this goes in and the watchers wake (a wake now would read the log for nothing).
        this.ownSegments.set(prev, committed);
        this.lastKnownId = this.lastKnownId === null || newest > this.lastKnownId ? newest : this.lastKnownId;
      } else this.advance(newest);
    }
  }

  // ---- watching -------------------------------------------------------------------------------

  private advance(id: string): void {
    if (this.lastKnownId !== null && id <= this.lastKnownId) return;
    this.lastKnownId = id;
    this.notifyWatchers();
  }

  private notifyWatchers(): void {
    for (const watcher of this.watchers) {
      if (watcher.scheduled) continue;
      watcher.scheduled = true;
      queueMicrotask(() => {
        watcher.scheduled = false;
        if (watcher.active) watcher.onAppend();
      });
    }
  }

  /** Resolves once a LISTEN connection is up (sharing the attempt in progress). */
  private ensureListening(): Promise<void> {
    if (this.listener !== undefined) return Promise.resolve();
    this.listening ??= this.connectListener().finally(() => {
      this.listening = undefined;
    });
    return this.listening;
  }

  private async connectListener(): Promise<void> {
    const client = new pg.Client(this.clientConfig);
    client.on('error', () => this.listenerLost(client));
    client.on('end', () => this.listenerLost(client));
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload) this.notified(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw errors.storeUnavailable('The event store is unavailable', undefined, { cause: error });
    }
    if (this.closed) {
      await client.end().catch(() => {});
      throw errors.storeClosed();
    }
    this.listener = client;
    this.listenRetryMs = LISTEN_RETRY_MIN_MS;
    // Without an anchor the cache answers nothing and the tail reads the log: not an error.
    await this.anchorTail().catch(() => {});
  }

  /** A commit's notification: followed after those before it. */
  private notified(payload: string): void {
    // (follow catches its own failures; the catch keeps the chain alive whatever happens.)
    this.following = this.following.then(() => this.follow(payload)).catch(() => {});
  }

  /**
   * Follows a commit's notification (see `appendGroupSql`): `<prev> <head> <node>`, then the
   * events as JSON when they fit. Another node's commit continues the cache when it ends at
   * `<prev>`: with the events carried, or else read from the log (exactly that commit's events,
   * or the cache's whole gap up to `<head>`); then this node's own groups waiting for it go in,
   * and the watchers wake. This node's own commits go in from their results (`settleGroup`).
   * A bare id is a notification from an older Specstream node: the tail reads the log then.
   */
  private async follow(payload: string): Promise<void> {
    const newline = payload.indexOf('\n');
    const [prev, head, node] = (newline < 0 ? payload : payload.slice(0, newline)).split(' ');
    const newest = head ?? prev;
    if (newest === undefined || !isEventId(newest)) return;
    if (node !== undefined && node === this.nodeId) return;
    if (node !== undefined) this.othersCommittedAt = Date.now();
    const last = this.tail.lastId;
    if (last === undefined || newest <= last) {
      this.advance(newest);
      return;
    }
    this.tail.noteHead(newest);
    let events: EncodedEvent[] | undefined;
    if (head !== undefined && prev === last && newline >= 0) {
      try {
        events = (JSON.parse(payload.slice(newline + 1)) as EventRow[]).map(toEncoded);
      } catch {
        // Not what this version sends: read it instead.
      }
    }
    if (events === undefined && head !== undefined) {
      try {
        const { rows } = await this.run<EventRow>(
          `SELECT id, type, source, subject, data FROM ${this.table.events} WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3`,
          [last, newest, FOLLOW_READ_LIMIT],
        );
        // The whole gap, or the cache stays behind and the tail reads the log itself.
        if (rows.length < FOLLOW_READ_LIMIT && rows.at(-1)?.[0] === newest) events = rows.map(toEncoded);
      } catch {
        // The tail reads the log itself (and reports the failure).
      }
    }
    // `events` are every event after `last` up to `newest`: whatever this node's own commits added
    // to the cache meanwhile (the read awaited), the rest continues it.
    if (events !== undefined) {
      this.tail.extendFromRead(last, events);
      this.takeOwnSegments();
    }
    this.advance(newest);
    this.notifyWatchers();
  }

  /** Puts this node's waiting groups into the cache once what precedes them is in. */
  private takeOwnSegments(): void {
    let taken = false;
    for (let last = this.tail.lastId; last !== undefined; last = this.tail.lastId) {
      const segment = this.ownSegments.get(last);
      if (segment === undefined) break;
      this.ownSegments.delete(last);
      if (!this.tail.extend(last, segment)) break;
      taken = true;
    }
    // Anything older can no longer continue it.
    const last = this.tail.lastId ?? '';
    for (const prev of this.ownSegments.keys()) if (prev < last) this.ownSegments.delete(prev);
    if (taken) this.notifyWatchers();
  }

  /**
   * Anchors the cache at the log's head once LISTEN is in place: every later commit's notification
   * arrives after this, so the cache can follow the log from here.
   */
  private async anchorTail(): Promise<void> {
    const { rows } = await this.run<[string | null]>(`SELECT last_id FROM ${this.table.head}`);
    const head = rows[0]?.[0] ?? '';
    // A notification may already have moved the cache past this head: keep what it holds then.
    const last = this.tail.lastId;
    if (last === undefined || last < head) this.tail.anchor(head);
  }

  /** The LISTEN connection died: reconnect with backoff, then wake the watchers for what was missed. */
  private listenerLost(client: pg.Client): void {
    if (this.listener !== client) return;
    this.listener = undefined;
    // Notifications may be missed until LISTEN is back: the cache cannot follow the log meanwhile.
    this.tail.clear();
    this.ownSegments.clear();
    client.end().catch(() => {});
    if (this.closed) return;
    const retry = () => {
      this.listenRetry = undefined;
      if (this.closed || this.watchers.size === 0) return;
      this.ensureListening().then(
        () => this.notifyWatchers(),
        () => {
          this.listenRetryMs = Math.min(this.listenRetryMs * 2, LISTEN_RETRY_MAX_MS);
          this.listenRetry = setTimeout(retry, this.listenRetryMs);
          this.listenRetry.unref();
        },
      );
    };
    this.listenRetry = setTimeout(retry, this.listenRetryMs);
    this.listenRetry.unref();
  }

  private startPolling(): void {
    if (this.pollTimer !== undefined) return;
    this.pollTimer = setInterval(() => void this.poll(), this.pollIntervalMs);
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    if (this.closed || this.watchers.size === 0) return;
    try {
      const { rows } = await this.pool.query<[string | null]>({
        text: `SELECT last_id FROM ${this.table.head}`,
        rowMode: 'array',
      });
      const head = rows[0]?.[0];
      if (head) {
        this.tail.noteHead(head);
        this.advance(head);
      }
    } catch {
      // Unreachable for now; `ping` reports it, and the next poll or reconnect catches up.
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private async run<R extends unknown[] = unknown[]>(text: string, values?: unknown[]): Promise<pg.QueryArrayResult<R>> {
    try {
      return await withDeadline(this.pool.query<R>({ text, values, rowMode: 'array' }), this.timeoutMs, () => storeDidNotAnswer(this.timeoutMs));
    } catch (error) {
      if (this.closed) throw errors.storeClosed(undefined, undefined, { cause: error });
      if (errors.storeUnavailable.is(error)) throw error;
      throw toUnavailable(error);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw errors.storeClosed();
  }
}

/** Splits `?schema=` off a postgres URL (the rest goes to `pg` unchanged). */
function splitSchema(connectionString: string): { url: string; schema: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(connectionString);
  } catch {
    throw new TypeError('PostgresStore: the store URL is not a valid postgres:// URL');
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  // Like libpq (psql): no user in the URL or the environment means the operating system user.
  if (parsed.username === '' && !process.env.PGUSER && !process.env.USER) {
    try {
      parsed.username = encodeURIComponent(userInfo().username);
    } catch {
      // No such user entry: pg reports the missing user name itself.
    }
  }
  return { url: parsed.toString(), schema };
}

function resolveOptions(options: PostgresStoreOptions): Required<PostgresStoreOptions> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  if (!/^[a-z_][a-z0-9_]{0,50}$/.test(schema)) {
    throw new RangeError(`PostgresStore: schema must match [a-z_][a-z0-9_]*, at most 51 characters; got ${JSON.stringify(schema)}`);
  }
  const timeoutMs = positiveOption(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs', 'PostgresStore');
  const poolSize = positiveOption(options.poolSize, DEFAULT_POOL_SIZE, 'poolSize', 'PostgresStore');
  const groupsInFlight = positiveOption(options.groupsInFlight, Math.min(DEFAULT_GROUPS_IN_FLIGHT, Math.max(1, poolSize - 1)), 'groupsInFlight', 'PostgresStore');
  if (!Number.isSafeInteger(groupsInFlight) || (groupsInFlight > poolSize - 1 && groupsInFlight > 1)) {
    throw new RangeError(`PostgresStore: groupsInFlight must be a whole number below poolSize (${poolSize}), got ${groupsInFlight}`);
  }
  return {
    schema,
    pollIntervalMs: positiveOption(options.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS, 'pollIntervalMs', 'PostgresStore'),
    idempotencyTtlMs: positiveOption(options.idempotencyTtlMs, DEFAULT_IDEMPOTENCY_TTL_MS, 'idempotencyTtlMs', 'PostgresStore'),
    poolSize,
    groupsInFlight,
    timeoutMs,
    connectTimeoutMs: positiveOption(options.connectTimeoutMs, timeoutMs, 'connectTimeoutMs', 'PostgresStore'),
    queryTimeoutMs: positiveOption(options.queryTimeoutMs, timeoutMs, 'queryTimeoutMs', 'PostgresStore'),
    clock: options.clock ?? Date.now,
  };
}


/** Creates the schema and applies pending migrations; concurrent openers wait on an advisory lock. */
async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`specstream:migrate:${schema}`]);
    const s = quoteIdent(schema);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (version integer NOT NULL)`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.schema_version`);
    const version = rows[0]?.version ?? 0;
    if (version > MIGRATIONS.length) {
      throw new Error(
        `The PostgreSQL store has schema version ${version}, newer than this Specstream supports (${MIGRATIONS.length}); upgrade Specstream`,
      );
    }
    await client.query(`SET LOCAL search_path TO ${s}`);
    for (let step = version; step < MIGRATIONS.length; step++) {
      const migration = MIGRATIONS[step]!;
      await client.query(typeof migration === 'string' ? migration : migration(s));
    }
    if (rows.length === 0) await client.query(`INSERT INTO ${s}.schema_version VALUES ($1)`, [MIGRATIONS.length]);
    else if (version !== MIGRATIONS.length) await client.query(`UPDATE ${s}.schema_version SET version = $1`, [MIGRATIONS.length]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}




/** The error's SQLSTATE, if it is a PostgreSQL error. */
function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The server ended the session (57P01-57P03: terminated, crash, starting up) or the connection
 * failed (class 08): reported with a SQLSTATE, so the statement did not commit.
 */
function isConnectionLost(error: unknown): boolean {
  const sqlState = sqlStateOf(error);
  return sqlState !== undefined && (sqlState.startsWith('08') || /^57P0[123]$/.test(sqlState));
}

/** No SQLSTATE (a connection failure, a timeout) or an "unavailable" class: every call would fail alike. */
function isUnavailable(error: unknown): boolean {
  const sqlState = sqlStateOf(error);
  return sqlState === undefined || UNAVAILABLE_CLASSES.has(sqlState.slice(0, 2));
}

/**
 * Why one append call stored nothing, as its caller sees it: STORE_UNAVAILABLE when the database
 * could not serve it; 413 for a program limit (class 54, e.g. a value too large); otherwise the
 * database refused its content (400 REFUSED_BY_STORE), e.g. a data exception, a constraint, a trigger.
 */
function appendFailure(error: unknown): unknown {
  if (error instanceof SpecstreamError) return error;
  if (isUnavailable(error)) return errors.storeUnavailable(undefined, undefined, { cause: error });
  return sqlStateOf(error)!.startsWith('54') ? storedFormTooLarge(error) : refusedByStore(error);
}

/** Connection failures and server states that mean "unavailable" become STORE_UNAVAILABLE; bugs pass. */
function toUnavailable(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (sqlState !== undefined && !UNAVAILABLE_CLASSES.has(sqlState.slice(0, 2))) return error;
  return errors.storeUnavailable('The event store is unavailable', undefined, { cause: error });
}

function toEnvelope([id, type, source, subject, data]: EventRow): StoredEvent {
  return envelope(id, type, source, subject, new Date(timeOfId(id)).toISOString(), JSON.parse(data) as Record<string, unknown>);
}

/** The envelope's JSON text, exactly `JSON.stringify(toEnvelope(row))`, without parsing `data`. */
function toEncoded([id, type, source, subject, data]: EventRow): EncodedEvent {
  const time = new Date(timeOfId(id)).toISOString();
  const json =
    `{"specversion":"1.0","id":"${id}","type":${JSON.stringify(type)},"source":${JSON.stringify(source)}` +
    `${subject === null ? '' : `,"subject":${JSON.stringify(subject)}`},"time":"${time}","datacontenttype":"application/json","data":${data}}`;
  return { id, type, json };
}

