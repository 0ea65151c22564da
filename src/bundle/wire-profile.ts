/**
 * What a client needs to know of a bundle to talk to a server that serves it: paths, how to
 * authenticate, the query parameter names, how to read SSE and WebSocket frames back into events,
 * and where the envelope keeps the event's id and type. Plain JSON (no functions), derived from a
 * loaded bundle, so the SDK, the CLI and the forwarder follow any bundle without hard-coding the
 * native one.
 */
import type { Bundle, BundleOperation, ParamRole } from './bundle.js';
import { envelopeKeys } from './envelope.js';

/** How a client presents its credential. */
export type ClientAuth =
  | { kind: 'bearer' }
  | { kind: 'basic' }
  | { kind: 'query'; param: string }
  | { kind: 'header'; header: string }
  | { kind: 'none' };

/** One WebSocket event frame: a const discriminator (if any) and where the envelope sits. */
export interface WsEventFrameProfile {
  /** The discriminator property and value, e.g. `{key: 'type', value: 'alert'}`; undefined for a bare envelope. */
  discriminator?: { key: string; value: unknown };
  /** Property holding the envelope, or `''` when the frame is the envelope. */
  at: string;
  /** The catalog types this frame carries; undefined: every type no other frame claims. */
  types?: readonly string[];
}

export interface WireProfile {
  /** The bundle's folder name (`specstream` for the native one). */
  name: string;
  paths: { sse?: string; ws?: string; head?: string; publish?: string; list?: string };
  /** Accepted credentials of the stream operation, preferred first (bearer, basic, query, header). */
  auth: ClientAuth[];
  /** Query parameter names by role (the first declared alias). */
  params: Partial<Record<Exclude<ParamRole, 'id' | 'token'>, string>>;
  sse?: {
    /** `type`: `event: <type>`; `none`: unnamed; otherwise the constant event name of every event. */
    eventNaming: 'type' | 'none' | { name: string };
    /** Whether events carry `id:` lines. */
    idLines: boolean;
    /** The event name of the resume-point frame (`form: event`), if any. */
    positionEvent?: string;
    /** The event name of the drop notice data frame, if any. */
    droppedEvent?: string;
    /** The event name of the frame that ends a stream whose credentials ended (`expired`), if any. */
    expiredEvent?: string;
  };
  ws?: {
    events: WsEventFrameProfile[];
    /** Discriminator values of the other frames: `{position: {key:'type', value:'position'}, status: …}`. */
    frames: Partial<Record<'position' | 'status' | 'end' | 'dropped' | 'error', { key: string; value: unknown }>>;
  };
  /** Top-level envelope keys holding the event's id, type, time and data (absent when not carried). */
  envelope: { id?: string; type?: string; time?: string; data?: string };
}

/** The wire profile of `bundle`. */
export function wireProfile(bundle: Bundle): WireProfile {
  const find = (role: BundleOperation['role']) => bundle.operations.find((op) => op.role === role && op.types === undefined) ?? bundle.operations.find((op) => op.role === role);
  const sseOp = find('stream-sse');
  const wsOp = find('stream-ws');
  const streamOp = sseOp ?? wsOp;
  const paths: WireProfile['paths'] = {};
  if (sseOp) paths.sse = sseOp.path;
  if (wsOp) paths.ws = wsOp.path;
  const head = find('check-stream');
  if (head) paths.head = head.path;
  const publish = find('publish');
  if (publish) paths.publish = publish.path;
  const list = find('list');
  if (list) paths.list = list.path;

  const auth: ClientAuth[] = [];
  for (const scheme of streamOp?.schemes ?? publish?.schemes ?? []) {
    if (scheme.kind === 'bearer' || scheme.kind === 'basic') auth.push({ kind: scheme.kind });
    else if (scheme.in === 'cookie') continue; // a browser's cookie jar, not a client's credential
    else if (scheme.in === 'query') auth.push({ kind: 'query', param: scheme.param });
    else auth.push({ kind: 'header', header: scheme.param });
  }
  if (streamOp?.anonymous || auth.length === 0) auth.push({ kind: 'none' });
  auth.sort((a, b) => order(a) - order(b));

  const params: WireProfile['params'] = {};
  for (const op of [sseOp, wsOp, list].filter((op): op is BundleOperation => op !== undefined)) {
    for (const param of op.params) {
      if (param.in !== 'query' || !param.role || param.role === 'id' || param.role === 'token') continue;
      params[param.role] ??= param.name;
    }
  }

  const profile: WireProfile = { name: bundle.name, paths, auth, params, envelope: envelopeKeys(bundle.envelope) };
  const sse = bundle.channels.sse;
  if (sse) {
    const event = sse.sse.find((f) => f.role === 'event');
    const position = sse.sse.find((f) => f.role === 'position');
    const dropped = sse.sse.find((f) => f.role === 'dropped');
    const expired = sse.sse.find((f) => f.role === 'expired');
    profile.sse = {
      eventNaming: event?.role === 'event' ? event.naming : 'type',
      idLines: event?.role === 'event' ? event.id : true,
      ...(position?.role === 'position' && position.event ? { positionEvent: position.event } : {}),
      ...(dropped?.role === 'dropped' && dropped.event ? { droppedEvent: dropped.event } : {}),
      ...(expired?.role === 'expired' && expired.event ? { expiredEvent: expired.event } : {}),
    };
  }
  const ws = bundle.channels.ws;
  if (ws) {
    profile.ws = { events: [], frames: {} };
    for (const frame of ws.ws) {
      const { discriminator } = frame;
      if (frame.role === 'event') profile.ws.events.push({ at: frame.at, ...(discriminator ? { discriminator } : {}), ...(frame.types ? { types: frame.types } : {}) });
      else if (discriminator) profile.ws.frames[frame.role] = discriminator;
    }
  }
  return profile;
}

function order(auth: ClientAuth): number {
  return { bearer: 0, basic: 1, header: 2, query: 3, none: 4 }[auth.kind];
}
