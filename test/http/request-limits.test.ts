import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { errors } from '../../src/errors.js';
import { rawExchange } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const AUTH = 'Authorization: Bearer sk_test_writer\r\n';
const EVENT = JSON.stringify({ type: 'grant.created', data: { grantId: 'grnt_1', userId: 'u', scopes: ['a'] } });

function expectJsonError(response: { status: number; headers: Record<string, string>; json: Record<string, unknown> | undefined }, status: number, code: string): void {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toContain('application/json');
  expect(response.json?.code).toBe(code);
}

describe('URL and header size (issue 12 item 7)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.dispose();
  });

  it.each([
    ['17 KB', 17 * 1024],
    ['60 KB', 60 * 1024],
  ])('answers a %s URL with 414 URL_TOO_LONG in JSON', async (_name, size) => {
    const response = await fetch(`${server.url}/v1/events?types=${'a'.repeat(size)}`, { headers: server.auth('reader') });
    expect(response.status).toBe(414);
    expect(((await response.json()) as { code: string }).code).toBe('URL_TOO_LONG');
  });

  it.each([
    ['a 100 KB URL', (s: string) => `GET /v1/events?types=${s} HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['a 100 KB header', (s: string) => `GET /v1/events HTTP/1.1\r\nHost: x\r\nX-Big: ${s}\r\n\r\n`],
    ['a 100 KB Authorization', (s: string) => `GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s}\r\n\r\n`],
  ])('answers %s with 431 HEADERS_TOO_LARGE in JSON, not a reset', async (_name, request) => {
    const response = await rawExchange(server.url, (socket) => socket.write(request('a'.repeat(100 * 1024))));
    expectJsonError(response, 431, 'HEADERS_TOO_LARGE');
    expect(response.headers.connection).toBe('close');
  });

  it.each([
    ['a garbage request line', 'GARBAGE\r\n\r\n'],
    ['a bad header line', 'GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n'],
    ['two Content-Length values', `POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}`],
    ['a bad chunk size', `POST /v1/events HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n`],
  ])('answers %s with 400 MALFORMED_REQUEST in JSON', async (_name, request) => {
    const response = await rawExchange(server.url, (socket) => socket.write(request));
    expectJsonError(response, 400, 'MALFORMED_REQUEST');
  });

  it('answers a WebSocket upgrade with a 17 KB URL with 414 in JSON', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1/events/ws?types=${'a'.repeat(17 * 1024)}`, { headers: server.auth('reader') });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      ws.once('open', () => resolve(101));
      ws.once('error', () => resolve(-1));
    });
    expect(status).toBe(414);
  });

  it('answers a path parameter that is not valid percent-encoding with 400 MALFORMED_URL', async () => {
    for (const path of ['/v1/events/%E0%A4%A', '/specs/%zz', '/docs/%FF']) {
      const response = await fetch(`${server.url}${path}`, { headers: server.auth('reader') });
      expect(response.status, path).toBe(400);
      expect(((await response.json()) as { code: string }).code, path).toBe('MALFORMED_URL');
    }
  });
});

describe('deadlines on headers and bodies (issue 12 item 8)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ headers_timeout_ms: 300, body_timeout_ms: 400, request_timeout_ms: 3000 });
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('answers headers that never end with 408 REQUEST_TIMEOUT and closes', async () => {
    const response = await rawExchange(server.url, (socket) => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'), { untilClose: true });
    expectJsonError(response, 408, 'REQUEST_TIMEOUT');
    expect(response.closed).toBe(true);
  });

  it('answers headers that trickle past the deadline with 408', async () => {
    let timer: NodeJS.Timeout | undefined;
    const response = await rawExchange(
      server.url,
      (socket) => {
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
        timer = setInterval(() => socket.writable && socket.write('X-Drip: 1\r\n'), 50);
      },
      { untilClose: true },
    ).finally(() => clearInterval(timer));
    expectJsonError(response, 408, 'REQUEST_TIMEOUT');
  });

  it.each([
    ['a Content-Length larger than what is sent', `Content-Length: 1000\r\n\r\n${EVENT.slice(0, 10)}`],
    ['a chunked body with no terminating chunk', `Transfer-Encoding: chunked\r\n\r\n5\r\n${EVENT.slice(0, 5)}\r\n`],
  ])('answers %s with 408 REQUEST_TIMEOUT in JSON and closes the connection', async (_name, rest) => {
    const response = await rawExchange(
      server.url,
      (socket) => socket.write(`POST /v1/events HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Type: application/json\r\n${rest}`),
      { untilClose: true },
    );
    expectJsonError(response, 408, 'REQUEST_TIMEOUT');
    expect(response.headers.connection).toBe('close');
    expect(response.closed).toBe(true);
  });

  it('answers a body that trickles past the deadline with 408', async () => {
    let timer: NodeJS.Timeout | undefined;
    const response = await rawExchange(
      server.url,
      (socket) => {
        socket.write(`POST /v1/events HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n`);
        timer = setInterval(() => socket.writable && socket.write(' '), 50);
      },
      { untilClose: true },
    ).finally(() => clearInterval(timer));
    expectJsonError(response, 408, 'REQUEST_TIMEOUT');
  });

  it('still accepts a body that arrives in time on the same server', async () => {
    const response = await rawExchange(server.url, (socket) =>
      socket.write(`POST /v1/events HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(EVENT)}\r\n\r\n${EVENT}`),
    );
    expect(response.status).toBe(201);
  });
});

describe('the request deadline (request_timeout_ms)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ headers_timeout_ms: 200, body_timeout_ms: 60_000, request_timeout_ms: 500 });
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('answers a body still arriving at request_timeout_ms with 408 in JSON', async () => {
    let timer: NodeJS.Timeout | undefined;
    const response = await rawExchange(
      server.url,
      (socket) => {
        socket.write(`POST /v1/events HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n`);
        timer = setInterval(() => socket.writable && socket.write(' '), 50);
      },
      { untilClose: true },
    ).finally(() => clearInterval(timer));
    expectJsonError(response, 408, 'REQUEST_TIMEOUT');
  });

  it('keeps SSE streams open past every request deadline', async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/v1/events/stream`, { headers: server.auth('reader'), signal: controller.signal });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    await reader.read();
    // Twice every deadline of this server: a stream is a response, not a request that is still arriving.
    const alive = await Promise.race([reader.read().then((chunk) => (chunk.done ? 'ended' : 'data')), new Promise((r) => setTimeout(() => r('alive'), 1000))]);
    expect(['alive', 'data']).toContain(alive);
    controller.abort();
  });
  it('refuses a request deadline shorter than the headers deadline at start-up', async () => {
    await expect(startTestServer({ headers_timeout_ms: 1000, request_timeout_ms: 500 })).rejects.toThrow(/request_timeout_ms/);
  });
});

it('registers every code these tests expect', () => {
  const codes = new Set(Object.values(errors).map((definition) => definition.code));
  for (const code of ['URL_TOO_LONG', 'HEADERS_TOO_LARGE', 'MALFORMED_REQUEST', 'MALFORMED_URL', 'REQUEST_TIMEOUT']) expect(codes).toContain(code);
});
