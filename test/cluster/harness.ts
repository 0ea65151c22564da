/**
 * Helpers for the cluster tests: several real server processes over one shared store, HTTP
 * publishers, SSE subscribers whose every frame goes through the frame-validation helper, and a
 * TCP proxy in front of the backend so a test can cut (and restore) a node's connections to it
 * without touching the shared database or broker.
 */
import { randomUUID } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import { catalog } from '../../src/generated/catalog.js';
import { SseFrameReader } from '../helpers/frames.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.js';

export const KEY = 'cluster:sk_cluster_test:events:read,events:write';
export const AUTH = { Authorization: 'Bearer sk_cluster_test' };
/** Before every id: `since_id` with it replays the whole log. */
export const ORIGIN_ID = 'evt_00000000000000000000000000';

/** Starts a node over `store`. */
export function startNode(store: string, extra: string[] = []): Promise<SpawnedServer> {
  return spawnServer(['--port', '0', '--store', store, '--key', KEY, '--log-level', 'warn', ...extra], { timeoutMs: 30_000 });
}

/** A published event as the server acknowledged it. */
export interface Acknowledged {
  id: string;
  publisher: number;
  n: number;
}

/** One publish request (a batch); resolves with the ids, or with the status when not 201. */
/** Tells this run's Idempotency-Keys apart from another run's over the same backend. */
const RUN = randomUUID().slice(0, 8);

export async function publish(
  baseUrl: string,
  publisher: number,
  ns: readonly number[],
): Promise<{ status: number; ids?: string[]; code?: string }> {
  const body = ns.map((n) => ({
    type: 'audit_log.created',
    data: { ...catalog['audit_log.created'].example, entryId: `p${publisher}-${n}` },
  }));
  // One Idempotency-Key per batch (and run): a retry of a batch whose first attempt was stored but
  // not confirmed (503 STORE_TIMEOUT, or the node that answered for it killed) is recognised and
  // answered with the stored ids instead of storing the batch twice, as the README tells clients.
  const response = await fetch(`${baseUrl}/v1/events`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': `${RUN}-p${publisher}-${ns[0]}-${ns.length}` },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { data?: Array<{ id: string }>; code?: string };
  if (response.status !== 201) return { status: response.status, code: json.code };
  return { status: 201, ids: json.data!.map((e) => e.id) };
}

/**
 * Publishes `count` events for `publisher` in batches of `batch` to the node `target()` names,
 * retrying a batch that was not acknowledged (status 503 or a connection error) until `deadline`;
 * resolves with the acknowledged events in publish order.
 */
export async function runPublisher(
  target: () => string,
  publisher: number,
  count: number,
  batch: number,
  options: { deadline?: number; onAck?: (acks: Acknowledged[]) => void; stop?: () => boolean } = {},
): Promise<Acknowledged[]> {
  const acked: Acknowledged[] = [];
  const deadline = options.deadline ?? Date.now() + 60_000;
  for (let start = 0; start < count && !options.stop?.(); start += batch) {
    const ns = Array.from({ length: Math.min(batch, count - start) }, (_, i) => start + i);
    for (;;) {
      let result: Awaited<ReturnType<typeof publish>> | undefined;
      try {
        result = await publish(target(), publisher, ns);
      } catch {
        // Connection refused or reset: not acknowledged; try again.
      }
      if (result?.ids) {
        const acks = result.ids.map((id, i) => ({ id, publisher, n: ns[i]! }));
        acked.push(...acks);
        options.onAck?.(acks);
        break;
      }
      if (result && result.status !== 503) throw new Error(`publish answered ${result.status} ${result.code}`);
      if (Date.now() > deadline) throw new Error(`publisher ${publisher}: not acknowledged before the deadline`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return acked;
}

/** An SSE subscription: every frame validated; events kept in arrival order. */
export class Subscriber {
  readonly reader: SseFrameReader;
  readonly ids: string[] = [];
  readonly seen = new Set<string>();
  /** `entryId` of each event, to tell publishers apart. */
  readonly entries: string[] = [];
  /** The resume points the stream announced (`stream.position`: a live-only stream's start). */
  readonly positions: string[] = [];
  ended = false;
  status = 0;
  private response: IncomingMessage | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor() {
    this.reader = new SseFrameReader((frame) => {
      if (frame.message === 'ssePosition') this.positions.push(frame.id);
      if (frame.message === 'sseEvent') {
        this.ids.push(frame.id);
        this.seen.add(frame.id);
        this.entries.push(String((frame.data.data as { entryId?: unknown }).entryId));
      }
      for (const waiter of this.waiters) waiter();
    });
  }

  /** Opens `GET /v1/events/stream` on `baseUrl` with `query`, and `Last-Event-ID` when given. */
  static open(baseUrl: string, query: string, lastEventId?: string): Promise<Subscriber> {
    const subscriber = new Subscriber();
    return new Promise((resolve, reject) => {
      const req = request(`${baseUrl}/v1/events/stream${query}`, {
        headers: { ...AUTH, accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) },
      });
      req.on('response', (response) => {
        subscriber.status = response.statusCode ?? 0;
        subscriber.response = response;
        response.on('data', (chunk: Buffer) => {
          try {
            subscriber.reader.feed(chunk);
          } catch {
            // Kept in reader.failure; `waitFor` rethrows it.
          }
        });
        const end = () => {
          subscriber.ended = true;
          for (const waiter of subscriber.waiters) waiter();
        };
        response.on('end', end);
        response.on('error', end);
        response.on('close', end);
        resolve(subscriber);
      });
      req.on('error', (error) => {
        if (subscriber.response === undefined) reject(error);
        else {
          subscriber.ended = true;
          for (const waiter of subscriber.waiters) waiter();
        }
      });
      req.end();
    });
  }

  /** Resolves once `condition()` holds; rejects on a frame error or after `timeoutMs`. */
  waitFor(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.reader.failure) finish(this.reader.failure);
        else if (condition()) finish();
      };
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (have ${this.ids.length} events)`)),
        timeoutMs,
      );
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.response?.destroy();
  }
}

/** Throws naming the first position where `ids` does not strictly increase. */
export function expectStrictlyIncreasing(ids: readonly string[], what: string): void {
  for (let i = 1; i < ids.length; i++) {
    if (!(ids[i]! > ids[i - 1]!)) throw new Error(`${what}: ids not strictly increasing at ${i}: ${ids[i - 1]} then ${ids[i]}`);
  }
}

/**
 * A TCP proxy to `target` on an ephemeral port. `cut()` destroys every connection and refuses new
 * ones (the backend looks down to the node behind it); `restore()` accepts again.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<void> {
    const server = createServer((client) => {
      const upstream = connectTcp({ host: this.targetHost, port: this.targetPort });
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  /** Destroys every proxied connection and stops listening (connection refused from now on). */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    await this.start(this.port);
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}
