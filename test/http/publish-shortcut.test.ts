/**
 * The publish hot path (src/http/publish-shortcut.ts) answers exactly as the express pipeline
 * does. Two servers get the same requests: one with `response_validation` on (tests' default:
 * the shortcut is off and express serves every request) and one with it off (the shortcut takes
 * what it can). Every answer must be the same status, the same headers that matter and the same
 * body (ids and times aside), and the plain publishes must really have been taken by the shortcut.
 */
import { request, ServerResponse, type IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog } from '../../src/generated/catalog.js';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends raw bytes, so that every header (Content-Length, Content-Type) is exactly as given. */
function send(url: string, headers: Record<string, string>, body: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const req = request(url, { method: 'POST', headers: { 'Content-Length': String(bytes.length), ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(bytes);
  });
}

/** Ids, times and dates differ between the two servers; everything else must not. */
function normalize(body: string): string {
  return body.replace(/evt_[0-9A-Z]{26}/g, 'evt_ID').replace(/"time":"[^"]+"/g, '"time":"T"');
}

const COMPARED_HEADERS = ['content-type', 'content-length', 'www-authenticate', 'idempotent-replayed', 'connection', 'ratelimit', 'ratelimit-policy', 'retry-after', 'vary', 'access-control-allow-origin'];

const json = { 'Content-Type': 'application/json', Authorization: `Bearer ${TEST_KEYS.writer.secret}` };
const event = { type: 'token.issued', data: catalog['token.issued'].example };
const text = (value: unknown) => JSON.stringify(value);

/** [name, headers, body] of every request compared. */
const CASES: [string, Record<string, string>, Buffer | string][] = [
  ['one event', json, text(event)],
  ['one event with subject and source', json, text({ ...event, subject: 'sub_1', source: '/tokens/x' })],
  ['a batch', json, text([event, { type: 'grant.revoked', data: catalog['grant.revoked'].example }])],
  ['charset=utf-8', { ...json, 'Content-Type': 'application/json; charset=utf-8' }, text(event)],
  ['charset=UTF-8 with spaces', { ...json, 'Content-Type': 'application/json ;  Charset=UTF-8' }, text(event)],
  ['a UTF-8 BOM', json, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text(event))])],
  ['data failing its schema', json, text({ type: 'grant.created', data: { grantId: 'nope', userId: 'u' } })],
  ['an unknown type', json, text({ type: 'grant.exploded', data: {} })],
  ['a type that is not a type name', json, text({ type: 'Not A Type', data: {} })],
  ['a client-chosen id', json, text({ ...event, id: 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P' })],
  ['no data', json, text({ type: 'token.issued' })],
  ['data that is an array', json, text({ type: 'token.issued', data: [] })],
  ['a number as source (coerced by the validator)', json, text({ ...event, source: 5 })],
  ['an empty subject', json, text({ ...event, subject: '' })],
  ['datacontenttype other than JSON', json, text({ ...event, datacontenttype: 'text/plain' })],
  ['an empty batch', json, text([])],
  ['a batch of 1001', json, text(Array.from({ length: 1001 }, () => event))],
  ['a batch with one bad item', json, text([event, { type: 'grant.revoked', data: { ...catalog['grant.revoked'].example, reason: 'whim' } }])],
  ['not JSON', json, '{"type":'],
  ['a JSON string', json, '"token.issued"'],
  ['JSON null', json, 'null'],
  ['whitespace only', json, '   '],
  ['a __proto__ key', json, '{"type":"token.issued","data":{"__proto__":{"x":1}}}'],
  ['a NUL character', json, text({ ...event, subject: 'a\u0000b' })],
  ['a lone surrogate', json, '{"type":"token.issued","subject":"\\ud800","data":{}}'],
  ['too deep', json, `{"type":"token.issued","data":${'{"a":'.repeat(70)}1${'}'.repeat(70)}}`],
  ['no credentials', { 'Content-Type': 'application/json' }, text(event)],
  ['a wrong secret', { ...json, Authorization: 'Bearer sk_nope' }, text(event)],
  ['a reader key', { ...json, Authorization: `Bearer ${TEST_KEYS.reader.secret}` }, text(event)],
  ['a key that may write grants only', { ...json, Authorization: `Bearer ${TEST_KEYS.grants.secret}` }, text(event)],
  ['an Idempotency-Key', { ...json, 'Idempotency-Key': 'k-1' }, text(event)],
  ['the same Idempotency-Key again', { ...json, 'Idempotency-Key': 'k-1' }, text(event)],
  ['the same Idempotency-Key with another body', { ...json, 'Idempotency-Key': 'k-1' }, text({ ...event, subject: 'other' })],
  ['an Idempotency-Key too long', { ...json, 'Idempotency-Key': 'k'.repeat(256) }, text(event)],
  ['text/plain', { ...json, 'Content-Type': 'text/plain' }, text(event)],
  ['a latin1 charset', { ...json, 'Content-Type': 'application/json; charset=latin1' }, text(event)],
  ['gzip', { ...json, 'Content-Encoding': 'gzip' }, gzipSync(text(event))],
  ['a Content-Encoding that is not one', { ...json, 'Content-Encoding': 'gzip' }, text(event)],
  ['a body over body_limit_bytes', json, text({ type: 'admin.legacy_note', data: { noteId: 'n', author: 'a', text: 'x'.repeat(5000) } })],
  ['an Origin', { ...json, Origin: 'https://app.example.com' }, text(event)],
];

describe('publish shortcut', () => {
  let viaExpress: TestServer;
  let viaShortcut: TestServer;
  /** For each request to the shortcut server: whether express handled it (its response prototype). */
  const expressServed: boolean[] = [];

  beforeAll(async () => {
    const overrides = { body_limit_bytes: 4096, cors_origins: ['https://app.example.com'] };
    viaExpress = await startTestServer(overrides);
    viaShortcut = await startTestServer({ ...overrides, response_validation: false });
    viaShortcut.server.on('request', (_req, res: ServerResponse) => {
      res.once('finish', () => expressServed.push(Object.getPrototypeOf(res) !== ServerResponse.prototype));
    });
  });
  afterAll(async () => {
    await viaExpress.dispose();
    await viaShortcut.dispose();
  });

  it('answers every request as the express pipeline does', async () => {
    for (const [name, headers, body] of CASES) {
      const expected = await send(`${viaExpress.url}/v1/events`, headers, body);
      const actual = await send(`${viaShortcut.url}/v1/events`, headers, body);
      expect(actual.status, name).toBe(expected.status);
      for (const header of COMPARED_HEADERS) expect(actual.headers[header], `${name}: ${header}`).toEqual(expected.headers[header]);
      expect(normalize(actual.body), name).toBe(normalize(expected.body));
    }
  });

  it('takes plain valid publishes without express, and leaves the rest to it', async () => {
    expressServed.length = 0;
    const plain = await send(`${viaShortcut.url}/v1/events`, json, text(event));
    const batch = await send(`${viaShortcut.url}/v1/events`, { ...json, 'Idempotency-Key': 'k-2' }, text([event, event]));
    const invalid = await send(`${viaShortcut.url}/v1/events`, json, text({ ...event, id: 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P' }));
    const encoded = await send(`${viaShortcut.url}/v1/events`, { ...json, 'Content-Encoding': 'gzip' }, gzipSync(text(event)));
    expect([plain.status, batch.status, invalid.status, encoded.status]).toEqual([201, 201, 400, 201]);
    await expect.poll(() => expressServed.length).toBe(4);
    expect(expressServed).toEqual([false, false, true, true]);
  });

  it('applies the publish rate limit as express does (429 RATE_LIMITED past the bucket)', async () => {
    const limited = await startTestServer({ response_validation: false, publish_rate_per_s: 1, publish_burst: 2 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await send(`${limited.url}/v1/events`, json, text(event))).status);
      expect(statuses).toEqual([201, 201, 429]);
      const refused = await send(`${limited.url}/v1/events`, json, text(event));
      expect(JSON.parse(refused.body)).toMatchObject({ code: 'RATE_LIMITED' });
      expect(refused.headers['retry-after']).toBeDefined();
    } finally {
      await limited.dispose();
    }
  });

  it('stores what the shortcut accepted, readable as express stored it', async () => {
    const sent = { type: 'token.issued', subject: 'shortcut-check', data: catalog['token.issued'].example };
    const answer = await send(`${viaShortcut.url}/v1/events`, json, text(sent));
    expect(answer.status).toBe(201);
    const stored = JSON.parse(answer.body) as { id: string };
    const read = await fetch(`${viaShortcut.url}/v1/events/${stored.id}`, { headers: viaShortcut.auth('reader') });
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(JSON.parse(answer.body));
  });
});
