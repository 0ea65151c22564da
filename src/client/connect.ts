import { createParser } from 'eventsource-parser';
import type { EventType } from '../generated/catalog.js';
import type { SpecstreamEvent } from '../generated/events.js';
import type { StreamDroppedData, WsStatusFrame } from '../generated/frames.js';
import { AsyncQueue } from './async-queue.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { errorFor, isRetryable, SpecstreamError } from './errors.js';

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

/** A subscription's connection state, for UIs. `closed` is final. */
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

/** Events a subscription was told it will never see (it fell behind the server's retention). */
export interface DroppedNotice {
  count: number;
  first_missing_id?: string;
  last_missing_id?: string;
  /** SSE only: a `GET /v1/events` path that would have listed them while they were retained. */
  backfill_url?: string;
}

/** What a subscription reports besides events. */
export interface SubscriptionEvents {
  state: StateChange;
  dropped: DroppedNotice;
  /** WebSocket only: the server's periodic `status` frame. */
  status: WsStatusFrame;
}

/** The WebSocket constructor shape the SDK needs (the browser's, or `ws` in Node). */
export type WebSocketLike = {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
};
export type WebSocketConstructor = new (url: string, options?: unknown) => WebSocketLike;

/** Where the server is and who is calling; shared by `connect`, `publish` and `list`. */
export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API key secret. Sent as `Authorization: Bearer`, or as `?token=` where headers are impossible (a browser WebSocket). */
  token?: string;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
}

/** Options of `connect()`. Query options mean what the spec's query rules say. */
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
  /** `sse` (default) or `ws`. */
  transport?: 'sse' | 'ws';
  /** Reconnect delays; defaults 250 ms to 8 s with jitter. */
  backoff?: BackoffOptions;
  /**
   * Silence longer than this on an open connection counts as a dead connection and reconnects.
   * Defaults to 65 s: two of the server's default 30 s heartbeats, plus slack.
   */
  heartbeatTimeoutMs?: number;
  /** The WebSocket constructor; defaults to the global one, else the `ws` package (Node 20). */
  WebSocket?: WebSocketConstructor;
  /** Paths of the operations (`streamEvents`, `streamEventsWebSocket`); default to the spec's. */
  paths?: { sse?: string; ws?: string; head?: string };
}

type Item =
  | { kind: 'event'; event: SpecstreamEvent }
  | { kind: 'dropped'; notice: DroppedNotice }
  | { kind: 'status'; frame: WsStatusFrame }
  /** A live-only stream's resume point (SSE `stream.position`, WS `position`): where a reconnect resumes before any event arrived. */
  | { kind: 'position'; id: string };

interface Attempt {
  url: URL;
  headers: Record<string, string>;
  signal: AbortSignal;
  heartbeatTimeoutMs: number;
  /** Called once the server accepted the stream. */
  opened(): void;
  /** Called when the server says the stream is over (204, or `end` with `until_reached`). */
  finish(): void;
  /** Aborts this attempt as dead (silence past the heartbeat timeout). */
  stale(): void;
}

/** A live subscription: an async iterator of typed events that reconnects by itself. */
export interface Subscription<E = SpecstreamEvent> extends AsyncIterableIterator<E> {
  /** The current connection state. */
  readonly state: ConnectionState;
  /** The id of the last event delivered; where a reconnect resumes. */
  readonly lastEventId: string | undefined;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof SubscriptionEvents>(name: K, listener: (payload: SubscriptionEvents[K]) => void): () => void;
  /** Stops for good: closes the connection, ends iteration. Safe to call twice. */
  close(): void;
}

const DEFAULT_PATHS = { sse: '/v1/events/stream', ws: '/v1/events/ws', head: '/v1/events/stream' };

class StaleConnection extends SpecstreamError {
  override name = 'StaleConnection';
  constructor(ms: number) {
    super(0, 'STALE_CONNECTION', `no data for ${ms} ms`);
  }
}

function toTime(value: string | Date): string {
  return value instanceof Date ? value.toISOString() : value;
}

/** The stream query of the options (without resume point). */
export function streamQuery(options: Pick<ConnectOptions, 'types' | 'since' | 'until' | 'sinceId' | 'untilId'>): URLSearchParams {
  const query = new URLSearchParams();
  const types = typeof options.types === 'string' ? options.types : options.types?.join(',');
  if (types) query.set('types', types);
  if (options.since !== undefined) query.set('since', toTime(options.since));
  if (options.until !== undefined) query.set('until', toTime(options.until));
  if (options.sinceId !== undefined) query.set('since_id', options.sinceId);
  if (options.untilId !== undefined) query.set('until_id', options.untilId);
  return query;
}

function parseEnvelope(text: string): SpecstreamEvent {
  try {
    return JSON.parse(text) as SpecstreamEvent;
  } catch (error) {
    throw new SpecstreamError(0, 'PROTOCOL', `not JSON: ${text.slice(0, 120)}`, undefined, { cause: error });
  }
}

/** One SSE connection, read with eventsource-parser only as fast as the consumer pulls. */
async function* sseAttempt(attempt: Attempt, fetchImpl: typeof fetch): AsyncGenerator<Item> {
  const response = await fetchImpl(attempt.url, {
    headers: { Accept: 'text/event-stream', ...attempt.headers },
    signal: attempt.signal,
    cache: 'no-store',
  });
  if (response.status === 204) {
    attempt.finish();
    return;
  }
  if (!response.ok || !response.body) {
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    throw errorFor(response.status, body as never, `HTTP ${response.status}`);
  }
  attempt.opened();
  const pending: Item[] = [];
  let protocolError: SpecstreamError | undefined;
  const parser = createParser({
    onEvent(message) {
      if (message.event === 'stream.position') {
        if (message.id) pending.push({ kind: 'position', id: message.id });
        return;
      }
      if (message.event === 'stream.dropped') {
        pending.push({ kind: 'dropped', notice: JSON.parse(message.data) as DroppedNotice });
        return;
      }
      try {
        pending.push({ kind: 'event', event: parseEnvelope(message.data) });
      } catch (error) {
        protocolError ??= error as SpecstreamError;
      }
    },
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const timer = setTimeout(() => attempt.stale(), attempt.heartbeatTimeoutMs);
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) return;
      parser.feed(decoder.decode(chunk.value, { stream: true }));
      while (pending.length > 0) yield pending.shift()!;
      if (protocolError) throw protocolError;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

let wsModule: Promise<WebSocketConstructor> | undefined;

/** The `ws` package, loaded only where there is no global WebSocket (Node 20). */
function nodeWebSocket(): Promise<WebSocketConstructor> {
  const specifier = 'ws'; // a variable, so browser bundlers leave it alone
  wsModule ??= import(/* @vite-ignore */ specifier).then((m: { WebSocket: WebSocketConstructor }) => m.WebSocket);
  return wsModule;
}

/** One WebSocket connection. A refused upgrade is classified by a HEAD of the stream (same query, same auth). */
async function* wsAttempt(attempt: Attempt, options: ConnectOptions, fetchImpl: typeof fetch): AsyncGenerator<Item> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  const Ctor = options.WebSocket ?? global ?? (await nodeWebSocket());
  const canSendHeaders = !options.WebSocket && !global; // only the `ws` package takes headers
  const url = new URL(attempt.url);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (!canSendHeaders && options.token !== undefined) url.searchParams.set('token', options.token);
  const queue = new AsyncQueue<Item | { kind: 'end'; reason: string } | { kind: 'opened' }>();
  const socket = canSendHeaders ? new Ctor(url.href, { headers: attempt.headers }) : new Ctor(url.href);
  let opened = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const alive = () => {
    clearTimeout(timer);
    timer = setTimeout(() => attempt.stale(), attempt.heartbeatTimeoutMs);
  };
  const onAbort = () => {
    socket.close(1000);
    queue.fail(attempt.signal.reason);
  };
  attempt.signal.addEventListener('abort', onAbort, { once: true });
  // The `ws` package surfaces the server's pings (browsers answer them invisibly): they prove liveness too.
  (socket as { on?: (event: 'ping', listener: () => void) => void }).on?.('ping', () => alive());
  socket.onopen = () => {
    opened = true;
    alive();
    queue.push({ kind: 'opened' });
  };
  socket.onmessage = (message) => {
    alive();
    let frame: { type?: string } & Record<string, unknown>;
    try {
      frame = JSON.parse(String(message.data)) as typeof frame;
    } catch {
      queue.fail(new SpecstreamError(0, 'PROTOCOL', 'WebSocket frame is not JSON'));
      return;
    }
    if (frame.type === 'event') queue.push({ kind: 'event', event: frame.event as SpecstreamEvent });
    else if (frame.type === 'status') queue.push({ kind: 'status', frame: frame as unknown as WsStatusFrame });
    else if (frame.type === 'position' && typeof frame.id === 'string') queue.push({ kind: 'position', id: frame.id });
    else if (frame.type === 'dropped') queue.push({ kind: 'dropped', notice: frame as unknown as DroppedNotice });
    else if (frame.type === 'end') queue.push({ kind: 'end', reason: String(frame.reason) });
    else if (frame.type === 'error') queue.fail(new SpecstreamError(0, String(frame.code), String(frame.message)));
  };
  socket.onerror = () => {}; // onclose follows and decides
  socket.onclose = () => {
    if (opened) queue.end();
    else queue.fail(new SpecstreamError(0, 'NETWORK', 'WebSocket closed before opening'));
  };
  try {
    for (;;) {
      let next: IteratorResult<Item | { kind: 'end'; reason: string } | { kind: 'opened' }>;
      try {
        next = await queue.next();
      } catch (error) {
        if (!opened && !attempt.signal.aborted) await classifyRefusal(attempt, fetchImpl);
        throw error;
      }
      if (next.done) return;
      const item = next.value;
      if (item.kind === 'opened') attempt.opened();
      else if (item.kind === 'end') {
        if (item.reason === 'until_reached') attempt.finish();
        return;
      } else yield item;
    }
  } finally {
    clearTimeout(timer);
    attempt.signal.removeEventListener('abort', onAbort);
    socket.onmessage = null;
    socket.onclose = null;
    socket.close(1000);
  }
}

/** A browser cannot read a refused upgrade's status: ask `HEAD` of the stream, which answers 200/400/401/403. */
async function classifyRefusal(attempt: Attempt, fetchImpl: typeof fetch): Promise<void> {
  let status: number;
  try {
    const head = new URL(attempt.url);
    head.pathname = head.pathname.replace(/\/[^/]*$/, '') + '/stream';
    // HEAD checks permission and the query rules; it takes no resume point (that is never a refusal reason).
    head.searchParams.delete('last_event_id');
    status = (await fetchImpl(head, { method: 'HEAD', headers: attempt.headers, signal: attempt.signal })).status;
  } catch {
    return;
  }
  if (status >= 400 && !isRetryable(status)) throw errorFor(status, undefined, `the server refused the stream with ${status}`);
}

class EventSubscription implements Subscription {
  #state: ConnectionState = 'connecting';
  #lastEventId: string | undefined;
  #closed = false;
  #current: AbortController | undefined;
  #wake: (() => void) | undefined;
  readonly #listeners: { [K in keyof SubscriptionEvents]: Set<(payload: SubscriptionEvents[K]) => void> } = {
    state: new Set(),
    dropped: new Set(),
    status: new Set(),
  };
  readonly #iterator: AsyncGenerator<SpecstreamEvent, undefined>;
  readonly #options: ConnectOptions;

  constructor(options: ConnectOptions) {
    if (typeof options.url !== 'string' || options.url === '') throw new TypeError('connect(): `url` is required');
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

  on<K extends keyof SubscriptionEvents>(name: K, listener: (payload: SubscriptionEvents[K]) => void): () => void {
    const set = this.#listeners[name] as Set<(payload: SubscriptionEvents[K]) => void>;
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

  next(): Promise<IteratorResult<SpecstreamEvent, undefined>> {
    return this.#iterator.next();
  }

  async return(): Promise<IteratorResult<SpecstreamEvent, undefined>> {
    this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #emit<K extends keyof SubscriptionEvents>(name: K, payload: SubscriptionEvents[K]): void {
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

  async *#run(): AsyncGenerator<SpecstreamEvent, undefined> {
    const options = this.#options;
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    const transport = options.transport ?? 'sse';
    const paths = { ...DEFAULT_PATHS, ...options.paths };
    const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 65_000;
    let attempt = 0;
    // A live-only subscription that has seen no event and no resume point (an empty log, or an older
    // server) resumes from when it first opened, by the client's clock.
    let openedAt: string | undefined;
    let fatal: unknown;
    this.#setState({ state: 'connecting', attempt: 0 });
    try {
      while (!this.#closed) {
        const controller = new AbortController();
        this.#current = controller;
        let finished = false;
        let failure: unknown;
        const query = streamQuery(options);
        if (this.#lastEventId === undefined && openedAt !== undefined && !query.has('since') && !query.has('since_id')) {
          query.set('since', openedAt);
        }
        const headers: Record<string, string> = {};
        if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
        if (this.#lastEventId !== undefined) {
          if (transport === 'sse') headers['Last-Event-ID'] = this.#lastEventId;
          else query.set('last_event_id', this.#lastEventId);
        }
        const url = new URL(transport === 'sse' ? paths.sse : paths.ws, options.url);
        url.search = query.toString();
        const ctx: Attempt = {
          url,
          headers,
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
        try {
          const items = transport === 'sse' ? sseAttempt(ctx, fetchImpl) : wsAttempt(ctx, options, fetchImpl);
          for await (const item of items) {
            if (item.kind === 'event') {
              const id = item.event.id;
              // Ids strictly increase in log order: anything not after our position is a repeat.
              if (this.#lastEventId !== undefined && id <= this.#lastEventId) continue;
              this.#lastEventId = id;
              yield item.event;
            } else if (item.kind === 'position') {
              // Nothing delivered yet: a reconnect resumes after the newest event this stream could have shown.
              this.#lastEventId ??= item.id;
            } else if (item.kind === 'dropped') this.#emit('dropped', item.notice);
            else this.#emit('status', item.frame);
          }
        } catch (error) {
          if (this.#closed) return undefined;
          const cause = controller.signal.aborted ? (controller.signal.reason as unknown) : error;
          if (cause instanceof SpecstreamError && !isRetryable(cause.status)) {
            fatal = cause;
            throw cause;
          }
          failure = cause;
        } finally {
          controller.abort();
        }
        if (finished || this.#closed) return undefined;
        const delayMs = backoffDelay(attempt, options.backoff);
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
}

/**
 * Subscribes to the event stream over SSE (default) or WebSocket. Iterate the result with
 * `for await`; events are typed by the catalog (`SpecstreamEvent`, discriminated by `type`).
 *
 * It reconnects on network faults, 5xx, 429 and silence (exponential backoff 250 ms to 8 s with
 * jitter), resuming after the last delivered id (`Last-Event-ID`), so nothing is missed or
 * repeated. It stops when the server says the stream is over (`204`, or a WebSocket `end` frame
 * with `until_reached`). A 400, 401 or 403 is thrown from the iterator as `BadRequestError`,
 * `UnauthorizedError` or `ForbiddenError`, without retrying. Connection is lazy: it starts at the
 * first `next()`.
 */
export function connect<const P extends string = never>(options: ConnectOptions<P>): Subscription<FilteredEvent<P>> {
  return new EventSubscription(options) as unknown as Subscription<FilteredEvent<P>>;
}
