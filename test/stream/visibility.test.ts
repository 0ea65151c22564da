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
import type { JsonObject } from '../../src/bundle/yaml-document.js';
import { idUpperBoundAt, timeOfId } from '../../src/store/event-id.js';
import { idJustBefore, UNTIL_GRACE_MS, ZERO_ID } from '../../src/stream/hub.js';
import { BUNDLE_CASES, type TestEvent } from '../helpers/bundles.js';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';
import { eventually, openSse, openWs, publish } from './clients.js';

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

// Native only: GET /metrics (the partner bundle declares no metrics operation) and idJustBefore (a function, no wire).
describe('visibility of other types', () => {
  let server: TestServer;
  afterEach(async () => {
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

  describe('idJustBefore', () => {
    it('is the id one below, so that since_id=<it> lists the id itself first', () => {
      expect(idJustBefore('evt_01ARZ3NDEKTSV4RRFFQ69G5FB1')).toBe('evt_01ARZ3NDEKTSV4RRFFQ69G5FB0');
      expect(idJustBefore('evt_01ARZ3NDEKTSV4RRFFQ69G5FA0')).toBe('evt_01ARZ3NDEKTSV4RRFFQ69G5F9Z');
      expect(idJustBefore('evt_01ARZ3NDEKTSV4RRFFQ69G5FK0')).toBe('evt_01ARZ3NDEKTSV4RRFFQ69G5FJZ');
      expect(idJustBefore('evt_00000000000000000000000001')).toBe(ZERO_ID);
      expect(idJustBefore(ZERO_ID)).toBe(ZERO_ID);
    });
  });
});

describe.each(BUNDLE_CASES)('visibility of other types (%s bundle)', (_name, b) => {
  let server: TestServer;
  const closers: (() => void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await server?.dispose();
  });

  it(`gives a ${b.types.familyGlob} reader behind retention a backfill link that starts just below the first missing event, not at another type's id`, async () => {
    server = await startTestServer({ retention_max_count: 3 }, b);
    const [grant] = b.types.family;
    const pair = [grant, b.types.audit];
    const client = await openSse(server, b.path('sse'), server.auth('grants'));
    closers.push(() => client.close());
    await client.waitFor((c) => c.received.length >= 2, 'the resume point');
    client.pause();
    // Pairs of a large family event and an event of another type, one batch per tail read, so that the
    // stream's cursor (the last entry it looked at) is the other type's id when the socket fills.
    const published: TestEvent[] = [];
    for (let i = 0; i < 60 && server.hub.snapshot().subscribers[0]?.paused !== true; i++) {
      const batch = await publish(server, 40, { types: pair, data: (type) => b.padded(type, 8000) });
      published.push(...batch);
      await eventually(() => server.hub.snapshot().headId === batch.at(-1)!.id, 10_000, 'the tail');
    }
    expect(server.hub.snapshot().subscribers[0]!.paused).toBe(true);
    expect(published.find((e) => e.id === server.hub.snapshot().subscribers[0]!.cursorId)?.type).toBe(b.types.audit);
    // Family events after its cursor that retention will delete before it reads them.
    for (let i = 0; i < 2; i++) {
      const batch = await publish(server, 40, { types: pair, data: (type) => b.padded(type, 8000) });
      published.push(...batch);
      await eventually(() => server.hub.snapshot().headId === batch.at(-1)!.id, 10_000, 'the tail');
    }
    const grants = await publish(server, 3, { types: [grant] });
    await server.hub.applyRetention();
    client.resume();
    await client.waitFor((c) => c.events.at(-1)?.id === grants.at(-1)!.id, 'the last event', 30_000);

    const frame = client.received.find((f) => f.role === 'dropped');
    if (frame?.role !== 'dropped') throw new Error('no drop notice');
    const fields = b.wire.sse.dropped;
    const firstMissing = frame.data[fields.first] as string;
    const url = new URL(frame.data[fields.link] as string, server.url);
    expect(url.pathname).toBe(b.path('list'));
    const since = url.searchParams.get(b.param('list', 'since_id'))!;
    expect(published.some((e) => e.id === since)).toBe(false);
    expect(since < firstMissing).toBe(true);
    expect(published.filter((e) => e.id > since && e.id < firstMissing)).toEqual([]);
    for (const other of published.filter((e) => e.type !== grant)) expect(client.raw.includes(other.id)).toBe(false);
    // The link lists exactly the missing family events' range.
    expect(url.searchParams.get(b.param('list', 'until_id'))).toBe(frame.data[fields.last]);
    // And the same key can follow it (retention deleted those events: the page is empty).
    const followed = await fetch(url, { headers: server.auth('grants') });
    expect(followed.status).toBe(200);
    expect(((await followed.json()) as { data: unknown[] }).data).toEqual([]);
  }, 120_000);

  it("counts only the key's own streams in the WebSocket status frame", async () => {
    server = await startTestServer({ status_s: 1 }, b);
    for (let i = 0; i < 2; i++) {
      const other = await openWs(server, b.path('ws'), server.auth('reader'));
      closers.push(() => other.close());
    }
    const client = await openWs(server, b.path('ws'), server.auth('grants'));
    closers.push(() => client.close());
    await client.waitFor((c) => c.roles.includes('status'), 'a status frame');
    expect(client.received.find((f) => f.role === 'status')!.payload[b.wire.ws.statusFields.subscribers]).toBe(1);
  });

  it('does not end a stream limited by type when only an event of another type passes its until', async () => {
    server = await startTestServer({}, b);
    const [anchor] = await publish(server, 1, { types: [b.types.family[0]] });
    const untilTime = Date.now() + 200;
    const client = await openSse(server, b.path('sse', { since_id: anchor!.id, until_id: idUpperBoundAt(untilTime) }), server.auth('grants'));
    closers.push(() => client.close());
    await client.waitFor((c) => c.received.length >= 1, 'retry:');
    await eventually(() => Date.now() > untilTime + 5, 5000, 'until to pass');
    const [alert] = await publish(server, 1, { types: [b.types.alert] });
    expect(timeOfId(alert!.id)).toBeGreaterThan(untilTime);
    await client.waitForEnd(10_000);
    // It ended when `until` was surely over, not when the alert arrived: the end tells nothing about it.
    expect(Date.now()).toBeGreaterThanOrEqual(untilTime + UNTIL_GRACE_MS);
    expect(client.events).toEqual([]);
  });

  it('answers the get-event operation for an unreadable event exactly as for an id that does not exist', async () => {
    server = await startTestServer({}, b);
    const [alert] = await publish(server, 1, { types: [b.types.alert] });
    const missing = `${alert!.id.slice(0, -1)}${alert!.id.endsWith('0') ? '1' : '0'}`;
    const answers = [];
    for (const id of [alert!.id, missing]) {
      for (const method of ['GET', 'HEAD']) {
        const response = await fetch(`${server.url}${b.eventPath(id)}`, { method, headers: server.auth('grants') });
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
    server = await startTestServer({}, b);
    const [grant] = b.types.family;
    const body = JSON.stringify({ type: grant, data: b.example(grant) });
    const post = (key: 'writer' | 'grants') =>
      fetch(`${server.url}${b.path('publish')}`, { method: 'POST', headers: { ...server.auth(key), 'Content-Type': 'application/json', 'Idempotency-Key': 'same' }, body });
    const first = b.event((await (await post('writer')).json()) as JsonObject);
    const second = await post('grants');
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(b.event((await second.json()) as JsonObject).id).not.toBe(first.id);
  });
});
