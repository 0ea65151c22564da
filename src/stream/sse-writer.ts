/**
 * `GET /v1/events/stream`: the Server-Sent Events side of the hub (channel `sseStream` of
 * specs/asyncapi.yaml).
 *
 * Each event is `id:` / `event: <type>` / `data: <envelope>`. Because every event is named by its
 * type, a browser `EventSource` delivers it to `addEventListener('<type>', …)`, not to
 * `onmessage` (which only sees events named `message`). To receive every event with one handler,
 * register it for each type of the catalog (`GET /v1/catalog`); see README "Streaming".
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Request, Response } from 'express';
import type { Principal } from '../auth/principal.js';
import type { Config } from '../config/load-config.js';
import type { ResolvedHistoryQuery } from '../query/resolve-history-query.js';
import type { DropNotice, WireEncoder } from './wire-encoder.js';
import { planStream, type Hub } from './hub.js';
import type { EndReason, Subscriber, SubscriberTransport } from './subscriber.js';

/** The response headers of a stream; `X-Accel-Buffering: no` stops nginx from buffering it. */
export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
} as const;

/** Writes one SSE response. */
export class SseTransport implements SubscriberTransport {
  readonly format = 'sse' as const;
  /** False once the response ended or its connection closed (a plain field: it is read on every write). */
  private open = true;
  /** When the next heartbeat is due (`Date.now()` ms); the hub's sweep writes it (see `tick`). */
  private heartbeatAt: number;
  /**
   * The connection, when event frames go straight to it as ready-made HTTP/1.1 chunks (RFC 9112
   * section 7.1, see `chunkOf`), past Node's response, as the WebSocket writer writes its frames;
   * undefined when the response is not chunked (an HTTP/1.0 client), and frames go through `res`.
   */
  readonly #socket: Socket | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly heartbeatMs: number,
    /** The bundle's SSE encoder: heartbeat, drop notice and fault frames. */
    readonly encoder: WireEncoder,
    /** Called once when the response ends or its connection closes (the stream's one `close` listener). */
    onClose: () => void = () => {},
  ) {
    this.heartbeatAt = Date.now() + heartbeatMs;
    // Known once the head is written (serveSse writes it before making the transport).
    this.#socket = (res as { chunkedEncoding?: boolean }).chunkedEncoding === true ? (res.socket ?? undefined) : undefined;
    res.once('close', () => {
      this.open = false;
      onClose();
    });
  }

  /** Writes the heartbeat comment when due (every `heartbeat_s`), from the hub's one sweep timer. */
  tick(now: number): void {
    if (now < this.heartbeatAt) return;
    this.heartbeatAt = now + this.heartbeatMs;
    const heartbeat = this.encoder.heartbeat;
    // A socket that is not draining gets no more bytes; the client notices silence, not us.
    if (heartbeat && this.open && !(this.#socket ?? this.res).writableNeedDrain) this.write(heartbeat);
  }

  write(bytes: Buffer): boolean {
    if (!this.open) return true;
    // One write of bytes shared by every subscriber of the batch, instead of Node's four pieces per
    // write (size line, CRLF, data, CRLF) gathered on the next tick.
    if (this.#socket !== undefined) return bytes.length === 0 || this.#socket.write(chunkOf(bytes));
    return this.res.write(bytes);
  }

  get bufferedBytes(): number {
    // Node's count for a response includes what its socket holds (direct chunks too).
    return this.res.writableLength;
  }

  onceDrain(listener: () => void): void {
    if (this.#socket !== undefined) this.#socket.once('drain', listener);
    else this.res.once('drain', listener);
  }

  writeDropped(notice: DropNotice): boolean {
    const frames = this.encoder.dropped(notice);
    return frames ? this.write(frames) : true;
  }

  end(_reason: EndReason): void {
    // Every reason ends the 200 response the same way: an EventSource then reconnects (after
    // `retry`) with Last-Event-ID, to this server or another; after `until` it gets a 204.
    this.stop();
    if (this.open) this.res.end();
    this.open = false;
  }

  fault(): void {
    this.stop();
    const frame = this.encoder.fault('INTERNAL', 'internal server error');
    if (this.open) this.res.end(frame);
    this.open = false;
  }

  expire(code: string, message: string): void {
    this.stop();
    // The bundle's `expired` event (a browser's EventSource can listen for it), then the end: the
    // client connects again with a fresh token and Last-Event-ID.
    const frame = this.encoder.expired(code, message);
    if (this.open) this.res.end(frame);
    this.open = false;
  }

  /** Stops the heartbeat (the sweep writes nothing more). Safe to call twice. */
  stop(): void {
    this.heartbeatAt = Number.POSITIVE_INFINITY;
  }
}

/**
 * Serves an SSE stream for a validated, authorized request: 204 when the resume point is already
 * past the end, 429 (rejected, before any byte) beyond the connection limits, otherwise the 200
 * stream. The returned promise resolves when the stream is over. Not an async function: an open
 * stream keeps no suspended call frame, only its subscriber and transport (memory per connection).
 */
export function serveSse(
  hub: Hub,
  config: Config,
  encoder: WireEncoder,
  req: Request,
  res: Response,
  query: ResolvedHistoryQuery,
  principal: Principal,
): Promise<void> {
  const plan = planStream(query);
  if (plan.exhausted) {
    // Node's own response calls (the SSE hot path, src/http/stream-shortcut.ts, serves without express).
    res.statusCode = 204;
    res.end();
    return Promise.resolve();
  }
  // The client may have gone while the request was validated: then there is nothing to serve.
  if (req.socket.destroyed) return Promise.resolve();
  try {
    hub.admit(principal.keyId);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise<void>((resolve, reject) => {
    let subscriber: Subscriber | undefined;
    let transport: SseTransport;
    try {
      res.writeHead(200, SSE_HEADERS);
      req.socket.setNoDelay(true);
      const preamble = encoder.preamble(config.retry_ms);
      if (preamble) res.write(preamble);
      else res.flushHeaders();
      flattenHeader(res);
      transport = new SseTransport(res, config.heartbeat_s * 1000, encoder, () => {
        if (subscriber !== undefined) hub.remove(subscriber);
        resolve();
      });
    } catch (error) {
      hub.release(principal.keyId);
      reject(error);
      return;
    }
    subscriber = hub.subscribe(transport, principal.keyId, plan, principal);
    subscriber.dispose = () => transport.stop();
  });
}

let lastBytes: Buffer | undefined;
let lastChunk: Buffer | undefined;

/**
 * `bytes` as one HTTP/1.1 chunk: its size in hex, CRLF, the bytes, CRLF (RFC 9112 section 7.1);
 * several chunks back to back are what Node's `res.write` sends for several writes. The hub hands
 * the same Buffer to every subscriber of a batch in turn, so the last chunk made is kept and
 * reused (one entry: nothing else is retained).
 */
function chunkOf(bytes: Buffer): Buffer {
  if (bytes === lastBytes) return lastChunk!;
  const size = bytes.length.toString(16);
  const chunk = Buffer.allocUnsafe(size.length + bytes.length + 4);
  chunk.write(size, 0, 'latin1');
  chunk[size.length] = 13;
  chunk[size.length + 1] = 10;
  bytes.copy(chunk, size.length + 2);
  chunk[chunk.length - 2] = 13;
  chunk[chunk.length - 1] = 10;
  lastBytes = bytes;
  lastChunk = chunk;
  return chunk;
}

/**
 * Node keeps a response's header block (`_header`, which `headersSent` reads) as it built it: a
 * rope of a few dozen small strings. Searching it makes V8 flatten it in place into one string, so
 * that an open stream holds about 200 bytes instead of the rope.
 */
function flattenHeader(res: ServerResponse): void {
  const header = (res as { _header?: unknown })._header;
  if (typeof header === 'string') header.indexOf('\n');
}
