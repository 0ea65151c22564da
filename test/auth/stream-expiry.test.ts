import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Subscription } from '../../src/client/index.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import type { TestServer } from '../helpers/test-server.js';
import { eventually, ids, openSse, openWs, publish } from '../stream/clients.js';
import { claims, SECRET, sign, startAuthServer, type AuthServer } from './helpers.js';

/** A token valid for `ttlS` seconds (HS256 with the servers' jwt_secret). */
const shortToken = (ttlS: number, extra: Record<string, unknown> = {}) => sign(SECRET, claims({ scope: 'events:read', ...extra }, ttlS));

describe('expiry on open streams (issue 15)', () => {
  let server: AuthServer;
  beforeAll(async () => {
    // No clock tolerance: a stream ends at `exp` itself.
    server = await startAuthServer({ jwt_secret: SECRET, jwt_clock_tolerance_s: 0, heartbeat_s: 1 });
  });
  afterAll(async () => {
    await server?.dispose();
  });
  const asTest = () => server as unknown as TestServer;

  it('ends an SSE stream when its token expires, with a typed stream.expired event last', async () => {
    const client = await openSse(asTest(), '/v1/events/stream', { Authorization: `Bearer ${await shortToken(2)}` });
    expect(client.status).toBe(200);
    await publish(asTest(), 1);
    await client.waitForEvents(1);
    await client.waitForEnd(10_000);
    const last = client.frames.at(-1);
    expect(last).toMatchObject({ message: 'sseStreamExpired', event: 'stream.expired', data: { code: 'TOKEN_EXPIRED' } });
    expect(client.raw).toMatch(/\nevent: stream\.expired\ndata: \{"code":"TOKEN_EXPIRED","message":"[^"]+"\}\n\n$/);
  });

  it('ends a WebSocket stream when its token expires: an error frame TOKEN_EXPIRED, then close 1008', async () => {
    const client = await openWs(asTest(), `/v1/events/ws?token=${await shortToken(2)}`);
    await client.waitForClose(10_000);
    expect(client.frames.at(-1)).toMatchObject({ type: 'error', code: 'TOKEN_EXPIRED' });
    expect(client.closeCode).toBe(1008);
  });

  it('does not end streams opened with a key, which do not expire', async () => {
    const keyed = await openSse(asTest(), '/v1/events/stream', { Authorization: 'Bearer sk_test_reader' });
    const token = await openSse(asTest(), '/v1/events/stream', { Authorization: `Bearer ${await shortToken(1)}` });
    await token.waitForEnd(10_000);
    await keyed.waitFor((c) => c.frames.some((f) => f.message === 'sseHeartbeat'), 'a heartbeat after the token stream ended');
    expect(keyed.ended).toBe(false);
    keyed.close();
  });

  describe('the SDK refreshes with getToken()', () => {
    it.each(['sse', 'ws'] as const)('a %s stream outlives three token expiries with every event once, in order', async (transport) => {
      let fetched = 0;
      // History from just after a marker event (the server's log holds other tests' events too).
      const [marker] = await publish(asTest(), 1);
      const subscription: Subscription<SpecstreamEvent> = connect({
        url: server.url,
        transport,
        // Each token lives 2 s: the stream crosses at least three expiries while events flow.
        getToken: async () => {
          fetched++;
          return shortToken(2);
        },
        sinceId: marker!.id,
      });
      const received: SpecstreamEvent[] = [];
      const reading = (async () => {
        for await (const event of subscription) received.push(event);
      })();
      const published: string[] = [];
      // Publish until the subscription has fetched four tokens (three expiries), then a little more.
      while (fetched < 4) {
        published.push(...ids(await publish(asTest(), 3)));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      published.push(...ids(await publish(asTest(), 3)));
      await eventually(() => received.length >= published.length, 20_000, `${published.length} events (have ${received.length})`);
      subscription.close();
      await reading;
      expect(ids(received)).toEqual(published);
      expect(fetched).toBeGreaterThanOrEqual(4);
    }, 60_000);

    it('ends with UnauthorizedError TOKEN_EXPIRED when there is no getToken and the token expired', async () => {
      const subscription = connect({ url: server.url, token: await shortToken(1) });
      const reading = (async () => {
        for await (const _event of subscription) {
          // no events needed
        }
      })();
      await expect(reading).rejects.toMatchObject({ name: 'UnauthorizedError', status: 401, code: 'TOKEN_EXPIRED' });
    }, 20_000);
  });
});
