import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { errors } from '../errors.js';
import { EventIdGenerator, idLowerBoundAt, timeOfId } from './event-id.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';
import { TailCache } from './tail-cache.js';
import type {
  AppendOptions,
  AppendResult,
  EncodedEvent,
  LogBounds,
  NewEvent,
  ReadQuery,
  RetentionPolicy,
  StoredEvent,
  Store,
  EncodedRead,
  TailRead,
} from './store.js';
import { prepareAppend, checkedLimit, positiveOption, envelope, queueAppend, readRange, refusedByStore, storedFormTooLarge, NO_LOWER_BOUND, NO_UPPER_BOUND, type PendingAppend, type PreparedAppend } from './store-arguments.js';

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * SQLite's `synchronous` setting; the log always runs in WAL mode.
   * - `'NORMAL'`: a resolved `append` survives the process being killed (even `kill -9`), but the
   *   last commits may be lost if the machine loses power or the OS crashes.
   * - `'FULL'`: the WAL is fsynced on every commit, so a resolved `append` also survives power
   *   loss; each group commit then costs one fsync.
   *
   * See https://www.sqlite.org/pragma.html#pragma_synchronous. Defaults to `'NORMAL'`.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /**
   * How often `watch` checks the file for events appended by another process (another
   * `SqliteStore` on the same file). Appends made through this instance wake watchers at once,
   * without waiting for the poll. Not used for `:memory:`. Defaults to 1000 ms.
   */
  pollIntervalMs?: number;
  /** How long an idempotency key is remembered. Defaults to 24 h (86 400 000 ms). */
  idempotencyTtlMs?: number;
  /**
   * How long a write waits for another process holding the write lock before `append` rejects
   * with STORE_UNAVAILABLE. better-sqlite3 waits synchronously, blocking the event loop, so keep
   * it short. Only matters when several processes write the same file. Defaults to 5000 ms, and
   * never more than `timeoutMs`.
   */
  busyTimeoutMs?: number;
  /**
   * The deadline of every call, in ms (the same option as the other backends'). SQLite answers
   * synchronously; the one wait, for another process's write lock, is capped by it. Defaults to 5000 ms.
   */
  timeoutMs?: number;
  /** The clock (ms since the epoch) for ids, idempotency expiry and retention; for tests. Defaults to `Date.now`. */
  clock?: () => number;
}

const DEFAULT_POLL_INTERVAL_MS = 1000;
const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** Rows deleted per statement by `applyRetention`; it yields to the event loop between chunks. */
const RETENTION_CHUNK = 2000;
/** Exclusive lower and inclusive upper id bounds that no id reaches (ids are `evt_` + base32). */

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Append new
 * steps, never edit shipped ones.
 *
 * Events live in a rowid table with an explicit `seq INTEGER PRIMARY KEY` (the rowid) and a
 * UNIQUE `id`, rather than `WITHOUT ROWID` clustered on `id`: payloads are often larger than the
 * ~200 bytes (1/20 of a page) where WITHOUT ROWID tables stop paying off, and because ids are
 * generated in increasing order both b-trees are appended at their right edge anyway. Reads range
 * over the unique `id` index, or over `(type, id)` with a type filter; `seq` gives retention a
 * cheap handle for chunked deletes.
 *
 * `meta.last_id` is the newest id ever stored, kept even when retention empties the table: each
 * group commit raises the id generator to it under the write lock (so several processes on one
 * file still produce increasing ids), and `watch` polls it to notice other processes' appends.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     type TEXT NOT NULL,
     source TEXT NOT NULL,
     subject TEXT,
     data TEXT NOT NULL
   );
   CREATE INDEX events_type_id ON events (type, id);
   CREATE TABLE idempotency (
     key TEXT PRIMARY KEY,
     fingerprint TEXT NOT NULL,
     event_ids TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX idempotency_created_at ON idempotency (created_at);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
   INSERT INTO meta (key, value) VALUES ('last_id', NULL);`,
];

/** SQLite primary result codes that mean "the store cannot serve this now", not a bug. */
const UNAVAILABLE_CODES = new Set([
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_NOMEM',
  'SQLITE_PERM',
  'SQLITE_PROTOCOL',
  'SQLITE_INTERRUPT',
]);

interface EventRow {
  id: string;
  type: string;
  source: string;
  subject: string | null;
  data: string;
}

/** An events row as a column array: id, type, source, subject, data. */
type RawEventRow = [string, string, string, string | null, string];

interface IdempotencyRow {
  fingerprint: string;
  event_ids: string;
  created_at: number;
}


/** How one call of a group ended: its result, or why it stored nothing. */
type Outcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };

interface Watcher {
  onAppend: () => void;
  /** A call is queued; further wake-ups coalesce into it. */
  scheduled: boolean;
  active: boolean;
}

/**
 * The embedded event log: one SQLite file through better-sqlite3, in WAL mode.
 *
 * Appends are group-committed: every `append` made in the same turn of the event loop is
 * committed in one transaction (each call under its own savepoint, so one call's failure leaves
 * the others intact), which turns thousands of concurrent single-event publishes into a handful
 * of commits. Several processes may open the same file; ids stay strictly increasing across them
 * and `watch` notices each other's appends by polling.
 */
export class SqliteStore implements Store, EncodedRead, TailRead {
  readonly kind = 'sqlite';

  /**
   * Opens (creating if needed, with parent directories) the log at `path`, or a private in-memory
   * log for `':memory:'`, and migrates its schema. Throws STORE_UNAVAILABLE when the file cannot
   * be opened, and a RangeError for invalid options.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    if (typeof path !== 'string' || path === '') {
      throw new TypeError('SqliteStore.open: path must be a file path or ":memory:"');
    }
    const resolved = resolveOptions(options);
    const memory = path === ':memory:';
    let db: Database.Database | undefined;
    try {
      if (!memory) mkdirSync(dirname(path), { recursive: true });
      db = new Database(path, { timeout: resolved.busyTimeoutMs });
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${resolved.synchronous}`);
      migrate(db);
      const store = new SqliteStore(db, memory, resolved);
      if (!memory) {
        // Checkpoints run in a thread of their own (sqlite-checkpointer.ts), not inside commits.
        const open = db;
        db.pragma('wal_autocheckpoint = 0');
        store.checkpointer = new SqliteCheckpointer(path, resolved.busyTimeoutMs, () => {
          if (open.open) open.pragma('wal_autocheckpoint = 1000');
        });
      }
      return store;
    } catch (error) {
      db?.close();
      // File-system and SQLite failures mean "cannot open"; anything else (e.g. a schema from a
      // newer release) is a different problem and keeps its own message.
      const systemError = error instanceof Database.SqliteError || (error instanceof Error && 'syscall' in error);
      if (!systemError) throw error;
      throw errors.storeUnavailable(`Cannot open the SQLite store at ${path}`, undefined, { cause: error });
    }
  }

  private readonly generator: EventIdGenerator;
  private readonly clock: () => number;
  private readonly pollIntervalMs: number;
  private readonly idempotencyTtlMs: number;

  private pending: PendingAppend[] = [];
  private flushHandle: NodeJS.Immediate | undefined;
  private readonly watchers = new Set<Watcher>();
  private readonly committedListeners = new Set<(newestId: string) => void>();
  /**
   * The newest stretch of the log this instance holds (`readTail`): its own commits, continued by
   * its full reads; the hub tails through it without a query per commit.
   */
  private readonly tail = new TailCache({ maxEvents: 4096, maxChars: 4 * 1024 * 1024 });
  /** Runs the WAL checkpoints off the event loop (file stores only). */
  private checkpointer: SqliteCheckpointer | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  /** The newest id this instance knows to be committed (`meta.last_id`), for the poll. */
  private lastKnownId: string | null;
  private closed = false;
  private closing: Promise<void> | undefined;

  private readonly stmt: {
    insertEvent: Database.Statement<[string, string, string, string | null, string]>;
    lastId: Database.Statement<[], string | null>;
    setLastId: Database.Statement<[string]>;
    getIdempotency: Database.Statement<[string], IdempotencyRow>;
    insertIdempotency: Database.Statement<[string, string, string, number]>;
    deleteIdempotency: Database.Statement<[string]>;
    eventsByIds: Database.Statement<[string], EventRow>;
    get: Database.Statement<[string], EventRow>;
    range: Database.Statement<[string, string, number], EventRow>;
    rangeRaw: Database.Statement<[string, string, number], RawEventRow>;
    bounds: Database.Statement<[], { firstId: string | null; lastId: string | null }>;
    nthNewest: Database.Statement<[number], string>;
    lastOfType: Database.Statement<[string], string>;
    deleteEventsBelow: Database.Statement<[string, number]>;
    purgeIdempotency: Database.Statement<[number, number]>;
  };
  /** Range reads with a type filter, by number of types (an `IN (?, ...)` list each). */
  private readonly rangeByTypes = new Map<number, Database.Statement<unknown[], EventRow>>();
  /** The same, returning column arrays (`readEncoded`). */
  private readonly rangeByTypesRaw = new Map<number, Database.Statement<unknown[], RawEventRow>>();
  /** `floor`: the newest id in the file when the group's transaction began (`''` for none): the event just before the group's first. */
  private readonly commitGroup: (calls: readonly PendingAppend[]) => { outcomes: Outcome[]; newest?: string; floor: string };
  private readonly appendOne: (call: PendingAppend) => AppendResult;

  private constructor(
    private readonly db: Database.Database,
    memory: boolean,
    options: Required<SqliteStoreOptions>,
  ) {
    this.clock = options.clock;
    this.pollIntervalMs = memory ? 0 : options.pollIntervalMs;
    this.idempotencyTtlMs = options.idempotencyTtlMs;

    this.stmt = {
      insertEvent: db.prepare('INSERT INTO events (id, type, source, subject, data) VALUES (?, ?, ?, ?, ?)'),
      lastId: db.prepare<[], string | null>("SELECT value FROM meta WHERE key = 'last_id'").pluck(),
      setLastId: db.prepare("UPDATE meta SET value = ? WHERE key = 'last_id'"),
      getIdempotency: db.prepare('SELECT fingerprint, event_ids, created_at FROM idempotency WHERE key = ?'),
      insertIdempotency: db.prepare(
        'INSERT INTO idempotency (key, fingerprint, event_ids, created_at) VALUES (?, ?, ?, ?)',
      ),
      deleteIdempotency: db.prepare('DELETE FROM idempotency WHERE key = ?'),
      eventsByIds: db.prepare(
        'SELECT id, type, source, subject, data FROM events WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id',
      ),
      get: db.prepare('SELECT id, type, source, subject, data FROM events WHERE id = ?'),
      range: db.prepare(
        'SELECT id, type, source, subject, data FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?',
      ),
      rangeRaw: db
        .prepare<[string, string, number], RawEventRow>(
          'SELECT id, type, source, subject, data FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?',
        )
        .raw(),
      bounds: db.prepare(
        `SELECT (SELECT id FROM events ORDER BY id LIMIT 1) AS firstId,
                (SELECT id FROM events ORDER BY id DESC LIMIT 1) AS lastId`,
      ),
      nthNewest: db.prepare<[number], string>('SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?').pluck(),
      lastOfType: db.prepare<[string], string>('SELECT id FROM events WHERE type = ? ORDER BY id DESC LIMIT 1').pluck(),
      deleteEventsBelow: db.prepare(
        'DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE id < ? ORDER BY id LIMIT ?)',
      ),
      purgeIdempotency: db.prepare(
        `DELETE FROM idempotency WHERE rowid IN
           (SELECT rowid FROM idempotency WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
      ),
    };

    const newestStored = db.prepare<[], string | null>('SELECT max(id) FROM events').pluck().get() ?? null;
    this.lastKnownId = maxId(this.stmt.lastId.get() ?? null, newestStored);
    this.generator = new EventIdGenerator(this.lastKnownId ?? undefined, this.clock);

    // A nested better-sqlite3 transaction runs under a SAVEPOINT: a throw rolls back that call only.
    this.appendOne = db.transaction((call: PendingAppend) => this.insertCall(call));
    this.commitGroup = db.transaction((calls: readonly PendingAppend[]) => {
      // Another process may have committed since our last look; its ids are the floor for ours.
      const floor = this.stmt.lastId.get();
      if (floor) this.generator.observe(floor);
      let newest: string | undefined;
      const outcomes = calls.map((call): Outcome => {
        try {
          // One event without an idempotency key is one INSERT, atomic by itself (a failing
          // statement is rolled back alone): no savepoint needed around it.
          const result = call.events.length === 1 && call.key === undefined ? this.insertCall(call) : this.appendOne(call);
          if (!result.replayed && result.events.length > 0) newest = result.events.at(-1)!.id;
          return { ok: true, result };
        } catch (error) {
          // Errors such as SQLITE_FULL or SQLITE_IOERR may roll back the whole transaction.
          if (!this.db.inTransaction) throw error;
          return { ok: false, error: appendFailure(error) };
        }
      });
      if (newest !== undefined) this.stmt.setLastId.run(newest);
      return { outcomes, newest, floor: floor ?? '' };
    }).immediate;
  }

  append(events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    if (this.closed) return Promise.reject(errors.storeClosed());
    let call: PreparedAppend;
    try {
      call = prepareAppend(events, options);
    } catch (error) {
      return Promise.reject(error);
    }
    // No deadline timer: better-sqlite3 commits synchronously in the next turn of the event loop;
    // the only wait is for another process's write lock, bounded by `busyTimeoutMs`.
    const appended = queueAppend(call, this.pending);
    // better-sqlite3 commits synchronously, so "calls made while a commit runs" cannot happen:
    // everything appended in this turn of the event loop goes into the next group.
    this.flushHandle ??= setImmediate(() => this.flush());
    return appended;
  }

  async read(query: ReadQuery): Promise<StoredEvent[]> {
    return (this.selectRange(query, false) as EventRow[]).map(toEnvelope);
  }

  /**
   * `read` as JSON text (the `EncodedRead` capability): the same events, each as exactly the
   * `JSON.stringify` of what `read` returns, built from the stored columns without parsing `data`.
   */
  async readEncoded(query: ReadQuery): Promise<EncodedEvent[]> {
    const events = (this.selectRange(query, true) as RawEventRow[]).map(toEncoded);
    // A read of every type with no upper bound continues the tail cache when it starts within it.
    if (query.types === undefined && query.untilId === undefined && query.until === undefined && query.since === undefined) {
      this.tail.extendFromRead(query.afterId ?? NO_LOWER_BOUND, events);
    }
    return events;
  }

  /**
   * See `TailRead`: the events this instance committed itself, and those its own full reads
   * continued them with; `undefined` while it knows of a newer event (another process's commit,
   * learnt from a poll, `checkForAppends` or a commit's floor) than it holds, and after retention
   * until it holds the log again.
   */
  readTail(afterId: string, limit: number): EncodedEvent[] | undefined {
    if (this.closed) return undefined;
    return this.tail.read(afterId, limit);
  }

  /** The rows of a `read`, as objects or (`raw`) as column arrays. */
  private selectRange(query: ReadQuery, raw: boolean): EventRow[] | RawEventRow[] {
    this.assertOpen();
    const range = readRange(query);
    if (range === undefined) return [];
    const { lower, upper, types, limit } = range;
    let rows: EventRow[] | RawEventRow[];
    try {
      rows =
        types === undefined
          ? (raw ? this.stmt.rangeRaw : this.stmt.range).all(lower, upper, limit)
          : (this.rangeStatement(types.length, raw).all(...types, lower, upper, limit) as EventRow[] | RawEventRow[]);
    } catch (error) {
      throw toUnavailable(error, 'read');
    }
    return rows;
  }

  /**
   * Adds a group just committed to the tail cache: its events follow `floor` in the log with
   * nothing between (the group held the write lock and its ids start above the newest in the file).
   * When the cache does not end at `floor` (another process committed in between), it starts over
   * from `floor`.
   */
  private remember(floor: string, calls: readonly PendingAppend[], outcomes: readonly Outcome[]): void {
    const events: EncodedEvent[] = [];
    outcomes.forEach((outcome, i) => {
      if (!outcome.ok || outcome.result.replayed) return;
      const payloads = calls[i]!.payloads;
      outcome.result.events.forEach((event, j) => events.push(toEncoded([event.id, event.type, event.source, event.subject ?? null, payloads[j]!])));
    });
    if (!this.tail.extend(floor, events)) {
      this.tail.anchor(floor);
      this.tail.extend(floor, events);
    }
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    this.assertOpen();
    try {
      const row = this.stmt.get.get(id);
      return row === undefined ? undefined : toEnvelope(row);
    } catch (error) {
      throw toUnavailable(error, 'read');
    }
  }

  async bounds(): Promise<LogBounds> {
    this.assertOpen();
    try {
      const { firstId, lastId } = this.stmt.bounds.get()!;
      if (lastId !== null) this.tail.noteHead(lastId);
      return firstId === null || lastId === null ? {} : { firstId, lastId };
    } catch (error) {
      throw toUnavailable(error, 'read');
    }
  }

  /** See `Store.lastIdOf`: one `(type, id)` index lookup per type. */
  async lastIdOf(types: readonly string[] | undefined): Promise<string | undefined> {
    if (types === undefined) return (await this.bounds()).lastId;
    this.assertOpen();
    try {
      let newest: string | undefined;
      for (const type of new Set(types)) {
        const id = this.stmt.lastOfType.get(type);
        if (id !== undefined && (newest === undefined || id > newest)) newest = id;
      }
      if (newest !== undefined) this.tail.noteHead(newest);
      return newest;
    } catch (error) {
      throw toUnavailable(error, 'read');
    }
  }

  /**
   * Registers `onAppend`. It runs in a microtask after each group commit of this instance that
   * stored events, and after a poll (every `pollIntervalMs`) that finds another process's
   * appends; wake-ups coalesce until it has run. `onAppend` must not throw: a throw surfaces as
   * an uncaught exception, as with an EventEmitter listener.
   */
  async watch(onAppend: () => void, signal: AbortSignal): Promise<void> {
    this.assertOpen();
    if (typeof onAppend !== 'function') throw new TypeError('watch: onAppend must be a function');
    if (signal.aborted) return;
    const watcher: Watcher = { onAppend, scheduled: false, active: true };
    this.watchers.add(watcher);
    signal.addEventListener(
      'abort',
      () => {
        watcher.active = false;
        this.watchers.delete(watcher);
        if (this.watchers.size === 0) this.stopPolling();
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
    let deleted = 0;
    try {
      let below = NO_LOWER_BOUND;
      if (maxAgeMs > 0) below = idLowerBoundAt(now - maxAgeMs);
      if (maxCount > 0) {
        // Computed once: events appended while we delete are newer, so at least maxCount remain.
        const oldestKept = this.stmt.nthNewest.get(Math.floor(maxCount) - 1);
        if (oldestKept !== undefined && oldestKept > below) below = oldestKept;
      }
      if (below !== NO_LOWER_BOUND) {
        deleted = await this.deleteInChunks(() => this.stmt.deleteEventsBelow.run(below, RETENTION_CHUNK).changes);
        // The tail cache must not serve what this pass deleted.
        this.tail.dropWhile((event) => event.id < below);
      }
      const expired = now - this.idempotencyTtlMs;
      await this.deleteInChunks(() => this.stmt.purgeIdempotency.run(expired, RETENTION_CHUNK).changes);
    } catch (error) {
      throw toUnavailable(error, 'retention');
    }
    return deleted;
  }

  async ping(): Promise<void> {
    this.assertOpen();
    try {
      // Reads a table rather than `SELECT 1`, which would not touch the file at all.
      this.stmt.lastId.get();
    } catch (error) {
      throw errors.storeUnavailable('The event store is unavailable', undefined, { cause: error });
    }
  }

  /**
   * Commits every append still queued (their promises settle as usual), stops the watchers and
   * closes the file. Safe to call twice; afterwards every method rejects with STORE_CLOSED.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.flush();
    this.closed = true;
    this.stopPolling();
    for (const watcher of this.watchers) watcher.active = false;
    this.watchers.clear();
    // First the checkpointer's connection, so that this one is the last: SQLite then checkpoints
    // the whole WAL and removes it, as it always did.
    await this.checkpointer?.close();
    try {
      // Cheap, and keeps the planner's statistics fresh: https://www.sqlite.org/lang_analyze.html
      this.db.pragma('optimize');
    } catch {
      // Best effort; the file is closed below either way.
    }
    this.db.close();
  }

  /** Commits the queued appends as one group and settles their promises. Synchronous. */
  private flush(): void {
    if (this.flushHandle !== undefined) {
      clearImmediate(this.flushHandle);
      this.flushHandle = undefined;
    }
    const calls = this.pending;
    if (calls.length === 0) return;
    this.pending = [];
    this.commit(calls);
  }

  /** Commits `calls` as one group and settles their promises. Synchronous. */
  private commit(calls: readonly PendingAppend[]): void {
    let group: ReturnType<typeof this.commitGroup>;
    try {
      group = this.commitGroup(calls);
    } catch (error) {
      // The transaction rolled back: nothing of this group was stored. Unless the database as a
      // whole is unavailable (then every call would fail the same way, each after its own wait),
      // one call may be the cause (e.g. SQLITE_FULL for its size): each call is tried alone, so
      // the others are stored and the culprit gets its own error.
      if (calls.length > 1 && !isUnavailable(error)) {
        for (const call of calls) this.commit([call]);
        return;
      }
      const failure = appendFailure(error);
      for (const call of calls) call.reject(failure);
      return;
    }
    // Settled in call order, which is id order.
    group.outcomes.forEach((outcome, i) => {
      if (outcome.ok) calls[i]!.resolve(outcome.result);
      else calls[i]!.reject(outcome.error);
    });
    if (group.newest !== undefined) {
      this.remember(group.floor, calls, group.outcomes);
      this.lastKnownId = maxId(this.lastKnownId, group.newest);
      this.notifyWatchers();
      for (const listener of this.committedListeners) listener(group.newest);
      this.checkpointer?.committed();
    }
  }

  /** Stores one call's events (inside the group transaction, under a savepoint). */
  private insertCall(call: PendingAppend): AppendResult {
    const now = this.clock();
    if (call.key !== undefined) {
      const seen = this.stmt.getIdempotency.get(call.key);
      if (seen !== undefined && seen.created_at >= now - this.idempotencyTtlMs) {
        if (seen.fingerprint !== call.fingerprint) throw errors.idempotencyConflict();
        // Events already removed by retention are not replayed.
        return { events: this.stmt.eventsByIds.all(seen.event_ids).map(toEnvelope), replayed: true };
      }
      if (seen !== undefined) this.stmt.deleteIdempotency.run(call.key);
    }
    const stored: StoredEvent[] = [];
    let time = '';
    let timeMs = -1;
    call.events.forEach((event, i) => {
      const id = this.generator.next();
      const payload = call.payloads[i]!;
      this.stmt.insertEvent.run(id, event.type, event.source, event.subject ?? null, payload);
      const ms = timeOfId(id);
      if (ms !== timeMs) {
        timeMs = ms;
        time = new Date(ms).toISOString();
      }
      // Parsed back from the stored text so the result equals what `read` returns later.
      stored.push(envelope(id, event.type, event.source, event.subject ?? null, time, JSON.parse(payload)));
    });
    if (call.key !== undefined) {
      this.stmt.insertIdempotency.run(call.key, call.fingerprint!, JSON.stringify(stored.map((e) => e.id)), now);
    }
    return { events: stored, replayed: false };
  }

  private rangeStatement(typeCount: number, raw = false): Database.Statement<unknown[], EventRow | RawEventRow> {
    const cache = raw ? this.rangeByTypesRaw : this.rangeByTypes;
    let statement: Database.Statement<unknown[], EventRow | RawEventRow> | undefined = cache.get(typeCount);
    if (statement === undefined) {
      // SQLite walks (type, id) once per listed type and stops each walk after LIMIT rows, so a
      // page costs O(types x limit) however long the log is (checked with EXPLAIN QUERY PLAN).
      statement = this.db.prepare<unknown[], EventRow>(
        `SELECT id, type, source, subject, data FROM events
         WHERE type IN (${new Array(typeCount).fill('?').join(', ')}) AND id > ? AND id <= ?
         ORDER BY id LIMIT ?`,
      );
      if (raw) statement = statement.raw();
      cache.set(typeCount, statement as never);
    }
    return statement;
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

  private startPolling(): void {
    if (this.pollTimer !== undefined || this.pollIntervalMs === 0) return;
    this.pollTimer = setInterval(() => this.poll(), this.pollIntervalMs);
    this.pollTimer.unref();
  }

  private stopPolling(): void {
    if (this.pollTimer === undefined) return;
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /**
   * Calls `listener` with the newest id after each group commit of this instance that stored
   * events, synchronously after the commit: for a process that tells the other processes on the
   * same file at once (`serve --workers`, see src/workers/), so that they need not wait for the
   * poll. `listener` must not throw. Returns a function that removes it.
   */
  onCommitted(listener: (newestId: string) => void): () => void {
    this.committedListeners.add(listener);
    return () => this.committedListeners.delete(listener);
  }

  /**
   * Looks for other processes' appends now, as the poll does every `pollIntervalMs`, and wakes the
   * watchers when there are some: what a process calls when another one says it appended.
   */
  checkForAppends(): void {
    this.poll();
  }

  private poll(): void {
    if (this.closed) return;
    let newest: string | null;
    try {
      newest = this.stmt.lastId.get() ?? null;
    } catch {
      // A transient failure (e.g. the file briefly unreadable): try again at the next tick;
      // `ping` is where unavailability is reported.
      return;
    }
    if (newest !== null) this.tail.noteHead(newest);
    if (newest !== null && newest !== this.lastKnownId) {
      this.lastKnownId = maxId(this.lastKnownId, newest);
      this.notifyWatchers();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw errors.storeClosed();
  }

  /**
   * Runs `deleteChunk` (a statement deleting at most RETENTION_CHUNK rows, in its own short
   * transaction) until it deletes fewer, yielding to the event loop in between so that appends and
   * reads interleave with a big pass. Stops early, without error, when the store is closed.
   */
  private async deleteInChunks(deleteChunk: () => number): Promise<number> {
    let total = 0;
    while (!this.closed) {
      const changes = deleteChunk();
      total += changes;
      if (changes < RETENTION_CHUNK) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return total;
  }
}

function resolveOptions(options: SqliteStoreOptions): Required<SqliteStoreOptions> {
  const synchronous = options.synchronous ?? 'NORMAL';
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    throw new RangeError(`SqliteStore: synchronous must be 'NORMAL' or 'FULL', got ${String(synchronous)}`);
  }
  const timeoutMs = positiveOption(options.timeoutMs, DEFAULT_BUSY_TIMEOUT_MS, 'timeoutMs', 'SqliteStore');
  return {
    synchronous,
    pollIntervalMs: positiveOption(options.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS, 'pollIntervalMs', 'SqliteStore'),
    idempotencyTtlMs: positiveOption(options.idempotencyTtlMs, DEFAULT_IDEMPOTENCY_TTL_MS, 'idempotencyTtlMs', 'SqliteStore'),
    busyTimeoutMs: Math.min(nonNegative(options.busyTimeoutMs, DEFAULT_BUSY_TIMEOUT_MS, 'busyTimeoutMs'), timeoutMs),
    timeoutMs,
    clock: options.clock ?? Date.now,
  };
}


function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`SqliteStore: ${name} must be a non-negative number of ms, got ${String(value)}`);
  }
  return value;
}

/** Applies the pending migrations, in one write transaction so that concurrent openers agree. */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(
        `The SQLite store has schema version ${version}, newer than this Specstream supports (${MIGRATIONS.length}); upgrade Specstream`,
      );
    }
    for (let step = version; step < MIGRATIONS.length; step++) db.exec(MIGRATIONS[step]!);
    if (version !== MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}




function maxId(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

let lastTimePrefix = '';
let lastTime = '';
const quoted = new Map<string, string>();

/**
 * The envelope's JSON text from a raw row, as `JSON.stringify(toEnvelope(row))` gives it: same keys
 * in the same order, and `data` as stored (the text `JSON.stringify` produced on append).
 */
function toEncoded([id, type, source, subject, data]: RawEventRow): EncodedEvent {
  // Consecutive events mostly share a millisecond: decode the id's time once per run of them.
  const prefix = id.slice(0, 14);
  if (prefix !== lastTimePrefix) {
    lastTimePrefix = prefix;
    lastTime = new Date(timeOfId(id)).toISOString();
  }
  const json =
    `{"specversion":"1.0","id":"${id}","type":${quote(type)},"source":${quote(source)}` +
    `${subject === null ? '' : `,"subject":${JSON.stringify(subject)}`},"time":"${lastTime}","datacontenttype":"application/json","data":${data}}`;
  return { id, type, json };
}

/** JSON.stringify for the few distinct types and sources, cached. */
function quote(text: string): string {
  let json = quoted.get(text);
  if (json === undefined) {
    json = JSON.stringify(text);
    if (quoted.size < 4096) quoted.set(text, json);
  }
  return json;
}

function toEnvelope(row: EventRow): StoredEvent {
  return envelope(
    row.id,
    row.type,
    row.source,
    row.subject,
    new Date(timeOfId(row.id)).toISOString(),
    JSON.parse(row.data) as Record<string, unknown>,
  );
}


/** Primary result codes that a call's own content causes: refused alone, not "unavailable". */
const REFUSED_CODES = new Set(['SQLITE_CONSTRAINT', 'SQLITE_MISMATCH', 'SQLITE_RANGE']);
/** Primary result codes that fail every write alike: no point trying the calls of a group one by one. */
const DATABASE_DOWN_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_PERM', 'SQLITE_PROTOCOL']);

function primaryCode(error: InstanceType<typeof Database.SqliteError>): string {
  return error.code.split('_', 2).join('_'); // SQLITE_IOERR_WRITE -> SQLITE_IOERR
}

function isUnavailable(error: unknown): boolean {
  return error instanceof Database.SqliteError && DATABASE_DOWN_CODES.has(primaryCode(error));
}

/**
 * Why one append call stored nothing, as its caller sees it: the database refusing its content
 * (a constraint or trigger: 400 REFUSED_BY_STORE; SQLITE_TOOBIG: 413), or STORE_UNAVAILABLE.
 */
function appendFailure(error: unknown): unknown {
  if (error instanceof Database.SqliteError) {
    const primary = primaryCode(error);
    if (REFUSED_CODES.has(primary)) return refusedByStore(error);
    if (primary === 'SQLITE_TOOBIG') return storedFormTooLarge(error);
  }
  return toUnavailable(error, 'append');
}

/** SQLite failures that mean "unavailable" become STORE_UNAVAILABLE (cause kept); others pass. */
function toUnavailable(error: unknown, operation: 'append' | 'read' | 'retention'): unknown {
  if (!(error instanceof Database.SqliteError)) return error;
  const primary = error.code.split('_', 2).join('_'); // SQLITE_IOERR_WRITE -> SQLITE_IOERR
  if (operation !== 'append' && !UNAVAILABLE_CODES.has(primary)) return error;
  // Any SQLite error on append rolled its transaction back: "nothing was stored" holds.
  return operation === 'append'
    ? errors.storeUnavailable(undefined, undefined, { cause: error })
    : errors.storeUnavailable('The event store is unavailable', undefined, { cause: error });
}
