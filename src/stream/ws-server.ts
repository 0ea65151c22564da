/**
 * `GET /v1/events/ws`: the WebSocket side of the hub (channel `wsStream` of specs/asyncapi.yaml),
 * on the HTTP server's `upgrade` event (`ws` in noServer mode).
 *
 * Before upgrading, a request is checked as the HTTP pipeline would check it (origin, auth,
 * query parameters declared by the spec, query rules, connection limits) and refused with the
 * same JSON error and status. After it: `event` frames (pre-framed bytes shared by every
 * connection, several per write), `status` every `status_s`, `dropped`, `end` then close 1000
 * (1001 on shutdown), `error` then close 1011. A ping every `heartbeat_s`; a peer that has not
 * answered the previous one is terminated.
 */
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Principal } from '../auth/principal.js';
import type { Config } from '../config/load-config.js';
import { errors, type ErrorDetail } from '../errors.js';
import { toErrorResponse } from '../http/error-response.js';
import { AllowedOrigins } from '../http/origins.js';
import { isUrlTooLong } from '../http/request-limits.js';
import { challengeFor } from '../bundle/credentials.js';
import { styleError } from '../bundle/error-style.js';
import type { ServedBundle } from '../bundle/served-bundle.js';
import { redactUrl, type Logger } from '../observability/logger.js';
import { redactForLog, requestSecrets } from '../observability/redact.js';
import type { ResolvedHistoryQuery } from '../query/resolve-history-query.js';
import type { DropNotice, WireEncoder } from './wire-encoder.js';
import { planStream, type Hub } from './hub.js';
import type { EndReason, Subscriber, SubscriberTransport } from './subscriber.js';

/** Validates an upgrade request and says who is asking for what; throws a registry error to refuse. */
export type AuthorizeUpgrade = (req: IncomingMessage) => Promise<{ query: ResolvedHistoryQuery; principal: Principal }>;

/** How long `close()` waits for peers to answer the close frame before terminating them. */
const CLOSE_WAIT_MS = 2000;
/** Clients send nothing but control frames; anything bigger is refused by `ws` (close 1009). */
const MAX_CLIENT_PAYLOAD = 4096;

/** What a connection's periodic frames need, shared by every connection of the endpoint. */
interface WsTiming {
  hub: Hub;
  logger: Logger;
  /** Between pings (`heartbeat_s`), ms. */
  pingMs: number;
  /** Between status frames (the bundle's `every`, else `status_s`), ms. */
  statusMs: number;
}

/** Writes one WebSocket connection. */
class WsTransport implements SubscriberTransport {
  readonly format = 'ws' as const;
  /** The peer answered the last ping. */
  #answered = true;
  /** The socket drained since the last ping. */
  #drained = false;
  /** libuv's write queue at the last ping (see `writeQueueSize`). */
  #queued: number | undefined;
  #pingAt: number;
  #statusAt: number;
  #lastStatusAt: number;
  #deliveredAtLastStatus = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    /** The bundle's WebSocket encoder: every frame this connection receives. */
    readonly encoder: WireEncoder,
    private readonly timing?: WsTiming,
  ) {
    const now = Date.now();
    this.#pingAt = now + (timing?.pingMs ?? 0);
    this.#statusAt = now + (timing?.statusMs ?? 0);
    this.#lastStatusAt = now;
    this.#queued = writeQueueSize(socket);
  }

  /** The peer answered a ping. */
  pong(): void {
    this.#answered = true;
  }

  /** The socket drained: the peer is reading. */
  drained(): void {
    this.#drained = true;
  }

  /** Pings and status frames when due, from the hub's one sweep timer. */
  tick(now: number, subscriber: Subscriber): void {
    const timing = this.timing;
    if (timing === undefined || !this.open) return;
    if (now >= this.#pingAt) {
      this.#pingAt = now + timing.pingMs;
      // Dead-peer detection. A peer is alive if it answered the last ping, or if it is reading: a
      // slow client's pong may sit behind a full socket buffer, so progress in writing to it counts
      // too. A peer that does neither for a whole interval is gone (or has stopped reading).
      const nowQueued = writeQueueSize(this.socket);
      const progressed = this.#drained || (nowQueued !== undefined && this.#queued !== undefined && nowQueued < this.#queued);
      if (!this.#answered && !progressed) {
        timing.logger.info({ key: subscriber.keyId }, 'websocket peer answered no ping and read nothing for an interval; closing');
        this.ws.terminate();
        return;
      }
      this.#answered = false;
      this.#drained = false;
      this.#queued = nowQueued;
      this.ws.ping();
    }
    if (now >= this.#statusAt && this.encoder.hasStatus) {
      this.#statusAt = now + timing.statusMs;
      const seconds = Math.max((now - this.#lastStatusAt) / 1000, 0.001);
      const numbers = timing.hub.status(subscriber);
      const frame = this.encoder.status({
        ts: new Date(now).toISOString(),
        throughput_eps: Math.round(((subscriber.delivered - this.#deliveredAtLastStatus) / seconds) * 100) / 100,
        queue_depth: numbers.queueDepth,
        queue_max: numbers.queueMax,
        subscribers: numbers.subscribers,
        store: numbers.store,
        receivers: { publish: numbers.store, store: numbers.store },
        detectors: { tail: numbers.store, retention: numbers.store },
      });
      if (frame) this.write(frame);
      this.#deliveredAtLastStatus = subscriber.delivered;
      this.#lastStatusAt = now;
    }
  }

  private get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  write(bytes: Buffer): boolean {
    if (!this.open) return true;
    // Complete frames built once per event (wire-encoder.ts), written past `ws.send` so that one
    // write carries many of them; `ws` writes its own frames to the same socket, in order.
    return this.socket.write(bytes);
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  onceDrain(listener: () => void): void {
    this.socket.once('drain', listener);
  }

  writeDropped(notice: DropNotice): boolean {
    const frame = this.encoder.dropped(notice);
    return frame ? this.write(frame) : true;
  }

  end(reason: EndReason): void {
    if (!this.open) return;
    if (reason === 'idle_timeout') {
      this.ws.close(1000, 'idle timeout');
      return;
    }
    const frame = this.encoder.end(reason);
    if (frame) this.socket.write(frame);
    this.ws.close(reason === 'shutdown' ? 1001 : 1000, reason);
  }

  fault(code: string, message: string): void {
    if (!this.open) return;
    const frame = this.encoder.fault(code, message);
    if (frame) this.socket.write(frame);
    this.ws.close(1011, 'server error');
  }

  expire(code: string, message: string): void {
    if (!this.open) return;
    const frame = this.encoder.expired(code, message);
    if (frame) this.socket.write(frame);
    // 1008 Policy Violation (RFC 6455 section 7.4.1): the credentials no longer allow the stream.
    this.ws.close(1008, code);
  }
}

/** The WebSocket endpoint of a hub. */
export class WsStreams {
  private readonly wss = new WebSocketServer({
    noServer: true,
    // Off: event frames are pre-built, shared bytes (see wire-encoder.ts `wsTextFrame`).
    perMessageDeflate: false,
    maxPayload: MAX_CLIENT_PAYLOAD,
    clientTracking: false,
    handleProtocols: (offered) => this.selectProtocol(offered),
  });
  private readonly sockets = new Set<WebSocket>();
  private storeCheck: NodeJS.Timeout | undefined;
  private allowedParams: Map<string, { maxLength?: number }> | undefined;

  constructor(
    private readonly hub: Hub,
    private readonly config: Config,
    private readonly logger: Logger,
    /** The bundle served: its WebSocket encoder, parameters, error bodies and auth challenge. */
    private readonly served: ServedBundle,
  ) {
    this.encoder = served.encoders.ws!;
    this.timing = { hub, logger, pingMs: config.heartbeat_s * 1000, statusMs: this.encoder.statusEveryMs ?? config.status_s * 1000 };
  }

  private readonly timing: WsTiming;

  private readonly encoder: WireEncoder;

  /** Handles upgrades for `path` on `server`; other upgrade paths get a 404. */
  attach(server: Server, path: string, authorize: AuthorizeUpgrade): void {
    this.allowedParams = queryParameters(this.served.bundle.openapi, path);
    // Built at the first upgrade, when the server listens and its port is known.
    let allowedOrigins: AllowedOrigins | undefined;
    // Authentication may wait for a key set (JWKS), so the handshake is answered asynchronously, as
    // in `ws`'s own "client authentication" example.
    server.on('upgrade', async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      // One line per handshake, as the request log has one per request; the URL and errors are redacted.
      const logHandshake = (status: number, key?: string) =>
        this.logger.info({ method: req.method, url: redactUrl(req.url ?? '/'), status, ...(key ? { key } : {}) }, 'websocket handshake');
      let admitted: { query: ResolvedHistoryQuery; principal: Principal };
      try {
        if (isUrlTooLong(req.url, this.config.max_url_bytes)) throw errors.urlTooLong();
        const url = parseTarget(req.url);
        if (url === undefined) throw errors.malformedUrl();
        if (url.pathname !== path) throw errors.notFound();
        if (this.hub.isClosing) throw errors.shuttingDown();
        allowedOrigins ??= new AllowedOrigins(this.config, server.address() as AddressInfo | undefined);
        this.checkOrigin(req, allowedOrigins);
        admitted = await authorize(req);
        if (socket.destroyed) return; // the client left while its credentials were checked
        this.checkParameters(url);
        this.hub.admit(admitted.principal.keyId);
      } catch (error) {
        const response = refuse(socket, error, this.served);
        if (response.unexpected) this.logger.error({ err: redactForLog(error, requestSecrets(req)), url: redactUrl(req.url ?? '/') }, 'websocket upgrade failed');
        logHandshake(response.status);
        return;
      }
      const { query, principal } = admitted;
      let upgraded = false;
      // `ws` answers a malformed handshake itself (and never calls back): give the slot back.
      socket.once('close', () => {
        if (upgraded) return;
        this.hub.release(principal.keyId);
        logHandshake(400, principal.keyId);
      });
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true;
        logHandshake(101, principal.keyId);
        this.connect(ws, socket, query, principal);
      });
    });
  }

  /** Waits (at most 2 s) for connections to finish their close handshake, then terminates the rest. Call after `hub.close()`. */
  async close(): Promise<void> {
    if (this.storeCheck !== undefined) clearInterval(this.storeCheck);
    const pending = [...this.sockets].map(
      (ws) => new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once('close', () => resolve()))),
    );
    const timer = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref());
    await Promise.race([Promise.all(pending), timer]);
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
  }

  private connect(ws: WebSocket, socket: Duplex, query: ResolvedHistoryQuery, principal: Principal): void {
    this.sockets.add(ws);
    const transport = new WsTransport(ws, socket, this.encoder, this.timing);
    const plan = planStream(query);
    ws.on('error', (error) => this.logger.debug({ err: error }, 'websocket error'));
    if (plan.exhausted) {
      // The resume point is already past `until`: say so and close, as the SSE stream's 204 does.
      this.hub.release(principal.keyId);
      ws.once('close', () => this.sockets.delete(ws));
      transport.end('until_reached');
      return;
    }

    // Pings, status frames and dead-peer detection come from the hub's one sweep (WsTransport.tick).
    ws.on('pong', () => transport.pong());
    const onDrain = () => transport.drained();
    socket.on('drain', onDrain);
    this.startStoreChecks();

    let subscriber: Subscriber | undefined;
    const stop = () => {
      socket.off('drain', onDrain);
    };
    ws.once('close', () => {
      stop();
      this.sockets.delete(ws);
      if (subscriber !== undefined) this.hub.remove(subscriber);
    });
    subscriber = this.hub.subscribe(transport, principal.keyId, plan, principal);
    subscriber.dispose = stop;
  }

  /** Keeps the hub's store status fresh for the `status` frames while WebSocket streams are open. */
  private startStoreChecks(): void {
    if (this.storeCheck !== undefined) return;
    this.storeCheck = setInterval(() => {
      if (this.sockets.size === 0) {
        clearInterval(this.storeCheck);
        this.storeCheck = undefined;
        return;
      }
      void this.hub.checkStore();
    }, this.config.status_s * 1000);
    this.storeCheck.unref();
  }

  /**
   * Browsers send `Origin`; pages from origins that configuration does not allow (`cors_origins`,
   * `public_url`, see AllowedOrigins) may not open a stream with the user's ambient credentials.
   * Non-browser clients (no `Origin`) may. The request's `Host` plays no part (DNS rebinding).
   */
  private checkOrigin(req: IncomingMessage, allowed: AllowedOrigins): void {
    const origin = req.headers.origin;
    if (origin === undefined || allowed.allows(origin)) return;
    throw errors.forbidden('This origin may not open a WebSocket stream (see cors_origins and public_url)');
  }

  /**
   * The subprotocol to select (RFC 6455 section 4.2.2): the first of `ws_subprotocols` the client
   * offers, or none (`false`: no `Sec-WebSocket-Protocol` in the answer), whatever the client offers.
   */
  private selectProtocol(offered: Set<string>): string | false {
    return this.config.ws_subprotocols.find((protocol) => offered.has(protocol)) ?? false;
  }

  /** The checks express-openapi-validator makes on the HTTP side: declared query parameters, lengths. */
  private checkParameters(url: URL): void {
    const allowed = this.allowedParams;
    if (allowed === undefined) return;
    const details: ErrorDetail[] = [];
    for (const [name, value] of url.searchParams) {
      const spec = allowed.get(name);
      if (spec === undefined) {
        details.push({ path: `/query/${name}`, code: 'UNKNOWN_QUERY_PARAMETER', message: `Unknown query parameter '${name}'` });
      } else if (spec.maxLength !== undefined && value.length > spec.maxLength) {
        details.push({ path: `/query/${name}`, code: 'MAX_LENGTH', message: `must NOT have more than ${spec.maxLength} characters` });
      }
    }
    if (details.length > 0) throw errors.validationFailed(undefined, details);
  }
}

/**
 * Bytes the socket has accepted but not yet handed to the kernel, updated as partial writes
 * complete (libuv's write queue; Node exposes it on the handle, not on the socket). Undefined
 * where unavailable, and then only pongs and `drain` count as signs of life.
 */
function writeQueueSize(socket: Duplex): number | undefined {
  const size = (socket as { _handle?: { writeQueueSize?: unknown } })._handle?.writeQueueSize;
  return typeof size === 'number' ? size : undefined;
}

/** The request target as a URL (origin-form or absolute-form), or undefined when it is not one. */
function parseTarget(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

/** Writes the JSON error response for a refused upgrade and closes the socket. */
function refuse(socket: Duplex, error: unknown, served: ServedBundle): ReturnType<typeof toErrorResponse> {
  const response = toErrorResponse(error);
  const styled = styleError(served.bundle.errors, response.status, response.body);
  const body = JSON.stringify(styled.body);
  const challenge = response.status === 401 ? challengeFor(served.operation('stream-ws')) : undefined;
  const head = [
    `HTTP/1.1 ${styled.status} ${STATUS_CODES[styled.status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'Connection: close',
    ...(challenge ? [`WWW-Authenticate: ${challenge}`] : []),
  ];
  if (socket.writable) socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  else socket.destroy();
  return response;
}

/** The query parameters `specs/openapi.yaml` declares for the GET operation on `path` (with their maxLength), and query API keys. */
function queryParameters(openapi: Record<string, unknown>, path: string): Map<string, { maxLength?: number }> | undefined {
  const document = openapi as { paths: Record<string, { get?: { parameters?: unknown[] } }> } & Record<string, unknown>;
  const parameters = document.paths[path]?.get?.parameters;
  if (!Array.isArray(parameters)) return undefined;
  const allowed = new Map<string, { maxLength?: number }>();
  for (const item of parameters) {
    const parameter = resolveRef(document, item) as { name?: string; in?: string; schema?: { maxLength?: number } } | undefined;
    if (parameter?.in !== 'query' || typeof parameter.name !== 'string') continue;
    const maxLength = parameter.schema?.maxLength;
    allowed.set(parameter.name, typeof maxLength === 'number' ? { maxLength } : {});
  }
  // Credentials in the query (`?token=`) are declared as security schemes, not parameters.
  const schemes = (document.components as { securitySchemes?: Record<string, { type?: string; in?: string; name?: string }> } | undefined)?.securitySchemes ?? {};
  for (const scheme of Object.values(schemes)) {
    if (scheme.type === 'apiKey' && scheme.in === 'query' && typeof scheme.name === 'string' && !allowed.has(scheme.name)) allowed.set(scheme.name, {});
  }
  return allowed;
}

function resolveRef(document: Record<string, unknown>, item: unknown): unknown {
  const ref = (item as { $ref?: unknown } | undefined)?.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return item;
  let node: unknown = document;
  for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node;
}
