/**
 * The Specstream client SDK (`specstream/client`): typed by the generated catalog, for Node 20 and
 * browsers.
 *
 * ```ts
 * import { connect } from 'specstream/client';
 * for await (const event of connect({ url, token, types: ['grant.*'] })) {
 *   if (event.type === 'grant.created') console.log(event.data.grantId);
 * }
 * ```
 */
import type { EventType } from '../generated/catalog.js';
import type { Envelope, SpecstreamEvent } from '../generated/events.js';
import { connect, type ClientOptions, type ConnectOptions, type FilteredEvent, type Subscription } from './connect.js';
import { list, listPage, publish, type EventPage, type ListOptions, type NewEvent, type PublishOptions } from './rest.js';

export { backoffDelay, type BackoffOptions } from './backoff.js';
export {
  connect,
  streamQuery,
  type ClientOptions,
  type ConnectionState,
  type ConnectOptions,
  type DroppedNotice,
  type StateChange,
  type Subscription,
  type EventsMatching,
  type FilteredEvent,
  type SubscriptionEvents,
  type WebSocketConstructor,
  type WebSocketLike,
} from './connect.js';
export { BadRequestError, ForbiddenError, SpecstreamError, UnauthorizedError, errorFor, isRetryable, type ErrorBody } from './errors.js';
export { list, listPage, publish, type EventPage, type ListOptions, type NewEvent, type PublishOptions } from './rest.js';
export type { EventType } from '../generated/catalog.js';
export type { Envelope, EventDataMap, SpecstreamEvent } from '../generated/events.js';
export type { StreamDroppedData, WsStatusFrame } from '../generated/frames.js';

/** A client bound to one server and token. */
export interface SpecstreamClient {
  connect<const P extends string = never>(options?: Omit<ConnectOptions<P>, keyof ClientOptions>): Subscription<FilteredEvent<P>>;
  publish<T extends EventType>(event: NewEvent<T>, opts?: PublishOptions): Promise<Envelope<T>>;
  publish(events: readonly NewEvent[], opts?: PublishOptions): Promise<SpecstreamEvent[]>;
  list(options?: Omit<ListOptions, keyof ClientOptions>): AsyncGenerator<SpecstreamEvent, void>;
  listPage(options?: Omit<ListOptions, keyof ClientOptions>, cursor?: string): Promise<EventPage>;
}

/** Binds `url`, `token` and `fetch` once: `createClient({ url, token }).connect({ types: ['grant.*'] })`. */
export function createClient(base: ClientOptions): SpecstreamClient {
  return {
    connect: <const P extends string = never>(options: Omit<ConnectOptions<P>, keyof ClientOptions> = {}) => connect<P>({ ...base, ...options }),
    publish: ((body: NewEvent | readonly NewEvent[], opts?: PublishOptions) => publish(base, body as NewEvent, opts)) as SpecstreamClient['publish'],
    list: (options = {}) => list({ ...base, ...options }),
    listPage: (options = {}, cursor) => listPage({ ...base, ...options }, cursor),
  };
}
