/**
 * A subscriber is a cursor into the log, not a queue: the id up to which it has considered the
 * log, its type filter and its upper bound. The hub moves the cursor forward through the ring
 * (`seq` set) or, when the subscriber is behind the ring, through store reads (`seq` undefined).
 * Nothing is buffered per subscriber beyond what its socket already holds.
 */
import type { Principal } from '../auth/principal.js';
import type { EncodedEvent } from '../store/store.js';
import { OVERFLOW_INDEX } from './ledger.js';
import type { DropNotice, WireEncoder } from './wire-encoder.js';

/** Why a stream ends. */
export type EndReason = 'until_reached' | 'shutdown' | 'idle_timeout';

/** One store read for a subscriber behind the ring, with what the hub knew when it was made. */
export interface StoreBatch {
  /** The cursor the read started after. */
  afterId: string;
  events: EncodedEvent[];
  /** The tail's head when the read started: everything up to it was visible to the read. */
  head: string;
  readStartedAt: number;
  limit: number;
}

/** What the hub needs of a connection; implemented by the SSE and WebSocket writers. */
export interface SubscriberTransport {
  readonly format: 'sse' | 'ws';
  /** The encoder of every byte this transport receives (one per wire format of the served bundle). */
  readonly encoder: WireEncoder;
  /**
   * Writes encoded frames (one or more, concatenated). Returns false when the socket's buffer is
   * full: the hub then waits for `onceDrain` before writing again.
   */
  write(bytes: Buffer): boolean;
  /** Bytes written and not yet handed to the kernel. */
  readonly bufferedBytes: number;
  /** Calls `listener` once when the socket's buffer has drained. */
  onceDrain(listener: () => void): void;
  /** Writes the `dropped` notice frames. Same return value as `write`. */
  writeDropped(notice: DropNotice): boolean;
  /** Ends the stream cleanly (SSE: end the 200 response; WS: `end` frame when it has a reason for one, then close). */
  end(reason: EndReason): void;
  /** Reports a server fault (SSE `: internal server error`, WS `error` frame) and closes. */
  fault(code: string, message: string): void;
  /**
   * Ends the stream because its credentials ended (token expired, key revoked): SSE the bundle's
   * `expired` event then the end of the response, WS an `error` frame with `code` then close 1008.
   */
  expire(code: string, message: string): void;
  /**
   * Called by the hub's sweep (one timer for every stream, every SWEEP_MS of hub.ts) with the time
   * (`Date.now()`) and the stream: writes what is due (an SSE heartbeat, a WebSocket ping or status
   * frame). Keeps no timer of its own. A throw faults this stream only.
   */
  tick?(now: number, subscriber: Subscriber): void;
}

export class Subscriber {
  /** Every event with id ≤ cursorId has been delivered or skipped by the filter. */
  cursorId: string;
  /** The ring position equal to `cursorId` while the subscriber reads from the ring; undefined while it reads from the store. */
  seq: number | undefined;
  /** Waiting for the socket to drain. */
  paused = false;
  /** A store read is in flight. */
  reading = false;
  /** Something asked to continue while a read was in flight (a wake, a drain): pumpStore looks again when it is done. */
  resumeRequested = false;
  ended = false;
  /**
   * A store read after the stream's start has been made (or the stream started at the head), so
   * the ring may take over: the ring can hold events retention has deleted since it tailed them.
   */
  storeChecked = false;
  /** `until` passed while caught up: read the store once more (not the ring), then end. */
  finalRead = false;
  /** A batch read ahead while the socket drained; written first when the subscriber resumes. */
  prefetched: StoreBatch | undefined;
  /** Events per store read; adapted to the events' size so that one read is about one write. */
  readLimit = 2000;
  /** Events written to this subscriber. */
  delivered = 0;
  /** `Date.now()` of the last event written (or of connecting). */
  lastDeliveryAt = Date.now();
  /** Set when `until` is a time: the hub forces a final store read after it (see hub.ts). */
  untilTimer: NodeJS.Timeout | undefined;
  /** Removes the transport's listeners and timers; set by the hub. */
  dispose: () => void = () => {};
  /** Who opened the stream (its token's `exp` ends it; a key reload may revoke it), when the transport said. */
  principal: Principal | undefined;

  /** Groups subscribers that receive exactly the same bytes: same format, same filter, no upper bound. */
  readonly shareKey: string | undefined;

  constructor(
    readonly transport: SubscriberTransport,
    readonly keyId: string,
    readonly types: readonly string[] | undefined,
    /** `types` as a type-index mask (see ledger.ts), or undefined for every type. */
    readonly mask: Uint8Array | undefined,
    readonly untilId: string | undefined,
    startId: string,
  ) {
    this.cursorId = startId;
    this.seq = undefined;
    this.shareKey = untilId === undefined ? `${transport.encoder.slot}|${types === undefined ? '*' : [...types].sort().join(',')}` : undefined;
  }

  /** True when the hub may write to it now. */
  get ready(): boolean {
    return !this.ended && !this.paused && !this.reading;
  }

  /**
   * True when the subscriber wants an event of `type`, whose index is `typeIndex` (see ledger.ts
   * `TypeIndex`): by the mask, or by name for types past the 255th, which share one index.
   */
  wants(typeIndex: number, type: string): boolean {
    if (this.mask === undefined || this.mask[typeIndex] === 1) return true;
    return typeIndex === OVERFLOW_INDEX && this.types!.includes(type);
  }
}
