import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { eventually, ids, openWs, publish, type WsClient, failReads } from './clients.js';

const WS = '/v1/events/ws';

describe('GET /v1/events/ws (WebSocket)', () => {
  let server: TestServer;
  const open: WsClient[] = [];
  const ws = async (path: string, headers: Record<string, string>, options: { autoPong?: boolean } = {}) => {
    const client = await openWs(server, path, headers, options);
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startTestServer({ heartbeat_s: 1, status_s: 1, cors_origins: ['https://partner.example'] });
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.ws.terminate();
  });
  afterAll(async () => {
    await server.dispose();
  });

  describe('refusals before the upgrade', () => {
    it.each([
      ['no credentials', '', {}, 401, 'AUTH_REQUIRED'],
      ['a type the key may not read', '?types=token.issued', { Authorization: 'Bearer sk_test_grants' }, 403, 'FORBIDDEN'],
      ['a key that may not be a query token', '?token=sk_test_noquery', {}, 403, 'QUERY_TOKEN_DISABLED'],
      ['until_id without since_id', `?until_id=evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P`, { Authorization: 'Bearer sk_test_reader' }, 400, 'UNTIL_ID_REQUIRES_SINCE_ID'],
      ['an unknown query parameter', '?colour=blue', { Authorization: 'Bearer sk_test_reader' }, 400, 'VALIDATION_FAILED'],
      ['types longer than the spec allows', `?types=${'grant.*,'.repeat(200)}grant.created`, { Authorization: 'Bearer sk_test_reader' }, 400, 'VALIDATION_FAILED'],
      ['an origin outside cors_origins', '', { Authorization: 'Bearer sk_test_reader', Origin: 'https://evil.example' }, 403, 'FORBIDDEN'],
    ] as const)('answers %s with the HTTP JSON error', async (_name, query, headers, status, code) => {
      const client = await ws(`${WS}${query}`, headers);
      expect(client.refused?.status).toBe(status);
      expect(client.refused?.body.code).toBe(code);
      expect(server.hub.subscriberCount).toBe(0);
    });

    it('upgrades for an origin in cors_origins and for ?token=', async () => {
      const client = await ws(`${WS}?token=sk_test_reader`, { Origin: 'https://partner.example' });
      expect(client.refused).toBeUndefined();
      expect(client.ws.readyState).toBe(client.ws.OPEN);
    });

    it('answers another upgrade path with 404', async () => {
      const client = await ws('/v1/elsewhere', server.auth('reader'));
      expect(client.refused).toEqual({ status: 404, body: { error: 'No such route', code: 'NOT_FOUND' } });
    });
  });

  describe('frames', () => {
    it('sends history then live event frames without gap or duplicate', async () => {
      const history = await publish(server, 12);
      const client = await ws(`${WS}?since_id=${history[1]!.id}`, server.auth('reader'));
      await client.waitForEvents(10);
      const live = await publish(server, 6);
      await client.waitForEvents(16);
      expect(ids(client.events)).toEqual(ids([...history.slice(2), ...live]));
    });

    it('sends status every status_s with the hub numbers', async () => {
      const client = await ws(`${WS}?types=grant.*`, server.auth('reader'));
      await client.waitFor((c) => c.frames.filter((f) => f.type === 'status').length >= 2, 'two status frames', 15_000);
      const status = client.frames.find((f) => f.type === 'status');
      expect(status).toMatchObject({ type: 'status', queue_depth: 0, queue_max: 8192, subscribers: server.hub.subscriberCount, store: 'ok' });
      // The same numbers as /metrics: open streams and subscriber lag.
      const metrics = await (await fetch(`${server.url}/metrics`, { headers: server.auth('admin') })).text();
      const open = [...metrics.matchAll(/^specstream_connections\{transport="(?:sse|ws)"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      expect(open).toBe(server.hub.subscriberCount);
    });

    it('ends with an end frame then close 1000 once until_id is delivered', async () => {
      const history = await publish(server, 6);
      const client = await ws(`${WS}?since_id=${history[0]!.id}&until_id=${history[3]!.id}`, server.auth('reader'));
      await client.waitForClose();
      expect(ids(client.events)).toEqual(ids(history.slice(1, 4)));
      expect(client.frames.at(-1)).toEqual({ type: 'end', reason: 'until_reached' });
      expect(client.closeCode).toBe(1000);
    });

    it('answers a resume point already past until_id with end and close 1000', async () => {
      const history = await publish(server, 4);
      const client = await ws(`${WS}?since_id=${history[0]!.id}&until_id=${history[2]!.id}&last_event_id=${history[3]!.id}`, server.auth('reader'));
      await client.waitForClose();
      expect(client.frames).toEqual([{ type: 'end', reason: 'until_reached' }]);
      expect(client.closeCode).toBe(1000);
    });
  });

  describe('ping', () => {
    it('terminates a peer that does not answer pings', async () => {
      const client = await ws(WS, server.auth('reader'), { autoPong: false });
      let pings = 0;
      client.ws.on('ping', () => pings++);
      await client.waitForClose(5000);
      expect(pings).toBeGreaterThanOrEqual(1);
      expect(client.closeCode).toBe(1006);
      await eventually(() => server.hub.subscriberCount === 0, 2000, 'the dead peer to be forgotten');
    });

    it('keeps a peer that answers', async () => {
      const client = await ws(WS, server.auth('reader'));
      let pings = 0;
      client.ws.on('ping', () => pings++);
      await client.waitFor(() => pings >= 2, 'two pings', 15_000);
      expect(client.closeCode).toBeUndefined();
    });
  });
});

describe('WebSocket limits, faults and shutdown', () => {
  let server: TestServer;
  afterEach(async () => {
    await server.dispose();
  });

  it('answers 429 TOO_MANY_CONNECTIONS beyond the limits, counting SSE and WS together', async () => {
    server = await startTestServer({ max_connections_per_key: 1 });
    const first = await openWs(server, WS, server.auth('reader'));
    const second = await openWs(server, WS, server.auth('reader'));
    expect(second.refused).toEqual({ status: 429, body: { error: 'Too many open streams for this key (at most 1)', code: 'TOO_MANY_CONNECTIONS' } });
    first.close();
    await eventually(() => server.hub.subscriberCount === 0, 2000, 'the slot to come back');
    const third = await openWs(server, WS, server.auth('reader'));
    expect(third.refused).toBeUndefined();
    third.close();
  });

  it('sends an error frame then close 1011 when the store fails mid-stream', async () => {
    server = await startTestServer({ ring_size: 16 });
    const history = await publish(server, 40);
    // Only stream reads with a type filter fail; the hub's tail keeps working.
    failReads(server, (query) => query.types !== undefined);
    const client = await openWs(server, `${WS}?types=grant.*&since_id=${history[0]!.id}`, server.auth('reader'));
    await client.waitForClose();
    expect(client.frames).toEqual([{ type: 'error', code: 'INTERNAL', message: 'Internal server error' }]);
    expect(client.closeCode).toBe(1011);
  });

  it('sends end (shutdown) and closes 1001 when the server closes', async () => {
    server = await startTestServer();
    const client = await openWs(server, WS, server.auth('reader'));
    const live = publish(server, 3);
    await client.waitForEvents(3);
    await live;
    await server.close();
    await client.waitForClose();
    expect(client.frames.at(-1)).toEqual({ type: 'end', reason: 'shutdown' });
    expect(client.closeCode).toBe(1001);
  });
});
