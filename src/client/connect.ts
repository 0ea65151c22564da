import type { EventType } from '../generated/catalog.js';
import type { SpecstreamEvent } from '../generated/events.js';
import type { WsStatusFrame } from '../generated/frames.js';
import { NATIVE_PROFILE } from '../generated/wire-profile.js';
import type { Attempt, DroppedNotice, Item } from './attempt.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { isRetryable, ProfileError, SpecstreamError } from './errors.js';
import { listOperationsFor, readMerged } from './list-events.js';
import { checkBundleOptions, loadProfile, type BundleOptions } from './load-profile.js';
import { credentialsFor, operationsOf, type ClientProfile, type OperationProfile, type QueryRole } from './profile.js';
import { sseAttempt } from './sse-attempt.js';
import { wsAttempt, type WebSocketConstructor } from './ws-attempt.js';
import { encodeReservedQuery } from './query-encoding.js';

export type { DroppedNotice } from './attempt.js';
export type { WebSocketConstructor, WebSocketLike } from './ws-attempt.js';

/**
 * The events a `types` filter lets through, as a type: an exact catalog type gives its envelope, a
 * trailing glob (`grant.*`) every type with that prefix; any other pattern (`*.created`) or a
 * non-literal string gives `SpecstreamEvent`.
 */
export type EventsMatching<P extends string> = P extends EventType
  ? Extract<SpecstreamEvent, { type: P }>
  : P extends `${infer Prefix}*`
    ? Prefix extends `${string}*${string}`
      ? SpecstreamEvent
      : [Extract<SpecstreamEvent, { type: `${Prefix}${string}` }>] extends [never]
        ? SpecstreamEvent
        : Extract<SpecstreamEvent, { type: `${Prefix}${string}` }>
    : SpecstreamEvent;

/** The event type of a subscription filtered by `P` (no filter: every event). */
export type FilteredEvent<P extends string> = [P] extends [never] ? SpecstreamEvent : EventsMatching<P>;

/**
 * An event as another bundle's envelope puts it on the wire (`{id, type, createdAt, data}`, the
 * payload itself with `@type`, ...): a JSON object. The bundle's generated `index.d.ts` has its
 * payload types.
 */
export type WireEvent = Record<string, unknown>;

/** A connection state, for UIs. `closed` is final. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Emitted on every state change. */
export interface StateChange {
  state: ConnectionState;
  /** Reconnect attempts since the last successful open (0 on the first connect). */
  attempt: number;
  /** With `reconnecting`: how long until the next attempt. */
  delayMs?: number;
  /** With `reconnecting`: what ended the previous connection, if it was a fault; with `closed`: a fatal error. */
  error?: unknown;
}

/** What a subscription reports besides events. `S` is the status frame (the native `WsStatusFrame`, or a bundle's). */
export interface SubscriptionEvents<S = WsStatusFrame> {
  state: StateChange;
  dropped: DroppedNotice;
  /** WebSocket only: the server's periodic `status` frame, as sent. */
  status: S;
}

/** Where the server is and who is calling; shared by `connect`, `publish`, `list` and `createClient`. */
export interface ClientOptions extends BundleOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /**
   * An API key secret, presented the way the bundle accepts (preferred first: `Authorization: Bearer`,
   * Basic, an API-key header, a query parameter such as `?token=`). Only a query parameter where
   * headers are impossible (a browser WebSocket). Absent: anonymous.
   */
  token?: string;
  /** The key id, for a bundle that accepts only Basic (`base64(keyId:token)`); or write the token as `id:secret`. */
  keyId?: string;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
}

/** Options of `connect()`. Query options mean what the bundle's query rules say. */
export interface ConnectOptions<P extends string = string> extends ClientOptions {
  /** Types or globs (`grant.*`), as an array (which also narrows the events' type) or a comma list; default: every type the token may read. */
  types?: readonly P[] | string;
  /** History from this time (RFC 3339 or a Date), then live. */
  since?: string | Date;
  /** End at this time (needs `since`). */
  until?: string | Date;
  /** History after this event id, then live. */
  sinceId?: string;
  /** End at this event id (needs `sinceId`). */
  untilId?: string;
  /** Resume after this event id (takes precedence over `since`/`sinceId`), e.g. a position saved by the application. */
  lastEventId?: string;
  /** `sse` or `ws`; default `sse` when the bundle has an SSE stream, else `ws`. */
  transport?: 'sse' | 'ws';
  /** Reconnect delays; defaults 250 ms to 8 s with jitter. */
  backoff?: BackoffOptions;
  /**
   * Silence longer than this on an open connection counts as a dead connection and reconnects.
   * Defaults to 65 s: two of the server's default 30 s heartbeats, plus slack.
   */
  heartbeatTimeoutMs?: number;
  /** The WebSocket constructor; defaults to the `ws` package in Node and to the global one in browsers. */
  WebSocket?: WebSocketConstructor;
  /** Paths of the stream operations, replacing the bundle's (e.g. behind a proxy that rewrites them). */
  paths?: { sse?: string; ws?: string; head?: string };
  /**
   * Called before every connection attempt for the credential to present (instead of `token`),
   * e.g. a short-lived JWT from your backend's `POST /v1/tokens`. When the server ends a stream
   * because its token expired (SSE `stream.expired`, WebSocket `error` `TOKEN_EXPIRED`), or refuses
   * an expired one with 401 `TOKEN_EXPIRED`, the subscription calls it again and resumes after the
   * last event delivered: nothing is lost or repeated. Its rejection ends the subscription.
   */
  getToken?: () => string | Promise<string>;
}

/** Codes with which a server ends a stream whose credentials ended; a fresh token continues it. */
const CREDENTIAL_ENDED = new Set(['TOKEN_EXPIRED', 'CREDENTIALS_REVOKED']);

/** Options that choose a bundle other than the native one (exactly one of the three). */
export type BundleSelection = { profile: NonNullable<BundleOptions['profile']> } | { specs: string } | { specsFromServer: true | string };

/** Options that choose no bundle: the native one, whose events the generated catalog types. */
export type NoBundle = { profile?: undefined; specs?: undefined; specsFromServer?: undefined };

/** `ClientOptions` of another bundle. */
export type BundleClientOptions = ClientOptions & BundleSelection;

/** `ClientOptions` of the native bundle. */
export type NativeClientOptions = ClientOptions & NoBundle;

/** `ConnectOptions` of another bundle. */
export type BundleConnectOptions = ConnectOptions & BundleSelection;

/** `ConnectOptions` of the native bundle. */
export type NativeConnectOptions<P extends string = string> = ConnectOptions<P> & NoBundle;

/** A live subscription: an async iterator of events that reconnects by itself. */
export interface Subscription<E = SpecstreamEvent, S = WsStatusFrame> extends AsyncIterableIterator<E> {
  /** The current connection state. */
  readonly state: ConnectionState;
  /** The id of the last event delivered (the envelope's id, or its SSE `id:` line); where a reconnect resumes. */
  readonly lastEventId: string | undefined;
  /**
   * The catalog type of the last event delivered: the envelope's type field, the SSE event name, or
   * the WebSocket frame's (for bundles whose envelope carries no type, e.g. the SIEM `event`/`alert` frames).
   */
  readonly lastEventType: string | undefined;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof SubscriptionEvents<S>>(name: K, listener: (payload: SubscriptionEvents<S>[K]) => void): () => void;
  /** Stops for good: closes the connection, ends iteration. Safe to call twice. */
  close(): void;
}

class StaleConnection extends SpecstreamError {
  override name = 'StaleConnection';
  constructor(ms: number) {
    super(0, 'STALE_CONNECTION', `no data for ${ms} ms`);
  }
}

function toTime(value: string | Date): string {
  return value instanceof Date ? value.toISOString() : value;
}

/** The query values of the options, by role (without resume point). */
export function queryValues(options: Pick<ConnectOptions, 'types' | 'since' | 'until' | 'sinceId' | 'untilId'>): Partial<Record<QueryRole, string>> {
  const values: Partial<Record<QueryRole, string>> = {};
  const types = typeof options.types === 'string' ? options.types : options.types?.join(',');
  if (types) values.types = types;
  if (options.since !== undefined) values.since = toTime(options.since);
  if (options.until !== undefined) values.until = toTime(options.until);
  if (options.sinceId !== undefined) values.since_id = options.sinceId;
  if (options.untilId !== undefined) values.until_id = options.untilId;
  return values;
}

/**
 * The stream query of the options (without resume point), with the parameter names `names` (by
 * role; default the native bundle's).
 *
 * @throws ProfileError `UNSUPPORTED_OPTION` for an option the names have no parameter for.
 */
export function streamQuery(
  options: Pick<ConnectOptions, 'types' | 'since' | 'until' | 'sinceId' | 'untilId'>,
  names: Partial<Record<QueryRole, string>> = NATIVE_PROFILE.params,
): URLSearchParams {
  const query = new URLSearchParams();
  for (const [role, value] of Object.entries(queryValues(options)) as [QueryRole, string][]) {
    const name = names[role];
    if (name === undefined) throw new ProfileError('UNSUPPORTED_OPTION', `the stream takes no ${role} parameter`);
    query.set(name, value);
  }
  return query;
}

/** Where the history read from the list operations starts: after an id, or from a time. */
type From = { sinceId: string } | { since: string };

/** What one attempt sends, and the history it must read from the list operations first (a stream that cannot start there by itself). */
interface Plan {
  query: URLSearchParams;
  headers: Record<string, string>;
  /** The `types` value sent, for the list operations. */
  types: string | undefined;
  backfill: From | undefined;
}

/**
 * The request of one attempt. A resume point goes where the operation takes it: the resume header
 * (SSE `Last-Event-ID`), the resume query alias, else `since_id`. A start the operation has no
 * parameter for (`since_id`, `since`) starts the stream live and reads the history from the
 * bundle's list operations (`backfill`), if it has any; otherwise it is a ProfileError.
 */
function planAttempt(
  op: OperationProfile,
  transport: 'sse' | 'ws',
  options: ConnectOptions,
  start: { resumeId?: string | undefined; openedAt?: string | undefined },
  canBackfill: boolean,
  where: string,
): Plan {
  const names = op.query;
  const values = queryValues(options);
  const headers: Record<string, string> = {};
  let backfill: From | undefined;
  const unsupported = (what: string) => new ProfileError('UNSUPPORTED_OPTION', `${where} takes no ${what} parameter`);
  if (start.resumeId !== undefined) {
    const id = start.resumeId;
    if (transport === 'sse' && op.resumeHeader !== undefined) headers[op.resumeHeader] = id;
    else if (names.last_event_id !== undefined) values.last_event_id = id;
    else {
      delete values.since;
      values.since_id = id;
    }
  } else if (start.openedAt !== undefined && (names.since !== undefined || canBackfill)) {
    values.since = start.openedAt; // otherwise the stream starts live again
  }
  if (values.since_id !== undefined && names.since_id === undefined) {
    if (!canBackfill) throw unsupported(start.resumeId !== undefined ? 'resume (last_event_id or since_id)' : 'since_id');
    backfill = { sinceId: values.since_id };
    delete values.since_id;
    delete values.since;
  } else if (values.since !== undefined && names.since === undefined) {
    if (!canBackfill) throw unsupported('since');
    backfill = { since: values.since };
    delete values.since;
  }
  const query = new URLSearchParams();
  for (const [role, value] of Object.entries(values) as [QueryRole, string][]) {
    const name = names[role];
    if (name === undefined) throw unsupported(role);
    query.set(name, value);
  }
  return { query, headers, types: values.types, backfill };
}

class EventSubscription implements Subscription<unknown, unknown> {
  #state: ConnectionState = 'connecting';
  #lastEventId: string | undefined;
  #lastEventType: string | undefined;
  #closed = false;
  #current: AbortController | undefined;
  #wake: (() => void) | undefined;
  readonly #listeners: { [K in keyof SubscriptionEvents<unknown>]: Set<(payload: SubscriptionEvents<unknown>[K]) => void> } = {
    state: new Set(),
    dropped: new Set(),
    status: new Set(),
  };
  readonly #iterator: AsyncGenerator<unknown, undefined>;
  readonly #options: ConnectOptions;

  constructor(options: ConnectOptions) {
    if (typeof options.url !== 'string' || options.url === '') throw new TypeError('connect(): `url` is required');
    checkBundleOptions(options);
    this.#options = options;
    this.#lastEventId = options.lastEventId;
    this.#iterator = this.#run();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  get lastEventType(): string | undefined {
    return this.#lastEventType;
  }

  on<K extends keyof SubscriptionEvents<unknown>>(name: K, listener: (payload: SubscriptionEvents<unknown>[K]) => void): () => void {
    const set = this.#listeners[name] as Set<(payload: SubscriptionEvents<unknown>[K]) => void>;
    set.add(listener);
    return () => set.delete(listener);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#current?.abort(new SpecstreamError(0, 'CLOSED', 'subscription closed'));
    this.#wake?.();
    if (this.#state !== 'closed') this.#setState({ state: 'closed', attempt: 0 });
    // Ends an iteration that has not started or is suspended at a yield.
    void this.#iterator.return(undefined).catch(() => {});
  }

  next(): Promise<IteratorResult<unknown, undefined>> {
    return this.#iterator.next();
  }

  async return(): Promise<IteratorResult<unknown, undefined>> {
    this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #emit<K extends keyof SubscriptionEvents<unknown>>(name: K, payload: SubscriptionEvents<unknown>[K]): void {
    for (const listener of this.#listeners[name]) {
      try {
        listener(payload);
      } catch {
        // a listener's fault must not break the stream
      }
    }
  }

  #setState(change: StateChange): void {
    this.#state = change.state;
    this.#emit('state', change);
  }

  /** The events of `item` not seen yet (ids strictly increase in log order: anything not after our position is a repeat). */
  #accept(id: string | undefined, type: string | undefined): boolean {
    if (id !== undefined && this.#lastEventId !== undefined && id <= this.#lastEventId) return false;
    if (id !== undefined) this.#lastEventId = id;
    this.#lastEventType = type;
    return true;
  }

  async *#run(): AsyncGenerator<unknown, undefined> {
    const options = this.#options;
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 65_000;
    let profile: ClientProfile | undefined;
    let attempt = 0;
    // A live-only subscription that has seen no event and no resume point (an empty log, or a bundle
    // without a resume-point frame) resumes from when it first opened, by the client's clock.
    let openedAt: string | undefined;
    let fatal: unknown;
    this.#setState({ state: 'connecting', attempt: 0 });
    try {
      while (!this.#closed) {
        const controller = new AbortController();
        this.#current = controller;
        let finished = false;
        let failure: unknown;
        let credentialsEnded = false;
        try {
          profile ??= await loadProfile(options);
          const token = options.getToken ? await options.getToken() : options.token;
          const auth = token === undefined ? { ...options, token: undefined } : { ...options, token };
          const operations = operationsOf(profile);
          const transport = options.transport ?? (operations.sse ? 'sse' : 'ws');
          const given = transport === 'sse' ? operations.sse : operations.ws;
          if (!given) throw new ProfileError('NO_OPERATION', `the bundle "${profile.name}" has no ${transport === 'sse' ? 'SSE' : 'WebSocket'} stream (x-specstream-operation: stream-${transport})`);
          const path = options.paths?.[transport];
          const op = path === undefined ? given : { ...given, path };
          const where = `${op.path} (${transport})`;
          const resumeId = this.#lastEventId;
          const openedAtStart = resumeId === undefined && options.since === undefined && options.sinceId === undefined ? openedAt : undefined;
          const plan = planAttempt(op, transport, options, { resumeId, openedAt: openedAtStart }, operations.lists.length > 0, where);
          const credentials = credentialsFor(op.auth, auth, where);
          const url = new URL(op.path, options.url);
          url.search = plan.query.toString();
          for (const [name, value] of Object.entries(credentials.query)) url.searchParams.set(name, value);
          encodeReservedQuery(url);
          const ctx: Attempt = {
            profile,
            op,
            url,
            headers: { ...plan.headers, ...credentials.headers },
            browserQuery: () => credentialsFor(op.auth, auth, where, false).query,
            check: operations.head ? this.#checkRequest(operations.head, auth, plan, op) : undefined,
            signal: controller.signal,
            heartbeatTimeoutMs,
            opened: () => {
              attempt = 0;
              openedAt ??= new Date().toISOString();
              this.#setState({ state: 'open', attempt: 0 });
            },
            finish: () => (finished = true),
            stale: () => controller.abort(new StaleConnection(heartbeatTimeoutMs)),
          };
          const items: AsyncGenerator<Item> = transport === 'sse' ? sseAttempt(ctx, fetchImpl) : wsAttempt(ctx, options.WebSocket, fetchImpl);
          for await (const item of items) {
            if (item.kind === 'opened') {
              // A stream that cannot start where we are: read the gap from the list operations first
              // (the live stream is already subscribed, so nothing falls between the two).
              if (plan.backfill !== undefined) {
                const ops = listOperationsFor(profile, operations.lists, plan.types);
                const values = { ...('sinceId' in plan.backfill ? { since_id: plan.backfill.sinceId } : { since: plan.backfill.since }), ...(plan.types ? { types: plan.types } : {}) };
                const listed = readMerged(profile, ops, { url: options.url, token: auth.token, keyId: options.keyId, fetch: fetchImpl, signal: controller.signal, values });
                for await (const entry of listed) if (this.#accept(entry.id, entry.type)) yield entry.event;
              }
            } else if (item.kind === 'event') {
              if (this.#accept(item.id, item.type)) yield item.event;
            } else if (item.kind === 'position') {
              // Nothing delivered yet: a reconnect resumes after the newest event this stream could have shown.
              this.#lastEventId ??= item.id;
            } else if (item.kind === 'dropped') this.#emit('dropped', item.notice);
            else if (item.kind === 'expired') credentialsEnded = true;
            else this.#emit('status', item.frame);
          }
        } catch (error) {
          if (this.#closed) return undefined;
          const cause = controller.signal.aborted ? (controller.signal.reason as unknown) : error;
          const ended = cause instanceof SpecstreamError && CREDENTIAL_ENDED.has(cause.code);
          // A token that expired (or was revoked) is renewable when there is `getToken`, whatever the status.
          credentialsEnded ||= ended && (cause.status === 0 || options.getToken !== undefined);
          if (!credentialsEnded && (cause instanceof ProfileError || (cause instanceof SpecstreamError && !isRetryable(cause.status)))) {
            fatal = cause;
            throw cause;
          }
          failure = cause;
        } finally {
          controller.abort();
        }
        if (finished || this.#closed) return undefined;
        // The server ended the stream for its token: reconnect at once (with a fresh one), not after a backoff.
        const delayMs = credentialsEnded && attempt === 0 ? 0 : backoffDelay(attempt, options.backoff);
        attempt++;
        this.#setState({ state: 'reconnecting', attempt, delayMs, ...(failure === undefined ? {} : { error: failure }) });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
      return undefined;
    } finally {
      this.#closed = true;
      this.#current = undefined;
      if (this.#state !== 'closed') this.#setState({ state: 'closed', attempt: 0, ...(fatal === undefined ? {} : { error: fatal }) });
    }
  }

  /** The `HEAD` check of the stream's query (without the resume point), with the HEAD operation's names and credentials. */
  #checkRequest(head: OperationProfile, options: ConnectOptions, plan: Plan, op: OperationProfile): Attempt['check'] {
    const url = new URL(this.#options.paths?.head ?? head.path, options.url);
    for (const [role, name] of Object.entries(op.query) as [QueryRole, string][]) {
      const value = plan.query.get(name);
      const headName = head.query[role];
      if (value !== null && role !== 'last_event_id' && headName !== undefined) url.searchParams.set(headName, value);
    }
    try {
      const credentials = credentialsFor(head.auth, options, head.path);
      for (const [name, value] of Object.entries(credentials.query)) url.searchParams.set(name, value);
      return { url: encodeReservedQuery(url), headers: credentials.headers };
    } catch {
      return undefined;
    }
  }
}

/**
 * Subscribes to the event stream over SSE or WebSocket. Iterate the result with `for await`. With
 * the native bundle, events are typed by the catalog (`SpecstreamEvent`, discriminated by `type`);
 * with another bundle (`profile`, `specs` or `specsFromServer`) they are that bundle's wire
 * envelopes, and paths, parameter names, credentials and frames all follow the bundle.
 *
 * It reconnects on network faults, 5xx, 429 and silence (exponential backoff 250 ms to 8 s with
 * jitter), resuming after the last delivered id (`Last-Event-ID`, the bundle's resume parameter, or
 * `since_id`; for a stream that takes none of them, the gap is read from the bundle's list
 * operations), so nothing is missed or repeated. It stops when the server says the stream is over
 * (`204`, or a WebSocket `end` frame with `until_reached`). A 400, 401 or 403 is thrown from the
 * iterator as `BadRequestError`, `UnauthorizedError` or `ForbiddenError`, and options the bundle
 * cannot honour as `ProfileError`, without retrying. Connection is lazy: it starts at the first `next()`.
 *
 * Typing: options whose type shows a bundle choice (`profile`, `specs` or `specsFromServer` present)
 * yield `WireEvent`s (or the type given as `E`); any other options are typed as the native bundle's.
 */
export function connect<E = WireEvent>(options: BundleConnectOptions): Subscription<E, WireEvent>;
export function connect<const P extends string = never>(options: ConnectOptions<P>): Subscription<FilteredEvent<P>>;
export function connect(options: ConnectOptions): Subscription<unknown, unknown> {
  return subscribe(options);
}

/** `connect()` without the overloads' typing, for callers whose options may or may not choose a bundle. */
export function subscribe(options: ConnectOptions): Subscription<unknown, unknown> {
  return new EventSubscription(options);
}
