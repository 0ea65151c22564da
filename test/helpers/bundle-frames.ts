/**
 * Checks frames received from any bundle's server against that bundle's AsyncAPI document: each
 * SSE block or comment and each WebSocket message must match exactly one frame message of the
 * stream's channel (by its `x-specstream-frame` role and payload schema, compiled with ajv), and an
 * event's data must validate against its catalog payload. Built on the server's own loader for the
 * channel structure, and on ajv (independent of the server's encoders) for the schemas.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Bundle, StreamChannel } from '../../src/bundle/bundle.js';
import { envelopeKeys } from '../../src/bundle/envelope.js';
import { isObject, YamlDocument, type JsonObject } from '../../src/bundle/yaml-document.js';

type Validate = ((value: unknown) => boolean) & { errors?: unknown };

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

/** A received frame, identified. */
export type CheckedFrame =
  | { role: 'event'; id: string | undefined; type: string; envelope: JsonObject }
  | { role: string; payload: unknown };

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
      this.#only('retry');
      this.#count('retry');
      return { role: 'retry', payload: block.retry };
    }
    if (block.data === undefined) {
      const position = this.channel.sse.find((f) => f.role === 'position');
      if (!position || position.role !== 'position' || position.form !== 'id-only' || block.id === undefined) throw new Error(`unexpected SSE block ${JSON.stringify(block)}`);
      this.#count('position');
      return { role: 'position', payload: block.id };
    }
    const position = this.channel.sse.find((f) => f.role === 'position');
    if (position?.role === 'position' && position.event !== undefined && block.event === position.event) {
      const data = JSON.parse(block.data) as unknown;
      if (!this.#only('position').validate(data)) throw new Error(`position frame invalid: ${block.data}`);
      this.#count('position');
      return { role: 'position', payload: data };
    }
    const dropped = this.channel.sse.find((f) => f.role === 'dropped');
    if (dropped?.role === 'dropped' && dropped.event !== undefined && block.event === dropped.event) {
      const data = JSON.parse(block.data) as unknown;
      if (!this.#only('dropped').validate(data)) throw new Error(`dropped frame invalid: ${block.data}`);
      this.#count('dropped');
      return { role: 'dropped', payload: data };
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

/** True for a plain object (re-exported for tests). */
export { isObject };
