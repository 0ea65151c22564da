/**
 * Validates the frames an example bundle's server sends against that bundle's AsyncAPI document
 * (read by ./bundle.ts): every SSE block, comment and `retry:` and every WebSocket message is matched
 * to the one frame message (`x-specstream-frame` role) it can be, validated against its payload, and
 * an event's data against the catalog payload of its type. A frame no message describes throws a
 * FrameError, which fails the test that received it.
 *
 * The native bundle's tests use test/helpers/frames.ts (generated validators); this is the same idea
 * for bundles, kept separate because it reads the bundle's documents at run time.
 */
import { ajv, channelOf, keyOf, readEnvelope, type Bundle, type FrameMessage, type Json, type StreamChannel } from './bundle.js';

/** A frame that no message of the bundle's AsyncAPI document describes, or that breaks its schema. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** An event frame, validated: the wire envelope and what it carries. */
export interface EventFrame {
  role: 'event';
  /** The frame message's key in its channel (`event`, `alertFrame`, ...). */
  message: string;
  /** The SSE `id:` line, or the envelope's id field. */
  id: string | undefined;
  /** The catalog type. */
  type: string;
  /** The event's data (validated against the catalog payload of `type`). */
  data: Json;
  /** The envelope as sent. */
  envelope: Json;
}

/** Any validated frame. */
export type Frame =
  | EventFrame
  | { role: 'retry'; message: string; retry: number }
  | { role: 'position'; message: string; id: string }
  | { role: 'heartbeat' | 'dropped-notice' | 'error'; message: string; comment: string }
  | { role: 'status' | 'dropped' | 'end' | 'position' | 'error'; message: string; frame: Json };

/** One SSE block as the parser collected it. */
export interface SseBlock {
  id?: string;
  event?: string;
  /** The data lines, in order. */
  data: string[];
  retry?: string;
}

const EVENT_ID = /^evt_[0-9A-HJKMNP-TV-Z]{26}$/;

function explain(frame: FrameMessage | { key: string; validate?: undefined }): string {
  return ajv.errorsText(frame.validate?.errors ?? null);
}

/** Validates the frames of one stream channel of a bundle. */
export class StreamValidator {
  readonly channel: StreamChannel;
  /** Frames validated so far, by role. */
  readonly counts = new Map<string, number>();

  constructor(
    readonly bundle: Bundle,
    address: string,
  ) {
    this.channel = channelOf(bundle, address);
  }

  /** Validates one SSE block (the fields before a blank line). */
  sseBlock(block: SseBlock): Frame {
    const sse = this.sse();
    if (block.data.length === 0) {
      if (block.event !== undefined) throw new FrameError(`SSE block with event: ${block.event} but no data: ${JSON.stringify(block)}`);
      if (block.retry !== undefined && block.id === undefined) return this.retry(block.retry);
      if (block.id !== undefined && block.retry === undefined) return this.position(block.id);
      throw new FrameError(`SSE block matches no message: ${JSON.stringify(block)}`);
    }
    if (block.retry !== undefined) throw new FrameError(`retry: inside an event block: ${JSON.stringify(block)}`);
    if (block.data.length !== 1) throw new FrameError(`event data spans ${block.data.length} lines: ${JSON.stringify(block)}`);
    if (sse.event === 'none' && block.event !== undefined) throw new FrameError(`this stream sends unnamed events, got event: ${block.event}`);
    if (sse.event === 'type' && block.event === undefined) throw new FrameError(`this stream names events by type, got a block without event: ${JSON.stringify(block)}`);
    if (sse.id && block.id === undefined) throw new FrameError(`this stream sends id: on every event: ${JSON.stringify(block)}`);
    if (!sse.id && block.id !== undefined) throw new FrameError(`this stream sends no id: lines: ${JSON.stringify(block)}`);
    return this.sseEvent(block.data[0]!, block.event, block.id);
  }

  /**
   * Validates what an EventSource dispatched (`type` is the event name, `message` when unnamed). An
   * EventSource keeps the last `id:` it saw, so on a stream with id lines `lastEventId` is this event's id.
   */
  dispatched(event: { type: string; data: string; lastEventId: string }): EventFrame {
    const sse = this.sse();
    if (sse.event === 'none' && event.type !== 'message') throw new FrameError(`this stream sends unnamed events, a listener got ${event.type}`);
    if (sse.event === 'type' && event.type === 'message') throw new FrameError('this stream names events by type, onmessage got one');
    if (sse.id && event.lastEventId === '') throw new FrameError(`no last event id after ${event.data.slice(0, 100)}`);
    return this.sseEvent(event.data, sse.event === 'type' ? event.type : undefined, sse.id ? event.lastEventId : undefined);
  }

  /**
   * Validates an event a client parsed out of an SSE `data:` line and printed (what a documented
   * handler received) against the stream's event frame and the catalog.
   */
  envelope(envelope: Json, eventName?: string): EventFrame {
    return this.event(this.only('event'), envelope, undefined, undefined, eventName);
  }

  /** Validates an SSE comment (the text after `:` and one optional space). */
  sseComment(text: string): Frame {
    const matches = this.channel.frames.filter(
      (frame) => ['heartbeat', 'dropped-notice', 'error'].includes(frame.role) && frame.validate !== undefined && frame.validate(text),
    );
    if (matches.length !== 1) throw new FrameError(`SSE comment ": ${text}" matches ${matches.length} messages`);
    const frame = matches[0]!;
    this.count(frame.role);
    return { role: frame.role as 'heartbeat', message: frame.key, comment: text };
  }

  /** Validates one WebSocket text message. */
  wsMessage(text: string): Frame {
    if (this.channel.transport !== 'ws') throw new FrameError(`${this.channel.key} is not a WebSocket channel`);
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      throw new FrameError(`WebSocket message is not JSON: ${text.slice(0, 200)}`);
    }
    const matches = this.channel.frames.filter((frame) => frame.validate?.(payload));
    if (matches.length !== 1) {
      const why = this.channel.frames.map((frame) => `${frame.key}: ${explain(frame)}`).join('; ');
      throw new FrameError(`WebSocket message matches ${matches.length} messages of ${this.channel.key}: ${text.slice(0, 300)}\n${why}`);
    }
    const frame = matches[0]!;
    if (frame.role !== 'event') {
      this.count(frame.role);
      return { role: frame.role as 'status', message: frame.key, frame: payload as Json };
    }
    const at = typeof frame.options.at === 'string' ? frame.options.at : '';
    const envelope = (at === '' ? payload : (payload as Json)[at.slice(1)]) as Json;
    const types = frame.options.types as string[] | undefined;
    return this.event(frame, envelope, undefined, types, undefined, true);
  }

  private sse(): { event: 'type' | 'none'; id: boolean } {
    if (!this.channel.sse) throw new FrameError(`${this.channel.key} is not an SSE channel`);
    return this.channel.sse;
  }

  private retry(value: string): Frame {
    const frame = this.only('retry');
    const retry = Number(value);
    if (!/^[0-9]+$/.test(value) || !frame.validate!(retry)) throw new FrameError(`retry: ${value}: ${explain(frame)}`);
    this.count('retry');
    return { role: 'retry', message: frame.key, retry };
  }

  private position(id: string): Frame {
    const frame = this.only('position');
    if (frame.options.form !== 'id-only') throw new FrameError(`an id: line alone, but the position frame is not form id-only`);
    if (frame.validate && !frame.validate(id)) throw new FrameError(`position id: ${id}: ${explain(frame)}`);
    this.count('position');
    return { role: 'position', message: frame.key, id };
  }

  private sseEvent(data: string, eventName: string | undefined, id: string | undefined): EventFrame {
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      throw new FrameError(`event data is not JSON: ${data.slice(0, 200)}`);
    }
    const frame = this.only('event');
    return this.event(frame, payload as Json, id, undefined, eventName);
  }

  /** `wrapped`: the frame's payload (already validated) wraps the envelope, as WebSocket frames with `at` do. */
  private event(frame: FrameMessage, envelope: Json, id: string | undefined, types: string[] | undefined, eventName?: string, wrapped = false): EventFrame {
    if (!wrapped && !frame.validate!(envelope)) throw new FrameError(`${frame.key}: ${JSON.stringify(envelope).slice(0, 300)}\n${explain(frame)}`);
    const parts = readEnvelope(this.bundle.envelope, envelope);
    let type = parts.type ?? eventName;
    if (type === undefined && types?.length === 1) type = types[0];
    if (type === undefined) throw new FrameError(`${frame.key}: cannot tell the type of ${JSON.stringify(envelope).slice(0, 200)}`);
    if (eventName !== undefined && eventName !== type) throw new FrameError(`event: ${eventName} but the envelope's type is ${type}`);
    if (types !== undefined && !types.includes(type)) throw new FrameError(`${frame.key} carries ${types.join(', ')}, not ${type}`);
    if (parts.id !== undefined && id !== undefined && parts.id !== id) throw new FrameError(`id: ${id} but the envelope's id is ${parts.id}`);
    const eventId = id ?? parts.id;
    if (eventId !== undefined && !EVENT_ID.test(eventId)) throw new FrameError(`not an event id: ${eventId}`);
    const entry = this.bundle.catalog.get(type);
    if (!entry) throw new FrameError(`type ${type} is not in the catalog`);
    if (!entry.validate(parts.data)) throw new FrameError(`data of ${type}: ${ajv.errorsText(entry.validate.errors)}`);
    this.count('event');
    return { role: 'event', message: frame.key, id: eventId, type, data: parts.data, envelope };
  }

  private only(role: string): FrameMessage {
    const frames = this.channel.frames.filter((frame) => frame.role === role);
    if (frames.length !== 1) throw new FrameError(`${this.channel.key} declares ${frames.length} messages with role ${role}`);
    return frames[0]!;
  }

  private count(role: string): void {
    this.counts.set(role, (this.counts.get(role) ?? 0) + 1);
  }
}

/**
 * An incremental SSE parser (WHATWG HTML "Parsing an event stream": CRLF, LF or CR line ends, one
 * space after the colon removed, comments kept) that hands every block and comment to a
 * StreamValidator. Unknown fields are errors. The first error is kept and rethrown by `feed`.
 */
export class SseRecorder {
  readonly frames: Frame[] = [];
  failure: Error | undefined;
  /** Everything received, decoded. */
  raw = '';
  #buffer = '';
  #block: SseBlock = { data: [] };
  #decoder = new TextDecoder();
  #onFrame: ((frame: Frame) => void) | undefined;

  constructor(
    readonly validator: StreamValidator,
    onFrame?: (frame: Frame) => void,
  ) {
    this.#onFrame = onFrame;
  }

  /** The event frames received so far. */
  get events(): EventFrame[] {
    return this.frames.filter((frame): frame is EventFrame => frame.role === 'event');
  }

  /** Feeds bytes or text and never throws (the first error stays in `failure`), for stream callbacks. */
  push(chunk: Uint8Array | string): void {
    try {
      this.feed(chunk);
    } catch {
      // Kept in this.failure.
    }
  }

  /** Feeds bytes or text; throws the first error met so far. */
  feed(chunk: Uint8Array | string): void {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    this.raw += text;
    this.#buffer += text;
    for (;;) {
      const match = /\r\n|\n|\r/.exec(this.#buffer);
      if (!match) break;
      // A lone CR at the end may be the first half of CRLF: wait for the next chunk.
      if (match[0] === '\r' && match.index === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      this.#line(line);
    }
    if (this.failure) throw this.failure;
  }

  #line(line: string): void {
    if (line === '') {
      const block = this.#block;
      this.#block = { data: [] };
      if (block.data.length === 0 && block.id === undefined && block.event === undefined && block.retry === undefined) return;
      this.#accept(() => this.validator.sseBlock(block));
      return;
    }
    if (line.startsWith(':')) {
      const text = line.slice(1).replace(/^ /, '');
      this.#accept(() => this.validator.sseComment(text));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') this.#block.data.push(value);
    else if (field === 'id') this.#block.id = value;
    else if (field === 'event') this.#block.event = value;
    else if (field === 'retry') this.#block.retry = value;
    else this.failure ??= new FrameError(`unknown SSE field ${JSON.stringify(field)} in ${JSON.stringify(line)}`);
  }

  #accept(validate: () => Frame): void {
    if (this.failure) return;
    try {
      const frame = validate();
      this.frames.push(frame);
      this.#onFrame?.(frame);
    } catch (error) {
      this.failure = error as Error;
    }
  }
}

/** The envelope key holding the event id in a bundle, if the envelope exposes it. */
export function idKey(bundle: Bundle): string | undefined {
  return keyOf(bundle.envelope, '$event.id');
}
