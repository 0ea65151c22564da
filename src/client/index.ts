/**
 * The Specstream client SDK (`specstream/client`), for Node 20 and browsers. With the native bundle
 * it is typed by the generated catalog; given another bundle (`profile`, `specs` or
 * `specsFromServer`) it follows that bundle's paths, credentials, parameter names and frames.
 *
 * ```ts
 * import { connect } from 'specstream/client';
 * for await (const event of connect({ url, token, types: ['grant.*'] })) {
 *   if (event.type === 'grant.created') console.log(event.data.grantId);
 * }
 * for await (const event of connect({ url, token, specs: 'examples/audit-log' })) console.log(event.type, event.data);
 * ```
 */
import type { EventType } from '../generated/catalog.js';
import type { Envelope, SpecstreamEvent } from '../generated/events.js';
import {
  subscribe,
  type BundleClientOptions,
  type ClientOptions,
  type ConnectOptions,
  type FilteredEvent,
  type NativeClientOptions,
  type Subscription,
  type WireEvent,
} from './connect.js';
import type { WirePage } from './list-events.js';
import { loadProfile } from './load-profile.js';
import type { ClientProfile } from './profile.js';
import { listAny, listPageAny, publishAny, type EventPage, type ListOptions, type NewEvent, type NewWireEvent, type PublishOptions } from './rest.js';

export { backoffDelay, type BackoffOptions } from './backoff.js';
export {
  connect,
  queryValues,
  streamQuery,
  type BundleClientOptions,
  type BundleConnectOptions,
  type BundleSelection,
  type ClientOptions,
  type ConnectionState,
  type ConnectOptions,
  type DroppedNotice,
  type NativeClientOptions,
  type NativeConnectOptions,
  type NoBundle,
  type StateChange,
  type Subscription,
  type EventsMatching,
  type FilteredEvent,
  type SubscriptionEvents,
  type WebSocketConstructor,
  type WebSocketLike,
  type WireEvent,
} from './connect.js';
export { BadRequestError, ForbiddenError, ProfileError, SpecstreamError, UnauthorizedError, errorFor, isRetryable, type ErrorBody } from './errors.js';
export type { WirePage } from './list-events.js';
export { loadProfile, type BundleOptions } from './load-profile.js';
export { credentialsFor, envelopeId, envelopeParts, operationsOf, type ClientAuth, type ClientProfile, type OperationProfile, type QueryRole, type WireProfile } from './profile.js';
export { list, listPage, publish, type EventPage, type ListOptions, type NewEvent, type NewWireEvent, type PublishOptions } from './rest.js';
export { NATIVE_PROFILE } from '../generated/wire-profile.js';
export type { EventType } from '../generated/catalog.js';
export type { Envelope, EventDataMap, SpecstreamEvent } from '../generated/events.js';
export type { StreamDroppedData, WsStatusFrame } from '../generated/frames.js';

type CallOptions<O> = Omit<O, keyof ClientOptions>;

/** A client bound to one server, token and (the native) bundle. */
export interface SpecstreamClient {
  connect<const P extends string = never>(options?: CallOptions<ConnectOptions<P>>): Subscription<FilteredEvent<P>>;
  publish<T extends EventType>(event: NewEvent<T>, opts?: PublishOptions): Promise<Envelope<T>>;
  publish(events: readonly NewEvent[], opts?: PublishOptions): Promise<SpecstreamEvent[]>;
  list(options?: CallOptions<ListOptions>): AsyncGenerator<SpecstreamEvent, void>;
  listPage(options?: CallOptions<ListOptions>, cursor?: string): Promise<EventPage>;
}

/** A client bound to one server, token and bundle: events are the bundle's wire envelopes. */
export interface BundleClient {
  /** The bundle's profile, loaded once (on first use) for every call of this client. */
  profile(): Promise<ClientProfile>;
  connect<E = WireEvent>(options?: CallOptions<ConnectOptions>): Subscription<E, WireEvent>;
  publish(event: NewWireEvent, opts?: PublishOptions): Promise<WireEvent>;
  publish(events: readonly NewWireEvent[], opts?: PublishOptions): Promise<WireEvent[]>;
  list(options?: CallOptions<ListOptions>): AsyncGenerator<WireEvent, void>;
  listPage(options?: CallOptions<ListOptions>, cursor?: string): Promise<WirePage>;
}

/**
 * Binds `url`, `token` (and `keyId`), `fetch` and the bundle once:
 * `createClient({ url, token }).connect({ types: ['grant.*'] })`. With `specs` or `specsFromServer`
 * the bundle is read once, at the first call, and shared by every call of the client.
 */
export function createClient(base: BundleClientOptions): BundleClient;
export function createClient(base: ClientOptions): SpecstreamClient;
export function createClient(base: ClientOptions): SpecstreamClient | BundleClient {
  let loaded: Promise<ClientProfile> | undefined;
  const profile = () => (loaded ??= loadProfile(base));
  const bound = (): ClientOptions => {
    const { specs: _specs, specsFromServer: _fromServer, profile: _profile, ...rest } = base;
    return { ...rest, profile: { then: (resolve, reject) => profile().then(resolve, reject) } satisfies PromiseLike<ClientProfile> };
  };
  const native = base.profile === undefined && base.specs === undefined && base.specsFromServer === undefined;
  const options = native ? (): ClientOptions => base : bound;
  const client = {
    profile,
    connect: (callOptions: CallOptions<ConnectOptions> = {}) => subscribe({ ...options(), ...callOptions }),
    publish: (body: NewWireEvent | readonly NewWireEvent[], opts?: PublishOptions) => publishAny(options(), body, opts),
    list: (callOptions: CallOptions<ListOptions> = {}) => listAny({ ...options(), ...callOptions }),
    listPage: (callOptions: CallOptions<ListOptions> = {}, cursor?: string) => listPageAny({ ...options(), ...callOptions }, cursor),
  };
  // The overloads' types say what each kind of client yields; the calls underneath are the same.
  return client as unknown as SpecstreamClient & BundleClient;
}
