/**
 * One encoder per wire format (the way Mercure's encoder interface keeps formats apart): every
 * byte the hub writes to a subscriber comes from its transport's encoder. A bundle's SSE and
 * WebSocket channels each compile to one encoder at start (src/stream/sse-encoder.ts,
 * ws-encoder.ts); the hub asks it for an event's bytes once and shares them across subscribers.
 */
import type { EncodedEvent } from '../store/store.js';

/** What a subscriber that fell behind retention missed. */
export interface DropNotice {
  /** How many events of the subscriber's types were deleted before it read them (at least 1). */
  count: number;
  firstMissingId: string;
  lastMissingId: string;
  /** A backfill path that listed the missing events while they were retained (absent when the bundle has no list operation). */
  backfillUrl?: string;
}

/** The engine's state for a status frame (docs/bundles.md `$stats.*`). */
export interface StreamStats {
  /** RFC 3339 time of the frame. */
  ts: string;
  /** Events delivered to this subscriber per second over the last status interval. */
  throughput_eps: number;
  /** Events of this subscriber's types between its position and the head of the log (its lag). */
  queue_depth: number;
  /** Events the in-memory ring holds (`ring_size`): a lag beyond it is served from the store. */
  queue_max: number;
  /** Open streams on this node. */
  subscribers: number;
  /** Whether the store answered its last check. */
  store: 'ok' | 'unavailable';
  /** The node's ingest paths and their state: `{publish: "ok", store: "ok"}`. */
  receivers: Record<string, 'ok' | 'unavailable'>;
  /** The node's background workers and their state: `{tail: "ok", retention: "ok"}`. */
  detectors: Record<string, 'ok' | 'unavailable'>;
}

/** Why a stream ends. */
export type EndReason = 'until_reached' | 'shutdown' | 'idle_timeout';

export interface WireEncoder {
  readonly kind: 'sse' | 'ws';
  /** A small distinct number per encoder in the process: the ring caches event bytes by it. */
  readonly slot: number;
  /** One event's complete frame. */
  event(event: EncodedEvent): Buffer;
  /**
   * Events from `start` encoded into one Buffer of at most about `maxBytes` (at least one event),
   * for a subscriber reading the store; `end` is the index after the last one encoded.
   */
  events(events: readonly EncodedEvent[], start: number, maxBytes: number): { bytes: Buffer; end: number };
  /** Written once at connect (SSE `retry:`), or undefined. */
  preamble(retryMs: number): Buffer | undefined;
  /** The resume point of a live-only stream, or undefined when the bundle declares none. */
  position(id: string): Buffer | undefined;
  /** The SSE heartbeat comment, or undefined (WebSocket uses ping frames). */
  readonly heartbeat: Buffer | undefined;
  /** The drop notice, or undefined when the bundle declares none. */
  dropped(notice: DropNotice): Buffer | undefined;
  /** A frame before a clean end, or undefined. */
  end(reason: EndReason): Buffer | undefined;
  /** A frame before closing on a server fault, or undefined. */
  fault(code: string, message: string): Buffer | undefined;
  /**
   * The notice before a stream ends because its credentials ended (`TOKEN_EXPIRED`, or
   * `CREDENTIALS_REVOKED` after a key reload): SSE the bundle's `expired` frame (undefined when it
   * declares none), WebSocket its `error` frame with the code.
   */
  expired(code: string, message: string): Buffer | undefined;
  /** A status frame, or undefined when the bundle declares none. */
  status(stats: StreamStats): Buffer | undefined;
  /** Seconds between status frames when the bundle sets them (`every`), else undefined (use `status_s`). */
  readonly statusEveryMs: number | undefined;
  /** True when the bundle declares a status frame. */
  readonly hasStatus: boolean;
}

let nextSlot = 0;

/** A fresh encoder slot. */
export function allocateSlot(): number {
  return nextSlot++;
}

/**
 * Writes frames into one Buffer sized for the worst case (3 UTF-8 bytes per UTF-16 unit): about
 * three times cheaper than concatenating strings and encoding them. `text(event)` is a frame's
 * text; `header` is 0 for SSE and the WebSocket frame header writer otherwise.
 */
export function encodeMany(
  events: readonly EncodedEvent[],
  start: number,
  maxBytes: number,
  text: (event: EncodedEvent) => string,
  websocket: boolean,
): { bytes: Buffer; end: number } {
  const texts: string[] = [];
  let capacity = 0;
  for (let i = start; i < events.length && (i === start || capacity < 3 * maxBytes); i++) {
    const frame = text(events[i]!);
    texts.push(frame);
    capacity += 3 * frame.length + 10;
  }
  const buffer = Buffer.allocUnsafe(capacity);
  let offset = 0;
  let end = start;
  for (const frame of texts) {
    if (end !== start && offset >= maxBytes) break;
    if (!websocket) offset += buffer.write(frame, offset);
    else offset = writeWsTextFrame(buffer, offset, frame);
    end++;
  }
  return { bytes: fit(buffer, offset), end };
}

/** Writes `text` as one WebSocket text frame at `offset` (room for 3 bytes per unit + 10 assumed). */
function writeWsTextFrame(buffer: Buffer, offset: number, text: string): number {
  // The UTF-8 length lies between text.length and 3 × text.length: when both need the same header
  // size, write the payload first and fill in its length afterwards.
  if (text.length >= 126 && 3 * text.length < 65_536) {
    const length = buffer.write(text, offset + 4, 'utf8');
    buffer[offset] = 0x81;
    buffer[offset + 1] = 126;
    buffer.writeUInt16BE(length, offset + 2);
    return offset + 4 + length;
  }
  const frame = wsTextFrame(text);
  frame.copy(buffer, offset);
  return offset + frame.length;
}

/**
 * A complete, unmasked, unfragmented WebSocket text frame (RFC 6455 section 5.2). Frames from a
 * server are never masked, so the bytes are the same for every connection. This relies on
 * permessage-deflate being off (kept off in ws-server.ts).
 */
export function wsTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, headerLength, 'utf8');
  return frame;
}

/**
 * The first `length` bytes of `buffer`, copied out when that is less than half of it, so that a
 * buffer sized for the worst case does not keep three times the memory alive while a slow socket
 * holds the write.
 */
function fit(buffer: Buffer, length: number): Buffer {
  return length < buffer.length / 2 ? Buffer.from(buffer.subarray(0, length)) : buffer.subarray(0, length);
}
