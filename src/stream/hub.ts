/**
 * The hub: one tail of the store per process, an in-memory ring of the newest events, and
 * subscribers that are cursors into the log.
 *
 * - **Tail.** `store.watch` wakes the hub after appends; it then reads `afterId: head` in batches
 *   and appends each event to the ring (encoded lazily, once per wire format) and to the ledger.
 * - **Ring delivery.** On each wake, every ready subscriber whose cursor is in the ring takes the
 *   entries after its cursor that match its filter and gets them in ONE write. Subscribers with
 *   the same format, filter and position (the common case: everyone caught up, all types) share
 *   one concatenated Buffer, so a wake costs one concatenation per group plus one write per socket.
 * - **Store delivery.** A subscriber whose cursor is older than the ring (history, or a slow
 *   client the ring has left behind) reads `afterId: cursor` from the store at its own pace, then
 *   rejoins the ring. History and slow clients use the same path, and because ids strictly
 *   increase, the store→ring seam has no gap and no duplicate by construction.
 * - **Backpressure.** When a write returns false the subscriber pauses until `drain`; its cursor
 *   stays where it is and nothing is queued for it, so memory stays bounded however slow it is.
 * - **Retention.** A store read that skips events the ledger says existed means they were deleted
 *   before the subscriber read them: it gets the `dropped` notice with their exact count and
 *   continues from the oldest retained event (see ledger.ts for what "exact" covers).
 */
import type { Principal } from '../auth/principal.js';
import type { Config } from '../config/load-config.js';
import { asSpecstreamError, errors } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ResolvedHistoryQuery } from '../query/resolve-history-query.js';
import { idUpperBoundAt, timeOfId } from '../store/event-id.js';
import type { EncodedEvent, EncodedRead, LogBounds, ReadQuery, Store, TailRead } from '../store/store.js';
import type { ServedBundle } from '../bundle/served-bundle.js';
import type { DropNotice } from './wire-encoder.js';
import { EventLedger, TypeIndex } from './ledger.js';
import { EventRing, RingEntry } from './ring.js';
import type { HubSnapshot } from './stream-hub.js';
import { Subscriber, type EndReason, type StoreBatch, type SubscriberTransport } from './subscriber.js';

/** Events per tail read. */
const TAIL_BATCH = 1000;
/** Events per store read for a subscriber behind the ring. */
const READ_BATCH = 2000;
/** Most ring entries, and bytes, gathered into one write. */
const MAX_WRITE_ENTRIES = 4096;
const MAX_WRITE_BYTES = 1 << 20;
/**
 * How long after an `until` time the hub still expects events logged at or before it. An id is
 * assigned when its batch commits, and the tail reads it microseconds later; the margin covers a
 * busy event loop and, for shared backends, clock skew between nodes.
 */
export const UNTIL_GRACE_MS = 1000;
/**
 * The period of the hub's one timer (`sweep`), which visits every stream: heartbeats, pings and
 * status frames come out within this of their due time, idle streams end within it of
 * `idle_timeout_s`, and streams whose token expired end within it of `exp`. One timer for all
 * streams (the way the `ws` README pings every client from one interval), not timers per stream.
 */
export const SWEEP_MS = 250;
/** Tail retry delays after a store failure. */
const TAIL_RETRY_MIN_MS = 100;
const TAIL_RETRY_MAX_MS = 5000;
/**
 * An exclusive lower bound below every event id (the origin of the log): usable as `since_id` in
 * a backfill link, and the resume point of a live-only stream whose types have no event yet.
 */
export const ZERO_ID = 'evt_00000000000000000000000000';

/** What the hub is built from. */
export interface HubDeps {
  store: Store;
  config: Config;
  metrics: Metrics;
  logger: Logger;
  /** The bundle served: its list operation gives drop notices their backfill link. Defaults to none (no link). */
  served?: Pick<ServedBundle, 'bundle'>;
}

/**
 * The backfill link of a drop notice: the bundle's list operation with its own parameter names
 * (`since_id`, `until_id`, `types` roles), or undefined when the bundle has no list operation or
 * it lacks one of those parameters.
 */
export function backfillLinkOf(served: Pick<ServedBundle, 'bundle'> | undefined): ((sinceId: string, untilId: string, types?: readonly string[]) => string) | undefined {
  const list = served?.bundle.operations.find((op) => op.role === 'list' && op.types === undefined);
  if (!list) return undefined;
  const param = (role: string) => list.params.find((p) => p.in === 'query' && p.role === role);
  const since = param('since_id')?.name;
  const until = param('until_id')?.name;
  const types = param('types');
  if (!since || !until) return undefined;
  // The list separates types with a bare `,` only where its parameter allows reserved characters
  // (natively `types=grant.created,grant.revoked`); elsewhere the link must keep `%2C`, or that
  // bundle's own request validation refuses it.
  const bareCommas = types?.allowReserved === true;
  return (sinceId, untilId, selected) => {
    const params = new URLSearchParams({ [since]: sinceId, [until]: untilId });
    if (selected !== undefined && types) params.set(types.name, selected.join(','));
    const query = params.toString();
    return `${list.path}?${bareCommas ? query.replace(/%2C/g, ',') : query}`;
  };
}

/** Where a new stream starts and ends, from its validated query. */
export interface StreamPlan {
  /** Start at the head of the log (no history). */
  live: boolean;
  /** Exclusive lower bound when not live (`''` is before every id). */
  afterId: string;
  /** Inclusive upper bound (`until_id` and `until`, whichever is lower), or undefined. */
  untilId?: string;
  /** Concrete types, or undefined for every type. */
  types?: readonly string[];
  /** The resume point is already at or past the end: nothing can follow (SSE answers 204). */
  exhausted: boolean;
}

/** Turns a resolved history query into log positions. */
export function planStream(query: ResolvedHistoryQuery): StreamPlan {
  let untilId = query.untilId;
  if (query.until !== undefined) {
    const bound = idUpperBoundAt(query.until);
    if (untilId === undefined || bound < untilId) untilId = bound;
  }
  let afterId = '';
  if (query.afterId !== undefined) afterId = query.afterId;
  else if (query.since !== undefined) {
    // `time >= since` is `id > idUpperBoundAt(since - 1 ms)`.
    const ms = query.since.getTime();
    afterId = ms <= 0 ? '' : idUpperBoundAt(ms - 1);
  }
  const plan: StreamPlan = {
    live: !query.hasStart,
    afterId,
    exhausted: query.resumeFrom !== undefined && untilId !== undefined && query.resumeFrom >= untilId,
  };
  if (untilId !== undefined) plan.untilId = untilId;
  if (!query.allTypes) plan.types = [...query.types];
  return plan;
}

/** A ring batch prepared for one position and filter; shared within one wake. */
interface RingBatch {
  bytes: Buffer | undefined;
  count: number;
  lastSeq: number;
  lastId: string | undefined;
  reachedUntil: boolean;
}

/** The numbers a WebSocket `status` frame reports, read from the same state as the metrics. */
export interface SubscriberStatus {
  queueDepth: number;
  queueMax: number;
  /** Open streams of the same key on this node (never other clients'). */
  subscribers: number;
  store: 'ok' | 'unavailable';
}

export class Hub {
  private readonly store: Store;
  private readonly config: Config;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly typeIndex = new TypeIndex();
  private readonly subscribers = new Set<Subscriber>();
  private readonly perKey = new Map<string, number>();
  /** Admitted connections: subscribers plus WebSocket handshakes in progress. */
  private admitted = 0;
  private ring: EventRing | undefined;
  private ledger: EventLedger | undefined;
  private headId = '';
  private readonly abort = new AbortController();
  private tailing = false;
  private tailAgain = false;
  private tailRetryMs = TAIL_RETRY_MIN_MS;
  private tailRetry: NodeJS.Timeout | undefined;
  /** `eventsDelivered` per transport label (see `deliver`). */
  private readonly deliveredBy: Partial<Record<'sse' | 'ws', { inc(value: number): void }>> = {};
  /** The one timer of every stream (see SWEEP_MS). */
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Streams opened with an expiring credential (a JWT), checked every SWEEP_MS. */
  private readonly expiring = new Set<Subscriber>();
  private retentionTimer: NodeJS.Timeout | undefined;
  private retentionRun: Promise<number> | undefined;
  private storeOk = true;
  private readonly inFlight = new Set<Promise<void>>();
  private started = false;
  private closing: Promise<void> | undefined;

  /** Builds a drop notice's backfill link, when the bundle has a list operation. */
  private readonly backfillUrl: ReturnType<typeof backfillLinkOf>;

  /** Reads a range as JSON text: through the store's `readEncoded` when it has one, else `read` + stringify. */
  private readonly readEncoded: (query: ReadQuery) => Promise<EncodedEvent[]>;

  /** The store's `readTail` (events it already holds, no round trip), when it has one. */
  private readonly readTail: TailRead['readTail'] | undefined;

  /** The log's head being read for live-only streams opening now (one read shared by those that open together). */
  private logHeadRead: Promise<string> | undefined;

  constructor(deps: HubDeps) {
    this.store = deps.store;
    const store = deps.store as Store & Partial<EncodedRead> & Partial<TailRead>;
    this.readTail = typeof store.readTail === 'function' ? (afterId, limit) => store.readTail!(afterId, limit) : undefined;
    this.readEncoded =
      typeof store.readEncoded === 'function'
        ? (query) => store.readEncoded!(query)
        : async (query) => (await store.read(query)).map((event) => ({ id: event.id, type: event.type, json: JSON.stringify(event) }));
    this.config = deps.config;
    this.metrics = deps.metrics;
    this.logger = deps.logger;
    this.backfillUrl = backfillLinkOf(deps.served);
  }

  /** Starts tailing the store. Resolves once listening. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // Listening first, then the head: an append between the two is after the head or before it, never lost.
    await this.store.watch(() => this.tail(), this.abort.signal);
    this.headId = (await this.store.bounds()).lastId ?? '';
    this.ring = new EventRing(this.config.ring_size, this.config.ring_max_bytes, this.headId);
    this.ledger = new EventLedger(this.config.ledger_size, this.headId);
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
    this.retentionTimer = setInterval(() => {
      this.track(
        this.applyRetention().then(
          () => {},
          (error: unknown) => {
            if (!this.closing) this.logger.warn({ err: error }, 'retention pass failed');
          },
        ),
      );
    }, this.config.retention_interval_s * 1000);
    this.retentionTimer.unref();
    this.tail();
  }

  /**
   * One retention pass (every `retention_interval_s` on every node): deletes what the policy
   * (`retention_max_age_s`, `retention_max_count`) no longer keeps, then re-reads the log's bounds
   * and forgets from the ring every event below the oldest retained one, whichever node deleted it.
   * A subscriber the ring held behind that point reads from the store instead and gets the
   * `dropped` notice. Resolves with how many events this pass deleted; concurrent calls share one
   * pass. Rejects with the store's error (nothing is forgotten then).
   */
  applyRetention(): Promise<number> {
    this.retentionRun ??= (async () => {
      try {
        const deleted = await this.store.applyRetention({
          maxAgeMs: this.config.retention_max_age_s * 1000,
          maxCount: this.config.retention_max_count,
        });
        if (deleted > 0) this.logger.info({ deleted }, 'retention pass');
        this.forgetDeleted(this.headId, await this.store.bounds());
        return deleted;
      } finally {
        this.retentionRun = undefined;
      }
    })();
    return this.retentionRun;
  }

  /** Evicts from the ring what the log no longer holds: below `bounds.firstId`, or everything up to `head` (read before the bounds) when the log is empty. */
  private forgetDeleted(head: string, bounds: LogBounds): void {
    const ring = this.ring;
    if (ring === undefined || this.closing) return;
    const bound = bounds.firstId !== undefined ? { id: bounds.firstId, inclusive: false } : { id: head, inclusive: true };
    if (ring.dropBelow(bound) > 0) this.wake();
  }

  /** True once `close()` was called. */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /** Open streams. */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * Reserves a connection slot for `keyId`; throws TOO_MANY_CONNECTIONS (429) beyond
   * `max_connections` in total or `max_connections_per_key` for the key, and SHUTTING_DOWN
   * (503) once closing. Pair with `subscribe` (which owns the slot from then on) or `release`.
   */
  admit(keyId: string): void {
    if (this.closing || !this.started) throw errors.shuttingDown();
    if (this.admitted >= this.config.max_connections) {
      throw errors.tooManyConnections(`Too many open streams (at most ${this.config.max_connections})`);
    }
    const forKey = this.perKey.get(keyId) ?? 0;
    if (forKey >= this.config.max_connections_per_key) {
      throw errors.tooManyConnections(`Too many open streams for this key (at most ${this.config.max_connections_per_key})`);
    }
    this.admitted++;
    this.perKey.set(keyId, forKey + 1);
  }

  /** Gives back a slot taken by `admit` that never became a subscriber. */
  release(keyId: string): void {
    this.admitted--;
    const forKey = (this.perKey.get(keyId) ?? 1) - 1;
    if (forKey <= 0) this.perKey.delete(keyId);
    else this.perKey.set(keyId, forKey);
  }

  /**
   * Starts delivering to `transport` (whose slot `admit` reserved) from `plan`. The transport
   * must call `remove` when its connection closes.
   */
  subscribe(transport: SubscriberTransport, keyId: string, plan: StreamPlan, principal?: Principal): Subscriber {
    const ring = this.ring!;
    const start = plan.live ? this.headId : plan.afterId;
    const subscriber = new Subscriber(transport, keyId, plan.types, this.typeIndex.mask(plan.types), plan.untilId, start);
    subscriber.principal = principal;
    this.subscribers.add(subscriber);
    if (principal?.expiresAt !== undefined) this.expiring.add(subscriber);
    this.metrics.connections.inc({ transport: transport.format });
    if (plan.untilId !== undefined) this.armUntil(subscriber, plan.untilId);
    if (plan.live) {
      subscriber.seq = ring.nextSeq - 1;
      subscriber.storeChecked = true;
      // Held (not ready) until its resume point is written, which must come before any event.
      subscriber.reading = true;
      this.track(this.startLive(subscriber));
    } else {
      this.resume(subscriber);
    }
    return subscriber;
  }

  /**
   * Writes a live-only stream's resume point, then lets it run. The point comes from the log, not
   * from this process's memory: the newest retained event among the stream's types (which are
   * only types the reader may read), or `ZERO_ID` when the log holds none, from which resuming
   * replays every event of those types and so loses nothing. It never names another type's event.
   * When that event is newer than the head this process had tailed, the stream starts after it
   * (events of the stream's types up to its position are history for a live-only stream).
   */
  private async startLive(subscriber: Subscriber): Promise<void> {
    let position: string;
    try {
      // The log's head, not this process's tail, which may be behind it (another node's burst).
      position = subscriber.types === undefined ? await this.logHead() : ((await this.store.lastIdOf(subscriber.types)) ?? '');
    } catch (error) {
      subscriber.reading = false;
      this.fault(subscriber, error);
      return;
    }
    subscriber.reading = false;
    if (subscriber.ended || this.closing) return;
    if (position > subscriber.cursorId) {
      subscriber.cursorId = position;
      subscriber.seq = undefined;
    }
    const id = position === '' ? ZERO_ID : position;
    const frame = subscriber.transport.encoder.position(id);
    if (frame) subscriber.transport.write(frame);
    subscriber.resumeRequested = false;
    this.resume(subscriber);
  }

  /**
   * The newest id in the log (`''` when it holds none), or the tailed head when that is newer (it
   * is in the log too). Live-only streams opening while a read is in flight share it.
   */
  private logHead(): Promise<string> {
    this.logHeadRead ??= this.store.lastIdOf(undefined).then(
      (id) => {
        this.logHeadRead = undefined;
        return id !== undefined && id > this.headId ? id : this.headId;
      },
      (error: unknown) => {
        this.logHeadRead = undefined;
        throw error;
      },
    );
    return this.logHeadRead;
  }

  /** Forgets a subscriber whose connection closed (or that ended). Safe to call twice. */
  remove(subscriber: Subscriber): void {
    subscriber.ended = true;
    if (!this.subscribers.delete(subscriber)) return;
    this.expiring.delete(subscriber);
    if (subscriber.untilTimer !== undefined) clearTimeout(subscriber.untilTimer);
    subscriber.dispose();
    this.metrics.connections.dec({ transport: subscriber.transport.format });
    this.release(subscriber.keyId);
  }

  /** The numbers of a WebSocket `status` frame for `subscriber`. */
  status(subscriber: Subscriber): SubscriberStatus {
    return {
      queueDepth: this.lagOf(subscriber),
      queueMax: this.config.ring_size,
      subscribers: this.perKey.get(subscriber.keyId) ?? 0,
      store: this.storeOk ? 'ok' : 'unavailable',
    };
  }

  /** See `StreamHub.snapshot`. */
  snapshot(): HubSnapshot {
    return {
      headId: this.headId,
      ring: { length: this.ring?.length ?? 0, capacity: this.config.ring_size, bytes: this.ring?.weight ?? 0 },
      ledgerLength: this.ledger?.length ?? 0,
      subscribers: [...this.subscribers].map((subscriber) => ({
        transport: subscriber.transport.format,
        keyId: subscriber.keyId,
        cursorId: subscriber.cursorId,
        inRing: subscriber.seq !== undefined,
        paused: subscriber.paused,
        bufferedBytes: subscriber.transport.bufferedBytes,
        delivered: subscriber.delivered,
        lag: this.lagOf(subscriber),
      })),
    };
  }

  /** Checks the store (for the `status` frames); resolves with the result, never rejects. */
  async checkStore(): Promise<'ok' | 'unavailable'> {
    try {
      await this.store.ping();
      this.storeOk = true;
    } catch {
      this.storeOk = false;
    }
    return this.storeOk ? 'ok' : 'unavailable';
  }

  /**
   * Ends every stream cleanly (reason `shutdown`), stops tailing and waits for in-flight store
   * reads. Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.abort.abort();
      if (this.tailRetry !== undefined) clearTimeout(this.tailRetry);
      if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
      if (this.retentionTimer !== undefined) clearInterval(this.retentionTimer);
      for (const subscriber of [...this.subscribers]) this.finish(subscriber, 'shutdown');
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    })();
    return this.closing;
  }

  // ---- tail ---------------------------------------------------------------------------------

  /** Reads everything after the head into the ring, then wakes the subscribers. Coalesces calls. */
  private tail(): void {
    if (this.closing || this.ring === undefined) return;
    if (this.tailing) {
      this.tailAgain = true;
      return;
    }
    this.tailing = true;
    this.track(this.runTail());
  }

  private async runTail(): Promise<void> {
    try {
      do {
        this.tailAgain = false;
        let read: EncodedEvent[];
        do {
          // What the store already holds (no round trip), else a read of the log.
          read = this.readTail?.(this.headId, TAIL_BATCH) ?? (await this.readEncoded({ afterId: this.headId, limit: TAIL_BATCH }));
          if (this.closing) return;
          if (read.length === 0) break;
          for (const event of read) this.ingest(event);
          this.headId = read[read.length - 1]!.id;
          this.wake();
        } while (read.length === TAIL_BATCH);
      } while (this.tailAgain && !this.closing);
      this.storeOk = true;
      this.tailRetryMs = TAIL_RETRY_MIN_MS;
    } catch (error) {
      if (this.closing) return;
      this.storeOk = false;
      this.logger.warn({ err: error, retryMs: this.tailRetryMs }, 'stream tail: store read failed; retrying');
      this.tailRetry = setTimeout(() => {
        this.tailRetry = undefined;
        this.tail();
      }, this.tailRetryMs);
      this.tailRetryMs = Math.min(this.tailRetryMs * 2, TAIL_RETRY_MAX_MS);
    } finally {
      this.tailing = false;
    }
  }

  private ingest(event: EncodedEvent): void {
    const typeIndex = this.typeIndex.of(event.type);
    const seq = this.ledger!.append(event.id, typeIndex);
    this.ring!.push(new RingEntry(seq, event.id, event.type, typeIndex, event.json));
  }

  // ---- delivery -----------------------------------------------------------------------------

  /** Delivers new ring entries to every ready subscriber. */
  private wake(): void {
    const shared = new Map<string, RingBatch>();
    for (const subscriber of this.subscribers) {
      if (!subscriber.ready) {
        // A store read in flight may have started before these events: look again after it.
        if (subscriber.reading) subscriber.resumeRequested = true;
        continue;
      }
      if (subscriber.seq === undefined) this.track(this.pumpStore(subscriber));
      else {
        try {
          this.pumpRing(subscriber, shared);
        } catch (error) {
          // One broken connection must not stop the others from being served.
          this.fault(subscriber, error);
        }
      }
    }
  }

  /** Continues a subscriber after it connected, drained, or was poked. */
  private resume(subscriber: Subscriber): void {
    if (subscriber.reading) {
      // pumpStore is between awaits (e.g. the socket drained while it read ahead): it resumes
      // itself when done, instead of this wake-up being lost.
      subscriber.resumeRequested = true;
      return;
    }
    if (!subscriber.ready) return;
    if (subscriber.seq === undefined) this.track(this.pumpStore(subscriber));
    else this.pumpRing(subscriber, undefined);
  }

  private pumpRing(subscriber: Subscriber, shared: Map<string, RingBatch> | undefined): void {
    const ring = this.ring!;
    while (subscriber.ready && subscriber.seq !== undefined) {
      if (subscriber.seq < ring.firstSeq - 1) {
        // The ring moved past this subscriber while it was paused: continue from the store.
        subscriber.seq = undefined;
        this.track(this.pumpStore(subscriber));
        return;
      }
      const from = subscriber.seq + 1;
      if (from >= ring.nextSeq) {
        this.caughtUp(subscriber);
        return;
      }
      const key = subscriber.shareKey === undefined || shared === undefined ? undefined : `${subscriber.shareKey}|${from}`;
      let batch = key === undefined ? undefined : shared!.get(key);
      if (batch === undefined) {
        batch = this.collect(subscriber, from);
        if (key !== undefined) shared!.set(key, batch);
      }
      subscriber.seq = batch.lastSeq;
      if (batch.lastId !== undefined) subscriber.cursorId = batch.lastId;
      if (batch.bytes !== undefined && !this.deliver(subscriber, batch.bytes, batch.count)) return;
      if (batch.reachedUntil) {
        this.untilReached(subscriber);
        return;
      }
    }
  }

  /** The ring entries after `from - 1` that `subscriber` wants, up to one write's worth. */
  private collect(subscriber: Subscriber, from: number): RingBatch {
    const ring = this.ring!;
    const { format, encoder } = subscriber.transport;
    const parts: Buffer[] = [];
    let bytes = 0;
    let reachedUntil = false;
    let seq = from;
    const end = Math.min(ring.nextSeq, from + MAX_WRITE_ENTRIES);
    for (; seq < end && bytes < MAX_WRITE_BYTES; seq++) {
      const entry = ring.at(seq)!;
      if (subscriber.untilId !== undefined && entry.id > subscriber.untilId) {
        reachedUntil = true;
        break;
      }
      if (!subscriber.wants(entry.typeIndex, entry.type)) continue;
      const frame = entry.bytes(encoder);
      parts.push(frame);
      bytes += frame.length;
    }
    const lastSeq = seq - 1;
    return {
      bytes: parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : Buffer.concat(parts, bytes),
      count: parts.length,
      lastSeq,
      lastId: lastSeq >= from ? ring.at(lastSeq)!.id : undefined,
      reachedUntil,
    };
  }

  /** A ring subscriber has everything up to the head: end it if its `until` can no longer be reached by new events. */
  private caughtUp(subscriber: Subscriber): void {
    const untilId = subscriber.untilId;
    if (untilId === undefined) return;
    if (this.headId >= untilId) {
      this.untilReached(subscriber);
    } else if (Date.now() > timeOfId(untilId) + UNTIL_GRACE_MS) {
      // No new event can be logged at or before `until` any more; one last store read makes sure
      // nothing committed but not yet tailed is missed, then the stream ends.
      subscriber.finalRead = true;
      subscriber.seq = undefined;
      this.track(this.pumpStore(subscriber));
    } else if (subscriber.untilTimer === undefined) {
      // Timers may fire a millisecond early: look again when the time has surely passed.
      this.armUntil(subscriber, untilId);
    }
  }

  /** Reads from the store after the cursor until the subscriber can rejoin the ring. */
  private async pumpStore(subscriber: Subscriber): Promise<void> {
    if (!subscriber.ready) return;
    subscriber.reading = true;
    const { format, encoder } = subscriber.transport;
    try {
      let idle = false;
      while (!subscriber.ended && !subscriber.paused && !this.closing) {
        let batch = subscriber.prefetched;
        subscriber.prefetched = undefined;
        if (batch === undefined || batch.afterId !== subscriber.cursorId) {
          // A stream joins the ring only after one store read from its start: that read sees what
          // retention deleted (the ring may still hold it), so the stream gets the `dropped` notice
          // and continues from the oldest retained event, as a backfill would.
          if (!subscriber.finalRead && subscriber.storeChecked && subscriber.cursorId <= this.headId) {
            const seq = this.ring!.seqAtOrBefore(subscriber.cursorId);
            if (seq !== undefined) {
              subscriber.seq = seq;
              break;
            }
          }
          // The previous read found nothing and the ring cannot take over yet (the cursor is ahead
          // of the tail): wait for the next wake.
          if (idle) break;
          batch = await this.readBatch(subscriber);
          if (subscriber.ended || this.closing) return;
        }
        subscriber.storeChecked = true;
        const { events, head, readStartedAt, limit } = batch;

        const notice = this.missedBefore(subscriber, events, head);
        if (notice !== undefined) {
          this.metrics.drops.inc({ transport: format }, notice.count);
          subscriber.transport.writeDropped(notice);
        }
        // Written in pieces of at most MAX_WRITE_BYTES; when the socket pushes back, the rest of
        // the batch is dropped (the cursor stays on the last event written) and read again later,
        // so a slow client never costs more than one piece of memory.
        let writable = true;
        let written = 0;
        let bytes = 0;
        while (written < events.length && writable) {
          const piece = encoder.events(events, written, MAX_WRITE_BYTES);
          subscriber.cursorId = events[piece.end - 1]!.id;
          writable = this.deliver(subscriber, piece.bytes, piece.end - written);
          bytes += piece.bytes.length;
          written = piece.end;
        }
        if (written > 0) {
          subscriber.readLimit = Math.min(READ_BATCH, Math.max(1, Math.floor((MAX_WRITE_BYTES * written) / bytes)));
        }
        if (written === events.length && events.length < limit) {
          const untilId = subscriber.untilId;
          // (A stream limited to some types ignores the head: other types alone may have moved it.)
          if (untilId !== undefined && ((subscriber.mask === undefined && head >= untilId) || readStartedAt > timeOfId(untilId) + UNTIL_GRACE_MS)) {
            // Everything at or before `until` has been read and no more can be logged.
            if (!subscriber.ended) this.finish(subscriber, 'until_reached');
            return;
          }
          // Everything up to the head the tail had seen when the read started was returned.
          if (head > subscriber.cursorId) subscriber.cursorId = head;
          idle = events.length === 0;
        } else if (!writable && written === events.length && !subscriber.ended) {
          // The socket is full and more events wait: read them now, while it drains, so that
          // reading the store and sending to the client overlap (at most one batch held).
          subscriber.prefetched = await this.readBatch(subscriber);
        }
        if (!writable) break;
      }
    } catch (error) {
      this.fault(subscriber, error);
    } finally {
      subscriber.reading = false;
    }
    const again = subscriber.resumeRequested;
    subscriber.resumeRequested = false;
    if (subscriber.seq !== undefined) this.pumpRing(subscriber, undefined);
    else if (again) this.resume(subscriber);
  }

  /** The next store batch after the subscriber's cursor, with what the hub knew when it was read. */
  private async readBatch(subscriber: Subscriber): Promise<StoreBatch> {
    const afterId = subscriber.cursorId;
    const head = this.headId;
    const readStartedAt = Date.now();
    const limit = subscriber.readLimit;
    const events = await this.readEncoded({
      afterId,
      ...(subscriber.untilId !== undefined ? { untilId: subscriber.untilId } : {}),
      ...(subscriber.types !== undefined ? { types: subscriber.types } : {}),
      limit,
    });
    return { afterId, events, head, readStartedAt, limit };
  }


  /**
   * The drop notice for a store read, if the ledger knows events of the subscriber's types that
   * lay between its cursor and what the read returned first (they were deleted by retention).
   */
  private missedBefore(subscriber: Subscriber, events: readonly EncodedEvent[], head: string): DropNotice | undefined {
    const first = events[0];
    let upper: { id: string; inclusive: boolean };
    if (first !== undefined) upper = { id: first.id, inclusive: false };
    else upper = { id: subscriber.untilId !== undefined && subscriber.untilId < head ? subscriber.untilId : head, inclusive: true };
    if (upper.id <= subscriber.cursorId) return undefined;
    const span = this.ledger!.span(subscriber.cursorId, upper, subscriber.mask);
    if (span.count === 0) return undefined;
    // Just below the first missing event, not the cursor: the cursor may be the id of an event of
    // another type (the head the stream had read up to), which this reader may not learn.
    const since = idJustBefore(span.firstId!);
    const notice: DropNotice = { count: span.count, firstMissingId: span.firstId!, lastMissingId: span.lastId! };
    const backfillUrl = this.backfillUrl?.(since, span.lastId!, subscriber.types);
    if (backfillUrl !== undefined) notice.backfillUrl = backfillUrl;
    return notice;
  }

  /** Writes `bytes` (holding `count` events); pauses the subscriber on backpressure. Returns false when paused. */
  private deliver(subscriber: Subscriber, bytes: Buffer, count: number): boolean {
    const format = subscriber.transport.format;
    const ok = subscriber.transport.write(bytes);
    subscriber.delivered += count;
    subscriber.lastDeliveryAt = Date.now();
    // The labelled child, looked up once per transport: `inc({transport}, n)` hashes the labels on every call.
    (this.deliveredBy[format] ??= this.metrics.eventsDelivered.labels({ transport: format })).inc(count);
    this.metrics.subscriberLag.observe(this.lagOf(subscriber));
    if (!ok && !subscriber.ended) {
      subscriber.paused = true;
      subscriber.transport.onceDrain(() => {
        subscriber.paused = false;
        this.resume(subscriber);
      });
    }
    return ok;
  }

  /**
   * Events of the subscriber's types between its cursor and the head of the log, as far as the
   * ledger can tell (a lower bound for a cursor older than the ledger). Only its own types are
   * counted: a reader never learns how many events of other types there are.
   */
  lagOf(subscriber: Subscriber): number {
    const ledger = this.ledger;
    if (ledger === undefined) return 0;
    if (subscriber.mask === undefined && subscriber.seq !== undefined) return Math.max(ledger.headSeq - subscriber.seq, 0);
    return ledger.count(subscriber.cursorId, this.headId, subscriber.mask);
  }

  /** Ends a stream cleanly and forgets it. */
  private finish(subscriber: Subscriber, reason: EndReason): void {
    if (subscriber.ended) return;
    subscriber.ended = true;
    try {
      subscriber.transport.end(reason);
    } finally {
      this.remove(subscriber);
    }
  }

  /** Reports a server fault on one stream and closes it; the client resumes with Last-Event-ID. */
  private fault(subscriber: Subscriber, error: unknown): void {
    if (subscriber.ended) return;
    const failure = asSpecstreamError(error);
    this.logger.error({ err: error, key: subscriber.keyId, cursor: subscriber.cursorId }, 'stream fault');
    subscriber.ended = true;
    try {
      subscriber.transport.fault(failure.code, failure.message);
    } finally {
      this.remove(subscriber);
    }
  }

  /**
   * The log has passed the subscriber's `until`. A stream of every type ends now; a stream limited
   * to some types ends once `until` is UNTIL_GRACE_MS in the past, so that when it ends says
   * nothing about events of other types (which alone may have moved the log past `until`).
   */
  private untilReached(subscriber: Subscriber): void {
    const untilId = subscriber.untilId!;
    if (subscriber.mask === undefined || Date.now() > timeOfId(untilId) + UNTIL_GRACE_MS) this.finish(subscriber, 'until_reached');
    else if (subscriber.untilTimer === undefined) this.armUntil(subscriber, untilId);
  }

  /** For `until` given as a time: makes sure the stream ends soon after it even if no event follows. */
  private armUntil(subscriber: Subscriber, untilId: string): void {
    const delay = Math.max(timeOfId(untilId) + UNTIL_GRACE_MS + 5 - Date.now(), 5);
    if (delay > 2 ** 31 - 1) return;
    const poke = () => {
      subscriber.untilTimer = undefined;
      if (subscriber.ended) return;
      if (!subscriber.ready) {
        // Busy reading or paused: look again shortly.
        subscriber.untilTimer = setTimeout(poke, 100);
        return;
      }
      this.resume(subscriber);
    };
    subscriber.untilTimer = setTimeout(poke, delay);
  }

  /** The principals of the open streams, each once (for a key reload to check). */
  principals(): Principal[] {
    const found = new Set<Principal>();
    for (const subscriber of this.subscribers) if (subscriber.principal !== undefined) found.add(subscriber.principal);
    return [...found];
  }

  /**
   * Ends every stream whose principal `select` picks, with the credential notice (`code`,
   * `message`: SSE the `expired` event, WS an `error` frame). Returns how many streams ended.
   */
  endStreams(select: (principal: Principal) => boolean, code: string, message: string): number {
    let ended = 0;
    for (const subscriber of [...this.subscribers]) {
      if (subscriber.principal === undefined || !select(subscriber.principal)) continue;
      this.expire(subscriber, code, message, 'revoked');
      ended++;
    }
    return ended;
  }

  /** Ends the streams whose token has expired (the stream's credential is its token's, checked once at connect). */
  private sweepExpired(): void {
    if (this.expiring.size === 0) return;
    const now = Date.now();
    for (const subscriber of [...this.expiring]) {
      const expiresAt = subscriber.principal?.expiresAt;
      if (expiresAt !== undefined && expiresAt <= now) this.expire(subscriber, 'TOKEN_EXPIRED', 'The token of this stream has expired: connect again with a fresh one (Last-Event-ID resumes)', 'expired');
    }
  }

  private expire(subscriber: Subscriber, code: string, message: string, reason: 'expired' | 'revoked'): void {
    if (subscriber.ended) return;
    subscriber.ended = true;
    this.metrics.streamsExpired.inc({ reason });
    try {
      subscriber.transport.expire(code, message);
    } finally {
      this.remove(subscriber);
    }
  }

  /**
   * Every SWEEP_MS: ends the streams whose token expired and those idle for `idle_timeout_s` (when
   * set), and lets every other stream's transport write what is due (`SubscriberTransport.tick`:
   * SSE heartbeats, WebSocket pings and status frames). A stream ended here is removed from the
   * set being walked, which a Set allows.
   */
  private sweep(): void {
    this.sweepExpired();
    const now = Date.now();
    const idleLimit = this.config.idle_timeout_s > 0 ? this.config.idle_timeout_s * 1000 : Number.POSITIVE_INFINITY;
    for (const subscriber of this.subscribers) {
      if (now - subscriber.lastDeliveryAt >= idleLimit) this.finish(subscriber, 'idle_timeout');
      else if (!subscriber.ended) {
        try {
          subscriber.transport.tick?.(now, subscriber);
        } catch (error) {
          // One broken connection must not stop the others' heartbeats.
          this.fault(subscriber, error);
        }
      }
    }
  }

  private track(promise: Promise<void>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The event id just below `id` (the 26-character ULID minus one), an exclusive lower bound that
 * lets `id` through and nothing before it; `ZERO_ID` for the smallest id.
 */
export function idJustBefore(id: string): string {
  const digits = id.slice(4).split('');
  for (let i = digits.length - 1; i >= 0; i--) {
    const value = CROCKFORD.indexOf(digits[i]!);
    if (value > 0) {
      digits[i] = CROCKFORD[value - 1]!;
      return `evt_${digits.join('')}`;
    }
    digits[i] = CROCKFORD[31]!;
  }
  return ZERO_ID;
}
