/**
 * The Server-Sent Events encoder of a bundle's SSE channel (docs/bundles.md "Stream channels").
 * Frames follow the WHATWG HTML "Server-sent events" section 9.2.6 (field `name: value` lines, a
 * blank line ends a block, `:` starts a comment). Field order is fixed: `id`, `event`, `data`.
 * JSON.stringify escapes CR and LF inside strings, so a `data:` line never breaks; type names and
 * ids are checked on the way in (catalog names, event id pattern), so neither holds a line break.
 */
import type { SseFrameSpec, StreamChannel } from '../bundle/bundle.js';
import type { EnvelopeEncoder } from '../bundle/envelope.js';
import type { EncodedEvent } from '../store/store.js';
import { allocateSlot, encodeMany, type DropNotice, type WireEncoder } from './wire-encoder.js';

type Frame<R extends SseFrameSpec['role']> = Extract<SseFrameSpec, { role: R }> | undefined;

/** Builds the SSE encoder of `channel`, with `envelope` for the `data:` of events. */
export function createSseEncoder(channel: StreamChannel, envelope: EnvelopeEncoder): WireEncoder {
  const find = <R extends SseFrameSpec['role']>(role: R) => channel.sse.find((frame) => frame.role === role) as Frame<R>;
  const event = find('event');
  if (!event) throw new TypeError(`channel ${channel.id} has no event frame`);
  const retry = find('retry');
  const position = find('position');
  const heartbeat = find('heartbeat');
  const droppedNotice = find('dropped-notice');
  const dropped = find('dropped');
  const fault = find('error');
  const expired = find('expired');

  const eventLine = event.naming === 'type' ? (type: string) => `event: ${type}\n` : event.naming === 'none' ? () => '' : ((line) => () => line)(`event: ${event.naming.name}\n`);
  const text = event.id
    ? (e: EncodedEvent) => `id: ${e.id}\n${eventLine(e.type)}data: ${envelope(e)}\n\n`
    : (e: EncodedEvent) => `${eventLine(e.type)}data: ${envelope(e)}\n\n`;

  return {
    kind: 'sse',
    slot: allocateSlot(),
    event: (e) => Buffer.from(text(e)),
    events: (events, start, maxBytes) => encodeMany(events, start, maxBytes, text, false),
    preamble: (retryMs) => (retry ? Buffer.from(`retry: ${retryMs}\n\n`) : undefined),
    position(id) {
      if (!position) return undefined;
      if (position.form === 'id-only') return Buffer.from(`id: ${id}\n\n`);
      return Buffer.from(`id: ${id}\nevent: ${position.event}\ndata: ${JSON.stringify({ [position.field]: id })}\n\n`);
    },
    heartbeat: heartbeat ? Buffer.from(`: ${heartbeat.text}\n\n`) : undefined,
    dropped(notice: DropNotice) {
      let out = '';
      if (droppedNotice) out += `: ${droppedNotice.prefix}${notice.count}${droppedNotice.suffix}\n\n`;
      if (dropped) {
        const data = JSON.stringify(
          dropped.map.build({
            dropped: {
              count: notice.count,
              first_missing_id: notice.firstMissingId,
              last_missing_id: notice.lastMissingId,
              backfill_url: notice.backfillUrl,
            },
          }),
        );
        // No `id:`: the client's Last-Event-ID stays on the last event it really received.
        out += `${dropped.event ? `event: ${dropped.event}\n` : ''}data: ${data}\n\n`;
      }
      return out === '' ? undefined : Buffer.from(out);
    },
    end: () => undefined,
    fault: () => (fault ? Buffer.from(`: ${fault.text}\n\n`) : undefined),
    expired(code, message) {
      if (!expired) return undefined;
      const data = JSON.stringify(expired.map.build({ error: { code, message } }));
      // No `id:`: the client's Last-Event-ID stays on the last event it received, where it resumes.
      return Buffer.from(`${expired.event ? `event: ${expired.event}\n` : ''}data: ${data}\n\n`);
    },
    status: () => undefined,
    statusEveryMs: undefined,
    hasStatus: false,
  };
}
