/**
 * What the SDK needs of a bundle (docs/bundles.md) to talk to a server that serves it: the bundle's
 * wire profile (src/bundle/wire-profile.ts: paths, auth, parameter names, SSE/WS framing, envelope
 * keys) plus per-operation details (which parameters each stream accepts, every list operation with
 * its types, the publish batch form, the field names of non-event frames). Plain JSON, so it works in
 * browsers too; this module imports no bundle code (the Node-only loaders are in bundle-profile.ts).
 */
import type { ClientAuth, WireProfile } from '../bundle/wire-profile.js';
import { ProfileError } from './errors.js';

export type { ClientAuth, WireProfile } from '../bundle/wire-profile.js';

/** The query parameter roles a client sends. */
export type QueryRole = 'types' | 'since' | 'until' | 'since_id' | 'until_id' | 'last_event_id' | 'limit' | 'cursor';

/** One operation of the bundle as a client calls it. */
export interface OperationProfile {
  /** The path, e.g. `/v1/events/stream` (a list or stream path has no template parameters). */
  path: string;
  /** Accepted credentials, preferred first (bearer, basic, header, query, none). */
  auth: ClientAuth[];
  /** The query parameter names this operation declares, by role (the first alias of each). */
  query: Partial<Record<QueryRole, string>>;
  /** The header carrying the resume point (`Last-Event-ID`), when the operation declares one. */
  resumeHeader?: string;
  /** The catalog types or globs the operation is restricted to; undefined: the whole catalog. */
  types?: readonly string[];
}

/** Field names of a non-event frame, by what they carry (`{count: 'count', first_missing_id: 'first'}`). */
export type FrameFields = Record<string, string>;

/**
 * A bundle's wire profile with the per-operation details the SDK uses. Every extra is optional:
 * a plain `wireProfile(bundle)` works too, with each operation taking the profile's `auth` and
 * `params` (see {@link operationsOf}).
 */
export interface ClientProfile extends WireProfile {
  operations?: {
    sse?: OperationProfile;
    ws?: OperationProfile;
    /** The `HEAD` permission check of the stream (`check-stream`). */
    head?: OperationProfile;
    /** `batch`: how a batch is sent (`array`: a JSON array; `events`: `{events: [...]}`); undefined: no batch form. */
    publish?: OperationProfile & { batch?: 'array' | 'events' };
    /** Every `list` operation (a bundle may list each type family at its own path). */
    lists?: OperationProfile[];
  };
  /** Field names of the non-event frames (from their field maps); defaults are the native names. */
  fields?: {
    sseDropped?: FrameFields;
    wsPosition?: FrameFields;
    wsEnd?: FrameFields;
    wsDropped?: FrameFields;
    wsError?: FrameFields;
  };
  /**
   * The envelope's field map: each wire key with the stored field it carries (`$event.subject`) or
   * `const`, and the spread expression if the map spreads one (`$event.data`: the payload's
   * properties sit at the top level). Absent: the CloudEvents envelope.
   */
  envelopeMap?: { keys: Record<string, string>; spread?: string };
}

/** The operations of a profile, each filled in (from the profile's summary when it has no `operations`). */
export interface ProfileOperations {
  sse?: OperationProfile;
  ws?: OperationProfile;
  head?: OperationProfile;
  publish?: OperationProfile & { batch?: 'array' | 'events' };
  lists: OperationProfile[];
}

/** The operations of `profile`, filled in from `paths`, `auth` and `params` where `operations` says nothing. */
export function operationsOf(profile: ClientProfile): ProfileOperations {
  const given = profile.operations ?? {};
  const query = profile.params as Partial<Record<QueryRole, string>>;
  const summary = (path: string | undefined, extra: Partial<OperationProfile> = {}): OperationProfile | undefined =>
    path === undefined ? undefined : { path, auth: profile.auth, query, ...extra };
  const { last_event_id: _resume, limit: _limit, cursor: _cursor, ...streamQuery } = query;
  // `Last-Event-ID` is the header every EventSource sends (WHATWG HTML), the default resume header of a bundle.
  const sse = given.sse ?? summary(profile.paths.sse, { resumeHeader: 'Last-Event-ID' });
  const ws = given.ws ?? summary(profile.paths.ws);
  const head = given.head ?? summary(profile.paths.head, { query: streamQuery });
  const publish =
    given.publish ?? (profile.paths.publish === undefined ? undefined : { path: profile.paths.publish, auth: profile.auth, query: {}, batch: 'array' as const });
  const lists = given.lists ?? (profile.paths.list === undefined ? [] : [summary(profile.paths.list)!]);
  return { ...(sse ? { sse } : {}), ...(ws ? { ws } : {}), ...(head ? { head } : {}), ...(publish ? { publish } : {}), lists };
}

/** How to present a credential: headers and query parameters to add. */
export interface Credentials {
  headers: Record<string, string>;
  query: Record<string, string>;
}

/**
 * The credentials for an operation that accepts `auth`, from `token` (and `keyId` for Basic).
 * Without a token the call is anonymous. Basic takes `keyId` and `token`, or a token written
 * `id:secret`. `headers: false` (a browser WebSocket) allows only a query parameter.
 *
 * @throws ProfileError `NO_CREDENTIAL_SCHEME` when the token cannot be presented in any accepted way.
 */
export function credentialsFor(
  auth: readonly ClientAuth[],
  options: { token?: string | undefined; keyId?: string | undefined },
  where: string,
  canSendHeaders = true,
): Credentials {
  const { token, keyId } = options;
  if (token === undefined) return { headers: {}, query: {} };
  for (const scheme of auth) {
    if (scheme.kind === 'query') return { headers: {}, query: { [scheme.param]: token } };
    if (!canSendHeaders) continue;
    if (scheme.kind === 'bearer') return { headers: { Authorization: `Bearer ${token}` }, query: {} };
    if (scheme.kind === 'header') return { headers: { [scheme.header]: token }, query: {} };
    if (scheme.kind === 'basic') {
      const colon = token.indexOf(':');
      const pair = keyId !== undefined ? `${keyId}:${token}` : colon > 0 ? token : undefined;
      if (pair !== undefined) return { headers: { Authorization: `Basic ${base64(pair)}` }, query: {} };
    }
  }
  // An operation open to anonymous callers only (or in this setting): call it without the token.
  if (auth.some((scheme) => scheme.kind === 'none')) return { headers: {}, query: {} };
  const accepted = auth.map((scheme) => scheme.kind).join(', ') || 'none';
  const hint = auth.some((scheme) => scheme.kind === 'basic') ? ' (Basic needs `keyId`, or the token written as id:secret)' : '';
  const browser = canSendHeaders ? '' : ' from a browser WebSocket, which can send no header';
  throw new ProfileError('NO_CREDENTIAL_SCHEME', `${where} accepts ${accepted}: the token cannot be presented${browser}${hint}`);
}

/** UTF-8 base64 (RFC 4648), in Node and browsers alike. */
function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * The envelope's event id (the profile's id key), if it carries one as a string.
 */
export function envelopeId(profile: ClientProfile, envelope: unknown): string | undefined {
  const key = profile.envelope.id;
  if (key === undefined || envelope === null || typeof envelope !== 'object') return undefined;
  const value = (envelope as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}

/** The parts of a wire envelope a display needs: id, type, time, subject and data (undefined when not carried). */
export function envelopeParts(
  profile: ClientProfile,
  envelope: Record<string, unknown>,
): { id?: unknown; type?: unknown; time?: unknown; subject?: unknown; data?: unknown } {
  const keys = profile.envelope;
  const map = profile.envelopeMap;
  const subjectKey = map ? Object.entries(map.keys).find(([, expression]) => expression === '$event.subject')?.[0] : 'subject';
  let data: unknown = keys.data === undefined ? undefined : envelope[keys.data];
  if (keys.data === undefined && map?.spread === '$event.data') {
    data = Object.fromEntries(Object.entries(envelope).filter(([key]) => !(key in map.keys)));
  }
  const pick = (key: string | undefined) => (key === undefined ? undefined : envelope[key]);
  return { id: pick(keys.id), type: pick(keys.type), time: pick(keys.time), subject: pick(subjectKey), data };
}
