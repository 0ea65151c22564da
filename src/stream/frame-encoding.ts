/**
 * The bytes of every frame the hub writes, in the shapes `specs/asyncapi.yaml` declares
 * (channels `sseStream` and `wsStream`). Events are encoded once per wire format and the same
 * Buffer is written to every subscriber; notices are small and built per subscriber.
 */
import type { StoredEvent } from '../store/store.js';

/** The two wire formats a subscriber can use. */
export type WireFormat = 'sse' | 'ws';

/**
 * `id: <id>` / `event: <type>` / `data: <envelope JSON>` (message `sseEvent`). JSON.stringify
 * escapes CR and LF inside strings, so `data` is one line and cannot forge a frame; ids and
 * types are validated on the way in (event id pattern, catalog type names), so neither holds a
 * line break either.
 */
export function sseEventFrame(id: string, type: string, json: string): Buffer {
  return Buffer.from(`id: ${id}\nevent: ${type}\ndata: ${json}\n\n`);
}

/** `retry: <ms>` (message `sseRetry`), sent once at connect. */
export function sseRetryFrame(ms: number): Buffer {
  return Buffer.from(`retry: ${ms}\n\n`);
}

/**
 * `id: <id>` / `event: stream.position` / `data: {"id":"<id>"}` (message `ssePosition`): the resume
 * point of a live-only stream. Its `id:` becomes the client's last event id; listeners of catalog
 * types and `onmessage` never see it.
 */
export function ssePositionFrame(id: string): Buffer {
  return Buffer.from(`id: ${id}\nevent: stream.position\ndata: {"id":"${id}"}\n\n`);
}

/** `: heartbeat` (message `sseHeartbeat`). */
export const SSE_HEARTBEAT = Buffer.from(': heartbeat\n\n');

/** `: internal server error` (message `sseInternalError`), before closing on a fault. */
export const SSE_INTERNAL_ERROR = Buffer.from(': internal server error\n\n');

/** What a subscriber that fell behind retention missed. */
export interface DropNotice {
  /** How many events of the subscriber's types were deleted before it read them (at least 1). */
  count: number;
  firstMissingId: string;
  lastMissingId: string;
  /** A `GET /v1/events` path that listed the missing events while they were retained. */
  backfillUrl: string;
}

/**
 * `: you are reading too slowly, dropped N messages` (message `sseDroppedNotice`) followed by
 * `event: stream.dropped` (message `sseStreamDropped`, no `id:` so that the client's
 * Last-Event-ID stays on the last event it really received).
 */
export function sseDroppedFrames(notice: DropNotice): Buffer {
  const data = JSON.stringify({
    count: notice.count,
    first_missing_id: notice.firstMissingId,
    last_missing_id: notice.lastMissingId,
    backfill_url: notice.backfillUrl,
  });
  return Buffer.from(`: you are reading too slowly, dropped ${notice.count} messages\n\nevent: stream.dropped\ndata: ${data}\n\n`);
}

/** `{"type":"position","id":<id>}` (message `wsPosition`) as a complete WebSocket frame. */
export function wsPositionFrame(id: string): Buffer {
  return wsTextFrame(`{"type":"position","id":"${id}"}`);
}

/** `{"type":"event","event":<envelope>}` (message `wsEvent`) as a complete WebSocket frame. */
export function wsEventFrame(json: string): Buffer {
  return wsTextFrame(`{"type":"event","event":${json}}`);
}

/** `{"type":"dropped",…}` (message `wsDropped`) as a JSON string, for `ws.send`. */
export function wsDroppedMessage(notice: DropNotice): string {
  return JSON.stringify({
    type: 'dropped',
    count: notice.count,
    first_missing_id: notice.firstMissingId,
    last_missing_id: notice.lastMissingId,
  });
}

/** The envelope's JSON text, keys in the documented order (as the store returns them). */
export function envelopeJson(event: StoredEvent): string {
  return JSON.stringify(event);
}

/**
 * A complete, unmasked, unfragmented WebSocket text frame (RFC 6455 section 5.2). Frames from a
 * server are never masked, so the bytes are the same for every connection: the hub builds them
 * once per event and writes them straight to each socket, several frames per write. This relies
 * on permessage-deflate being off (the `ws` server's default, kept in ws-server.ts): with it, a
 * frame would depend on each connection's compression context.
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
