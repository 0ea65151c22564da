/**
 * Validates stream frames against specs/asyncapi.yaml through the generated validators
 * (`sseMessages`, `wsFrameSchema`, `specstreamEventSchema`): each frame is matched to the one
 * message it claims to be. Used by `specstream verify`; needs no test framework.
 */
import { isEventType } from '../generated/catalog.js';
import { specstreamEventSchema } from '../generated/events.js';
import { sseMessages, wsFrameSchema, type WsFrame } from '../generated/frames.js';

/** The outcome of validating one frame: the AsyncAPI message it is, or why it is none. */
export type FrameResult =
  /** `event`: the frame carried an event (also when it has no id to report). */
  | { ok: true; message: string; id?: string; event?: true }
  | { ok: false; message: string; error: string };

const explicitEvents = new Set(sseMessages.flatMap((m) => (m.event && m.event !== '*' ? [m.event] : [])));

function issues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/** An SSE event (`event:`, `id:`, `data:`) as `sseEvent` (a catalog event) or an explicitly named message. */
export function validateSseEvent(raw: { event?: string | undefined; id?: string | undefined; data: string }): FrameResult {
  const event = raw.event ?? 'message';
  const descriptor = sseMessages.find((m) => m.field === 'data' && (m.event === event || (m.event === '*' && !explicitEvents.has(event))));
  if (!descriptor) return { ok: false, message: 'sse:?', error: `event "${event}" matches no SSE message` };
  const name = `sse:${descriptor.name}`;
  const hasId = raw.id !== undefined && raw.id !== '';
  if (descriptor.id === 'required' && !hasId) return { ok: false, message: name, error: 'missing id: field' };
  if (descriptor.id === 'none' && hasId) return { ok: false, message: name, error: 'unexpected id: field' };
  let payload: unknown;
  try {
    payload = JSON.parse(raw.data);
  } catch {
    return { ok: false, message: name, error: `data is not JSON: ${raw.data.slice(0, 120)}` };
  }
  const parsed = descriptor.schema.safeParse(payload);
  if (!parsed.success) return { ok: false, message: name, error: issues(parsed.error) };
  if (descriptor.event === '*') {
    const envelope = parsed.data as { id: string; type: string };
    if (!isEventType(event) || envelope.type !== event) return { ok: false, message: name, error: `event: ${event} but the envelope's type is ${envelope.type}` };
    if (envelope.id !== raw.id) return { ok: false, message: name, error: `id: ${raw.id} but the envelope's id is ${envelope.id}` };
    return { ok: true, message: name, id: envelope.id };
  }
  return { ok: true, message: name };
}

/** An SSE comment (the text after `:`, one leading space removed): exactly one comment message must match. */
export function validateSseComment(text: string): FrameResult {
  const matches = sseMessages.filter((m) => m.field === 'comment' && m.schema.safeParse(text).success);
  if (matches.length !== 1) return { ok: false, message: 'sse:comment', error: `comment ": ${text.slice(0, 80)}" matches ${matches.length} messages` };
  return { ok: true, message: `sse:${matches[0]!.name}` };
}

/** An SSE `retry:` value. */
export function validateSseRetry(value: number): FrameResult {
  const descriptor = sseMessages.find((m) => m.field === 'retry');
  if (!descriptor) return { ok: false, message: 'sse:retry', error: 'the spec declares no retry message' };
  const parsed = descriptor.schema.safeParse(value);
  return parsed.success ? { ok: true, message: `sse:${descriptor.name}` } : { ok: false, message: `sse:${descriptor.name}`, error: issues(parsed.error) };
}

/** A WebSocket text frame against `wsFrameSchema` (an event's `data` against its catalog payload). */
export function validateWsText(text: string): FrameResult & { frame?: WsFrame } {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return { ok: false, message: 'ws:?', error: `not JSON: ${text.slice(0, 120)}` };
  }
  const parsed = wsFrameSchema.safeParse(payload);
  const type = typeof (payload as { type?: unknown })?.type === 'string' ? (payload as { type: string }).type : '?';
  if (!parsed.success) return { ok: false, message: `ws:${type}`, error: issues(parsed.error) };
  if (parsed.data.type === 'event') {
    const event = specstreamEventSchema.safeParse(parsed.data.event);
    if (!event.success) return { ok: false, message: 'ws:event', error: issues(event.error) };
    return { ok: true, message: 'ws:event', id: parsed.data.event.id, frame: parsed.data };
  }
  return { ok: true, message: `ws:${parsed.data.type}`, frame: parsed.data };
}
