/**
 * A real server serving one example bundle (test/helpers/test-server.ts with `specs`), its keys in the
 * bundle's scope names, and the bundle-aware clients the example tests share: publishing through the
 * bundle's `publish` operation (every answer checked against the OpenAPI document), raw SSE and
 * WebSocket readers whose every frame is validated against the AsyncAPI document, and a wait for the
 * server to have its subscribers (so a live-only client is known to be listening before a publish).
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { WebSocket } from 'ws';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { ajv, deref, loadBundle, operationOf, type Bundle, type BundleName, type BundleOperation, type Json } from './bundle.js';
import { SseRecorder, StreamValidator, type EventFrame, type Frame } from './frames.js';

/** A key of the example servers. */
export interface ExampleKey {
  id: string;
  secret: string;
  scopes: string[];
}

/** The scope names of a bundle (`x-specstream-scopes`, default the native names). */
export function scopeNames(bundle: Bundle): { read: string; write: string; admin: string; separator: string } {
  const declared = (bundle.openapi['x-specstream-scopes'] ?? {}) as Partial<Record<'read' | 'write' | 'admin' | 'separator', string>>;
  return { read: 'events:read', write: 'events:write', admin: 'admin', separator: ':', ...declared };
}

/** The keys every example server has: a reader, a writer and an admin, in the bundle's scope names. */
export function exampleKeys(bundle: Bundle): { reader: ExampleKey; writer: ExampleKey; admin: ExampleKey } {
  const scopes = scopeNames(bundle);
  return {
    reader: { id: 'reader', secret: 'sk_example_reader', scopes: [scopes.read] },
    writer: { id: 'writer', secret: 'sk_example_writer', scopes: [scopes.write] },
    admin: { id: 'admin', secret: 'sk_example_admin', scopes: [scopes.admin] },
  };
}

/** A running example server. */
export interface ExampleServer {
  bundle: Bundle;
  server: TestServer;
  url: string;
  keys: ReturnType<typeof exampleKeys>;
  /** Publishes one event through the bundle's publish operation as the writer; asserts 201 and the documented answer. */
  publish(type: string, data: Json): Promise<Json>;
  /** Resolves once the server has at least `n` stream subscribers (deadline 10 s). */
  waitForSubscribers(n: number): Promise<void>;
  /** The number of open streams now. */
  subscribers(): number;
  /** Resolves once no stream is open (every test closes its clients; run it after each test so counts start at 0). */
  waitForIdle(): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * Starts a server for `name`. The bundle's `specstream.yaml` defaults are passed as overrides too, so
 * the tests do not depend on how the server finds them (the CLI test in each file checks that path).
 */
export async function startExampleServer(name: BundleName, overrides: Record<string, unknown> = {}): Promise<ExampleServer> {
  const bundle = loadBundle(name);
  const keys = exampleKeys(bundle);
  const server = await startTestServer({
    specs: bundle.dir,
    ...(bundle.config as Record<string, unknown>),
    keys: Object.values(keys).map((key) => ({ ...key, queryToken: true })),
    ...overrides,
  } as Parameters<typeof startTestServer>[0]);
  const publishOp = operationOf(bundle, 'publish');
  const example: ExampleServer = {
    bundle,
    server,
    url: server.url,
    keys,
    async publish(type, data) {
      const auth = credentials(bundle, publishOp, keys.writer);
      const url = `${server.url}${publishOp.path}${auth.query}`;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...auth.headers },
        body: JSON.stringify({ type, data }),
      });
      const text = await response.text();
      if (response.status !== 201) throw new Error(`publish ${type}: ${response.status} ${text}`);
      const body = JSON.parse(text) as Json;
      expectDeclared(bundle, publishOp, 201, body);
      return body;
    },
    subscribers: () => server.hub.subscriberCount,
    async waitForSubscribers(n) {
      const deadline = Date.now() + 10_000;
      while (server.hub.subscriberCount < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} subscribers (have ${server.hub.subscriberCount})`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async waitForIdle() {
      const deadline = Date.now() + 10_000;
      while (server.hub.subscriberCount > 0) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for the streams to close (${server.hub.subscriberCount} open)`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    dispose: () => server.dispose(),
  };
  return example;
}

/** The headers and query string that present `key` to `operation` by its first security scheme. */
export function credentials(bundle: Bundle, operation: BundleOperation, key: ExampleKey): { headers: Record<string, string>; query: string } {
  const requirements = (operation.operation.security ?? bundle.openapi.security ?? []) as Json[];
  const schemes = ((bundle.openapi.components as Json).securitySchemes ?? {}) as Record<string, Json>;
  for (const requirement of requirements) {
    const name = Object.keys(requirement)[0];
    if (name === undefined) continue;
    const scheme = schemes[name]!;
    if (scheme.type === 'http' && scheme.scheme === 'bearer') return { headers: { Authorization: `Bearer ${key.secret}` }, query: '' };
    if (scheme.type === 'http' && scheme.scheme === 'basic') {
      return { headers: { Authorization: `Basic ${Buffer.from(`${key.id}:${key.secret}`).toString('base64')}` }, query: '' };
    }
    if (scheme.type === 'apiKey' && scheme.in === 'header') return { headers: { [String(scheme.name)]: key.secret }, query: '' };
    if (scheme.type === 'apiKey' && scheme.in === 'query') return { headers: {}, query: `?${String(scheme.name)}=${encodeURIComponent(key.secret)}` };
  }
  return { headers: {}, query: '' };
}

/** Throws unless `status` is declared for the operation and `body` matches its JSON schema. */
export function expectDeclared(bundle: Bundle, operation: BundleOperation, status: number, body: unknown): void {
  const responses = deref(operation.operation.responses, bundle.openapi) as Json;
  const declared = responses[String(status)] as Json | undefined;
  if (!declared) throw new Error(`${operation.method.toUpperCase()} ${operation.path} answered ${status}, which the bundle does not declare`);
  const schema = ((declared.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema as Json | undefined;
  if (!schema) return;
  const check = ajv.compile(schema);
  if (!check(body)) throw new Error(`${operation.operationId} ${status}: ${JSON.stringify(body).slice(0, 300)}: ${ajv.errorsText(check.errors)}`);
}

/** An SSE response read by the test itself, every frame validated. */
export class SseReader {
  readonly recorder: SseRecorder;
  status = 0;
  headers: IncomingHttpHeaders = {};
  /** The body of a non-200 answer. */
  body = '';
  ended = false;
  #close: () => void = () => {};
  #listeners = new Set<() => void>();

  constructor(validator: StreamValidator) {
    this.recorder = new SseRecorder(validator, () => this.#notify());
  }

  get events(): EventFrame[] {
    return this.recorder.events;
  }

  get frames(): Frame[] {
    return this.recorder.frames;
  }

  /** Opens `GET url` and resolves once the response headers arrived. */
  open(url: string, headers: Record<string, string> = {}): Promise<this> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        this.#close = () => res.destroy();
        res.on('data', (chunk: Buffer) => {
          if (this.status === 200) {
            try {
              this.recorder.feed(chunk);
            } catch {
              // Kept in recorder.failure; every wait rethrows it.
            }
          } else this.body += chunk.toString();
          this.#notify();
        });
        const end = () => {
          this.ended = true;
          this.#notify();
        };
        res.on('end', end);
        res.on('close', end);
        resolve(this);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Waits until `condition` holds (checked after every chunk), rethrowing the first frame error. */
  waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return waitOn(this.#listeners, () => {
      if (this.recorder.failure) throw this.recorder.failure;
      return condition();
    }, what, timeoutMs);
  }

  waitForEvents(n: number, timeoutMs = 10_000): Promise<void> {
    return this.waitFor(() => this.events.length >= n, `${n} events (have ${this.events.length})`, timeoutMs);
  }

  close(): void {
    this.#close();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

/** A WebSocket read by the test itself, every message validated. */
export class WsReader {
  readonly frames: Frame[] = [];
  failure: Error | undefined;
  closeCode: number | undefined;
  /** Pings received from the server (it pings every heartbeat_s). */
  pings = 0;
  /** Status and body when the upgrade was refused. */
  refused: { status: number; body: string } | undefined;
  readonly ws: WebSocket;
  #listeners = new Set<() => void>();

  constructor(
    readonly validator: StreamValidator,
    url: string,
    headers: Record<string, string> = {},
  ) {
    this.ws = new WebSocket(url, { headers });
    this.ws.on('open', () => this.#notify());
    this.ws.on('ping', () => {
      this.pings++;
      this.#notify();
    });
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        if (isBinary) throw new Error('binary WebSocket message: the bundle declares JSON text messages');
        this.frames.push(validator.wsMessage(data.toString()));
      } catch (error) {
        this.failure ??= error as Error;
      }
      this.#notify();
    });
    this.ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        this.refused = { status: res.statusCode ?? 0, body };
        this.#notify();
      });
    });
    this.ws.on('close', (code: number) => {
      this.closeCode = code;
      this.#notify();
    });
    this.ws.on('error', () => this.#notify());
  }

  get events(): EventFrame[] {
    return this.frames.filter((frame): frame is EventFrame => frame.role === 'event');
  }

  opened(): Promise<void> {
    return this.waitFor(() => this.ws.readyState === WebSocket.OPEN || this.refused !== undefined, 'the WebSocket to open');
  }

  waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return waitOn(this.#listeners, () => {
      if (this.failure) throw this.failure;
      return condition();
    }, what, timeoutMs);
  }

  close(): void {
    this.ws.terminate();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

/** Resolves when `condition()` is true, re-checked whenever a listener of `listeners` fires; rejects after `timeoutMs`. */
export function waitOn(listeners: Set<() => void>, condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      listeners.delete(check);
      if (error) reject(error);
      else resolve();
    };
    const check = () => {
      try {
        if (condition()) done();
      } catch (error) {
        done(error as Error);
      }
    };
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    listeners.add(check);
    check();
  });
}

/** A stream validator for the bundle's operation of `role` (its path is the channel address). */
export function validatorFor(bundle: Bundle, role: 'stream-sse' | 'stream-ws', path?: string): StreamValidator {
  return new StreamValidator(bundle, operationOf(bundle, role, path).path);
}

export { loadBundle };
