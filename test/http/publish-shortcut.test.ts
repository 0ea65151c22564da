/**
 * The hot paths (src/http/publish-shortcut.ts, stream-shortcut.ts) answer exactly as the express
 * pipeline does. Two servers get the same requests: one with `response_validation` on (tests'
 * default: the shortcuts are off and express serves every request) and one with it off (the
 * shortcuts take what they can). Every answer must be the same status, the same headers that
 * matter and the same body or first frames (ids and times aside), and the plain publishes and
 * streams must really have been taken by a shortcut.
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

/** Opens a GET stream and returns its status, headers and its first `frames` frames (or whole body), then leaves. */
function openStream(url: string, headers: Record<string, string>, frames = 2): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
      let body = '';
      const done = () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      };
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
        const blocks = body.split('\n\n');
        if (res.statusCode === 200 && blocks.length > frames) {
          body = `${blocks.slice(0, frames).join('\n\n')}\n\n`;
          done();
        }
      });
      res.on('end', done);
      res.on('error', () => {});
    });
    req.on('error', reject);
    req.end();
  });
}

describe('publish and stream shortcuts', () => {
  let viaExpress: TestServer;
  let viaShortcut: TestServer;
  /** For each request to the shortcut server with an `X-Mark` header: whether express handled it (its response prototype). */
  const expressServed = new Map<string, boolean>();

  beforeAll(async () => {
    const overrides = { body_limit_bytes: 4096, cors_origins: ['https://app.example.com'] };
    viaExpress = await startTestServer(overrides);
    viaShortcut = await startTestServer({ ...overrides, response_validation: false });
    viaShortcut.server.on('request', (req, res: ServerResponse) => {
      const mark = req.headers['x-mark'];
      if (typeof mark === 'string') res.once('close', () => expressServed.set(mark, Object.getPrototypeOf(res) !== ServerResponse.prototype));
    });
    // The same history on both: a stream's resume point is the newest event of its types.
    for (const server of [viaExpress, viaShortcut]) await send(`${server.url}/v1/events`, json, text([event, { type: 'grant.revoked', data: catalog['grant.revoked'].example }]));
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
    const plain = await send(`${viaShortcut.url}/v1/events`, { ...json, 'X-Mark': 'p1' }, text(event));
    const batch = await send(`${viaShortcut.url}/v1/events`, { ...json, 'X-Mark': 'p2', 'Idempotency-Key': 'k-2' }, text([event, event]));
    const invalid = await send(`${viaShortcut.url}/v1/events`, { ...json, 'X-Mark': 'p3' }, text({ ...event, id: 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P' }));
    const encoded = await send(`${viaShortcut.url}/v1/events`, { ...json, 'X-Mark': 'p4', 'Content-Encoding': 'gzip' }, gzipSync(text(event)));
    expect([plain.status, batch.status, invalid.status, encoded.status]).toEqual([201, 201, 400, 201]);
    await expect.poll(() => ['p1', 'p2', 'p3', 'p4'].map((mark) => expressServed.get(mark))).toEqual([false, false, true, true]);
  });

  it('opens every stream as the express pipeline does', async () => {
    const reader = { Authorization: `Bearer ${TEST_KEYS.reader.secret}` };
    const past = 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P';
    const streams: [string, string, Record<string, string>][] = [
      ['live, every type', '', reader],
      ['types', '?types=grant.*,token.issued', reader],
      ['an unknown type', '?types=nope.nothing', reader],
      ['an empty types', '?types=', reader],
      ['since (a time)', '?since=2026-01-01T00:00:00Z', reader],
      ['since_id', `?since_id=${past}`, reader],
      ['since_id that is no id', '?since_id=abc', reader],
      ['since and since_id', `?since=2026-01-01T00:00:00Z&since_id=${past}`, reader],
      ['until_id without since_id', `?until_id=${past}`, reader],
      ['a resume point past until_id', `?since_id=${past}&until_id=${past}&last_event_id=${past}`, reader],
      ['an unknown parameter', '?nope=1', reader],
      ['a parameter twice', '?types=grant.created&types=token.issued', reader],
      ['a percent-escape', '?types=grant.%2A', reader],
      ['a bad percent-escape', '?types=%zz', reader],
      ['a reserved character where not allowed', '?since_id=evt_01:x', reader],
      ['a value over maxLength', `?types=${'a.b,'.repeat(300)}`, reader],
      ['the token in the query', `?token=${TEST_KEYS.reader.secret}`, {}],
      ['a query token that is not allowed for its key', `?token=${TEST_KEYS.noquery.secret}`, {}],
      ['Last-Event-ID', '', { ...reader, 'Last-Event-ID': past }],
      ['Last-Event-ID that is no id', '', { ...reader, 'Last-Event-ID': 'nope' }],
      ['no credentials', '', {}],
      ['a writer key', '', { Authorization: `Bearer ${TEST_KEYS.writer.secret}` }],
      ['types the key may not read', '?types=token.issued', { Authorization: `Bearer ${TEST_KEYS.grants.secret}` }],
      ['an Origin', '', { ...reader, Origin: 'https://app.example.com' }],
    ];
    for (const [name, query, headers] of streams) {
      const expected = await openStream(`${viaExpress.url}/v1/events/stream${query}`, headers);
      const actual = await openStream(`${viaShortcut.url}/v1/events/stream${query}`, headers);
      expect(actual.status, name).toBe(expected.status);
      for (const header of [...COMPARED_HEADERS, 'cache-control', 'x-accel-buffering']) {
        expect(actual.headers[header], `${name}: ${header}`).toEqual(expected.headers[header]);
      }
      expect(normalize(actual.body), name).toBe(normalize(expected.body));
    }
  });

  it('takes plain streams without express, and leaves the rest to it', async () => {
    const reader = { Authorization: `Bearer ${TEST_KEYS.reader.secret}` };
    const statuses = [
      (await openStream(`${viaShortcut.url}/v1/events/stream?types=grant.*`, { ...reader, 'X-Mark': 's1' })).status,
      (await openStream(`${viaShortcut.url}/v1/events/stream?types=grant.%2A`, { ...reader, 'X-Mark': 's2' })).status,
      (await openStream(`${viaShortcut.url}/v1/events/stream?nope=1`, { ...reader, 'X-Mark': 's3' })).status,
    ];
    expect(statuses).toEqual([200, 200, 400]);
    await expect.poll(() => ['s1', 's2', 's3'].map((mark) => expressServed.get(mark))).toEqual([false, true, true]);
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
