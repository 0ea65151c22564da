/**
 * The WebSocket encoder of a bundle's WebSocket channel (docs/bundles.md "Stream channels"). Every
 * frame is a complete, unmasked text frame (RFC 6455 section 5.2) whose JSON follows the
 * message's payload schema: its `const` properties as they are, the envelope at `at`, other
 * fields from the frame's field map.
 */
import type { StreamChannel, WsFrameSpec } from '../bundle/bundle.js';
import type { EnvelopeEncoder } from '../bundle/envelope.js';
import type { FieldSource } from '../bundle/field-map.js';
import type { EncodedEvent } from '../store/store.js';
import { allocateSlot, encodeMany, wsTextFrame, type WireEncoder } from './wire-encoder.js';

type Mapped = Exclude<WsFrameSpec, { role: 'event' }>;

/** Builds the WebSocket encoder of `channel`, with `envelope` for events. */
export function createWsEncoder(channel: StreamChannel, envelope: EnvelopeEncoder): WireEncoder {
  const byType = new Map<string, { before: string; after: string }>();
  let fallback: { before: string; after: string } | undefined;
  const mapped = new Map<string, Mapped>();
  for (const frame of channel.ws) {
    if (frame.role === 'event') {
      if (frame.types) for (const type of frame.types) byType.set(type, frame.template);
      else fallback = frame.template;
    } else mapped.set(frame.role, frame as Mapped);
  }
  const text = (e: EncodedEvent) => {
    const template = byType.get(e.type) ?? fallback!;
    return `${template.before}${envelope(e)}${template.after}`;
  };
  const frameOf = (role: string, source: FieldSource) => {
    const frame = mapped.get(role);
    return frame ? wsTextFrame(JSON.stringify(frame.map.build(source))) : undefined;
  };
  const status = mapped.get('status');
  return {
    kind: 'ws',
    slot: allocateSlot(),
    event: (e) => wsTextFrame(text(e)),
    events: (events, start, maxBytes) => encodeMany(events, start, maxBytes, text, true),
    preamble: () => undefined,
    position: (id) => frameOf('position', { stream: { position: id } }),
    heartbeat: undefined,
    dropped: (notice) =>
      frameOf('dropped', {
        dropped: {
          count: notice.count,
          first_missing_id: notice.firstMissingId,
          last_missing_id: notice.lastMissingId,
          backfill_url: notice.backfillUrl,
        },
      }),
    end: (reason) => (reason === 'idle_timeout' ? undefined : frameOf('end', { end: { reason } })),
    fault: (code, message) => frameOf('error', { error: { code, message } }),
    expired: (code, message) => frameOf('error', { error: { code, message } }),
    status: (stats) => frameOf('status', { stats: { ...stats } }),
    statusEveryMs: status?.everyMs,
    hasStatus: status !== undefined,
  };
}
