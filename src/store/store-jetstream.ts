import { createHash, randomUUID } from 'node:crypto';
import {
  DeliverPolicy,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
  type StoredMsg,
} from '@nats-io/jetstream';
import { connect, headers, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { errors, SpecstreamError } from '../errors.js';
import { EventIdGenerator, idLowerBoundAt, timeOfId } from './event-id.js';
import { decodeForwardReply, decodeForwardRequest, encodeForwardReply, encodeForwardRequests, forwardableError, type ForwardOutcome } from './jetstream-forwarding.js';
import { WriterElection } from './jetstream-writer-election.js';
import { TailCache } from './tail-cache.js';
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
import { prepareAppend, checkedLimit, positiveOption, envelope, envelopeJson, queueAppend, readRange, storeDidNotAnswer, takeGroup, withDeadline, refusedByStore, storedFormTooLarge, NO_LOWER_BOUND, type PendingAppend, type PreparedAppend } from './store-arguments.js';

/** Options of {@link JetStreamStore.open}. */
export interface JetStreamStoreOptions {
  /**
   * The JetStream stream holding the log; created if missing. Its subjects are
   * `<stream>.ev.t.<type>`, `<stream>.ev.mixed` and `<stream>.meta.floor`. Also settable as the
   * URL's `?stream=` parameter. Defaults to `SPECSTREAM`.
   */
  stream?: string;
  /**
   * How long an idempotency key is remembered: the stream's `duplicate_window` (the server keeps
   * every message id of that window in memory). Defaults to 24 h.
   */
  idempotencyTtlMs?: number;
  /** How often `watch` also polls the stream's last sequence, as a fallback. Defaults to 1000 ms. */
  pollIntervalMs?: number;
  /**
   * The deadline of every call, in ms: a NATS server that stops answering makes calls fail
   * instead of hang. `append` then rejects with STORE_UNAVAILABLE (nothing was stored: a call that
   * expires before its message is published is not published) or, once published, STORE_TIMEOUT
   * (the outcome is unknown: retry with the idempotency key); reads and `ping` reject with
   * STORE_UNAVAILABLE. Defaults to 5000 ms.
   */
  timeoutMs?: number;
  /** Timeout of one JetStream request (publish acknowledgement, message get). Defaults to 3000 ms, at most `timeoutMs`. */
  requestTimeoutMs?: number;
  /** Replicas of the stream when it is created (1 on a single server, 3 on a cluster). Defaults to 1. */
  replicas?: number;
  /**
   * Publish through one writer per stream: the oldest node that answers a roll call publishes,
   * and the others forward their appends to it in one NATS request per group, so that nodes do
   * not refuse each other's publishes (`WriterElection`). A node publishes itself while no writer
   * answers (at start, after the writer died, during a partition). Defaults to true.
   */
  singleWriter?: boolean;
  /** The clock (ms since the epoch) for ids and retention; for tests. Defaults to `Date.now`. */
  clock?: () => number;
}

const DEFAULT_STREAM = 'SPECSTREAM';
const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const DEFAULT_POLL_INTERVAL_MS = 1000;
const DEFAULT_REQUEST_TIMEOUT_MS = 3000;
const DEFAULT_TIMEOUT_MS = 5000;
/** How many times a group is re-published after losing the race for the stream's tail to another node. */
const MAX_CONFLICT_ROUNDS = 200;
/** JetStream API error codes: another writer got there first (wrong last sequence / last msg id). */
const CONFLICT_CODES = new Set([10071, 10070, 10164]);
/** JetStream API error code: the message is larger than the stream's `max_msg_size`. */
const MESSAGE_TOO_LARGE = 10054;
/** Header names. */
const H = { ord: 'Ss-Ord', count: 'Ss-Count', lastId: 'Ss-Last-Id', fingerprint: 'Ss-Fp' } as const;
const SEQ_CACHE_SIZE = 4096;
/**
 * Bounds of one group: its calls' events and payload characters (a group is published as a few
 * messages, or forwarded as a few requests, each within the server's max_payload).
 */
const MAX_GROUP_EVENTS = 20_000;
const MAX_GROUP_LENGTH = 16 * 1024 * 1024;
/** Groups a node has on their way to the writer at once; the next group forms from what queues meanwhile. */
const FORWARDS_IN_FLIGHT = 2;
/** Room kept in a forwarding request for the NATS headers and framing. */
const REQUEST_ROOM_BYTES = 4096;
/** The answer of a writer that will not take a forwarded group (it is closing): publish it yourself. */
const REFUSED_REPLY = '{"refused":true}';
/** What a forwarded call's own promise resolves with on the writer (its real outcome goes back by `forward`). */
const FORWARDED: AppendResult = Object.freeze({ events: [], replayed: false }) as AppendResult;
/** NATS' default `max_payload`, for when the server's INFO is not known yet. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/**
 * Room kept for a message's headers within `max_payload` (they count towards it): the NATS/1.0
 * line, Nats-Msg-Id (at most 45 bytes), the expectation, Ss-Ord, Ss-Count, Ss-Last-Id and the
 * 64-hex-digit Ss-Fp come to under 400 bytes.
 */
const HEADER_ROOM_BYTES = 512;

/** The stream's tail as this node last saw it. */
interface Head {
  /** The stream's last sequence (any subject). */
  seq: number;
  /** The newest event id ever stored, or '' for none. */
  lastId: string;
  /** The ordinal (0-based position in the whole history) the next event gets. */
  nextOrd: number;
}

/** The retention floor: events with a smaller ordinal are gone, even if their message is still stored. */
interface Floor {
  ord: number;
}


interface Watcher {
  onAppend: () => void;
  scheduled: boolean;
  active: boolean;
}

/** An event of the tail cache, with its ordinal (the retention floor is one). */
interface TailEvent extends EncodedEvent {
  ord: number;
}

/**
 * A queued call. `forward` is set on the calls another node forwarded to this one (the writer):
 * their outcome goes back to it as ids, not as envelopes built here.
 */
type Call = PendingAppend & {
  forward?: (outcome: ForwardOutcome) => void;
  /** Published in a message of its own: the server refused a message it shared (one call may be the cause). */
  alone?: boolean;
};

/** One message of a group: a keyed call alone, or a run of unkeyed calls. */
interface Message {
  calls: Call[];
  /** Each call's ids, in order. */
  ids: string[][];
  /** The envelopes' JSON text, all calls' events in order. */
  lines: string[];
  subject: string;
  /** Set for a keyed call (`k-` + its key's digest): the duplicate window refuses a second copy. */
  msgId: string | undefined;
  fingerprint: string | undefined;
  ord: number;
  lastId: string;
}

/** One decoded event message. */
interface Record {
  seq: number;
  ord: number;
  lastId: string;
  /** The envelopes' JSON text, one per event, in id order. */
  lines: string[];
}

/**
 * The event log as one NATS JetStream stream, shared by several Specstream nodes.
 *
 * **Messages.** Each `append` call is one message (so a batch is stored all-or-nothing): its events'
 * envelopes as JSON lines, on subject `<stream>.ev.t.<type>` when they share one type (so a type
 * filter is a subject filter) or `<stream>.ev.mixed` otherwise. Headers carry the ordinal of its
 * first event, the count and the last id.
 *
 * **Ordering.** The stream sequence is the log order, and ids must increase with it on every node.
 * A node assigns ids itself (the `evt_` ULID format, `time` = the ULID time) after raising its
 * generator to the newest stored id, and publishes with optimistic concurrency: each message
 * expects the stream's last sequence to be the one whose ids it continues
 * (`Nats-Expected-Last-Sequence`: the tail the node observed, or its own previous message, whose
 * acknowledgement it waits for). If another node appended in between, the server refuses the
 * message; the node re-reads the tail, re-assigns ids above it and publishes again. Hence a stored
 * message's ids are above every earlier message's, whatever the clocks of the nodes. (Messages are
 * not pipelined: a pipelined message could only be tied to the one before by its message id, and a
 * keyed message's id is shared by every node publishing that key, so another node's copy could
 * satisfy it out of order.)
 *
 * **Groups and messages.** Appends made while a group is being published form the next group. A
 * run of unkeyed calls is published as one message (up to the message size limit), a keyed call
 * as a message of its own, so single-event publishes do not cost a message each.
 *
 * **One writer.** With `singleWriter` (the default) the nodes elect a writer, the oldest node that
 * answers a roll call (`WriterElection`); the others forward their groups to it over NATS
 * request/reply (`jetstream-forwarding.ts`), so that it publishes everyone's calls in its groups
 * and no node's publish is refused for another's. While no writer answers, a node publishes
 * itself; the expectations keep the order whatever the nodes believe about who writes.
 *
 * **Tailing.** An ordered consumer on `<stream>.ev.>` delivers every message (bodies included) to
 * every node, which keeps the newest stretch of the log in a `TailCache` for its stream hub
 * (`readTail`): a node follows the log without a read per message.
 *
 * **Idempotency.** A keyed call's message id is derived from the key, so JetStream's duplicate
 * window (= `idempotencyTtlMs`) refuses a second copy; the node then compares the fingerprint
 * header of the stored copy (IDEMPOTENCY_CONFLICT if it differs) and returns its events.
 *
 * **Retention.** `applyRetention` publishes a floor (an ordinal) on `<stream>.meta.floor` — events
 * below it are not read any more, which lets `maxCount` cut through a message — then purges the
 * messages wholly below it.
 */
export class JetStreamStore implements Store, EncodedRead, TailRead {
  readonly kind = 'jetstream';

  /**
   * Connects to the NATS servers of `url` (`nats://host:4222`, several as
   * `nats://a:4222,b:4222`; `?stream=` names the stream), creates the stream if missing and
   * resolves with the store. Rejects with STORE_UNAVAILABLE when NATS or JetStream cannot be reached.
   */
  static async open(url: string, options: JetStreamStoreOptions = {}): Promise<JetStreamStore> {
    const { servers, stream: urlStream, user, pass } = parseNatsUrl(url);
    const resolved = resolveOptions({ ...options, stream: options.stream ?? urlStream });
    let nc: NatsConnection | undefined;
    try {
      nc = await connect({
        servers,
        ...(user !== undefined ? { user, pass } : {}),
        name: 'specstream',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: resolved.requestTimeoutMs,
      });
      const jsm = await jetstreamManager(nc, { timeout: resolved.requestTimeoutMs });
      const name = resolved.stream;
      const duplicateWindowNs = resolved.idempotencyTtlMs * 1_000_000;
      try {
        const info = await jsm.streams.info(name);
        if (info.config.duplicate_window !== duplicateWindowNs || !info.config.allow_direct) {
          await jsm.streams.update(name, { duplicate_window: duplicateWindowNs, allow_direct: true });
        }
      } catch (error) {
        if (!(error instanceof JetStreamApiError) || error.code !== 10059) throw error;
        try {
          await jsm.streams.add({
            name,
            subjects: [`${name}.>`],
            duplicate_window: duplicateWindowNs,
            allow_direct: true,
            num_replicas: resolved.replicas,
          });
        } catch (addError) {
          // Another node created it at the same moment ("name in use", or "subjects overlap" when
          // its add got there first): fine if it is there now.
          if (!(addError instanceof JetStreamApiError) || (addError.code !== 10058 && addError.code !== 10065)) throw addError;
          await jsm.streams.info(name);
        }
      }
      const js = jetstream(nc, { timeout: resolved.requestTimeoutMs });
      const store = new JetStreamStore(nc, js, jsm, resolved);
      await store.refreshHead();
      await store.refreshFloor();
      store.election?.start();
      return store;
    } catch (error) {
      await nc?.close().catch(() => {});
      throw errors.storeUnavailable('Cannot open the NATS JetStream store', undefined, { cause: error });
    }
  }

  private readonly name: string;
  private readonly subject: { all: string; mixed: string; floor: string; typePrefix: string };
  private readonly generator: EventIdGenerator;
  private readonly clock: () => number;
  private readonly pollIntervalMs: number;
  private readonly timeoutMs: number;

  private head: Head | undefined;
  /** The stream's `max_msg_size` as last read (-1: no limit beyond the server's max_payload). */
  private maxMsgSize = -1;
  private floor: Floor = { ord: 0 };
  /** `lastId` of recent messages -> their sequence, so a tail read finds its start without a search. */
  private readonly seqByLastId = new Map<string, number>();
  private pending: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private readonly watchers = new Set<Watcher>();
  private consumer: ConsumerMessages | undefined;
  private watching: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  /** The newest events, as the consumer delivers them (see `readTail`). */
  private readonly tail = new TailCache<TailEvent>();
  /** The last message the consumer delivered (its sequence), and at the previous poll. */
  private deliveredSeq = 0;
  private deliveredAtPoll = -1;
  private stalledPolls = 0;
  private lastPolledSeq = 0;
  /** Who publishes (unless `singleWriter` is off: then every node does). */
  readonly election: WriterElection | undefined;
  private connected = true;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    options: Required<JetStreamStoreOptions>,
  ) {
    this.name = options.stream;
    this.subject = {
      all: `${this.name}.ev.>`,
      mixed: `${this.name}.ev.mixed`,
      floor: `${this.name}.meta.floor`,
      typePrefix: `${this.name}.ev.t.`,
    };
    // Core NATS subjects outside `<stream>.>`, which the stream would capture.
    this.election = options.singleWriter ? new WriterElection(nc, { prefix: `_specstream.${this.name}`, onForward: (message) => this.takeForwarded(message) }) : undefined;
    this.clock = options.clock;
    this.pollIntervalMs = options.pollIntervalMs;
    this.timeoutMs = options.timeoutMs;
    this.generator = new EventIdGenerator(undefined, this.clock);
    void this.trackStatus();
  }

  append(events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    if (this.closed) return Promise.reject(errors.storeClosed());
    let call: PreparedAppend;
    try {
      // A call is one message: its stored form plus our headers must fit the server's max_payload.
      call = prepareAppend(events, options, { maxStoredBytes: this.maxMessageBytes() });
    } catch (error) {
      return Promise.reject(error);
    }
    const appended = queueAppend(call, this.pending, this.timeoutMs);
    this.scheduleFlush();
    return appended;
  }

  async read(query: ReadQuery): Promise<StoredEvent[]> {
    return (await this.selectRange(query)).map((line) => JSON.parse(line) as StoredEvent);
  }

  /** `read` as JSON text (the `EncodedRead` capability): the stored envelope lines, unparsed. */
  async readEncoded(query: ReadQuery): Promise<EncodedEvent[]> {
    return (await this.selectRange(query)).map((json) => {
      const { id, type } = peek(json);
      return { id, type, json };
    });
  }

  /**
   * See `TailRead`: served from what the ordered consumer delivered, once `watch` started it;
   * `undefined` before, and after the consumer was found stalled (until it is restarted).
   */
  readTail(afterId: string, limit: number): EncodedEvent[] | undefined {
    if (this.closed) return undefined;
    return this.tail.read(afterId, limit)?.map(({ id, type, json }) => ({ id, type, json }));
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    this.assertOpen();
    if (typeof id !== 'string' || id === '') return undefined;
    // `predecessor(id)` is below every id that shares all but its last character: at most 32 of them.
    const lines = await this.selectRange({ afterId: predecessor(id), untilId: id, limit: 64 });
    const line = lines.find((candidate) => peek(candidate).id === id);
    return line === undefined ? undefined : (JSON.parse(line) as StoredEvent);
  }

  async bounds(): Promise<LogBounds> {
    this.assertOpen();
    this.assertConnected();
    const head = await this.guard(() => this.refreshHead());
    await this.guard(() => this.refreshFloor());
    if (head.lastId === '' || head.nextOrd <= this.floor.ord) return {};
    const first = await this.selectRange({ limit: 1 });
    return first[0] === undefined ? {} : { firstId: peek(first[0]).id, lastId: head.lastId };
  }

  /**
   * See `Store.lastIdOf`. A type's newest single-type message is the last on its subject (one
   * direct get each); mixed-type messages stored after the newest of those are scanned in order.
   */
  async lastIdOf(types: readonly string[] | undefined): Promise<string | undefined> {
    this.assertOpen();
    if (types === undefined) {
      // The stream's tail: its last message carries the newest id ever stored and the next ordinal.
      this.assertConnected();
      const head = await this.guard(() => this.refreshHead());
      await this.guard(() => this.refreshFloor());
      return head.lastId === '' || head.nextOrd <= this.floor.ord ? undefined : head.lastId;
    }
    const wanted = new Set(types);
    if (wanted.size === 0) return undefined;
    this.assertConnected();
    return this.guard(async () => {
      await this.refreshFloor();
      let newest: string | undefined;
      let newestSeq = 0;
      for (const type of wanted) {
        if (!isSubjectSafe(type)) continue; // stored on the mixed subject
        const message = await this.lastMessage(this.subject.typePrefix + type);
        if (message === null) continue;
        const record = toRecord(message);
        const lines = visible(record, this.floor.ord);
        if (lines.length === 0) continue;
        const { id } = peek(lines.at(-1)!);
        if (newest === undefined || id > newest) {
          newest = id;
          newestSeq = record.seq;
        }
      }
      for (let seq = newestSeq + 1; ; ) {
        const message = await this.nextMessage(this.subject.mixed, seq);
        if (message === null) return newest;
        const record = toRecord(message);
        for (const line of visible(record, this.floor.ord)) {
          const { id, type } = peek(line);
          if (wanted.has(type) && (newest === undefined || id > newest)) newest = id;
        }
        seq = record.seq + 1;
      }
    });
  }

  /** The last message on `subject` (a direct get), or null when there is none. */
  private async lastMessage(subject: string): Promise<StoredMsg | null> {
    try {
      return await this.jsm.direct.getMessage(this.name, { last_by_subj: subject });
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === 10037) return null;
      if (error instanceof Error && /no message found|404/i.test(error.message)) return null;
      throw error;
    }
  }

  /**
   * Registers `onAppend`: called (coalesced) for each message stored on the stream by any node, as
   * the ordered consumer delivers it (into the tail cache), after a reconnect, and when the
   * fallback poll sees the last sequence move. Resolves once the consumer starts at the current
   * tail, so nothing stored after it resolves goes unnoticed.
   */
  async watch(onAppend: () => void, signal: AbortSignal): Promise<void> {
    this.assertOpen();
    if (typeof onAppend !== 'function') throw new TypeError('watch: onAppend must be a function');
    if (signal.aborted) return;
    this.watching ??= this.startConsumer().catch((error: unknown) => {
      this.watching = undefined;
      throw error;
    });
    await this.watching;
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
  }

  async applyRetention(policy: RetentionPolicy): Promise<number> {
    this.assertOpen();
    this.assertConnected();
    const maxAgeMs = checkedLimit(policy.maxAgeMs, 'maxAgeMs');
    const maxCount = checkedLimit(policy.maxCount, 'maxCount');
    if (maxAgeMs === 0 && maxCount === 0) return 0;
    return this.guard(async () => {
      for (let round = 0; round < MAX_CONFLICT_ROUNDS; round++) {
        const head = await this.refreshHead();
        await this.refreshFloor();
        let floor = this.floor.ord;
        if (maxCount > 0) floor = Math.max(floor, head.nextOrd - Math.floor(maxCount));
        if (maxAgeMs > 0) {
          // The ordinal of the first event at or after the cut-off time.
          const cut = idLowerBoundAt(this.clock() - maxAgeMs);
          const firstKept = await this.firstOrdAbove(predecessor(cut), head);
          floor = Math.max(floor, firstKept);
        }
        if (floor <= this.floor.ord) return 0;
        const hdrs = headers();
        hdrs.set(H.ord, String(head.nextOrd));
        hdrs.set(H.lastId, head.lastId);
        hdrs.set(H.count, '0');
        let ack: PubAck;
        try {
          ack = await this.js.publish(this.subject.floor, JSON.stringify({ floor }), {
            headers: hdrs,
            expect: { lastSequence: head.seq },
          });
        } catch (error) {
          if (isConflict(error)) continue;
          throw error;
        }
        const deleted = floor - this.floor.ord;
        this.floor = { ord: floor };
        this.tail.dropWhile((event) => event.ord < floor);
        this.head = { ...head, seq: ack.seq };
        // Physically drop the messages wholly below the floor (the floor markers but the newest too).
        const keepFrom = await this.seqOfOrd(floor, head);
        await this.jsm.streams.purge(this.name, { filter: this.subject.all, seq: keepFrom });
        await this.jsm.streams.purge(this.name, { filter: this.subject.floor, keep: 1 });
        return deleted;
      }
      throw errors.storeUnavailable('Retention kept losing the race for the stream tail');
    }, false);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    if (!this.connected) throw errors.storeUnavailable('The event store is unavailable (NATS disconnected)');
    try {
      await withDeadline(this.jsm.streams.info(this.name), this.timeoutMs, () => storeDidNotAnswer(this.timeoutMs));
    } catch (error) {
      if (this.closed) throw errors.storeClosed();
      if (errors.storeUnavailable.is(error)) throw error;
      throw errors.storeUnavailable('The event store is unavailable', undefined, { cause: error });
    }
  }

  /** Publishes every append still queued, stops watching and closes the connection. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      // No more forwarded groups: their nodes publish themselves, then elect another writer. The
      // flush makes sure the server dropped this node's subscriptions before anything else closes
      // (a group routed to it meanwhile is answered: refused, so its node publishes it).
      if (this.election !== undefined) {
        this.election.stop();
        await this.nc.flush().catch(() => {});
      }
      while (this.flushing !== undefined || this.pending.some((call) => !call.settled)) {
        if (this.flushing === undefined) this.scheduleFlush();
        await this.flushing;
      }
      while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
      if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
      for (const watcher of this.watchers) watcher.active = false;
      this.watchers.clear();
      await this.consumer?.close().catch(() => {});
      await this.nc.close().catch(() => {});
    })();
    return this.closing;
  }

  // ---- appends --------------------------------------------------------------------------------

  private scheduleFlush(): void {
    // Everything appended in this turn of the event loop goes into the first group; the running
    // flush picks up what arrives meanwhile.
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flushLoop());
  }

  /**
   * Publishes the queue group by group (one at a time: each continues the last), or, while another
   * node is the writer, forwards it with up to FORWARDS_IN_FLIGHT groups on their way at once.
   */
  private async flushLoop(): Promise<void> {
    const forwarding = new Set<Promise<void>>();
    try {
      let rounds = 0;
      for (;;) {
        if (this.pending.length === 0) {
          if (forwarding.size === 0) break;
          await Promise.race(forwarding);
          continue;
        }
        const forward = this.election?.role === 'other' && !this.closed;
        if (forward && forwarding.size >= FORWARDS_IN_FLIGHT) {
          await Promise.race(forwarding);
          continue;
        }
        // Calls that expired while queued were told nothing was stored: takeGroup leaves them out.
        const calls = takeGroup(this.pending, MAX_GROUP_EVENTS, MAX_GROUP_LENGTH) as Call[];
        if (calls.length === 0) continue;
        // (A call forwarded to this node is never forwarded again: it is published here.)
        if (forward && calls.every((call) => call.forward === undefined)) {
          const sent: Promise<void> = this.forwardGroup(calls).finally(() => forwarding.delete(sent));
          forwarding.add(sent);
          continue;
        }
        const retry = await this.publishGroup(calls);
        if (retry.length > 0) {
          // Lost the race for the tail: these go first in the next round, with fresh ids.
          this.pending = [...retry, ...this.pending];
          if (++rounds >= MAX_CONFLICT_ROUNDS) {
            const failure = errors.storeUnavailable('Too much contention for the stream tail; nothing was stored');
            for (const call of this.pending.splice(0)) call.reject(failure);
          }
        } else rounds = 0;
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /**
   * Publishes a group's calls as a chain of messages, one after the other, and settles those that
   * are decided; resolves with the calls to publish again (refused because another node appended
   * first, or not sent because the chain stopped before them).
   */
  private async publishGroup(calls: Call[]): Promise<Call[]> {
    if (!this.connected) {
      const failure = errors.storeUnavailable(undefined, undefined, { cause: new Error('NATS disconnected') });
      for (const call of calls) call.reject(failure);
      return [];
    }
    let head: Head;
    try {
      head = this.head ?? (await this.refreshHead());
    } catch (error) {
      const failure = errors.storeUnavailable(undefined, undefined, { cause: error });
      for (const call of calls) call.reject(failure);
      return [];
    }
    if (head.lastId !== '') this.generator.observe(head.lastId);
    // Calls that expired while the tail was read are not published (they were told nothing was
    // stored); no deadline fires between a check and the publish after it (nothing awaits).
    calls = calls.filter((call) => !call.settled);
    const { messages, sameKey } = this.planMessages(calls, head);

    const retry: Call[] = [];
    /** Per message: its calls' envelope lines once stored or replayed (for keyed repeats in the group). */
    const settledLines: Array<string[] | undefined> = [];
    let current: Head | undefined = head;
    /** The sequence the stream must end with for the next message: the last one this chain stored. */
    let expected = head.seq;
    let i = 0;
    for (; i < messages.length; i++) {
      const message = messages[i]!;
      // An expired call would be stored though told it was not: stop, the rest goes again.
      if (message.calls.some((call) => call.settled)) break;
      const sent = await this.publishMessage(message, expected);
      if (sent.kind === 'conflict') {
        // Another node appended first: nothing of this message was stored; all goes again.
        retry.push(...message.calls);
        current = undefined;
        i++;
        break;
      }
      if (sent.kind === 'refused') {
        // The server refused this message for itself (e.g. larger than the stream's
        // max_msg_size). A call alone gets the error; calls sharing it go again alone, so the
        // others are stored and the culprit gets its own error.
        if (message.calls.length === 1) message.calls[0]!.reject(sent.error);
        else {
          for (const call of message.calls) {
            call.alone = true;
            retry.push(call);
          }
        }
        i++;
        break;
      }
      if (sent.kind === 'unknown') {
        // No answer: it may have been stored. The caller is told so (STORE_TIMEOUT).
        const failure = unconfirmed(sent.error);
        for (const call of message.calls) call.reject(failure);
        current = undefined;
        i++;
        break;
      }
      const ack = sent.ack;
      if (ack.duplicate) {
        // The key was used before, within the window: nothing was stored; answer from the stored
        // copy. The ordinals planned after it are off by its events: the rest goes again.
        const call = message.calls[0]!;
        try {
          const replayed = await this.replay(ack.seq, call.fingerprint!);
          if (replayed instanceof Error) call.reject(replayed);
          else {
            this.settleReplayed(call, replayed);
            settledLines[i] = replayed;
          }
        } catch (error) {
          call.reject(errors.storeUnavailable(undefined, undefined, { cause: error }));
        }
        i++;
        break;
      }
      for (let k = 0; k < message.calls.length; k++) this.settleStored(message.calls[k]!, message.ids[k]!);
      settledLines[i] = message.lines;
      current = { seq: ack.seq, lastId: message.lastId, nextOrd: message.ord + message.lines.length };
      this.remember(message.lastId, ack.seq);
      expected = ack.seq;
    }
    // Not sent: published in the next round, with fresh ids (nothing of theirs was stored).
    for (; i < messages.length; i++) retry.push(...messages[i]!.calls);
    // Refused or never sent: until they are published again, their deadline means "nothing was stored".
    for (const call of retry) call.sent = false;
    // A repeated key within the group: answered like a repeat in the next group would be.
    for (const { call, of } of sameKey) {
      const lines = settledLines[of];
      if (lines === undefined) retry.push(call);
      else if (call.fingerprint !== messages[of]!.fingerprint) call.reject(errors.idempotencyConflict());
      else this.settleReplayed(call, lines);
    }
    this.head = current;
    return retry.filter((call) => !call.settled);
  }

  /**
   * Publishes one message expecting the stream to end at `expected` (nothing but the message this
   * node published there satisfies that, so another node's message in between refuses it).
   */
  private async publishMessage(
    message: Message,
    expected: number,
  ): Promise<{ kind: 'acknowledged'; ack: PubAck } | { kind: 'conflict' } | { kind: 'refused'; error: Error } | { kind: 'unknown'; error: unknown }> {
    const hdrs = headers();
    hdrs.set(H.ord, String(message.ord));
    hdrs.set(H.count, String(message.lines.length));
    hdrs.set(H.lastId, message.lastId);
    if (message.fingerprint !== undefined) hdrs.set(H.fingerprint, message.fingerprint);
    for (const call of message.calls) call.sent = true;
    try {
      const ack = await this.js.publish(message.subject, message.lines.join('\n'), {
        ...(message.msgId !== undefined ? { msgID: message.msgId } : {}),
        headers: hdrs,
        expect: { lastSequence: expected },
      });
      return { kind: 'acknowledged', ack };
    } catch (error) {
      if (isConflict(error)) return { kind: 'conflict' };
      if (error instanceof JetStreamApiError) return { kind: 'refused', error: error.code === MESSAGE_TOO_LARGE ? storedFormTooLarge(error) : refusedByStore(error) };
      return { kind: 'unknown', error };
    }
  }

  /**
   * The messages of a group: ids assigned in call order above `head`, a keyed call alone (with its
   * message id), a run of unkeyed calls together up to the size limit; a key repeated within the
   * group is answered from its first call's message (`sameKey`).
   */
  private planMessages(calls: readonly Call[], head: Head): { messages: Message[]; sameKey: Array<{ call: Call; of: number }> } {
    const messages: Message[] = [];
    const sameKey: Array<{ call: Call; of: number }> = [];
    const byKey = new Map<string, number>();
    const maxBytes = this.maxMessageBytes();
    let ord = head.nextOrd;
    let open: (Message & { bytes: number; types: Set<string> }) | undefined;
    for (const call of calls) {
      if (call.key !== undefined) {
        const first = byKey.get(call.key);
        if (first !== undefined) {
          sameKey.push({ call, of: first });
          continue;
        }
      }
      const ids: string[] = [];
      const lines: string[] = [];
      let bytes = 0;
      let timeMs = -1;
      let time = '';
      call.events.forEach((event, i) => {
        const id = this.generator.next();
        const ms = timeOfId(id);
        if (ms !== timeMs) {
          timeMs = ms;
          time = new Date(ms).toISOString();
        }
        const line = envelopeJson(id, event.type, event.source, event.subject ?? null, time, call.payloads[i]!);
        ids.push(id);
        lines.push(line);
        bytes += Buffer.byteLength(line) + 1;
      });
      const types = new Set(call.events.map((event) => event.type));
      if (call.key === undefined && !call.alone && open !== undefined && open.bytes + bytes <= maxBytes) {
        open.calls.push(call);
        open.ids.push(ids);
        open.lines.push(...lines);
        open.bytes += bytes;
        for (const type of types) open.types.add(type);
        open.subject = this.subjectOf(open.types);
        if (lines.length > 0) open.lastId = ids.at(-1)!;
        ord += lines.length;
        continue;
      }
      const message = {
        calls: [call],
        ids: [ids],
        lines,
        subject: this.subjectOf(types),
        msgId: call.key === undefined ? undefined : `k-${createHash('sha256').update(call.key).digest('base64url')}`,
        fingerprint: call.fingerprint,
        ord,
        lastId: ids.at(-1) ?? messages.at(-1)?.lastId ?? head.lastId,
        bytes,
        types,
      };
      ord += lines.length;
      if (call.key !== undefined) byKey.set(call.key, messages.length);
      messages.push(message);
      open = call.key === undefined && !call.alone ? message : undefined;
    }
    return { messages, sameKey };
  }

  /** The subject of a message holding events of `types`: the type's own when there is one (and it can be a subject). */
  private subjectOf(types: ReadonlySet<string>): string {
    const only = types.size === 1 ? [...types][0]! : undefined;
    return only !== undefined && isSubjectSafe(only) ? this.subject.typePrefix + only : this.subject.mixed;
  }

  /** Settles a call stored with `ids`: the envelopes are its events with those ids (and their times). */
  private settleStored(call: Call, ids: string[]): void {
    if (call.settled) return;
    if (call.forward !== undefined) {
      call.forward({ ids });
      return;
    }
    let timeMs = -1;
    let time = '';
    const events = call.events.map((event, k) => {
      const id = ids[k]!;
      const ms = timeOfId(id);
      if (ms !== timeMs) {
        timeMs = ms;
        time = new Date(ms).toISOString();
      }
      return envelope(id, event.type, event.source, event.subject ?? null, time, JSON.parse(call.payloads[k]!) as globalThis.Record<string, unknown>);
    });
    call.resolve({ events, replayed: false });
  }

  /** Settles a call whose key was used before: with the stored copy's envelopes. */
  private settleReplayed(call: Call, lines: readonly string[]): void {
    if (call.settled) return;
    if (call.forward !== undefined) call.forward({ lines: [...lines] });
    else call.resolve({ events: lines.map((line) => JSON.parse(line) as StoredEvent), replayed: true });
  }

  // ---- forwarding to the writer ---------------------------------------------------------------

  /**
   * Sends a group to the writer (the lease holder) and settles its calls from the answer. No
   * writer answering (it died or gave up the lease): the calls go back to the queue, unsent, and
   * this node publishes them itself.
   */
  private async forwardGroup(calls: Call[]): Promise<void> {
    const limit = (this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - REQUEST_ROOM_BYTES;
    const requests = encodeForwardRequests(calls, limit);
    const unanswered: Call[] = [];
    await Promise.all(
      requests.map(async (request) => {
        for (const call of request.calls) call.sent = true;
        let reply: Msg;
        try {
          reply = await this.nc.request(this.election!.writerSubject, request.body, { timeout: this.timeoutMs });
        } catch (error) {
          if (isNoResponders(error)) {
            for (const call of request.calls) call.sent = false;
            unanswered.push(...request.calls);
          } else {
            const failure = unconfirmed(error);
            for (const call of request.calls) call.reject(failure);
          }
          return;
        }
        const text = reply.string();
        if (text === REFUSED_REPLY) {
          // The writer is closing and took nothing.
          for (const call of request.calls) call.sent = false;
          unanswered.push(...request.calls);
          return;
        }
        let outcomes: ForwardOutcome[];
        try {
          outcomes = decodeForwardReply(text, request.calls.length);
        } catch (error) {
          const failure = errors.storeTimeout(undefined, undefined, { cause: error });
          for (const call of request.calls) call.reject(failure);
          return;
        }
        request.calls.forEach((call, i) => {
          const outcome = outcomes[i]!;
          if ('error' in outcome) call.reject(outcome.error);
          else if ('ids' in outcome) this.settleStored(call, outcome.ids);
          else this.settleReplayed(call, outcome.lines);
        });
      }),
    );
    if (unanswered.length > 0) {
      this.election?.writerGone();
      // Published by this node in the next round (no writer now), before anything queued since.
      this.pending = [...unanswered.filter((call) => !call.settled), ...this.pending];
    }
  }

  /** Queues a forwarded group's calls with this node's own, and answers once each is settled. */
  private takeForwarded(message: Msg): void {
    if (this.closed) {
      message.respond(REFUSED_REPLY);
      return;
    }
    let prepared: PreparedAppend[];
    try {
      prepared = decodeForwardRequest(message.string());
    } catch {
      message.respond(REFUSED_REPLY);
      return;
    }
    const outcomes: ForwardOutcome[] = new Array<ForwardOutcome>(prepared.length);
    const settled = prepared.map((call, i) => {
      // No deadline here: the forwarding node keeps its own, and answers its caller when it passes.
      const appended = queueAppend(call, this.pending);
      // queueAppend pushed the pending call last; its outcome goes back as ids, not envelopes.
      const pending = this.pending[this.pending.length - 1] as Call;
      pending.forward = (outcome) => {
        outcomes[i] = outcome;
        pending.resolve(FORWARDED);
      };
      return appended.then(
        () => {},
        (error: unknown) => {
          outcomes[i] = { error: forwardableError(error) };
        },
      );
    });
    this.scheduleFlush();
    void Promise.all(settled).then(() => {
      try {
        message.respond(encodeForwardReply(outcomes));
      } catch {
        // The connection closed: the forwarding node's request times out (STORE_TIMEOUT).
      }
    });
  }

  /** The result for a repeated idempotency key: the stored copy's envelope lines, or IDEMPOTENCY_CONFLICT. */
  private async replay(seq: number, fingerprint: string): Promise<string[] | Error> {
    const message = await this.getBySeq(seq);
    if (message === null) return [];
    if (message.header.get(H.fingerprint) !== fingerprint) return errors.idempotencyConflict();
    return visible(toRecord(message), this.floor.ord);
  }

  // ---- reads ----------------------------------------------------------------------------------

  private async selectRange(query: ReadQuery): Promise<string[]> {
    this.assertOpen();
    const range = readRange(query);
    if (range === undefined) return [];
    const { lower, upper, limit } = range;
    const types = range.types === undefined ? undefined : new Set(range.types);
    this.assertConnected();
    return this.guard(async () => {
      const start = await this.startSeq(lower);
      if (start === undefined) return [];
      const subjects =
        types === undefined
          ? [this.subject.all]
          : [...[...types].filter(isSubjectSafe).map((t) => this.subject.typePrefix + t), this.subject.mixed];
      const cursors = subjects.map((subject) => new Cursor(this, subject, start));
      const out: string[] = [];
      for (;;) {
        // The next message in sequence order among the subjects' cursors.
        let best: Cursor | undefined;
        for (const cursor of cursors) {
          const record = await cursor.peek();
          if (record !== null && (best === undefined || record.seq < (await best.peek())!.seq)) best = cursor;
        }
        if (best === undefined) return out;
        const record = (await best.peek())!;
        best.pop();
        this.remember(record.lastId, record.seq);
        for (const line of visible(record, this.floor.ord)) {
          const { id, type } = peek(line);
          if (id <= lower) continue;
          if (id > upper) return out;
          if (types !== undefined && !types.has(type)) continue;
          out.push(line);
          if (out.length >= limit) return out;
        }
      }
    });
  }

  /** The first sequence that may hold an event above `lower` (binary search on the messages' last ids). */
  private async startSeq(lower: string): Promise<number | undefined> {
    if (lower === NO_LOWER_BOUND) return 1;
    const cached = this.seqByLastId.get(lower);
    if (cached !== undefined) return cached + 1;
    const info = await this.jsm.streams.info(this.name);
    let lo = info.state.first_seq;
    let hi = info.state.last_seq;
    if (info.state.messages === 0 || hi < lo) return undefined;
    // Invariant: every message before `lo` ends at or below `lower`.
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const message = await this.nextMessage(this.subject.all, mid);
      if (message === null || message.seq > hi) {
        hi = mid;
        continue;
      }
      const lastId = message.header.get(H.lastId);
      if (lastId <= lower) lo = message.seq + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The ordinal of the first event with an id above `lower` (head.nextOrd when none). */
  private async firstOrdAbove(lower: string, head: Head): Promise<number> {
    const start = await this.startSeq(lower);
    if (start === undefined) return head.nextOrd;
    const message = await this.nextMessage(this.subject.all, start);
    if (message === null) return head.nextOrd;
    const record = toRecord(message);
    const index = record.lines.findIndex((line) => peek(line).id > lower);
    return record.ord + (index < 0 ? record.lines.length : index);
  }

  /** The sequence of the message holding ordinal `ord` (or the next message's; last_seq + 1 when none). */
  private async seqOfOrd(ord: number, head: Head): Promise<number> {
    const info = await this.jsm.streams.info(this.name);
    let lo = info.state.first_seq;
    let hi = info.state.last_seq + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const message = await this.nextMessage(this.subject.all, mid);
      if (message === null) {
        hi = mid;
        continue;
      }
      const end = Number(message.header.get(H.ord)) + Number(message.header.get(H.count));
      if (end <= ord) lo = message.seq + 1;
      else hi = Math.min(mid, message.seq);
    }
    void head;
    return lo;
  }

  /** The first message at or after `seq` on `subject` (a direct get), or null. */
  async nextMessage(subject: string, seq: number): Promise<StoredMsg | null> {
    try {
      return await this.jsm.direct.getMessage(this.name, { seq, next_by_subj: subject });
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === 10037) return null;
      if (error instanceof Error && /no message found|404/i.test(error.message)) return null;
      throw error;
    }
  }

  private async getBySeq(seq: number): Promise<StoredMsg | null> {
    const message = await this.nextMessage(this.subject.all, seq);
    return message !== null && message.seq === seq ? message : null;
  }

  /** Reads the stream's tail: its last sequence, the newest id and the next ordinal. */
  private async refreshHead(): Promise<Head> {
    const info = await this.jsm.streams.info(this.name);
    this.maxMsgSize = info.config.max_msg_size ?? -1;
    const seq = info.state.last_seq;
    let head: Head = { seq, lastId: '', nextOrd: 0 };
    if (seq > 0) {
      const message = await this.jsm.direct.getMessage(this.name, { seq }).catch(() => null);
      if (message !== null) {
        head = {
          seq,
          lastId: message.header.get(H.lastId),
          nextOrd: Number(message.header.get(H.ord)) + Number(message.header.get(H.count)),
        };
      } else if (this.head !== undefined) {
        head = { ...this.head, seq };
      }
    }
    if (head.lastId !== '') this.generator.observe(head.lastId);
    this.head = head;
    return head;
  }

  private async refreshFloor(): Promise<void> {
    const message = await this.jsm.direct.getMessage(this.name, { last_by_subj: this.subject.floor }).catch(() => null);
    if (message === null) return;
    const { floor } = message.json<{ floor: number }>();
    if (floor > this.floor.ord) {
      this.floor = { ord: floor };
      this.tail.dropWhile((event) => event.ord < floor);
    }
  }

  private remember(lastId: string, seq: number): void {
    if (this.seqByLastId.size >= SEQ_CACHE_SIZE) {
      const oldest = this.seqByLastId.keys().next().value;
      if (oldest !== undefined) this.seqByLastId.delete(oldest);
    }
    this.seqByLastId.set(lastId, seq);
  }

  // ---- watching -------------------------------------------------------------------------------

  private async startConsumer(): Promise<void> {
    await this.followFromHead();
    this.pollTimer = setInterval(() => void this.poll(), this.pollIntervalMs);
    this.pollTimer.unref();
  }

  /**
   * Starts (or restarts) the ordered consumer at the stream's tail and anchors the tail cache
   * there: from then on every message stored is delivered, bodies included, in order.
   */
  private async followFromHead(): Promise<void> {
    this.assertConnected();
    const previous = this.consumer;
    this.consumer = undefined;
    this.tail.clear();
    await previous?.close().catch(() => {});
    const head = await this.guard(() => this.refreshHead());
    const consumer = await this.guard(() =>
      this.js.consumers.get(this.name, {
        filter_subjects: this.subject.all,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: head.seq + 1,
      }),
    );
    const messages = await this.guard(() => consumer.consume({ max_messages: 1024 }));
    this.consumer = messages;
    this.deliveredSeq = head.seq;
    this.lastPolledSeq = head.seq;
    this.tail.anchor(head.lastId);
    void (async () => {
      try {
        for await (const message of messages) {
          try {
            this.delivered(message.seq, message.headers, message.string());
          } catch {
            // Not a message this store wrote: the cache cannot vouch for the log any more (the tail
            // reads it with direct gets), and the consumer goes on.
            this.tail.clear();
          }
        }
      } catch {
        // Closed; the poll and reconnect handling still wake the watchers.
      }
    })();
  }

  /** A message the consumer delivered: its events continue the tail cache; the watchers wake. */
  private delivered(seq: number, hdrs: MsgHdrs | undefined, body: string): void {
    if (seq <= this.deliveredSeq) return;
    this.deliveredSeq = seq;
    const lastId = hdrs?.get(H.lastId) ?? '';
    const ord = Number(hdrs?.get(H.ord));
    const cached = this.tail.lastId;
    if (cached !== undefined && lastId > cached && Number.isSafeInteger(ord)) {
      const events: TailEvent[] = [];
      const lines = body === '' ? [] : body.split('\n');
      lines.forEach((json, i) => {
        if (ord + i < this.floor.ord) return;
        const { id, type } = peek(json);
        if (id > cached) events.push({ id, type, json, ord: ord + i });
      });
      this.tail.extend(cached, events);
      this.remember(lastId, seq);
    }
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

  private async poll(): Promise<void> {
    if (this.closed || !this.connected || this.watchers.size === 0) return;
    try {
      const info = await this.jsm.streams.info(this.name);
      await this.refreshFloor();
      const last = info.state.last_seq;
      if (last > this.lastPolledSeq) {
        this.lastPolledSeq = last;
        this.notifyWatchers();
      }
      // The consumer delivered nothing since the last poll though the stream grew: look for an
      // event message it missed (the stream's last may be a floor marker), and restart it if so.
      if (last > this.deliveredSeq && this.deliveredSeq === this.deliveredAtPoll) {
        if (++this.stalledPolls >= 2) {
          this.stalledPolls = 0;
          const missed = await this.nextMessage(this.subject.all, this.deliveredSeq + 1);
          if (missed !== null) {
            await this.followFromHead();
            this.notifyWatchers();
          }
        }
      } else this.stalledPolls = 0;
      this.deliveredAtPoll = this.deliveredSeq;
    } catch {
      // `ping` reports unavailability; the next poll catches up.
    }
  }

  private async trackStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') {
        this.connected = false;
        this.head = undefined;
      } else if (status.type === 'reconnect') {
        this.connected = true;
        this.head = undefined;
        this.notifyWatchers();
      }
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  /**
   * The largest message body this store publishes: the server's `max_payload`, or the stream's
   * `max_msg_size` when smaller, less room for the headers (both limits count them).
   */
  private maxMessageBytes(): number {
    let limit = this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
    if (this.maxMsgSize > 0) limit = Math.min(limit, this.maxMsgSize);
    return Math.max(0, limit - HEADER_ROOM_BYTES);
  }

  /**
   * Runs a backend operation; NATS failures become STORE_UNAVAILABLE (STORE_CLOSED once closed),
   * and so does the deadline (`timeoutMs`) passing, unless `deadline` is false (retention, which
   * may run long and is safe to let finish).
   */
  private async guard<T>(operation: () => Promise<T>, deadline = true): Promise<T> {
    const running = operation();
    // `close` lets operations in flight finish before it closes the connection.
    const settled = running.then(
      () => {},
      () => {},
    );
    this.inFlight.add(settled);
    try {
      return await (deadline ? withDeadline(running, this.timeoutMs, () => storeDidNotAnswer(this.timeoutMs)) : running);
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError || error instanceof SpecstreamError) throw error;
      if (this.closed) throw errors.storeClosed(undefined, undefined, { cause: error });
      throw errors.storeUnavailable('The event store is unavailable', undefined, { cause: error });
    } finally {
      this.inFlight.delete(settled);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw errors.storeClosed();
  }

  private assertConnected(): void {
    if (!this.connected) throw errors.storeUnavailable('The event store is unavailable (NATS disconnected)');
  }
}

/** A cursor over the messages of one subject, from a sequence on, one direct get at a time. */
class Cursor {
  private current: Record | null | undefined;
  constructor(
    private readonly store: JetStreamStore,
    private readonly subject: string,
    private seq: number,
  ) {}

  /** The cursor's message (fetched once), or null past the end. */
  async peek(): Promise<Record | null> {
    if (this.current === undefined) {
      const message = await this.store.nextMessage(this.subject, this.seq);
      this.current = message === null ? null : toRecord(message);
    }
    return this.current;
  }

  /** Moves past the message `peek` returned. */
  pop(): void {
    if (this.current) this.seq = this.current.seq + 1;
    this.current = undefined;
  }
}

function toRecord(message: StoredMsg): Record {
  const body = message.string();
  return {
    seq: message.seq,
    ord: Number(message.header.get(H.ord)),
    lastId: message.header.get(H.lastId),
    lines: body === '' ? [] : body.split('\n'),
  };
}

/** The record's lines whose ordinal is at or above the retention floor. */
function visible(record: Record, floorOrd: number): string[] {
  return record.ord >= floorOrd ? record.lines : record.lines.slice(floorOrd - record.ord);
}

const PEEK = /^\{"specversion":"1\.0","id":"(evt_[0-9A-Z]{26})","type":("(?:[^"\\]|\\.)*")/;

/** The id and type of an envelope line without parsing the rest. */
function peek(json: string): { id: string; type: string } {
  const match = PEEK.exec(json);
  if (match === null) throw new Error('JetStreamStore: a stored message is not an envelope this store wrote');
  return { id: match[1]!, type: JSON.parse(match[2]!) as string };
}

/** `id` without its last character: an exclusive lower bound that lets `id` (and its near siblings) through. */
function predecessor(id: string): string {
  return id.slice(0, -1);
}

/** Whether `type` can be a subject suffix (tokens of letters, digits, `_` and `-`, separated by dots). */
function isSubjectSafe(type: string): boolean {
  return /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(type) && type.length <= 200;
}

/**
 * The error of a publish that failed without an answer from JetStream: STORE_UNAVAILABLE when the
 * message cannot have been stored (no responders: no stream took it), else STORE_TIMEOUT (it was
 * sent and may have been stored, e.g. the acknowledgement timed out or the connection dropped).
 */
function unconfirmed(error: unknown): Error {
  for (let at: unknown = error, links = 0; at instanceof Error && links < 5; at = at.cause, links++) {
    if (at.name === 'NoResponders' || at.name === 'NoRespondersError') return errors.storeUnavailable(undefined, undefined, { cause: error });
  }
  return errors.storeTimeout(undefined, undefined, { cause: error });
}

/** A request nobody is subscribed to answer: nothing was delivered, so nothing was stored. */
function isNoResponders(error: unknown): boolean {
  for (let at: unknown = error, links = 0; at instanceof Error && links < 5; at = at.cause, links++) {
    if (at.name === 'NoResponders' || at.name === 'NoRespondersError') return true;
    const check = (at as { isNoResponders?: () => boolean }).isNoResponders;
    if (typeof check === 'function' && check.call(at)) return true;
  }
  return false;
}

function isConflict(error: unknown): boolean {
  if (error instanceof JetStreamApiError) return CONFLICT_CODES.has(error.code);
  return error instanceof Error && /wrong last (sequence|msg ?id)/i.test(error.message);
}

function parseNatsUrl(url: string): { servers: string[]; stream: string | undefined; user?: string; pass?: string } {
  const match = /^nats:\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/i.exec(url);
  if (match === null || match[1] === '') throw new TypeError('JetStreamStore: write the store URL as nats://host:4222[,host2:4222][?stream=NAME]');
  let hosts = match[1]!;
  let user: string | undefined;
  let pass: string | undefined;
  const at = hosts.lastIndexOf('@');
  if (at >= 0) {
    const auth = hosts.slice(0, at);
    hosts = hosts.slice(at + 1);
    const colon = auth.indexOf(':');
    user = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon));
    pass = colon < 0 ? undefined : decodeURIComponent(auth.slice(colon + 1));
  }
  const stream = new URLSearchParams(match[3] ?? '').get('stream') ?? undefined;
  return { servers: hosts.split(',').map((host) => host.trim()), stream, ...(user !== undefined ? { user, pass } : {}) };
}

function resolveOptions(options: JetStreamStoreOptions): Required<JetStreamStoreOptions> {
  const stream = options.stream ?? DEFAULT_STREAM;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stream)) {
    throw new RangeError(`JetStreamStore: stream must be 1-64 letters, digits, _ or -; got ${JSON.stringify(stream)}`);
  }
  const timeoutMs = positiveOption(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs', 'JetStreamStore');
  return {
    stream,
    idempotencyTtlMs: positiveOption(options.idempotencyTtlMs, DEFAULT_IDEMPOTENCY_TTL_MS, 'idempotencyTtlMs', 'JetStreamStore'),
    pollIntervalMs: positiveOption(options.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS, 'pollIntervalMs', 'JetStreamStore'),
    timeoutMs,
    requestTimeoutMs: positiveOption(options.requestTimeoutMs, Math.min(DEFAULT_REQUEST_TIMEOUT_MS, timeoutMs), 'requestTimeoutMs', 'JetStreamStore'),
    replicas: positiveOption(options.replicas, 1, 'replicas', 'JetStreamStore'),
    singleWriter: options.singleWriter ?? true,
    clock: options.clock ?? Date.now,
  };
}

/** The envelope and its JSON text (exactly `JSON.stringify` of the envelope), keys in the documented order. */
function envelopeWithJson(
  id: string,
  type: string,
  source: string,
  subject: string | null,
  time: string,
  payload: string,
): { event: StoredEvent; json: string } {
  const event = envelope(id, type, source, subject, time, JSON.parse(payload) as globalThis.Record<string, unknown>);
  return { event, json: envelopeJson(id, type, source, subject, time, payload) };
}
