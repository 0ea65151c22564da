/**
 * The WebSocket stream operation (natively `GET /v1/events/ws`) of each test bundle
 * (test/helpers/bundles.ts): refusals before the upgrade, frames, until, pings, limits, faults and
 * shutdown.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_CASES, type RoleQuery } from '../helpers/bundles.js';
import { startTestServer, type TestKeyName, type TestServer } from '../helpers/test-server.js';
import { eventually, ids, openWs, publish, type WsClient, failReads } from './clients.js';

describe.each(BUNDLE_CASES)('the WebSocket stream operation (%s bundle)', (_name, b) => {
  let server: TestServer;
  const open: WsClient[] = [];
  const ws = async (path: string, headers: Record<string, string>, options: { autoPong?: boolean } = {}) => {
    const client = await openWs(server, path, headers, options);
    open.push(client);
    return client;
  };
  const offersUntil = b.offers('ws', 'until_id');

  beforeAll(async () => {
    server = await startTestServer({ heartbeat_s: 1, status_s: 1, cors_origins: ['https://partner.example'] }, b);
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.ws.terminate();
  });
  afterAll(async () => {
    await server.dispose();
  });

  describe('refusals before the upgrade', () => {
    const [grant] = b.types.family;
    /** Name, query by role, other query parameters, who asks (a key in a header or as a query token, an origin), status, code. */
    type Who = { key?: TestKeyName; queryKey?: TestKeyName; origin?: string };
    const rows: [string, RoleQuery, Record<string, string>, Who, number, string][] = [
      ['no credentials', {}, {}, {}, 401, 'AUTH_REQUIRED'],
      ['a type the key may not read', { types: b.types.alert }, {}, { key: 'grants' }, 403, 'FORBIDDEN'],
      ['a key that may not be a query token', {}, {}, { queryKey: 'noquery' }, 403, 'QUERY_TOKEN_DISABLED'],
      // A bundle may leave the until parameters out of its socket.
      ...(offersUntil ? [['until_id without since_id', { until_id: 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P' }, {}, { key: 'reader' }, 400, 'UNTIL_ID_REQUIRES_SINCE_ID'] as [string, RoleQuery, Record<string, string>, Who, number, string]] : []),
      ['an unknown query parameter', {}, { colour: 'blue' }, { key: 'reader' }, 400, 'VALIDATION_FAILED'],
      // Beyond either bundle's maxLength (1024 natively, 2048 in partner).
      ['types longer than the spec allows', { types: `${`${b.types.familyGlob},`.repeat(400)}${grant}` }, {}, { key: 'reader' }, 400, 'VALIDATION_FAILED'],
      ['an origin outside cors_origins', {}, {}, { key: 'reader', origin: 'https://evil.example' }, 403, 'FORBIDDEN'],
    ];
    it.each(rows)('answers %s with the HTTP JSON error', async (_name, query, extra, who, status, code) => {
      const params = { ...extra, ...(who.queryKey ? server.queryAuth(who.queryKey) : {}) };
      const headers = { ...(who.key ? server.auth(who.key) : {}), ...(who.origin ? { Origin: who.origin } : {}) };
      const client = await ws(b.path('ws', query, params), headers);
      expect(client.refused?.status).toBe(status);
      expect(client.refused?.body[b.wire.codeField]).toBe(b.wire.code(code));
      expect(server.hub.subscriberCount).toBe(0);
    });

    it('upgrades for an origin in cors_origins and for a query token', async () => {
      const client = await ws(b.path('ws', {}, server.queryAuth('reader')), { Origin: 'https://partner.example' });
      expect(client.refused).toBeUndefined();
      expect(client.ws.readyState).toBe(client.ws.OPEN);
    });

    it('answers another upgrade path with 404', async () => {
      const client = await ws('/v1/elsewhere', server.auth('reader'));
      expect(client.refused).toEqual({ status: 404, body: b.wire.errorBody('NOT_FOUND', 'No such route') });
    });
  });

  describe('frames', () => {
    it('sends history then live event frames without gap or duplicate', async () => {
      const history = await publish(server, 12);
      const client = await ws(b.path('ws', { since_id: history[1]!.id }), server.auth('reader'));
      await client.waitForEvents(10);
      const live = await publish(server, 6);
      await client.waitForEvents(16);
      expect(ids(client.events)).toEqual(ids([...history.slice(2), ...live]));
    });

    it('sends status every status_s with the hub numbers', async () => {
      const client = await ws(b.path('ws', { types: b.types.familyGlob }), server.auth('reader'));
      await client.waitFor((c) => c.roles.filter((role) => role === 'status').length >= 2, 'two status frames', 15_000);
      const status = client.received.find((m) => m.role === 'status')!.payload;
      expect(status).toMatchObject(b.wire.ws.status({ queue_depth: 0, queue_max: 8192, subscribers: server.hub.subscriberCount, store: 'ok' }));
    });

    // The partner bundle declares no metrics operation.
    it.skipIf(!b.bundle.operations.some((op) => op.role === 'metrics'))('counts the open streams as /metrics does', async () => {
      const client = await ws(b.path('ws', { types: b.types.familyGlob }), server.auth('reader'));
      await client.waitFor((c) => c.roles.includes('status'), 'a status frame', 15_000);
      const metrics = await (await fetch(`${server.url}/metrics`, { headers: server.auth('admin') })).text();
      const streams = [...metrics.matchAll(/^specstream_connections\{transport="(?:sse|ws)"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      expect(streams).toBe(server.hub.subscriberCount);
    });

    it.skipIf(!offersUntil)('ends with an end frame then close 1000 once until_id is delivered', async () => {
      const history = await publish(server, 6);
      const client = await ws(b.path('ws', { since_id: history[0]!.id, until_id: history[3]!.id }), server.auth('reader'));
      await client.waitForClose();
      expect(ids(client.events)).toEqual(ids(history.slice(1, 4)));
      expect(client.received.at(-1)!.payload).toEqual(b.wire.ws.end('until_reached'));
      expect(client.closeCode).toBe(1000);
    });

    it.skipIf(!offersUntil)('answers a resume point already past until_id with end and close 1000', async () => {
      const history = await publish(server, 4);
      const client = await ws(b.path('ws', { since_id: history[0]!.id, until_id: history[2]!.id, last_event_id: history[3]!.id }), server.auth('reader'));
      await client.waitForClose();
      expect(client.received.map((m) => m.payload)).toEqual([b.wire.ws.end('until_reached')]);
      expect(client.closeCode).toBe(1000);
    });
  });

  describe('ping', () => {
    it('terminates a peer that does not answer pings', async () => {
      const client = await ws(b.path('ws'), server.auth('reader'), { autoPong: false });
      let pings = 0;
      client.ws.on('ping', () => pings++);
      await client.waitForClose(5000);
      expect(pings).toBeGreaterThanOrEqual(1);
      expect(client.closeCode).toBe(1006);
      await eventually(() => server.hub.subscriberCount === 0, 2000, 'the dead peer to be forgotten');
    });

    it('keeps a peer that answers', async () => {
      const client = await ws(b.path('ws'), server.auth('reader'));
      let pings = 0;
      client.ws.on('ping', () => pings++);
      await client.waitFor(() => pings >= 2, 'two pings', 15_000);
      expect(client.closeCode).toBeUndefined();
    });
  });
});

describe.each(BUNDLE_CASES)('WebSocket limits, faults and shutdown (%s bundle)', (_name, b) => {
  let server: TestServer;
  afterEach(async () => {
    await server.dispose();
  });

  it('answers 429 TOO_MANY_CONNECTIONS beyond the limits, counting SSE and WS together', async () => {
    server = await startTestServer({ max_connections_per_key: 1 }, b);
    const first = await openWs(server, b.path('ws'), server.auth('reader'));
    const second = await openWs(server, b.path('ws'), server.auth('reader'));
    expect(second.refused).toEqual({ status: 429, body: b.wire.errorBody('TOO_MANY_CONNECTIONS', 'Too many open streams for this key (at most 1)') });
    first.close();
    await eventually(() => server.hub.subscriberCount === 0, 2000, 'the slot to come back');
    const third = await openWs(server, b.path('ws'), server.auth('reader'));
    expect(third.refused).toBeUndefined();
    third.close();
  });

  it('sends an error frame then close 1011 when the store fails mid-stream', async () => {
    server = await startTestServer({ ring_size: 16 }, b);
    const history = await publish(server, 40);
    // Only stream reads with a type filter fail; the hub's tail keeps working.
    failReads(server, (query) => query.types !== undefined);
    const client = await openWs(server, b.path('ws', { types: b.types.familyGlob, since_id: history[0]!.id }), server.auth('reader'));
    await client.waitForClose();
    // A status frame with its own clock (`every`, partner: 1 s) is not held off by status_s: it may come first.
    const ownClock = b.bundle.channels.ws?.ws.some((frame) => frame.role === 'status' && frame.everyMs !== undefined) === true;
    const messages = client.received.filter((m) => !(ownClock && m.role === 'status'));
    expect(messages.map((m) => m.payload)).toEqual([b.wire.ws.error('INTERNAL', 'Internal server error')]);
    expect(client.closeCode).toBe(1011);
  });

  it('sends end (shutdown) and closes 1001 when the server closes', async () => {
    server = await startTestServer({}, b);
    const client = await openWs(server, b.path('ws'), server.auth('reader'));
    const live = publish(server, 3);
    await client.waitForEvents(3);
    await live;
    await server.close();
    await client.waitForClose();
    expect(client.received.at(-1)!.payload).toEqual(b.wire.ws.end('shutdown'));
    expect(client.closeCode).toBe(1001);
  });
});
