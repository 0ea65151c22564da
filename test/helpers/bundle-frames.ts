/**
 * Checks frames received from any bundle's server against that bundle's AsyncAPI document: each
 * SSE block or comment and each WebSocket message must match exactly one frame message of the
 * stream's channel (by its `x-specstream-frame` role and payload schema, compiled with ajv), and an
 * event's data must validate against its catalog payload. Built on the server's own loader for the
 * channel structure, and on ajv (independent of the server's encoders) for the schemas.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import addFormats from 'ajv-formats';
import type { Bundle, StreamChannel } from '../../src/bundle/bundle.js';
import { envelopeKeys } from '../../src/bundle/envelope.js';
import { isObject, YamlDocument, type JsonObject } from '../../src/bundle/yaml-document.js';

type Validate = ((value: unknown) => boolean) & { errors?: unknown };

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

/** A received frame, identified (`id`: the resume point a position frame names). */
export type CheckedFrame =
  | { role: 'event'; id: string | undefined; type: string; envelope: JsonObject }
  | { role: string; payload: unknown; id?: string };

/** Validates the frames of one stream of `bundle`. */
export class BundleFrameChecker {
  readonly #frames: Array<{ role: string; message: string; validate: Validate; types?: readonly string[]; at?: string }> = [];
  readonly #data = new Map<string, Validate>();
  readonly #keys: ReturnType<typeof envelopeKeys>;
  readonly channel: StreamChannel;
  /** Frames seen, by role. */
  readonly counts = new Map<string, number>();

  constructor(
    readonly bundle: Bundle,
    kind: 'sse' | 'ws',
  ) {
    const channel = bundle.channels[kind];
    if (!channel) throw new TypeError(`${bundle.name} has no ${kind} channel`);
    this.channel = channel;
    const doc = new YamlDocument('asyncapi.yaml', bundle.asyncapi);
    const channelNode = (bundle.asyncapi.channels as JsonObject)[channel.id] as JsonObject;
    for (const frame of kind === 'sse' ? channel.sse : channel.ws) {
      const message = doc.inline((channelNode.messages as JsonObject)[frame.message]) as JsonObject;
      this.#frames.push({
        role: frame.role,
        message: frame.message,
        validate: ajv.compile(message.payload as object) as Validate,
        ...('types' in frame && frame.types ? { types: frame.types } : {}),
        ...('at' in frame ? { at: frame.at } : {}),
      });
    }
    for (const entry of bundle.catalog) this.#data.set(entry.type, ajv.compile(entry.schema) as Validate);
    this.#keys = envelopeKeys(bundle.envelope);
  }

  #count(role: string): void {
    this.counts.set(role, (this.counts.get(role) ?? 0) + 1);
  }

  #only(role: string) {
    const frame = this.#frames.find((f) => f.role === role);
    if (!frame) throw new Error(`${this.bundle.name}: the stream declares no ${role} frame`);
    return frame;
  }

  /** Checks an envelope against the event frame schema and its data against the catalog; returns the event. */
  #event(envelope: unknown, id: string | undefined, expectedType: string | undefined, validate: Validate): CheckedFrame {
    if (!validate(envelope)) throw new Error(`event frame invalid: ${JSON.stringify(ajv.errorsText(validate.errors as never))} ${JSON.stringify(envelope)}`);
    const object = envelope as JsonObject;
    const type = this.#keys.type ? String(object[this.#keys.type]) : expectedType;
    if (type === undefined) throw new Error('cannot tell the event type');
    // As the native validator does: the SSE event name and id: line agree with the envelope they carry.
    if (expectedType !== undefined && type !== expectedType) throw new Error(`event: ${expectedType} but the envelope's type is ${type}`);
    if (id !== undefined && this.#keys.id && String(object[this.#keys.id]) !== id) throw new Error(`id: ${id} but the envelope's id is ${String(object[this.#keys.id])}`);
    const data = this.#keys.data ? object[this.#keys.data] : object;
    const validateData = this.#data.get(type);
    if (!validateData) throw new Error(`type ${type} is not in the catalog`);
    // A spread envelope carries the data at the top level along with mapped fields: check the payload keys only.
    const payload = this.#keys.data ? data : Object.fromEntries(Object.entries(object).filter(([k]) => !this.#mappedKeys().has(k)));
    if (!validateData(payload)) throw new Error(`data of ${type} invalid: ${ajv.errorsText(validateData.errors as never)}`);
    this.#count('event');
    const eventId = id ?? (this.#keys.id ? String(object[this.#keys.id]) : undefined);
    return { role: 'event', id: eventId, type, envelope: object };
  }

  #mappedKeys(): Set<string> {
    const envelope = this.bundle.envelope;
    return new Set(envelope.preset === 'fields' ? envelope.map.expressions.keys() : []);
  }

  /** One SSE block: `id`, `event`, `data` (joined), `retry`. */
  sseBlock(block: { id?: string; event?: string; data?: string; retry?: number }): CheckedFrame {
    const event = this.channel.sse.find((f) => f.role === 'event');
    if (block.retry !== undefined) {
      if (!this.#only('retry').validate(block.retry)) throw new Error(`retry: ${block.retry} breaks the retry message's schema`);
      this.#count('retry');
      return { role: 'retry', payload: block.retry };
    }
    if (block.data === undefined) {
      const position = this.channel.sse.find((f) => f.role === 'position');
      if (!position || position.role !== 'position' || position.form !== 'id-only' || block.id === undefined) throw new Error(`unexpected SSE block ${JSON.stringify(block)}`);
      this.#count('position');
      return { role: 'position', payload: block.id, id: block.id };
    }
    if (block.data.includes('\n')) throw new Error(`data spans several lines: ${block.data.slice(0, 200)}`);
    const position = this.channel.sse.find((f) => f.role === 'position');
    if (position?.role === 'position' && position.event !== undefined && block.event === position.event) {
      const data = JSON.parse(block.data) as unknown;
      if (!this.#only('position').validate(data)) throw new Error(`position frame invalid: ${block.data}`);
      const named = (data as JsonObject)[position.field];
      if (block.id === undefined || named !== block.id) throw new Error(`position frame: id: ${String(block.id)} but data says ${String(named)}`);
      this.#count('position');
      return { role: 'position', payload: data, id: block.id };
    }
    for (const role of ['dropped', 'expired'] as const) {
      const frame = this.channel.sse.find((f) => f.role === role);
      if (frame?.role !== role || frame.event === undefined || block.event !== frame.event) continue;
      if (block.id !== undefined) throw new Error(`${role} frame must not carry an id: line`);
      const data = JSON.parse(block.data) as unknown;
      if (!this.#only(role).validate(data)) throw new Error(`${role} frame invalid: ${block.data}`);
      this.#count(role);
      return { role, payload: data };
    }
    if (!event || event.role !== 'event') throw new Error('no event frame');
    if (event.naming === 'none' && block.event !== undefined) throw new Error(`unnamed events expected, got event: ${block.event}`);
    if (event.naming === 'type' && block.event === undefined) throw new Error('named events expected');
    if (event.id && block.id === undefined) throw new Error('id: lines expected');
    return this.#event(JSON.parse(block.data), block.id, event.naming === 'type' ? block.event : undefined, this.#only('event').validate);
  }

  /** One SSE comment's text (after `: `). */
  sseComment(text: string): CheckedFrame {
    const matches = this.#frames.filter((f) => ['heartbeat', 'dropped-notice', 'error'].includes(f.role) && f.validate(text));
    if (matches.length !== 1) throw new Error(`comment ": ${text}" matches ${matches.length} messages`);
    this.#count(matches[0]!.role);
    return { role: matches[0]!.role, payload: text };
  }

  /** One WebSocket text message. */
  wsMessage(text: string): CheckedFrame {
    const payload = JSON.parse(text) as unknown;
    const matches = this.#frames.filter((f) => f.validate(payload));
    if (matches.length !== 1) throw new Error(`WS message matches ${matches.length} messages: ${text.slice(0, 300)}`);
    const frame = matches[0]!;
    if (frame.role !== 'event') {
      this.#count(frame.role);
      return { role: frame.role, payload };
    }
    const envelope = frame.at ? (payload as JsonObject)[frame.at] : payload;
    const checked = this.#event(envelope, undefined, frame.types?.length === 1 ? frame.types[0] : undefined, () => true);
    const type = 'type' in checked ? checked.type : undefined;
    if (frame.types && (type === undefined || !frame.types.includes(type))) throw new Error(`${String(type)} arrived in the ${frame.message} frame`);
    return checked;
  }
}

/**
 * Parses an SSE byte stream of `bundle`'s stream (with eventsource-parser and its comment and
 * retry callbacks) and checks every frame with a {@link BundleFrameChecker}, as `SseFrameReader`
 * (test/helpers/frames.ts) does for the native bundle. The first invalid frame is kept in
 * `failure`; frames after it are ignored.
 */
export class BundleSseReader {
  readonly frames: CheckedFrame[] = [];
  readonly checker: BundleFrameChecker;
  readonly #parser: EventSourceParser;
  readonly #decoder = new TextDecoder();
  #error: Error | undefined;

  constructor(
    bundle: Bundle,
    private readonly onFrame?: (frame: CheckedFrame) => void,
  ) {
    this.checker = new BundleFrameChecker(bundle, 'sse');
    this.#parser = createParser({
      onEvent: (event) =>
        this.#accept(() =>
          this.checker.sseBlock({ ...(event.id !== undefined ? { id: event.id } : {}), ...(event.event !== undefined ? { event: event.event } : {}), data: event.data }),
        ),
      onComment: (comment) => this.#accept(() => this.checker.sseComment(comment)),
      onRetry: (retry) => this.#accept(() => this.checker.sseBlock({ retry })),
      onError: (error) => {
        this.#error ??= new Error(`SSE parse error: ${error.message}`);
      },
    });
  }

  /** Feeds bytes; throws the first invalid frame met so far. */
  feed(chunk: Uint8Array | string): void {
    this.#parser.feed(typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true }));
    if (this.#error) throw this.#error;
  }

  get failure(): Error | undefined {
    return this.#error;
  }

  #accept(check: () => CheckedFrame): void {
    if (this.#error) return;
    try {
      const frame = check();
      this.frames.push(frame);
      this.onFrame?.(frame);
    } catch (error) {
      this.#error = error as Error;
    }
  }
}

/** True for a plain object (re-exported for tests). */
export { isObject };
