/**
 * The frame-validation helper every stream test goes through: each SSE and WebSocket frame a test
 * receives is matched to the AsyncAPI message it claims to be (`specs/asyncapi.yaml`, through the
 * generated `sseMessages` descriptors and `wsFrameSchema`) and validated against it, the event
 * envelope's `data` against its catalog payload (`eventDataSchemas`). A frame that matches no
 * message throws a FrameError, which fails the test that received it.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { eventDataSchemas, type SpecstreamEvent } from '../../src/generated/events.js';
import { isEventType } from '../../src/generated/catalog.js';
import { sseMessages, wsFrameSchema, type SseMessageDescriptor, type StreamDroppedData, type StreamExpiredData, type WsFrame } from '../../src/generated/frames.js';

/** A frame that no message of specs/asyncapi.yaml describes, or that breaks its schema. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** An SSE frame, validated, named by its AsyncAPI message. */
export type SseFrame =
  | { message: 'sseEvent'; id: string; event: string; data: SpecstreamEvent }
  | { message: 'sseStreamDropped'; event: 'stream.dropped'; data: StreamDroppedData }
  | { message: 'sseStreamExpired'; event: 'stream.expired'; data: StreamExpiredData }
  | { message: 'ssePosition'; id: string; event: 'stream.position' }
  | { message: 'sseRetry'; retry: number }
  | { message: 'sseHeartbeat'; comment: 'heartbeat' }
  | { message: 'sseDroppedNotice'; comment: string }
  | { message: 'sseInternalError'; comment: 'internal server error' };

/** How many frames of each message the suite validated (a test can assert it saw what it expected). */
export const validatedFrames = new Map<string, number>();

function count(message: string): void {
  validatedFrames.set(message, (validatedFrames.get(message) ?? 0) + 1);
}

/**
 * Validates one SSE event (`data` field) as the message its `event:` and `id:` fields select:
 * `stream.dropped` is `sseStreamDropped` (no id), `stream.position` is `ssePosition` (its `id:`
 * equal to the id in its data), anything else must be `sseEvent` whose event
 * name is the envelope's catalog type and whose `id:` is the envelope's id.
 */
export function validateSseEvent(raw: { event?: string | undefined; id?: string | undefined; data: string }): SseFrame {
  const event = raw.event;
  if (event === undefined || event === '' || event === 'message') {
    throw new FrameError(`SSE event without an event name matches no message: ${JSON.stringify(raw)}`);
  }
  const candidates = sseMessages.filter((m) => m.field === 'data' && (m.event === event || (m.event === '*' && !explicitEventNames().has(event))));
  if (candidates.length !== 1) throw new FrameError(`SSE event "${event}" matches ${candidates.length} messages`);
  const descriptor = candidates[0]!;
  const hasId = raw.id !== undefined && raw.id !== '';
  if (descriptor.id === 'required' && !hasId) throw new FrameError(`${descriptor.name} needs an id: field: ${JSON.stringify(raw)}`);
  if (descriptor.id === 'none' && hasId) throw new FrameError(`${descriptor.name} must not carry an id: field: ${JSON.stringify(raw)}`);
  if (raw.data.includes('\n')) throw new FrameError(`${descriptor.name}: data spans several lines`);
  let payload: unknown;
  try {
    payload = JSON.parse(raw.data);
  } catch {
    throw new FrameError(`${descriptor.name}: data is not JSON: ${raw.data.slice(0, 200)}`);
  }
  const parsed = check(descriptor, payload);
  if (descriptor.name === 'sseEvent') {
    const envelope = parsed as SpecstreamEvent;
    if (envelope.type !== event) throw new FrameError(`sseEvent: event: ${event} but the envelope's type is ${envelope.type}`);
    if (envelope.id !== raw.id) throw new FrameError(`sseEvent: id: ${raw.id} but the envelope's id is ${envelope.id}`);
    checkData(envelope);
    count('sseEvent');
    return { message: 'sseEvent', id: envelope.id, event, data: envelope };
  }
  if (descriptor.name === 'ssePosition') {
    const { id } = parsed as { id: string };
    if (id !== raw.id) throw new FrameError(`ssePosition: id: ${raw.id} but data says ${id}`);
    count('ssePosition');
    return { message: 'ssePosition', id, event: 'stream.position' };
  }
  if (descriptor.name === 'sseStreamDropped') {
    count('sseStreamDropped');
    return { message: 'sseStreamDropped', event: 'stream.dropped', data: parsed as StreamDroppedData };
  }
  if (descriptor.name === 'sseStreamExpired') {
    count('sseStreamExpired');
    return { message: 'sseStreamExpired', event: 'stream.expired', data: parsed as StreamExpiredData };
  }
  throw new FrameError(`no test support for SSE message ${descriptor.name}`);
}

/**
 * Validates what an EventSource dispatched (`type`, `data`, `lastEventId`). An EventSource keeps
 * the last `id:` across events, so `lastEventId` is only checked for `sseEvent`, where it must be
 * the event's own id; comments and `retry:` never reach EventSource listeners.
 */
export function validateEventSourceEvent(event: { type: string; data: string; lastEventId: string }): SseFrame {
  if (event.type === 'stream.position') return validateSseEvent({ event: event.type, id: event.lastEventId, data: event.data });
  if (explicitEventNames().has(event.type)) return validateSseEvent({ event: event.type, data: event.data });
  return validateSseEvent({ event: event.type, id: event.lastEventId, data: event.data });
}

/** Validates an SSE comment (the text after `: `) against the comment messages; exactly one must match. */
export function validateSseComment(text: string): SseFrame {
  const matches = sseMessages.filter((m) => m.field === 'comment' && m.schema.safeParse(text).success);
  if (matches.length !== 1) throw new FrameError(`SSE comment ": ${text}" matches ${matches.length} messages`);
  const name = matches[0]!.name;
  count(name);
  if (name === 'sseHeartbeat') return { message: 'sseHeartbeat', comment: 'heartbeat' };
  if (name === 'sseDroppedNotice') return { message: 'sseDroppedNotice', comment: text };
  if (name === 'sseInternalError') return { message: 'sseInternalError', comment: 'internal server error' };
  throw new FrameError(`no test support for SSE message ${name}`);
}

/** Validates an SSE `retry:` value. */
export function validateSseRetry(retry: number): SseFrame {
  const descriptor = sseMessages.find((m) => m.field === 'retry');
  if (!descriptor) throw new FrameError('the spec declares no retry message');
  check(descriptor, retry);
  count(descriptor.name);
  return { message: 'sseRetry', retry };
}

/** Validates a WebSocket text frame against `wsFrameSchema` (and an event's data against its catalog payload). */
export function validateWsFrame(text: string): WsFrame {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new FrameError(`WebSocket frame is not JSON: ${text.slice(0, 200)}`);
  }
  const result = wsFrameSchema.safeParse(payload);
  if (!result.success) throw new FrameError(`WebSocket frame matches no wsStream message: ${text.slice(0, 300)}\n${result.error.message}`);
  if (result.data.type === 'event') checkData(result.data.event);
  count(`ws.${result.data.type}`);
  return result.data;
}

/**
 * Parses an SSE byte stream incrementally (with eventsource-parser, plus its comment and retry
 * callbacks) and validates every frame. Unknown fields are errors too.
 */
export class SseFrameReader {
  readonly frames: SseFrame[] = [];
  private readonly parser: EventSourceParser;
  private readonly decoder = new TextDecoder();
  private error: Error | undefined;

  constructor(private readonly onFrame?: (frame: SseFrame) => void) {
    this.parser = createParser({
      onEvent: (event) => this.accept(() => validateSseEvent(event)),
      onComment: (comment) => this.accept(() => validateSseComment(comment)),
      onRetry: (retry) => this.accept(() => validateSseRetry(retry)),
      onError: (error) => {
        this.error ??= new FrameError(`SSE parse error: ${error.message}`);
      },
    });
  }

  /** Feeds bytes; throws the first FrameError met so far. */
  feed(chunk: Uint8Array | string): void {
    this.parser.feed(typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true }));
    if (this.error) throw this.error;
  }

  /** The first validation error, if any (for streams fed from event handlers that cannot throw). */
  get failure(): Error | undefined {
    return this.error;
  }

  /** The events (message `sseEvent`) received so far. */
  get events(): SpecstreamEvent[] {
    return this.frames.flatMap((frame) => (frame.message === 'sseEvent' ? [frame.data] : []));
  }

  private accept(validate: () => SseFrame): void {
    if (this.error) return;
    try {
      const frame = validate();
      this.frames.push(frame);
      this.onFrame?.(frame);
    } catch (error) {
      this.error = error as Error;
    }
  }
}

function check(descriptor: SseMessageDescriptor, payload: unknown): unknown {
  const result = descriptor.schema.safeParse(payload);
  if (!result.success) throw new FrameError(`${descriptor.name}: ${JSON.stringify(payload).slice(0, 300)}\n${result.error.message}`);
  return result.data;
}

function checkData(envelope: SpecstreamEvent): void {
  if (!isEventType(envelope.type)) throw new FrameError(`event type ${envelope.type} is not in the catalog`);
  const result = eventDataSchemas[envelope.type].safeParse(envelope.data);
  if (!result.success) throw new FrameError(`data of ${envelope.type} ${envelope.id}: ${result.error.message}`);
}

let explicit: Set<string> | undefined;
function explicitEventNames(): Set<string> {
  explicit ??= new Set(sseMessages.flatMap((m) => (m.field === 'data' && m.event !== undefined && m.event !== '*' ? [m.event] : [])));
  return explicit;
}
