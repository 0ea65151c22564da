import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog } from '../../src/generated/catalog.js';
import { call } from '../helpers/openapi-responses.js';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';

type Json = Record<string, unknown>;

describe('authentication and scopes', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await call('POST', `${server.url}/v1/events`, {
      headers: server.auth('admin'),
      body: [
        { type: 'grant.created', data: catalog['grant.created'].example },
        { type: 'security.alert', data: catalog['security.alert'].example },
      ],
    });
  });
  afterAll(async () => {
    await server.dispose();
  });

  const events = (headers: Record<string, string> = {}, query = '') => call('GET', `${server.url}/v1/events${query}`, { headers });

  it('answers 401 AUTH_REQUIRED with the exact body when no credentials are given', async () => {
    const { status, body, headers } = await events();
    expect(status).toBe(401);
    expect(body).toEqual({ error: 'Authentication required', code: 'AUTH_REQUIRED' });
    expect(headers.get('www-authenticate')).toContain('Bearer');
  });

  it('answers 401 for a wrong secret', async () => {
    const { status, body } = await events({ Authorization: 'Bearer sk_wrong' });
    expect(status).toBe(401);
    expect((body as Json).code).toBe('AUTH_REQUIRED');
  });

  it('accepts Bearer, ?token= and Basic id:secret', async () => {
    expect((await events({ Authorization: `Bearer ${TEST_KEYS.reader.secret}` })).status).toBe(200);
    expect((await events({}, `?token=${TEST_KEYS.reader.secret}`)).status).toBe(200);
    const basic = Buffer.from(`reader:${TEST_KEYS.reader.secret}`).toString('base64');
    expect((await events({ Authorization: `Basic ${basic}` })).status).toBe(200);
  });

  it('rejects Basic with the right secret under another key id', async () => {
    const basic = Buffer.from(`admin:${TEST_KEYS.reader.secret}`).toString('base64');
    expect((await events({ Authorization: `Basic ${basic}` })).status).toBe(401);
  });

  it('refuses ?token= for a key with query tokens switched off', async () => {
    const { status, body } = await events({}, `?token=${TEST_KEYS.noquery.secret}`);
    expect(status).toBe(403);
    expect((body as Json).code).toBe('QUERY_TOKEN_DISABLED');
    expect((await events(server.auth('noquery'))).status).toBe(200);
  });

  it('answers 403 FORBIDDEN to a reader that publishes and to a writer that reads', async () => {
    const publish = await call('POST', `${server.url}/v1/events`, {
      headers: server.auth('reader'),
      body: { type: 'grant.created', data: catalog['grant.created'].example },
    });
    expect(publish.status).toBe(403);
    expect((publish.body as Json).code).toBe('FORBIDDEN');
    const read = await events(server.auth('writer'));
    expect(read.status).toBe(403);
  });

  it('lets events:write:grant.* publish grants but not alerts', async () => {
    const ok = await call('POST', `${server.url}/v1/events`, {
      headers: server.auth('grants'),
      body: { type: 'grant.revoked', data: catalog['grant.revoked'].example },
    });
    expect(ok.status).toBe(201);
    const denied = await call('POST', `${server.url}/v1/events`, {
      headers: server.auth('grants'),
      body: { type: 'security.alert', data: catalog['security.alert'].example },
    });
    expect(denied.status).toBe(403);
  });

  it('checks auth before reading the body: 401 even for malformed JSON', async () => {
    const { status } = await call('POST', `${server.url}/v1/events`, {
      headers: { 'content-type': 'application/json' },
      rawBody: '{oops',
    });
    expect(status).toBe(401);
  });

  it('leaves public operations open', async () => {
    expect((await call('GET', `${server.url}/healthz`)).body).toEqual({ status: 'ok' });
    expect((await call('GET', `${server.url}/readyz`)).body).toEqual({ status: 'ok', checks: { store: 'ok' } });
    const catalogResponse = await call('GET', `${server.url}/v1/catalog`);
    expect((catalogResponse.body as { data: { type: string }[] }).data.map((e) => e.type)).toContain('grant.created');
  });

  it('HEAD /v1/events/stream answers 200, 401 and 403 without a body', async () => {
    const head = (headers: Record<string, string>, query = '') =>
      fetch(`${server.url}/v1/events/stream${query}`, { method: 'HEAD', headers });
    expect((await head(server.auth('reader'))).status).toBe(200);
    expect((await head({})).status).toBe(401);
    expect((await head(server.auth('writer'))).status).toBe(403);
    expect((await head(server.auth('grants'), '?types=security.alert')).status).toBe(403);
    expect((await head(server.auth('reader'), '?until=2026-01-01T00:00:00Z')).status).toBe(400);
  });
});
