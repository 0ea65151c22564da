/**
 * Limits and deadlines on what a client sends before a handler runs: the size of the request
 * target and headers, and how long headers and bodies may take to arrive. Whatever Node refuses
 * itself (`clientError`) is answered with the same JSON error body as everything else, while a
 * response is still possible; a connection past a deadline is then closed.
 */
import { STATUS_CODES, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Config } from '../config/load-config.js';
import { errors, type SpecstreamError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

/** How long a refused connection is read (and discarded) after its answer, so the client reads the answer rather than a reset. */
const LINGER_MS = 2000;

/** The limits of this module that come from the configuration. */
export type RequestLimits = Pick<Config, 'headers_timeout_ms' | 'request_timeout_ms' | 'body_timeout_ms' | 'max_url_bytes' | 'max_header_bytes'>;

/**
 * Options for `http.createServer`: `maxHeaderSize` (request line + headers, bytes), `headersTimeout`
 * and `requestTimeout` (ms; the latter at least the former), and how often Node checks them
 * (a tenth of the shorter deadline, between 10 ms and 1 s, so a deadline is kept within 10 %).
 * Throws a RangeError when `request_timeout_ms < headers_timeout_ms`.
 */
export function httpServerOptions(limits: RequestLimits): ServerOptions {
  if (limits.request_timeout_ms < limits.headers_timeout_ms) {
    throw new RangeError(`request_timeout_ms (${limits.request_timeout_ms}) must be at least headers_timeout_ms (${limits.headers_timeout_ms})`);
  }
  return {
    maxHeaderSize: limits.max_header_bytes,
    headersTimeout: limits.headers_timeout_ms,
    requestTimeout: limits.request_timeout_ms,
    connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(limits.headers_timeout_ms / 10))),
  };
}

/** The registry error for what Node's parser or its deadlines refused, or undefined when the peer is simply gone. */
function clientErrorFor(error: NodeJS.ErrnoException): SpecstreamError | undefined {
  switch (error.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    case 'HPE_HEADER_OVERFLOW':
      return errors.headersTooLarge();
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return errors.requestTimeout();
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return errors.payloadTooLarge('Chunk extensions are larger than the limit');
    default:
      return errors.malformedRequest();
  }
}

/**
 * Answers what node:http refuses before the app sees a request (headers over `max_header_bytes`,
 * a headers or request deadline, malformed HTTP) with a JSON error and `Connection: close`, when
 * nothing of a response was written yet; the connection is then read and discarded for at most
 * 2 s, so that the client sees the answer rather than a reset, and closed.
 */
export function answerClientErrors(server: Server, logger: Logger): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const refusal = clientErrorFor(error);
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (refusal === undefined || !socket.writable || (inFlight && inFlight.headersSent)) {
      socket.destroy();
      return;
    }
    logger.debug({ code: error.code, status: refusal.status }, 'refused a request before routing');
    writeRawError(socket, refusal);
  });
}

/** Writes `error` as a complete HTTP/1.1 response on `socket`, then lingers and closes it. */
export function writeRawError(socket: Duplex, error: SpecstreamError): void {
  const body = JSON.stringify(error.toBody());
  const head = [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'Connection: close',
  ];
  linger(socket);
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/** Discards what the peer still sends until it closes, for at most LINGER_MS, then destroys the socket. */
function linger(socket: Duplex): void {
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  socket.on('data', () => {});
  socket.resume();
}

/** True when the request target is longer than `maxBytes` (UTF-8 bytes). */
export function isUrlTooLong(target: string | undefined, maxBytes: number): boolean {
  const url = target ?? '';
  return url.length > maxBytes || Buffer.byteLength(url) > maxBytes;
}

/** Refuses a request target longer than `maxBytes` with 414 `URL_TOO_LONG`, before anything reads it. */
export function rejectLongUrls(maxBytes: number): RequestHandler {
  return (req, res, next) => {
    if (!isUrlTooLong(req.originalUrl, maxBytes)) return next();
    res.setHeader('Connection', 'close');
    next(errors.urlTooLong(`The URL is longer than ${maxBytes} bytes`));
  };
}

/** True when the request announces a body (`Transfer-Encoding` or a non-zero `Content-Length`). */
function announcesBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * A deadline on reading the request body: when it has not ended `ms` after its headers (a body
 * that never ends, a `Content-Length` larger than what is sent, a trickle), `onTimeout` answers
 * 408 `REQUEST_TIMEOUT` with `Connection: close`, so the connection is closed once the answer is
 * written. `onTimeout` is the app's error handler, so the body has the app's usual shape.
 */
export function bodyDeadline(
  ms: number,
  onTimeout: (error: SpecstreamError, req: Request, res: Response, next: NextFunction) => void,
): RequestHandler {
  return (req, res, next) => {
    if (req.complete || !announcesBody(req)) return next();
    const timer = setTimeout(() => {
      if (req.complete || res.headersSent) return;
      res.setHeader('Connection', 'close');
      onTimeout(errors.requestTimeout(`The request body did not arrive within ${ms} ms`), req, res, () => {});
    }, ms);
    timer.unref();
    const clear = () => clearTimeout(timer);
    req.once('end', clear);
    req.once('close', clear);
    res.once('finish', clear);
    res.once('close', clear);
    next();
  };
}
