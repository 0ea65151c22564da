import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalog, EVENT_TYPES } from '../../src/generated/catalog.js';
import { call } from '../helpers/openapi-responses.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

type Json = Record<string, unknown>;

describe('POST /v1/events (publishEvents)', () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    await server.dispose();
  });

  const publish = (body: unknown, headers: Record<string, string> = server.auth('writer')) =>
    call('POST', `${server.url}/v1/events`, { headers, body });

  it.each(EVENT_TYPES.map((type) => [type]))('stores a %s event built from its catalog example', async (type) => {
    const { status, body } = await publish({ type, subject: 'subj_1', data: catalog[type].example });
    expect(status).toBe(201);
    const event = body as Json;
    expect(event).toMatchObject({ specversion: '1.0', type, subject: 'subj_1', datacontenttype: 'application/json', data: catalog[type].example });
    expect(event.source).toBe(`/${type.split('.')[0]}`);
    expect(String(event.id)).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('stores a batch in order with strictly increasing ids, all-or-nothing', async () => {
    const batch = Array.from({ length: 50 }, (_, i) => ({ type: 'security.alert', data: { ...catalog['security.alert'].example, alertId: `alr_${i}` } }));
    const { status, body } = await publish(batch);
    expect(status).toBe(201);
    const events = (body as { data: Json[] }).data;
    expect(events.map((e) => (e.data as Json).alertId)).toEqual(batch.map((b) => b.data.alertId));
    const ids = events.map((e) => String(e.id));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);

    // One bad item: nothing of the batch is stored.
    const bad = [...batch, { type: 'security.alert', data: { alertId: 'x' } }];
    const rejected = await publish(bad);
    expect(rejected.status).toBe(400);
    const list = await call('GET', `${server.url}/v1/events?limit=1000`, { headers: server.auth('reader') });
    expect((list.body as { data: unknown[] }).data).toHaveLength(50);
  });

  it('answers 400 VALIDATION_FAILED naming the JSON pointer of each failing field', async () => {
    const { status, body } = await publish({ type: 'grant.created', data: { grantId: 'nope', userId: 'u' } });
    expect(status).toBe(400);
    const error = body as { code: string; details: { path: string }[] };
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details.map((d) => d.path).sort()).toEqual(['/data/grantId', '/data/scopes']);
  });

  it('prefixes batch item paths with their index', async () => {
    const ok = { type: 'grant.revoked', data: catalog['grant.revoked'].example };
    const { status, body } = await publish([ok, { type: 'grant.revoked', data: { ...catalog['grant.revoked'].example, reason: 'whim' } }]);
    expect(status).toBe(400);
    expect((body as { details: { path: string }[] }).details.map((d) => d.path)).toEqual(['/1/data/reason']);
  });

  it('answers 400 UNKNOWN_EVENT_TYPE for a type outside the catalog', async () => {
    const { status, body } = await publish({ type: 'grant.exploded', data: {} });
    expect(status).toBe(400);
    expect(body).toMatchObject({ code: 'UNKNOWN_EVENT_TYPE', details: [{ path: '/type' }] });
  });

  it('answers 400 INVALID_JSON for a malformed body', async () => {
    const { status, body } = await call('POST', `${server.url}/v1/events`, {
      headers: { ...server.auth('writer'), 'content-type': 'application/json' },
      rawBody: '{"type": "grant.created", ',
    });
    expect(status).toBe(400);
    expect(body).toMatchObject({ code: 'INVALID_JSON' });
  });

  it('answers 415 UNSUPPORTED_MEDIA_TYPE for a non-JSON body', async () => {
    const { status, body } = await call('POST', `${server.url}/v1/events`, {
      headers: { ...server.auth('writer'), 'content-type': 'text/plain' },
      rawBody: 'hello',
    });
    expect(status).toBe(415);
    expect(body).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('answers 413 PAYLOAD_TOO_LARGE beyond body_limit_bytes', async () => {
    await server.dispose();
    server = await startTestServer({ body_limit_bytes: 2048 });
    const { status, body } = await publish({ type: 'admin.legacy_note', data: { noteId: 'n', author: 'a', text: 'x'.repeat(5000) } });
    expect(status).toBe(413);
    expect(body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('rejects a batch of more than 1000 events with 400', async () => {
    const item = { type: 'token.issued', data: catalog['token.issued'].example };
    const { status, body } = await publish(Array.from({ length: 1001 }, () => item));
    expect(status).toBe(400);
    expect(body).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('rejects unknown envelope fields such as a client-chosen id', async () => {
    const { status, body } = await publish({ type: 'token.issued', id: 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P', data: catalog['token.issued'].example });
    expect(status).toBe(400);
    expect(body).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  describe('Idempotency-Key', () => {
    it('returns the first response for a retry and stores once', async () => {
      const event = { type: 'budget.exhausted', data: catalog['budget.exhausted'].example };
      const headers = { ...server.auth('writer'), 'Idempotency-Key': 'retry-1' };
      const first = await publish(event, headers);
      const second = await publish(event, headers);
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.body).toEqual(first.body);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      const list = await call('GET', `${server.url}/v1/events`, { headers: server.auth('reader') });
      expect((list.body as { data: unknown[] }).data).toHaveLength(1);
    });

    it('answers 409 IDEMPOTENCY_CONFLICT for the same key with another body', async () => {
      const headers = { ...server.auth('writer'), 'Idempotency-Key': 'retry-2' };
      await publish({ type: 'budget.exhausted', data: catalog['budget.exhausted'].example }, headers);
      const { status, body } = await publish({ type: 'token.issued', data: catalog['token.issued'].example }, headers);
      expect(status).toBe(409);
      expect(body).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    });

    it('replays a retry of the same JSON value written differently: member order, spacing, number forms (RFC 8785)', async () => {
      const headers = { ...server.auth('writer'), 'Idempotency-Key': 'reordered', 'content-type': 'application/json' };
      const send = (rawBody: string) => call('POST', `${server.url}/v1/events`, { headers, rawBody });
      const first = await send(
        '{"type":"budget.threshold","subject":"bdg_1","data":{"budgetId":"bdg_1","thresholdPercent":80,"spent":{"amount":"80.00","currency":"EUR"},"limit":{"amount":"100.00","currency":"EUR"}}}',
      );
      const variants = [
        '{"data":{"limit":{"currency":"EUR","amount":"100.00"},"spent":{"currency":"EUR","amount":"80.00"},"thresholdPercent":80,"budgetId":"bdg_1"},"subject":"bdg_1","type":"budget.threshold"}',
        '{ "subject" : "bdg_1", "type" : "budget.threshold", "data" : { "thresholdPercent" : 8.0e1, "budgetId" : "bdg_\u0031", "limit" : {"amount":"100.00","currency":"EUR"}, "spent":{"amount":"80.00","currency":"EUR"} } }',
      ];
      expect(first.status).toBe(201);
      for (const variant of variants) {
        const retry = await send(variant);
        expect(retry.status, variant).toBe(201);
        expect(retry.headers.get('idempotent-replayed')).toBe('true');
        expect(retry.body).toEqual(first.body);
      }
      const list = await call('GET', `${server.url}/v1/events`, { headers: server.auth('reader') });
      expect((list.body as { data: unknown[] }).data).toHaveLength(1);

      // Another value under the same key is still a conflict; so is the same event as a batch.
      for (const other of [
        '{"type":"budget.threshold","subject":"bdg_1","data":{"budgetId":"bdg_1","thresholdPercent":81,"spent":{"amount":"80.00","currency":"EUR"},"limit":{"amount":"100.00","currency":"EUR"}}}',
        '[{"type":"budget.threshold","subject":"bdg_1","data":{"budgetId":"bdg_1","thresholdPercent":80,"spent":{"amount":"80.00","currency":"EUR"},"limit":{"amount":"100.00","currency":"EUR"}}}]',
      ]) {
        const conflict = await send(other);
        expect(conflict.status, other).toBe(409);
        expect(conflict.body).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
      }
    });

    it('scopes keys per API key', async () => {
      const event = { type: 'grant.created', data: catalog['grant.created'].example };
      const a = await publish(event, { ...server.auth('writer'), 'Idempotency-Key': 'shared' });
      const b = await publish(event, { ...server.auth('grants'), 'Idempotency-Key': 'shared' });
      expect(b.status).toBe(201);
      expect((b.body as Json).id).not.toBe((a.body as Json).id);
    });
  });
});
