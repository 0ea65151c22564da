import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog } from '../../src/generated/catalog.js';
import { call } from '../helpers/openapi-responses.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

type Json = Record<string, unknown>;
type Page = { data: Json[]; next_cursor: string | null; has_more: boolean };

describe('GET /v1/events (listEvents)', () => {
  let server: TestServer;
  let published: Json[];
  let boundary: string;

  beforeAll(async () => {
    server = await startTestServer();
    const types = ['grant.created', 'token.issued', 'security.alert', 'grant.revoked'] as const;
    const first = await call('POST', `${server.url}/v1/events`, {
      headers: server.auth('writer'),
      body: Array.from({ length: 20 }, (_, i) => { const type = types[i % 4] as (typeof types)[number]; return { type, subject: `s${i}`, data: catalog[type].example }; }),
    });
    // A clear gap in time between the two halves, for the time-range tests.
    await new Promise((resolve) => setTimeout(resolve, 20));
    boundary = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await call('POST', `${server.url}/v1/events`, {
      headers: server.auth('writer'),
      body: Array.from({ length: 20 }, (_, i) => { const type = types[i % 4] as (typeof types)[number]; return { type, subject: `s${20 + i}`, data: catalog[type].example }; }),
    });
    published = [...(first.body as { data: Json[] }).data, ...(second.body as { data: Json[] }).data];
  });
  afterAll(async () => {
    await server.dispose();
  });

  const list = async (query: string, key: Parameters<TestServer['auth']>[0] = 'reader') =>
    call('GET', `${server.url}/v1/events${query}`, { headers: server.auth(key) });

  it('lists ascending with a default page of 100', async () => {
    const { status, body } = await list('');
    expect(status).toBe(200);
    const page = body as Page;
    expect(page.data.map((e) => e.id)).toEqual(published.map((e) => e.id));
    expect(page.has_more).toBe(false);
  });

  it('paginates with cursors without gaps or repeats', async () => {
    const seen: unknown[] = [];
    let query = '?limit=7';
    for (let pages = 0; pages < 10; pages++) {
      const page = (await list(query)).body as Page;
      seen.push(...page.data.map((e) => e.id));
      if (!page.has_more) break;
      query = `?limit=7&cursor=${page.next_cursor}`;
    }
    expect(seen).toEqual(published.map((e) => e.id));
  });

  it('filters by types with globs', async () => {
    const page = (await list('?types=grant.*')).body as Page;
    expect(page.data.map((e) => e.id)).toEqual(published.filter((e) => String(e.type).startsWith('grant.')).map((e) => e.id));
  });

  it('reads after since_id and up to until_id inclusive', async () => {
    const from = published[4]?.id as string;
    const to = published[9]?.id as string;
    const page = (await list(`?since_id=${from}&until_id=${to}`)).body as Page;
    expect(page.data.map((e) => e.id)).toEqual(published.slice(5, 10).map((e) => e.id));
  });

  it('accepts since with raw colons as curl users type them', async () => {
    const page = (await list(`?since=${boundary}`)).body as Page;
    expect(page.data.map((e) => e.id)).toEqual(published.slice(20).map((e) => e.id));
    const before = (await list(`?since=2000-01-01T00:00:00Z&until=${boundary}`)).body as Page;
    expect(before.data.map((e) => e.id)).toEqual(published.slice(0, 20).map((e) => e.id));
  });

  it.each([
    ['?until=2026-01-01T00:00:00Z', 'UNTIL_REQUIRES_SINCE'],
    ['?until_id=evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P', 'UNTIL_ID_REQUIRES_SINCE_ID'],
    ['?since=2026-01-01T00:00:00Z&since_id=evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P', 'SINCE_EXCLUDES_SINCE_ID'],
    ['?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z', 'SINCE_AFTER_UNTIL'],
    ['?since=yesterday', 'INVALID_TIMESTAMP'],
    ['?since_id=42', 'INVALID_EVENT_ID'],
    ['?types=grant.exploded', 'UNKNOWN_EVENT_TYPE'],
    ['?cursor=garbage', 'INVALID_CURSOR'],
    ['?limit=0', 'VALIDATION_FAILED'],
    ['?limit=1001', 'VALIDATION_FAILED'],
    ['?typo=1', 'VALIDATION_FAILED'],
  ])('answers 400 for %s with code %s', async (query, code) => {
    const { status, body } = await list(query);
    expect(status).toBe(400);
    expect((body as Json).code).toBe(code);
  });

  it('shows a grant.* reader only grant events, and has_more counts only those', async () => {
    const grants = published.filter((e) => String(e.type).startsWith('grant.'));
    const page = (await list('?limit=10', 'grants')).body as Page;
    expect(page.data.every((e) => String(e.type).startsWith('grant.'))).toBe(true);
    expect(page.data).toHaveLength(10);
    expect(page.has_more).toBe(true);
    const rest = (await list(`?limit=10&cursor=${page.next_cursor}`, 'grants')).body as Page;
    expect(rest.data.map((e) => e.id)).toEqual(grants.slice(10).map((e) => e.id));
    expect(rest.has_more).toBe(false);
  });

  it('answers 403 when a grant.* reader asks for another type', async () => {
    const { status, body } = await list('?types=security.alert', 'grants');
    expect(status).toBe(403);
    expect((body as Json).code).toBe('FORBIDDEN');
  });

  it('GET /v1/events/{id} returns one event, and hides unreadable types as 404', async () => {
    const alert = published.find((e) => e.type === 'security.alert') as Json;
    const found = await call('GET', `${server.url}/v1/events/${alert.id}`, { headers: server.auth('reader') });
    expect(found.status).toBe(200);
    expect(found.body).toEqual(alert);
    const hidden = await call('GET', `${server.url}/v1/events/${alert.id}`, { headers: server.auth('grants') });
    expect(hidden.status).toBe(404);
    expect((hidden.body as Json).code).toBe('EVENT_NOT_FOUND');
    const missing = await call('GET', `${server.url}/v1/events/evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3Z`, { headers: server.auth('reader') });
    expect(missing.status).toBe(404);
    const bad = await call('GET', `${server.url}/v1/events/nope`, { headers: server.auth('reader') });
    expect(bad.status).toBe(400);
  });
});
