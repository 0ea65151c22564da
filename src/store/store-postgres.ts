import pg from 'pg';
import { errors, SpecstreamError } from '../errors.js';
import { EventIdGenerator, idLowerBoundAt, timeOfId } from './event-id.js';
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
} from './store.js';
import { prepareAppend, checkedLimit, positiveOption, envelope, queueAppend, readRange, refusedByStore, storeDidNotAnswer, storedFormTooLarge, takeGroup, withDeadline, NO_LOWER_BOUND, type PendingAppend, type PreparedAppend } from './store-arguments.js';

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
  /** The clock (ms since the epoch) for ids, idempotency expiry and retention; for tests. Defaults to `Date.now`. */
  clock?: () => number;
}

const DEFAULT_SCHEMA = 'specstream';
const DEFAULT_POLL_INTERVAL_MS = 1000;
const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const DEFAULT_POOL_SIZE = 10;
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
 * `schema_version` records how many ran. Append new steps, never edit shipped ones.
 *
 * - `id` is `COLLATE "C"`: byte order, which is ULID order, whatever the database's locale.
 * - `data` is the exact `JSON.stringify` text of the payload (not jsonb, which would reorder keys),
 *   so `readEncoded` can forward it without parsing.
 * - `log_head` is one row holding the newest id ever stored; it is the lock that orders commits
 *   (see `PostgresStore`) and it survives retention emptying `events`.
 */
const MIGRATIONS: readonly string[] = [
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
];

/** SQLSTATE classes that mean "the database cannot serve this now", not a bug in the query. */
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58', '40', 'XX']);

type EventRow = [id: string, type: string, source: string, subject: string | null, data: string];


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
 * under concurrent transactions). Each group commit therefore starts by locking the single
 * `log_head` row (`SELECT last_id ... FOR UPDATE`), raises the node's id generator to that id
 * (`observe`), assigns its ids, inserts, stores the new head and commits — the row lock is held
 * from id assignment to commit. A writer on any node waits for the lock and, in READ COMMITTED,
 * then reads the head the previous writer committed, so its ids are greater, whatever the clocks
 * of the nodes; and since it commits later too, commit order is id order. A reader never sees a
 * later commit with a smaller id. The cost is one serialised transaction at a time across the
 * cluster, amortised by group commit: every `append` made while a commit is in flight goes into
 * the next one.
 *
 * **Tailing.** The commit runs `pg_notify` inside the transaction, delivered only once it commits;
 * `watch` LISTENs on one connection per store (re-established with backoff, waking the watchers
 * after each reconnect), and also polls `log_head` every `pollIntervalMs` as a fallback.
 */
export class PostgresStore implements Store, EncodedRead {
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
  private readonly generator: EventIdGenerator;
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
    this.generator = new EventIdGenerator(lastId ?? undefined, this.clock);
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
    this.scheduleFlush();
    return appended;
  }

  async read(query: ReadQuery): Promise<StoredEvent[]> {
    return (await this.selectRange(query)).map(toEnvelope);
  }

  /** `read` as JSON text (the `EncodedRead` capability), built from the stored columns without parsing `data`. */
  async readEncoded(query: ReadQuery): Promise<EncodedEvent[]> {
    return (await this.selectRange(query)).map(toEncoded);
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
    if (this.flushing !== undefined) return; // the running flush picks the queue up when it ends
    // Everything appended in this turn of the event loop goes into the first group.
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flushLoop());
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.commitGroup(takeGroup(this.pending, MAX_GROUP_EVENTS, MAX_GROUP_LENGTH));
    } finally {
      this.flushing = undefined;
    }
  }

  /** Commits one group in one transaction and settles its calls' promises, in call (= id) order. */
  private async commitGroup(group: readonly PendingAppend[]): Promise<void> {
    // Calls that expired while queued were told nothing was stored: leave them out.
    const calls = group.filter((call) => !call.settled);
    if (calls.length === 0) return;
    let client: pg.PoolClient;
    try {
      client = await this.begin(() => calls.some((call) => !call.settled));
    } catch (error) {
      const failure = errors.storeUnavailable(undefined, undefined, { cause: error });
      for (const call of calls) call.reject(failure);
      return;
    }
    const onError = () => {};
    client.on('error', onError);
    const outcomes: Array<{ ok: true; result: AppendResult } | { ok: false; error: unknown }> = [];
    let newest: string | undefined;
    let broken = false;
    let failed: { error: unknown } | undefined;
    /** The calls to commit again: the group was rolled back because some of its calls expired. */
    let again: PendingAppend[] | undefined;
    let commitSent = false;
    try {
      // The lock that orders commits across nodes: held from here (id assignment) to COMMIT.
      const head = await client.query<[string | null]>({
        text: `SELECT last_id FROM ${this.table.head} FOR UPDATE`,
        rowMode: 'array',
      });
      const floor = head.rows[0]?.[0];
      if (floor) this.generator.observe(floor);

      const now = this.clock();
      const keys = [...new Set(calls.flatMap((call) => (call.key === undefined ? [] : [call.key])))];
      const seen = new Map<string, { fingerprint: string; eventIds: string[]; fresh: boolean }>();
      if (keys.length > 0) {
        const { rows } = await client.query<[string, string, string[], string]>({
          text: `SELECT key, fingerprint, event_ids, created_at FROM ${this.table.idempotency} WHERE key = ANY($1::text[])`,
          values: [keys],
          rowMode: 'array',
        });
        for (const [key, fingerprint, eventIds, createdAt] of rows) {
          seen.set(key, { fingerprint, eventIds, fresh: Number(createdAt) >= now - this.idempotencyTtlMs });
        }
      }

      const columns: [string[], string[], string[], Array<string | null>, string[]] = [[], [], [], [], []];
      const keyRows: [string[], string[], string[][]] = [[], [], []];
      const replayIds = new Set<string>();
      /** Per call: its stored events, or the ids of the events it replays, or its error. */
      const plans: Array<{ stored: StoredEvent[] } | { replay: string[] } | { error: unknown }> = [];
      for (const call of calls) {
        const prior = call.key === undefined ? undefined : seen.get(call.key);
        if (prior?.fresh) {
          if (prior.fingerprint !== call.fingerprint) plans.push({ error: errors.idempotencyConflict() });
          else {
            plans.push({ replay: prior.eventIds });
            for (const id of prior.eventIds) replayIds.add(id);
          }
          continue;
        }
        const stored: StoredEvent[] = [];
        let timeMs = -1;
        let time = '';
        call.events.forEach((event, i) => {
          const id = this.generator.next();
          const payload = call.payloads[i]!;
          columns[0].push(id);
          columns[1].push(event.type);
          columns[2].push(event.source);
          columns[3].push(event.subject ?? null);
          columns[4].push(payload);
          const ms = timeOfId(id);
          if (ms !== timeMs) {
            timeMs = ms;
            time = new Date(ms).toISOString();
          }
          stored.push(envelope(id, event.type, event.source, event.subject ?? null, time, JSON.parse(payload)));
        });
        if (stored.length > 0) newest = stored.at(-1)!.id;
        plans.push({ stored });
        if (call.key !== undefined) {
          const eventIds = stored.map((e) => e.id);
          // A later call of this group with the same key replays this one.
          seen.set(call.key, { fingerprint: call.fingerprint!, eventIds, fresh: true });
          const at = keyRows[0].indexOf(call.key);
          if (at >= 0) {
            keyRows[1][at] = call.fingerprint!;
            keyRows[2][at] = eventIds;
          } else {
            keyRows[0].push(call.key);
            keyRows[1].push(call.fingerprint!);
            keyRows[2].push(eventIds);
          }
        }
      }

      if (columns[0].length > 0) {
        await client.query(
          `INSERT INTO ${this.table.events} (id, type, source, subject, data)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])`,
          columns,
        );
      }
      if (keyRows[0].length > 0) {
        // text[][] cannot hold ragged rows, so event ids travel as JSON and are split in SQL.
        await client.query(
          `INSERT INTO ${this.table.idempotency} (key, fingerprint, event_ids, created_at)
           SELECT k, f, ARRAY(SELECT json_array_elements_text(e::json)), $4
           FROM unnest($1::text[], $2::text[], $3::text[]) AS t(k, f, e)
           ON CONFLICT (key) DO UPDATE
             SET fingerprint = excluded.fingerprint, event_ids = excluded.event_ids, created_at = excluded.created_at`,
          [keyRows[0], keyRows[1], keyRows[2].map((ids) => JSON.stringify(ids)), now],
        );
      }
      // Events replayed from an earlier commit; those that retention removed are not replayed.
      const replayed = new Map<string, StoredEvent>();
      if (replayIds.size > 0) {
        const { rows } = await client.query<EventRow>({
          text: `SELECT id, type, source, subject, data FROM ${this.table.events} WHERE id = ANY($1::text[])`,
          values: [[...replayIds]],
          rowMode: 'array',
        });
        for (const row of rows) replayed.set(row[0], toEnvelope(row));
      }
      if (newest !== undefined) {
        await client.query(
          `WITH moved AS (UPDATE ${this.table.head} SET last_id = $1) SELECT pg_notify($2, $1)`,
          [newest, this.channel],
        );
      }
      if (calls.some((call) => call.settled)) {
        // A call expired during the transaction and was told nothing was stored: this
        // transaction must not commit its rows. Roll back; the others go again in the next group.
        again = calls.filter((call) => !call.settled);
        await client.query('ROLLBACK');
        return;
      }
      // From here the group may be stored whatever happens to the connection (checked and sent in
      // one synchronous step, so no deadline fires in between).
      for (const call of calls) call.sent = true;
      commitSent = true;
      await client.query('COMMIT');
      for (const plan of plans) {
        if ('error' in plan) outcomes.push({ ok: false, error: plan.error });
        else if ('stored' in plan) outcomes.push({ ok: true, result: { events: plan.stored, replayed: false } });
        else {
          const events = plan.replay.flatMap((id) => replayed.get(id) ?? []);
          outcomes.push({ ok: true, result: { events, replayed: true } });
        }
      }
    } catch (error) {
      broken = true;
      await client.query('ROLLBACK').catch(() => {});
      failed = { error };
    } finally {
      client.off('error', onError);
      client.release(broken);
      if (again !== undefined) this.pending.unshift(...again);
    }
    if (failed !== undefined) {
      // The database refused the group for something in it (a constraint, a trigger, a data
      // exception), not for being unreachable: one call may be the cause. Each call is committed
      // alone, so the others are stored and the culprit gets its own error.
      if (calls.length > 1 && !isUnavailable(failed.error) && !commitSent) {
        for (const call of calls) await this.commitGroup([call]);
        return;
      }
      // A COMMIT that failed without a SQLSTATE (the connection died, or did not answer in time)
      // may still have committed: the caller is told the outcome is unknown (STORE_TIMEOUT) and
      // may retry with its idempotency key. Nothing is acknowledged that is not stored.
      const failure =
        commitSent && sqlStateOf(failed.error) === undefined
          ? errors.storeTimeout(undefined, undefined, { cause: failed.error })
          : appendFailure(failed.error);
      for (const call of calls) call.reject(failure);
      return;
    }
    outcomes.forEach((outcome, i) => {
      if (outcome.ok) calls[i]!.resolve(outcome.result);
      else calls[i]!.reject(outcome.error);
    });
    if (newest !== undefined) this.advance(newest);
  }

  /**
   * A pooled connection with a transaction begun. A pooled connection may have died while idle
   * (server restart, `pg_terminate_backend`) without the pool knowing yet: BEGIN then fails, which
   * is safe to retry on a fresh connection, a few times.
   */
  private async begin(wanted: () => boolean): Promise<pg.PoolClient> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const onError = () => {};
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        return client;
      } catch (error) {
        client.release(true);
        // No retry once every call of the group has expired.
        if (attempt >= this.pool.totalCount + 2 || !wanted()) throw error;
      } finally {
        client.off('error', onError);
      }
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
      if (message.channel === this.channel && message.payload) this.advance(message.payload);
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
  }

  /** The LISTEN connection died: reconnect with backoff, then wake the watchers for what was missed. */
  private listenerLost(client: pg.Client): void {
    if (this.listener !== client) return;
    this.listener = undefined;
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
      if (head) this.advance(head);
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
  return { url: parsed.toString(), schema };
}

function resolveOptions(options: PostgresStoreOptions): Required<PostgresStoreOptions> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  if (!/^[a-z_][a-z0-9_]{0,50}$/.test(schema)) {
    throw new RangeError(`PostgresStore: schema must match [a-z_][a-z0-9_]*, at most 51 characters; got ${JSON.stringify(schema)}`);
  }
  const timeoutMs = positiveOption(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs', 'PostgresStore');
  return {
    schema,
    pollIntervalMs: positiveOption(options.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS, 'pollIntervalMs', 'PostgresStore'),
    idempotencyTtlMs: positiveOption(options.idempotencyTtlMs, DEFAULT_IDEMPOTENCY_TTL_MS, 'idempotencyTtlMs', 'PostgresStore'),
    poolSize: positiveOption(options.poolSize, DEFAULT_POOL_SIZE, 'poolSize', 'PostgresStore'),
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
    for (let step = version; step < MIGRATIONS.length; step++) await client.query(MIGRATIONS[step]!);
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

