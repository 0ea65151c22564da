/**
 * No endpoint, frame, header, id, count or error message reveals anything about events the caller
 * may not read (issue 12 item 5): `GET /metrics` needs `metrics:read` (or `admin`) on a key not
 * limited by type; a drop notice's backfill link starts just below the first missing event (never
 * at the stream's cursor, which may be another type's id); the WebSocket `status` frame counts the
 * key's own streams; a stream limited by type does not end when only other types pass its `until`;
 * an unreadable event is a 404 exactly like a missing one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseKeySpec } from '../../src/auth/key-spec.js';
import type { KeySpec } from '../../src/auth/key-spec.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { idUpperBoundAt, timeOfId } from '../../src/store/event-id.js';
import { idJustBefore, UNTIL_GRACE_MS, ZERO_ID } from '../../src/stream/hub.js';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';
import { eventually, openSse, openWs, paddedData, publish } from './clients.js';

const EXTRA_KEYS: KeySpec[] = [
  { id: 'metrics', secret: 'sk_test_metrics', scopes: ['metrics:read'], queryToken: true },
  { id: 'grant-metrics', secret: 'sk_test_grant_metrics', scopes: ['metrics:read', 'events:read:grant.*'], queryToken: true },
  { id: 'all-metrics', secret: 'sk_test_all_metrics', scopes: ['metrics:read', 'events:read', 'events:write'], queryToken: true },
];
const KEYS: KeySpec[] = [
  ...Object.values(TEST_KEYS).map((key) => ({ id: key.id, secret: key.secret, scopes: [...key.scopes], queryToken: 'queryToken' in key ? key.queryToken : true })),
  ...EXTRA_KEYS,
];
const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });

describe('visibility of other types', () => {
  let server: TestServer;
  const closers: (() => void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await server?.dispose();
  });

  describe('GET /metrics', () => {
    async function metrics(headers: Record<string, string>): Promise<{ status: number; text: string; type: string | null }> {
      const { query, ...rest } = headers;
      const response = await fetch(`${server.url}/metrics${query === undefined ? '' : `?token=${query}`}`, { headers: rest });
      return { status: response.status, text: await response.text(), type: response.headers.get('content-type') };
    }

    it('answers only admin and metrics:read keys not limited by type; everyone else gets a JSON 401/403 that names no type', async () => {
      server = await startTestServer({ keys: KEYS });
      await publish(server, 5, { types: ['grant.created', 'security.alert'] });

      for (const [who, headers] of [
        ['admin', server.auth('admin')],
        ['metrics:read', bearer('sk_test_metrics')],
        ['metrics:read with every event type', bearer('sk_test_all_metrics')],
        ['metrics:read through Basic', { Authorization: `Basic ${Buffer.from('metrics:sk_test_metrics').toString('base64')}` }],
        ['metrics:read as ?token=', { query: 'sk_test_metrics' }],
      ] as const) {
        const answer = await metrics(headers);
        expect(answer.status, who).toBe(200);
        expect(answer.text, who).toContain('specstream_events_published_total{type="security.alert"} 2');
      }

      const anonymous = await metrics({});
      expect(anonymous.status).toBe(401);
      expect(JSON.parse(anonymous.text)).toMatchObject({ code: 'AUTH_REQUIRED' });
      for (const [who, headers] of [
        ['a grant.* reader', server.auth('grants')],
        ['a reader of every type without metrics:read', server.auth('reader')],
        ['metrics:read limited to grant.*', bearer('sk_test_grant_metrics')],
      ] as const) {
        const answer = await metrics(headers);
        expect(answer.status, who).toBe(403);
        expect(answer.type, who).toMatch(/^application\/json/);
        expect(JSON.parse(answer.text), who).toMatchObject({ code: 'FORBIDDEN' });
        expect(answer.text, who).not.toContain('security');
      }
    });

    it('is public only when anonymous access is given metrics:read explicitly', async () => {
      server = await startTestServer({ keys: KEYS, allow_anonymous: true, anonymous_scopes: ['metrics:read'] });
      expect((await metrics({})).status).toBe(200);
      // The anonymous scopes give nothing else.
      expect((await fetch(`${server.url}/v1/events`)).status).toBe(403);
    });

    it('is not public with anonymous access that lacks metrics:read', async () => {
      server = await startTestServer({ keys: KEYS, allow_anonymous: true, anonymous_scopes: ['events:read'] });
      expect((await metrics({})).status).toBe(403);
    });

    it('accepts metrics:read in a key spec', () => {
      expect(parseKeySpec('prometheus:sk_scrape:metrics:read').scopes).toEqual(['metrics:read']);
    });
  });

  it("gives a grant.* reader behind retention a backfill link that starts just below the first missing event, not at another type's id", async () => {
    server = await startTestServer({ retention_max_count: 3 });
    const client = await openSse(server, '/v1/events/stream', server.auth('grants'));
    closers.push(() => client.close());
    await client.waitFor((c) => c.frames.length >= 2, 'the resume point');
    client.pause();
    // Pairs of a large grant event and a small audit event, one batch per tail read, so that the
    // stream's cursor (the last entry it looked at) is an audit event's id when the socket fills.
    const published: SpecstreamEvent[] = [];
    for (let i = 0; i < 60 && server.hub.snapshot().subscribers[0]?.paused !== true; i++) {
      const batch = await publish(server, 40, { types: ['grant.created', 'audit_log.created'], data: (type) => paddedData(type, 8000) });
      published.push(...batch);
      await eventually(() => server.hub.snapshot().headId === batch.at(-1)!.id, 10_000, 'the tail');
    }
    expect(server.hub.snapshot().subscribers[0]!.paused).toBe(true);
    expect(published.find((e) => e.id === server.hub.snapshot().subscribers[0]!.cursorId)?.type).toBe('audit_log.created');
    // Grant events after its cursor that retention will delete before it reads them.
    for (let i = 0; i < 2; i++) {
      const batch = await publish(server, 40, { types: ['grant.created', 'audit_log.created'], data: (type) => paddedData(type, 8000) });
      published.push(...batch);
      await eventually(() => server.hub.snapshot().headId === batch.at(-1)!.id, 10_000, 'the tail');
    }
    const grants = await publish(server, 3, { types: ['grant.created'] });
    await server.hub.applyRetention();
    client.resume();
    await client.waitFor((c) => c.events.at(-1)?.id === grants.at(-1)!.id, 'the last event', 30_000);

    const frame = client.frames.find((f) => f.message === 'sseStreamDropped') as unknown as { data: { first_missing_id: string; backfill_url: string } };
    const url = new URL(frame.data.backfill_url, server.url);
    const since = url.searchParams.get('since_id')!;
    expect(published.some((e) => e.id === since)).toBe(false);
    expect(since < frame.data.first_missing_id).toBe(true);
    expect(published.filter((e) => e.id > since && e.id < frame.data.first_missing_id)).toEqual([]);
    for (const other of published.filter((e) => e.type !== 'grant.created')) expect(client.raw.includes(other.id)).toBe(false);
    // The link lists exactly the missing grant events' range.
    expect(url.searchParams.get('until_id')).toBe((client.frames.find((f) => f.message === 'sseStreamDropped') as unknown as { data: { last_missing_id: string } }).data.last_missing_id);
  }, 120_000);

  describe('idJustBefore', () => {
    it('is the id one below, so that since_id=<it> lists the id itself first', () => {
      expect(idJustBefore('evt_01ARZ3NDEKTSV4RRFFQ69G5FB1')).toBe('evt_01ARZ3NDEKTSV4RRFFQ69G5FB0');
      expect(idJustBefore('evt_01ARZ3NDEKTSV4RRFFQ69G5FA0')).toBe('evt_01ARZ3NDEKTSV4RRFFQ69G5F9Z');
      expect(idJustBefore('evt_01ARZ3NDEKTSV4RRFFQ69G5FK0')).toBe('evt_01ARZ3NDEKTSV4RRFFQ69G5FJZ');
      expect(idJustBefore('evt_00000000000000000000000001')).toBe(ZERO_ID);
      expect(idJustBefore(ZERO_ID)).toBe(ZERO_ID);
    });
  });

  it("counts only the key's own streams in the WebSocket status frame", async () => {
    server = await startTestServer({ status_s: 1 });
    for (let i = 0; i < 2; i++) {
      const other = await openWs(server, '/v1/events/ws', server.auth('reader'));
      closers.push(() => other.close());
    }
    const client = await openWs(server, '/v1/events/ws', server.auth('grants'));
    closers.push(() => client.close());
    await client.waitFor((c) => c.frames.some((f) => f.type === 'status'), 'a status frame');
    expect(client.frames.find((f) => f.type === 'status')).toMatchObject({ subscribers: 1 });
  });

  it('does not end a stream limited by type when only an event of another type passes its until', async () => {
    server = await startTestServer();
    const [anchor] = await publish(server, 1, { types: ['grant.created'] });
    const untilTime = Date.now() + 200;
    const client = await openSse(server, `/v1/events/stream?since_id=${anchor!.id}&until_id=${idUpperBoundAt(untilTime)}`, server.auth('grants'));
    closers.push(() => client.close());
    await client.waitFor((c) => c.frames.length >= 1, 'retry:');
    await eventually(() => Date.now() > untilTime + 5, 5000, 'until to pass');
    const [alert] = await publish(server, 1, { types: ['security.alert'] });
    expect(timeOfId(alert!.id)).toBeGreaterThan(untilTime);
    await client.waitForEnd(10_000);
    // It ended when `until` was surely over, not when the alert arrived: the end tells nothing about it.
    expect(Date.now()).toBeGreaterThanOrEqual(untilTime + UNTIL_GRACE_MS);
    expect(client.events).toEqual([]);
  });

  it('answers GET /v1/events/{id} for an unreadable event exactly as for an id that does not exist', async () => {
    server = await startTestServer();
    const [alert] = await publish(server, 1, { types: ['security.alert'] });
    const missing = `${alert!.id.slice(0, -1)}${alert!.id.endsWith('0') ? '1' : '0'}`;
    const answers = [];
    for (const id of [alert!.id, missing]) {
      for (const method of ['GET', 'HEAD']) {
        const response = await fetch(`${server.url}/v1/events/${id}`, { method, headers: server.auth('grants') });
        const headers: Record<string, string> = {};
        response.headers.forEach((value, name) => {
          if (name !== 'date') headers[name] = value;
        });
        answers.push({ method, status: response.status, headers, body: await response.text() });
      }
    }
    expect(answers[0]).toMatchObject({ status: 404 });
    expect(answers[0]!.body).not.toContain(alert!.id);
    expect(answers.slice(0, 2)).toEqual(answers.slice(2, 4));
  });

  it("never replays another key's events for the same Idempotency-Key", async () => {
    server = await startTestServer();
    const body = JSON.stringify({ type: 'grant.created', data: { grantId: 'grnt_1', userId: 'u', scopes: ['a:b'] } });
    const post = (key: 'writer' | 'grants') =>
      fetch(`${server.url}/v1/events`, { method: 'POST', headers: { ...server.auth(key), 'Content-Type': 'application/json', 'Idempotency-Key': 'same' }, body });
    const first = (await (await post('writer')).json()) as SpecstreamEvent;
    const second = await post('grants');
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(((await second.json()) as SpecstreamEvent).id).not.toBe(first.id);
  });
});
