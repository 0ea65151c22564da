/**
 * Minimal stream clients for the tests, for any bundle the server serves (test/helpers/bundles.ts):
 * every frame they receive is checked against the bundle's AsyncAPI document (the native bundle's
 * through the generated validators of test/helpers/frames.ts, any other through
 * test/helpers/bundle-frames.ts), and a frame that matches no message fails the wait that observes it.
 */
import { randomUUID } from 'node:crypto';
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { EVENT_TYPES } from '../../src/generated/catalog.js';
import type { WsFrame } from '../../src/generated/frames.js';
import type { JsonObject } from '../../src/bundle/yaml-document.js';
import type { EncodedRead, ReadQuery } from '../../src/store/store.js';
import { BundleFrameChecker, BundleSseReader, type CheckedFrame } from '../helpers/bundle-frames.js';
import { NATIVE, type TestBundle, type TestEvent } from '../helpers/bundles.js';
import { SseFrameReader, validateEventSourceEvent, validateWsFrame, type SseFrame } from '../helpers/frames.js';
import type { TestKeyName, TestServer } from '../helpers/test-server.js';

export type { TestEvent } from '../helpers/bundles.js';

/**
 * An SSE frame of any bundle, by its `x-specstream-frame` role (the native messages map one to
 * one: `sseEvent` is `event`, `ssePosition` is `position`, `sseRetry` is `retry`, `sseHeartbeat`
 * is `heartbeat`, `sseDroppedNotice` is `dropped-notice`, `sseStreamDropped` is `dropped`,
 * `sseStreamExpired` is `expired`, `sseInternalError` is `error`).
 */
export type StreamFrame =
  | { role: 'event'; event: TestEvent }
  | { role: 'position'; id: string }
  | { role: 'retry'; retry: number }
  | { role: 'heartbeat' | 'dropped-notice' | 'error'; comment: string }
  | { role: 'dropped' | 'expired'; data: JsonObject };

/** A WebSocket message of any bundle, by role: `payload` is the whole message, `event` an event frame's event. */
export type WsMessage =
  | { role: 'event'; event: TestEvent; payload: JsonObject }
  | { role: 'position' | 'status' | 'end' | 'dropped' | 'error'; payload: JsonObject };

/** The bundle a server serves; servers of other helpers (test/auth/helpers.ts) serve the native one and carry no `bundle`. */
function bundleOf(server: TestServer): TestBundle {
  return (server as Partial<TestServer>).bundle ?? NATIVE;
}

function fromNativeSse(frame: SseFrame): StreamFrame {
  switch (frame.message) {
    case 'sseEvent':
      return { role: 'event', event: { id: frame.id, type: frame.event, envelope: frame.data as unknown as JsonObject } };
    case 'ssePosition':
      return { role: 'position', id: frame.id };
    case 'sseRetry':
      return { role: 'retry', retry: frame.retry };
    case 'sseHeartbeat':
      return { role: 'heartbeat', comment: frame.comment };
    case 'sseDroppedNotice':
      return { role: 'dropped-notice', comment: frame.comment };
    case 'sseInternalError':
      return { role: 'error', comment: frame.comment };
    case 'sseStreamDropped':
      return { role: 'dropped', data: frame.data as unknown as JsonObject };
    case 'sseStreamExpired':
      return { role: 'expired', data: frame.data as unknown as JsonObject };
  }
}

function fromCheckedSse(frame: CheckedFrame): StreamFrame {
  if (frame.role === 'event' && 'envelope' in frame) {
    if (frame.id === undefined) throw new Error(`an event without an id: ${JSON.stringify(frame.envelope)}`);
    return { role: 'event', event: { id: frame.id, type: frame.type, envelope: frame.envelope } };
  }
  if (!('payload' in frame)) throw new Error(`unexpected frame ${JSON.stringify(frame)}`);
  switch (frame.role) {
    case 'position':
      return { role: 'position', id: frame.id! };
    case 'retry':
      return { role: 'retry', retry: frame.payload as number };
    case 'heartbeat':
    case 'dropped-notice':
    case 'error':
      return { role: frame.role, comment: frame.payload as string };
    case 'dropped':
    case 'expired':
      return { role: frame.role, data: frame.payload as JsonObject };
    default:
      throw new Error(`no test support for the SSE frame role ${frame.role}`);
  }
}

/** Resolves when `condition()` is true, re-checking whenever `subscribe`'s callback fires; rejects after `timeoutMs`. */
export function waitUntil(
  condition: () => boolean,
  subscribe: (check: () => void) => () => void,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let unsubscribe = () => {};
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const check = () => {
      let done: boolean;
      try {
        done = condition();
      } catch (error) {
        clearTimeout(timer);
        unsubscribe();
        reject(error as Error);
        return;
      }
      if (done) {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    };
    unsubscribe = subscribe(check);
    check();
  });
}

/** Polls `condition` every 10 ms until true or `timeoutMs` (for server-side state with no event to listen to). */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** An SSE response being read. */
export class SseClient {
  /** Every frame received, checked, in order. */
  readonly received: StreamFrame[] = [];
  /** The events received, in order. */
  readonly events: TestEvent[] = [];
  /** The response body, for non-200 answers. */
  body = '';
  /** The first 64 KiB of a 200 response exactly as received, for checks the parser cannot see (an `id:` line alone). */
  raw = '';
  ended = false;
  readonly #reader: SseFrameReader | BundleSseReader;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    private readonly response: IncomingMessage,
    readonly bundle: TestBundle = NATIVE,
  ) {
    const accept = (frame: StreamFrame) => {
      this.received.push(frame);
      if (frame.role === 'event') this.events.push(frame.event);
      this.notify();
    };
    this.#reader =
      bundle === NATIVE ? new SseFrameReader((frame) => accept(fromNativeSse(frame))) : new BundleSseReader(bundle.bundle, (frame) => accept(fromCheckedSse(frame)));
    response.on('data', (chunk: Buffer) => {
      if (status === 200) {
        if (this.raw.length < 65_536) this.raw += chunk.toString();
        try {
          this.#reader.feed(chunk);
        } catch {
          // Kept in the reader's failure; every wait rethrows it.
        }
        // A frame that failed the check wakes the waits too.
        if (this.#reader.failure) this.notify();
      } else {
        this.body += chunk.toString();
      }
    });
    const end = () => {
      this.ended = true;
      this.notify();
    };
    response.on('end', end);
    response.on('close', end);
    response.on('error', end);
  }

  /** The native frames, typed by their AsyncAPI message (native bundle only; `received` serves every bundle). */
  get frames(): SseFrame[] {
    if (!(this.#reader instanceof SseFrameReader)) throw new TypeError(`frames are the native bundle's messages; read \`received\` on the ${this.bundle.name} bundle`);
    return this.#reader.frames;
  }

  /** The roles of the frames received, in order. */
  get roles(): StreamFrame['role'][] {
    return this.received.map((frame) => frame.role);
  }

  /** The JSON body of a non-200 answer. */
  json(): Record<string, unknown> {
    return JSON.parse(this.body) as Record<string, unknown>;
  }

  /** Waits until `condition` holds (checked after every frame), the stream ends, or the deadline. */
  async waitFor(condition: (client: this) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    await waitUntil(
      () => {
        if (this.#reader.failure) throw this.#reader.failure;
        return condition(this);
      },
      (check) => {
        this.listeners.add(check);
        return () => this.listeners.delete(check);
      },
      timeoutMs,
      what,
    );
  }

  /** Waits for `n` events in total. */
  waitForEvents(n: number, timeoutMs = 10_000): Promise<void> {
    return this.waitFor((c) => c.events.length >= n, `${n} events (have ${this.events.length})`, timeoutMs);
  }

  /** Waits for the server to end the response. */
  waitForEnd(timeoutMs = 10_000): Promise<void> {
    return this.waitFor((c) => c.ended, 'the end of the stream', timeoutMs);
  }

  /** Stops reading (the socket's receive buffer then fills and the server sees backpressure). */
  pause(): void {
    this.response.pause();
  }

  resume(): void {
    this.response.resume();
  }

  /** Closes the connection. */
  close(): void {
    this.response.destroy();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Opens `GET path` (an SSE stream of the server's bundle) and resolves once the response headers arrive. */
export function openSse(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      resolve(new SseClient(res.statusCode ?? 0, res.headers, res, bundleOf(server)));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket stream being read, or the HTTP answer that refused the upgrade. */
export class WsClient {
  /** Every message received, checked, in order. */
  readonly received: WsMessage[] = [];
  /** The events received, in order. */
  readonly events: TestEvent[] = [];
  failure: Error | undefined;
  closeCode: number | undefined;
  closeReason = '';
  /** For a refused upgrade: the status and JSON body. */
  refused: { status: number; body: Record<string, unknown> } | undefined;
  readonly #native: WsFrame[] = [];
  readonly #checker: BundleFrameChecker | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly ws: WebSocket,
    readonly bundle: TestBundle = NATIVE,
  ) {
    this.#checker = bundle === NATIVE ? undefined : new BundleFrameChecker(bundle.bundle, 'ws');
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        if (isBinary) throw new Error('binary WebSocket frame: the spec declares JSON text frames only');
        const message = this.#check(data.toString());
        this.received.push(message);
        if (message.role === 'event') this.events.push(message.event);
      } catch (error) {
        this.failure ??= error as Error;
      }
      this.notify();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.notify();
    });
    ws.on('error', () => this.notify());
  }

  #check(text: string): WsMessage {
    if (!this.#checker) {
      const frame = validateWsFrame(text);
      this.#native.push(frame);
      const payload = frame as unknown as JsonObject;
      if (frame.type === 'event') return { role: 'event', event: { id: frame.event.id, type: frame.event.type, envelope: frame.event as unknown as JsonObject }, payload };
      return { role: frame.type, payload };
    }
    const checked = this.#checker.wsMessage(text);
    const payload = JSON.parse(text) as JsonObject;
    if (checked.role === 'event' && 'envelope' in checked) return { role: 'event', event: this.bundle.event(checked.envelope), payload };
    if (!['position', 'status', 'end', 'dropped', 'error'].includes(checked.role)) throw new Error(`no test support for the WebSocket frame role ${checked.role}`);
    return { role: checked.role as Exclude<WsMessage['role'], 'event'>, payload };
  }

  /** The native frames, typed by their AsyncAPI message (native bundle only; `received` serves every bundle). */
  get frames(): WsFrame[] {
    if (this.#checker) throw new TypeError(`frames are the native bundle's messages; read \`received\` on the ${this.bundle.name} bundle`);
    return this.#native;
  }

  /** The roles of the messages received, in order. */
  get roles(): WsMessage['role'][] {
    return this.received.map((message) => message.role);
  }

  async waitFor(condition: (client: this) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    await waitUntil(
      () => {
        if (this.failure) throw this.failure;
        return condition(this);
      },
      (check) => {
        this.listeners.add(check);
        return () => this.listeners.delete(check);
      },
      timeoutMs,
      what,
    );
  }

  waitForEvents(n: number, timeoutMs = 10_000): Promise<void> {
    return this.waitFor((c) => c.events.length >= n, `${n} events (have ${this.events.length})`, timeoutMs);
  }

  waitForClose(timeoutMs = 10_000): Promise<void> {
    return this.waitFor((c) => c.closeCode !== undefined, 'the connection to close', timeoutMs);
  }

  close(): void {
    this.ws.close();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Opens the WebSocket stream at `path` (of the server's bundle); resolves once open, or once the upgrade was refused (`refused` set). */
export function openWs(server: TestServer, path: string, headers: Record<string, string> = {}, options: { autoPong?: boolean } = {}): Promise<WsClient> {
  const url = `${server.url.replace(/^http/, 'ws')}${path}`;
  const ws = new WebSocket(url, { headers, ...(options.autoPong === false ? { autoPong: false } : {}) });
  const client = new WsClient(ws, bundleOf(server));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        client.refused = { status: res.statusCode ?? 0, body: body === '' ? {} : (JSON.parse(body) as Record<string, unknown>) };
        resolve(client);
      });
    });
    ws.once('error', (error) => {
      if (!client.refused) reject(error);
    });
  });
}

/**
 * Publishes `count` catalog-valid events through the bundle's publish operation (types cycling
 * through `types`, by default the bundle's `types.cycle`) in batches of ≤ 1000; resolves with the
 * stored events as the bundle's envelopes.
 */
export async function publish(
  server: TestServer,
  count: number,
  options: {
    /** Catalog types of the server's bundle; a name it does not know fails the publish (400). */
    types?: readonly string[];
    key?: TestKeyName;
    batch?: number;
    /** The `data` of event number `i`; defaults to the catalog example. */
    data?: (type: string, i: number) => Record<string, unknown>;
  } = {},
): Promise<TestEvent[]> {
  const bundle = bundleOf(server);
  const types = options.types ?? bundle.types.cycle;
  const batch = Math.min(options.batch ?? 1000, 1000);
  const path = bundle.path('publish');
  const stored: TestEvent[] = [];
  for (let offset = 0; offset < count; offset += batch) {
    const size = Math.min(batch, count - offset);
    const body = Array.from({ length: size }, (_, i) => {
      const type = types[(offset + i) % types.length]!;
      return { type, subject: `n${offset + i}`, data: options.data ? options.data(type, offset + i) : bundle.example(type) };
    });
    // With an Idempotency-Key, a retry after a dropped connection (e.g. a pooled socket to a
    // server that restarted on the same port) cannot store the batch twice.
    const init = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `test-${randomUUID()}`, ...server.auth(options.key ?? 'writer') },
      body: JSON.stringify(body),
    };
    const response = await fetch(`${server.url}${path}`, init).catch(() => fetch(`${server.url}${path}`, init));
    if (response.status !== 201) throw new Error(`publish failed: ${response.status} ${await response.text()}`);
    stored.push(...((await response.json()) as { data: JsonObject[] }).data.map((envelope) => bundle.event(envelope)));
  }
  return stored;
}

/** The ids of `events`. */
export const ids = (events: readonly { id: string }[]): string[] => events.map((event) => event.id);

/**
 * Catalog-valid native `data` of about `bytes` bytes, for the types that can carry padding
 * (`grant.created`: a long scope; `audit_log.created`: a metadata string); the example otherwise.
 * Any bundle: `server.bundle.padded(type, bytes)`.
 */
export function paddedData(type: string, bytes: number): Record<string, unknown> {
  return NATIVE.padded(type, bytes);
}

/**
 * Listens on an EventSource for every event name `bundle`'s stream can send and checks each
 * dispatched event against the bundle's AsyncAPI document (natively with
 * `validateEventSourceEvent`). An EventSource keeps the last `id:` across events, so it is passed
 * as the frame's id for events and resume points only. Returns the first failure, if any.
 */
export function listenEventSource(
  source: { addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void },
  bundle: TestBundle,
  onFrame: (frame: StreamFrame) => void,
): { readonly failure: Error | undefined } {
  const state: { failure: Error | undefined } = { failure: undefined };
  const sse = bundle.profile.sse;
  if (!sse) throw new TypeError(`the ${bundle.name} bundle has no SSE stream`);
  const checker = bundle === NATIVE ? undefined : new BundleFrameChecker(bundle.bundle, 'sse');
  const unnamedIds = new Set([sse.droppedEvent, sse.expiredEvent].filter((name) => name !== undefined));
  const names = new Set<string>([
    ...(bundle === NATIVE ? EVENT_TYPES : sse.eventNaming === 'type' ? bundle.bundle.catalog.map((entry) => entry.type) : [sse.eventNaming === 'none' ? 'message' : sse.eventNaming.name]),
    ...[sse.positionEvent, ...unnamedIds].filter((name): name is string => name !== undefined),
  ]);
  for (const name of names) {
    source.addEventListener(name, (event) => {
      if (state.failure) return;
      try {
        if (!checker) onFrame(fromNativeSse(validateEventSourceEvent(event)));
        else {
          const id = unnamedIds.has(event.type) || event.lastEventId === '' ? {} : { id: event.lastEventId };
          onFrame(fromCheckedSse(checker.sseBlock({ ...id, ...(event.type === 'message' ? {} : { event: event.type }), data: event.data })));
        }
      } catch (error) {
        state.failure = error as Error;
      }
    });
  }
  return state;
}

/**
 * Makes the store's reads fail when `when(query)` holds, whichever read method the hub uses
 * (`read`, or the `readEncoded` capability). Returns a function that restores them.
 */
export function failReads(server: TestServer, when: (query: ReadQuery) => boolean, error = new Error('disk on fire')): () => void {
  const store = server.store as TestServer['store'] & Partial<EncodedRead>;
  const read = store.read;
  const readEncoded = store.readEncoded;
  store.read = async (query) => {
    if (when(query)) throw error;
    return read.call(store, query);
  };
  if (readEncoded) {
    store.readEncoded = async (query) => {
      if (when(query)) throw error;
      return readEncoded.call(store, query);
    };
  }
  return () => {
    store.read = read;
    if (readEncoded) store.readEncoded = readEncoded;
  };
}
