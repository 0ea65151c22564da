/**
 * Validates stream frames against a bundle's AsyncAPI document (docs/bundles.md), as
 * `specstream verify --specs DIR` needs it at run time: each frame is matched to the one message of
 * the stream channel it can be (by SSE event name, `id:`-only form, comment text, or WebSocket
 * discriminator), validated against that message's payload schema, and an event's `data` against
 * the catalog validator of its type (the bundle's generated code). Payload schemas are compiled
 * once, with zod's `z.fromJSONSchema` (zod is a run-time dependency; ajv is not).
 *
 * The native bundle keeps its generated validators (frame-validation.ts); this is the same idea for
 * any bundle, read at start.
 */
import { z } from 'zod';
import type { Bundle, SseFrameSpec, StreamChannel, WsFrameSpec } from '../bundle/bundle.js';
import { loadEventCatalog, type EventCatalog } from '../bundle/event-catalog.js';
import { clientProfile } from '../client/bundle-profile.js';
import { envelopeParts, type ClientProfile } from '../client/profile.js';
import type { FrameResult } from './frame-validation.js';

/** An SSE block as the parser reports it. */
export type SseFrame =
  | { kind: 'event'; id: string | undefined; event: string | undefined; data: string }
  | { kind: 'id'; id: string }
  | { kind: 'comment'; text: string }
  | { kind: 'retry'; value: number };

interface Compiled<F> {
  frame: F;
  /** The message's key in the channel (what reports name). */
  key: string;
  schema: z.ZodType | undefined;
}

const EVENT_ID = /^evt_[0-9A-HJKMNP-TV-Z]{26}$/;

function issues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/** Local `$ref`s inlined (RFC 6901 pointers into `root`), `x-` keywords dropped; a cycle is an error. */
function inline(root: Record<string, unknown>, node: unknown, seen: readonly string[] = []): unknown {
  if (Array.isArray(node)) return node.map((item) => inline(root, item, seen));
  if (node === null || typeof node !== 'object') return node;
  const object = node as Record<string, unknown>;
  if (typeof object.$ref === 'string') {
    const ref = object.$ref;
    if (!ref.startsWith('#/') || seen.includes(ref)) throw new Error(`cannot inline ${ref} (${seen.includes(ref) ? 'a cycle' : 'not a local reference'})`);
    const target = ref
      .slice(2)
      .split('/')
      .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((at, token) => (at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[token] : undefined), root);
    const { $ref: _ref, ...siblings } = object;
    return inline(root, { ...(target as Record<string, unknown>), ...siblings }, [...seen, ref]);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) if (!key.startsWith('x-')) out[key] = inline(root, value, seen);
  return out;
}

/** The frames of one stream channel of a bundle, compiled. */
export class BundleFrameValidator {
  readonly #profile: ClientProfile;
  readonly #catalog: EventCatalog;
  readonly #sse: Compiled<SseFrameSpec>[];
  readonly #ws: Compiled<WsFrameSpec>[];
  readonly #sseNaming: 'type' | 'none' | { name: string };
  readonly #sseIds: boolean;

  private constructor(bundle: Bundle, catalog: EventCatalog) {
    this.#profile = clientProfile(bundle);
    this.#catalog = catalog;
    this.#sse = BundleFrameValidator.#compile(bundle, bundle.channels.sse, bundle.channels.sse?.sse ?? []);
    this.#ws = BundleFrameValidator.#compile(bundle, bundle.channels.ws, bundle.channels.ws?.ws ?? []);
    const event = bundle.channels.sse?.sse.find((frame) => frame.role === 'event');
    this.#sseNaming = event?.role === 'event' ? event.naming : 'type';
    this.#sseIds = event?.role === 'event' ? event.id : true;
  }

  /**
   * Compiles the frames of `bundle` and loads its catalog validators.
   * @throws BundleError when the bundle's generated code is missing or stale; Error when a payload schema cannot be compiled
   */
  static async create(bundle: Bundle): Promise<BundleFrameValidator> {
    return new BundleFrameValidator(bundle, await loadEventCatalog(bundle));
  }

  static #compile<F extends { message: string }>(bundle: Bundle, channel: StreamChannel | undefined, frames: readonly F[]): Compiled<F>[] {
    if (!channel) return [];
    const channels = bundle.asyncapi.channels as Record<string, { messages?: Record<string, unknown> }>;
    return frames.map((frame) => {
      const message = inline(bundle.asyncapi, channels[channel.id]?.messages?.[frame.message]) as { payload?: unknown } | undefined;
      let schema: z.ZodType | undefined;
      try {
        schema = message?.payload === undefined ? undefined : z.fromJSONSchema(message.payload as Parameters<typeof z.fromJSONSchema>[0]);
      } catch (error) {
        throw new Error(`${bundle.name}: the payload of ${channel.id}/${frame.message} cannot be compiled: ${(error as Error).message}`, { cause: error });
      }
      return { frame, key: frame.message, schema };
    });
  }

  /** Validates one SSE block, comment or `retry:`. */
  sse(frame: SseFrame): FrameResult {
    if (frame.kind === 'retry') return this.#check(this.#sseOf('retry'), frame.value, 'sse');
    if (frame.kind === 'comment') {
      const matches = this.#sse.filter((c) => ['heartbeat', 'dropped-notice', 'error'].includes(c.frame.role) && c.schema?.safeParse(frame.text).success);
      if (matches.length !== 1) return { ok: false, message: 'sse:comment', error: `comment ": ${frame.text.slice(0, 80)}" matches ${matches.length} messages` };
      return { ok: true, message: `sse:${matches[0]!.key}` };
    }
    if (frame.kind === 'id') {
      const position = this.#sseOf('position');
      if (position?.frame.role !== 'position' || position.frame.form !== 'id-only') return { ok: false, message: 'sse:?', error: `an id: line with no data (${frame.id}) matches no message` };
      return this.#check(position, frame.id, 'sse');
    }
    const position = this.#sseOf('position');
    if (position?.frame.role === 'position' && position.frame.form === 'event' && frame.event === position.frame.event) return this.#checkJson(position, frame.data, 'sse');
    const dropped = this.#sseOf('dropped');
    if (dropped?.frame.role === 'dropped' && dropped.frame.event !== undefined && frame.event === dropped.frame.event) return this.#checkJson(dropped, frame.data, 'sse');
    const event = this.#sseOf('event');
    if (!event) return { ok: false, message: 'sse:?', error: 'the bundle declares no SSE event frame' };
    const name = `sse:${event.key}`;
    const naming = this.#sseNaming;
    if (naming === 'none' && frame.event !== undefined && frame.event !== 'message') return { ok: false, message: name, error: `event: ${frame.event} on a stream of unnamed events` };
    if (naming === 'type' && frame.event === undefined) return { ok: false, message: name, error: 'no event: field on a stream that names events by type' };
    if (typeof naming === 'object' && frame.event !== naming.name) return { ok: false, message: name, error: `event: ${frame.event ?? '(none)'}, expected ${naming.name}` };
    const hasId = frame.id !== undefined && frame.id !== '';
    if (this.#sseIds && !hasId) return { ok: false, message: name, error: 'missing id: field' };
    if (!this.#sseIds && hasId) return { ok: false, message: name, error: 'unexpected id: field' };
    let envelope: unknown;
    try {
      envelope = JSON.parse(frame.data);
    } catch {
      return { ok: false, message: name, error: `data is not JSON: ${frame.data.slice(0, 120)}` };
    }
    return this.#event(event, envelope, envelope, frame.id, naming === 'type' ? frame.event : undefined, undefined, 'sse');
  }

  /** Validates one WebSocket text message. */
  ws(text: string): FrameResult {
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return { ok: false, message: 'ws:?', error: `not JSON: ${text.slice(0, 120)}` };
    }
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return { ok: false, message: 'ws:?', error: 'not a JSON object' };
    const frame = payload as Record<string, unknown>;
    const is = (compiled: Compiled<WsFrameSpec>) => compiled.frame.discriminator !== undefined && frame[compiled.frame.discriminator.key] === compiled.frame.discriminator.value;
    const other = this.#ws.find((compiled) => compiled.frame.role !== 'event' && is(compiled));
    if (other) return this.#check(other, frame, 'ws');
    const event = this.#ws.find((compiled) => compiled.frame.role === 'event' && is(compiled)) ?? this.#ws.find((compiled) => compiled.frame.role === 'event' && compiled.frame.discriminator === undefined);
    if (!event || event.frame.role !== 'event') return { ok: false, message: 'ws:?', error: `matches no message: ${text.slice(0, 120)}` };
    const envelope = event.frame.at === '' ? frame : frame[event.frame.at];
    return this.#event(event, frame, envelope, undefined, undefined, event.frame.types, 'ws');
  }

  #sseOf(role: SseFrameSpec['role']): Compiled<SseFrameSpec> | undefined {
    return this.#sse.find((compiled) => compiled.frame.role === role);
  }

  #check(compiled: Compiled<{ message: string }> | undefined, value: unknown, transport: 'sse' | 'ws'): FrameResult {
    if (!compiled) return { ok: false, message: `${transport}:?`, error: 'the bundle declares no such frame' };
    const name = `${transport}:${compiled.key}`;
    if (!compiled.schema) return { ok: true, message: name };
    const parsed = compiled.schema.safeParse(value);
    return parsed.success ? { ok: true, message: name } : { ok: false, message: name, error: issues(parsed.error) };
  }

  #checkJson(compiled: Compiled<{ message: string }>, data: string, transport: 'sse' | 'ws'): FrameResult {
    try {
      return this.#check(compiled, JSON.parse(data), transport);
    } catch {
      return { ok: false, message: `${transport}:${compiled.key}`, error: `data is not JSON: ${data.slice(0, 120)}` };
    }
  }

  /** An event frame: its payload, the envelope's type and id, and the data against the catalog. */
  #event(
    compiled: Compiled<{ message: string }>,
    payload: unknown,
    envelope: unknown,
    lineId: string | undefined,
    eventName: string | undefined,
    frameTypes: readonly string[] | undefined,
    transport: 'sse' | 'ws',
  ): FrameResult {
    const checked = this.#check(compiled, payload, transport);
    if (!checked.ok) return checked;
    const name = checked.message;
    if (envelope === null || typeof envelope !== 'object' || Array.isArray(envelope)) return { ok: false, message: name, error: 'the envelope is not a JSON object' };
    const parts = envelopeParts(this.#profile, envelope as Record<string, unknown>);
    const declared = typeof parts.type === 'string' ? parts.type : undefined;
    const type = declared ?? eventName ?? (frameTypes?.length === 1 ? frameTypes[0] : undefined);
    if (type === undefined) return { ok: false, message: name, error: 'cannot tell the event type' };
    if (eventName !== undefined && declared !== undefined && eventName !== declared) return { ok: false, message: name, error: `event: ${eventName} but the envelope's type is ${declared}` };
    if (frameTypes !== undefined && !frameTypes.includes(type)) return { ok: false, message: name, error: `this frame carries ${frameTypes.join(', ')}, not ${type}` };
    const envelopeId = typeof parts.id === 'string' ? parts.id : undefined;
    if (envelopeId !== undefined && lineId !== undefined && envelopeId !== lineId) return { ok: false, message: name, error: `id: ${lineId} but the envelope's id is ${envelopeId}` };
    const id = envelopeId ?? lineId;
    if (id !== undefined && !EVENT_ID.test(id)) return { ok: false, message: name, error: `not an event id: ${id}` };
    const schema = this.#catalog.dataSchema(type);
    if (!schema) return { ok: false, message: name, error: `type ${type} is not in the catalog` };
    const data = schema.safeParse(parts.data);
    if (!data.success) return { ok: false, message: name, error: `data of ${type}: ${issues(data.error)}` };
    return id === undefined ? { ok: true, message: name, event: true } : { ok: true, message: name, id, event: true };
  }
}
