/**
 * Minimal stream clients for the tests: every frame they receive goes through the
 * frame-validation helper (test/helpers/frames.ts), and a frame that matches no AsyncAPI message
 * fails the wait that observes it.
 */
import { randomUUID } from 'node:crypto';
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { catalog, type EventType } from '../../src/generated/catalog.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import type { WsFrame } from '../../src/generated/frames.js';
import type { EncodedRead, ReadQuery } from '../../src/store/store.js';
import { SseFrameReader, validateWsFrame, type SseFrame } from '../helpers/frames.js';
import type { TestKeyName, TestServer } from '../helpers/test-server.js';

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
  readonly reader = new SseFrameReader(() => this.notify());
  /** The response body, for non-200 answers. */
  body = '';
  /** The first 64 KiB of a 200 response exactly as received, for checks the parser cannot see (an `id:` line alone). */
  raw = '';
  ended = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    private readonly response: IncomingMessage,
  ) {
    response.on('data', (chunk: Buffer) => {
      if (status === 200) {
        if (this.raw.length < 65_536) this.raw += chunk.toString();
        try {
          this.reader.feed(chunk);
        } catch {
          // Kept in reader.failure; every wait rethrows it.
        }
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

  get frames(): SseFrame[] {
    return this.reader.frames;
  }

  get events(): SpecstreamEvent[] {
    return this.reader.events;
  }

  /** The JSON body of a non-200 answer. */
  json(): Record<string, unknown> {
    return JSON.parse(this.body) as Record<string, unknown>;
  }

  /** Waits until `condition` holds (checked after every frame), the stream ends, or the deadline. */
  async waitFor(condition: (client: this) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    await waitUntil(
      () => {
        if (this.reader.failure) throw this.reader.failure;
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

/** Opens `GET path` (an SSE stream) and resolves once the response headers arrive. */
export function openSse(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      resolve(new SseClient(res.statusCode ?? 0, res.headers, res));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket stream being read, or the HTTP answer that refused the upgrade. */
export class WsClient {
  readonly frames: WsFrame[] = [];
  failure: Error | undefined;
  closeCode: number | undefined;
  closeReason = '';
  /** For a refused upgrade: the status and JSON body. */
  refused: { status: number; body: Record<string, unknown> } | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        if (isBinary) throw new Error('binary WebSocket frame: the spec declares JSON text frames only');
        this.frames.push(validateWsFrame(data.toString()));
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

  get events(): SpecstreamEvent[] {
    return this.frames.flatMap((frame) => (frame.type === 'event' ? [frame.event] : []));
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

/** Opens the WebSocket stream at `path`; resolves once open, or once the upgrade was refused (`refused` set). */
export function openWs(server: TestServer, path: string, headers: Record<string, string> = {}, options: { autoPong?: boolean } = {}): Promise<WsClient> {
  const url = `${server.url.replace(/^http/, 'ws')}${path}`;
  const ws = new WebSocket(url, { headers, ...(options.autoPong === false ? { autoPong: false } : {}) });
  const client = new WsClient(ws);
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

const DEFAULT_TYPES: readonly EventType[] = ['grant.created', 'token.issued', 'security.alert', 'grant.revoked', 'audit_log.created'];

/** Publishes `count` catalog-valid events (types cycling through `types`) in batches of ≤ 1000; resolves with the stored envelopes. */
export async function publish(
  server: TestServer,
  count: number,
  options: {
    types?: readonly EventType[];
    key?: TestKeyName;
    batch?: number;
    /** The `data` of event number `i`; defaults to the catalog example. */
    data?: (type: EventType, i: number) => Record<string, unknown>;
  } = {},
): Promise<SpecstreamEvent[]> {
  const types = options.types ?? DEFAULT_TYPES;
  const batch = Math.min(options.batch ?? 1000, 1000);
  const stored: SpecstreamEvent[] = [];
  for (let offset = 0; offset < count; offset += batch) {
    const size = Math.min(batch, count - offset);
    const body = Array.from({ length: size }, (_, i) => {
      const type = types[(offset + i) % types.length]!;
      return { type, subject: `n${offset + i}`, data: options.data ? options.data(type, offset + i) : catalog[type].example };
    });
    // With an Idempotency-Key, a retry after a dropped connection (e.g. a pooled socket to a
    // server that restarted on the same port) cannot store the batch twice.
    const init = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `test-${randomUUID()}`, ...server.auth(options.key ?? 'writer') },
      body: JSON.stringify(body),
    };
    const response = await fetch(`${server.url}/v1/events`, init).catch(() => fetch(`${server.url}/v1/events`, init));
    if (response.status !== 201) throw new Error(`publish failed: ${response.status} ${await response.text()}`);
    stored.push(...((await response.json()) as { data: SpecstreamEvent[] }).data);
  }
  return stored;
}

/** The ids of `events`. */
export const ids = (events: readonly { id: string }[]): string[] => events.map((event) => event.id);

/**
 * Catalog-valid `data` of about `bytes` bytes, for the types that can carry padding
 * (`grant.created`: a long scope; `audit_log.created`: a metadata string); the example otherwise.
 */
export function paddedData(type: EventType, bytes: number): Record<string, unknown> {
  const pad = 'x'.repeat(bytes);
  if (type === 'grant.created') return { ...catalog[type].example, scopes: [`calendar:${pad}`] };
  if (type === 'audit_log.created') return { ...catalog[type].example, metadata: { pad } };
  return catalog[type].example;
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
