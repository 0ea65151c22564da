import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// Issue 12 item 7: client mistakes are 4xx JSON errors with a registered code, never a 500.
const EVENT = JSON.stringify({ type: 'grant.created', data: { grantId: 'grnt_1', userId: 'u', scopes: ['a'] } });

describe('client mistakes in bodies, queries and methods', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.dispose();
  });

  const post = (headers: Record<string, string>, body: string | Uint8Array) =>
    fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { ...server.auth('writer'), ...headers },
      // A Buffer is a Uint8Array; undici takes either, the DOM BodyInit type only the former as a Blob part.
      body: typeof body === 'string' ? body : new Blob([new Uint8Array(body)]),
    });

  it.each([
    ['charset=latin1', { 'Content-Type': 'application/json; charset=latin1' }, EVENT, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['charset=iso-8859-1', { 'Content-Type': 'application/json; charset=iso-8859-1' }, EVENT, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['Content-Encoding: zstd', { 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' }, EVENT, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['Content-Encoding: compress', { 'Content-Type': 'application/json', 'Content-Encoding': 'compress' }, EVENT, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['Content-Encoding: gzip, gzip', { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip, gzip' }, EVENT, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['gzip with a plain body', { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, EVENT, 400, 'INVALID_CONTENT_ENCODING'],
    ['deflate with a plain body', { 'Content-Type': 'application/json', 'Content-Encoding': 'deflate' }, EVENT, 400, 'INVALID_CONTENT_ENCODING'],
    ['br with a plain body', { 'Content-Type': 'application/json', 'Content-Encoding': 'br' }, EVENT, 400, 'INVALID_CONTENT_ENCODING'],
    ['a truncated gzip body', { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, gzipSync(EVENT).subarray(0, 12), 400, 'INVALID_CONTENT_ENCODING'],
    ['bad JSON', { 'Content-Type': 'application/json' }, '{"type":', 400, 'INVALID_JSON'],
    ['text/plain', { 'Content-Type': 'text/plain' }, EVENT, 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ] as const)('answers %s with %i %s', async (_name, headers, body, status, code) => {
    const response = await post(headers, body);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(((await response.json()) as { code: string }).code).toBe(code);
  });

  it('accepts a gzip body that is gzip', async () => {
    const response = await post({ 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, gzipSync(EVENT));
    expect(response.status).toBe(201);
  });

  it.each(['Infinity', '-Infinity', '+Infinity', '1e400', '-1e400', 'NaN', '-1', '0', '1001', '1e3000', '99999999999999999999999', '1.5', '0x10g', ''])(
    'answers limit=%s with 400 VALIDATION_FAILED',
    async (limit) => {
      const response = await fetch(`${server.url}/v1/events?limit=${encodeURIComponent(limit)}`, { headers: server.auth('reader') });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { code: string; details: { path: string }[] };
      expect(body.code).toBe('VALIDATION_FAILED');
      expect(body.details.map((d) => d.path)).toContain('/query/limit');
    },
  );

  it.each([
    ['limit twice', '?limit=1&limit=2'],
    ['types twice', '?types=grant.*&types=token.*'],
    ['cursor twice', '?cursor=a&cursor=b'],
    ['since twice', '?since=2026-01-01T00:00:00Z&since=2026-01-02T00:00:00Z'],
    ['a malformed escape in a value', '?types=%E0%A4%A'],
    ['a malformed escape in a name', '?%zz=1'],
    ['an unknown parameter', '?colour=blue'],
    ['types[]', '?types[]=grant.created'],
  ])('answers %s with a 400 JSON error', async (_name, query) => {
    const response = await fetch(`${server.url}/v1/events${query}`, { headers: server.auth('reader') });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { code: string }).code).toMatch(/^[A-Z_]+$/);
  });

  it.each([
    ['PUT', '/v1/events', 405],
    ['DELETE', '/v1/events/evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P', 405],
    ['PATCH', '/healthz', 405],
    ['POST', '/v1/events/stream', 405],
    ['GET', '/nowhere', 404],
  ])('answers %s %s with a JSON %i', async (method, path, status) => {
    const response = await fetch(`${server.url}${path}`, { method, headers: server.auth('reader') });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/json');
  });

  it('answers an unknown method with a JSON 4xx', async () => {
    const response = await rawExchange(server.url, (socket) => socket.write('BREW /v1/events HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.json?.code).toMatch(/^[A-Z_]+$/);
  });
});

// A POST whose request has no body at all (no Content-Length, not chunked): express.json leaves the
// body undefined and the OpenAPI validator let it through, so the publish handler read `undefined.type`
// (500). Every operation with `requestBody.required` answers 400 instead, on express's path and on the
// publish shortcut's (response validation off).
describe.each([
  ['through express (response validation on)', { response_validation: true }],
  ['through the publish shortcut (response validation off)', { response_validation: false }],
])('a required body that is missing, %s', (_name, overrides) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(overrides);
  });
  afterAll(async () => {
    await server.dispose();
  });

  it.each([
    ['POST /v1/events', '/v1/events', 'writer'],
    ['POST /v1/tokens', '/v1/tokens', 'admin'],
  ] as const)('answers %s with no body 400 VALIDATION_FAILED, REQUIRED at the root', async (_label, path, key) => {
    const headers = Object.entries({ ...server.auth(key), 'Content-Type': 'application/json' })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    const response = await rawExchange(server.url, (socket) => socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`));
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toContain('application/json');
    expect(response.json).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: '', code: 'REQUIRED' }] });
  });
});
