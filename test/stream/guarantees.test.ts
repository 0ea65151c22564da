/**
 * Proofs of the stream guarantees of issue 3, against a real server of each test bundle (the
 * native one and test/fixtures/bundles/partner, see test/helpers/bundles.ts): (a) resume, (b) the
 * history→live seam, (d) until and 204, (e) permissions. (c) slow clients and the dropped notice
 * are in slow-clients.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/bundle/yaml-document.js';
import { BUNDLE_CASES } from '../helpers/bundles.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { ids, openSse, openWs, publish, type SseClient } from './clients.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Follows the stream from `fromId` until it holds `total` events, disconnecting at random moments
 * (after a random number of events, or after a random few milliseconds) and resuming each time
 * with `Last-Event-ID` set to the last event received, as an EventSource does.
 */
async function followWithReconnects(server: TestServer, fromId: string, total: number, rnd: () => number): Promise<{ ids: string[]; connections: number }> {
  const received: string[] = [];
  let connections = 0;
  while (received.length < total) {
    const client: SseClient = await openSse(server, server.bundle.path('sse'), { ...server.auth('reader'), 'Last-Event-ID': received.at(-1) ?? fromId });
    connections++;
    if (client.status !== 200) throw new Error(`reconnect answered ${client.status}: ${client.body}`);
    const target = Math.min(received.length + 1 + Math.floor(rnd() * 400), total);
    const timer = rnd() < 0.5 ? setTimeout(() => client.close(), 2 + Math.floor(rnd() * 60)) : undefined;
    await client.waitFor((c) => c.ended || received.length + c.events.length >= target, `event ${target}`, 30_000);
    clearTimeout(timer);
    client.close();
    received.push(...ids(client.events));
  }
  return { ids: received, connections };
}

describe.each(BUNDLE_CASES)('stream guarantees (%s bundle)', (_name, b) => {
  let server: TestServer;
  afterEach(async () => {
    await server.dispose();
  });

  it('(a) 50 clients disconnecting at random moments and resuming with Last-Event-ID while 5,000 events are published each receive the exact sequence, once, in order', async () => {
    // A ring smaller than the run, so that resumes are served from the ring and from the store.
    server = await startTestServer({ ring_size: 512, max_connections_per_key: 200 }, b);
    const [anchor] = await publish(server, 1);
    const rnd = random(20260301);
    const followers = Array.from({ length: 50 }, (_, i) => followWithReconnects(server, anchor!.id, 5000, random(i + 1)));
    const published: string[] = [];
    for (let batch = 0; batch < 100; batch++) {
      published.push(...ids(await publish(server, 50)));
      // Pacing only: let the followers run between batches.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(rnd() * 8)));
    }
    const results = await Promise.all(followers);
    for (const result of results) {
      expect(result.ids).toEqual(published);
      expect(result.connections).toBeGreaterThan(5);
    }
  }, 120_000);

  it('(b) a history-plus-live subscription started while events are published sees no gap and no duplicate at the seam', async () => {
    // A tiny ring: most subscribers start in the store and must cross into the ring mid-publish.
    server = await startTestServer({ ring_size: 16 }, b);
    const published = ids(await publish(server, 300));
    const rnd = random(7);
    const subscribers: { sinceIndex: number; client: SseClient }[] = [];
    for (let batch = 0; batch < 150; batch++) {
      published.push(...ids(await publish(server, 10, { batch: 10 })));
      if (batch % 5 === 0) {
        const sinceIndex = Math.floor(rnd() * published.length);
        subscribers.push({ sinceIndex, client: await openSse(server, b.path('sse', { since_id: published[sinceIndex]! }), server.auth('reader')) });
      }
    }
    for (const { sinceIndex, client } of subscribers) {
      const expected = published.slice(sinceIndex + 1);
      await client.waitForEvents(expected.length, 20_000);
      expect(ids(client.events)).toEqual(expected);
      client.close();
    }
  }, 60_000);

  it('(d) until_id ends the stream with 200 and the EventSource-style resume gets 204', async () => {
    server = await startTestServer({}, b);
    const history = await publish(server, 10);
    const range = { since_id: history[1]!.id, until_id: history[6]!.id };
    const sse = await openSse(server, b.path('sse', range), server.auth('reader'));
    await sse.waitForEnd();
    expect(sse.status).toBe(200);
    expect(ids(sse.events)).toEqual(ids(history.slice(2, 7)));

    const resume = await openSse(server, b.path('sse', range), { ...server.auth('reader'), 'Last-Event-ID': sse.events.at(-1)!.id });
    await resume.waitForEnd();
    expect(resume.status).toBe(204);
  });

  // A bundle may leave the until parameters out of its socket.
  it.skipIf(!b.offers('ws', 'until_id'))('(d) until_id ends the WebSocket stream with end + 1000', async () => {
    server = await startTestServer({}, b);
    const history = await publish(server, 10);
    const ws = await openWs(server, b.path('ws', { since_id: history[1]!.id, until_id: history[6]!.id }), server.auth('reader'));
    await ws.waitForClose();
    expect(ids(ws.events)).toEqual(ids(history.slice(2, 7)));
    expect(ws.received.at(-1)!.payload).toEqual(b.wire.ws.end('until_reached'));
    expect(ws.closeCode).toBe(1000);
  });

  it(`(e) a reader with ${b.scope('events:read:grant.*')} never sees another type on SSE, WS or REST, nor in counts`, async () => {
    // heartbeat_s (the WS ping interval) outlasts the pause below: a client that reads nothing for a whole interval is treated as dead.
    server = await startTestServer({ status_s: 1, heartbeat_s: 5 }, b);
    const [anchor] = await publish(server, 1);
    const grants = server.auth('grants');

    const sseAll = await openSse(server, b.path('sse', { since_id: anchor!.id }), grants);
    const sseGlob = await openSse(server, b.path('sse', { since_id: anchor!.id, types: '*' }), grants);
    const ws = await openWs(server, b.path('ws', { since_id: anchor!.id }), grants);
    // This one stops reading, so that its status frames report a backlog.
    const behind = await openWs(server, b.path('ws'), grants);
    behind.ws.pause();

    // 3000 events, ~10 MB of them in the family: more than the socket buffers hold, so the paused client falls behind.
    const published = await publish(server, 3000, { types: b.types.mixed, batch: 100, data: (type) => b.padded(type, 8000) });
    const grantEvents = published.filter((event) => b.types.inFamily(event.type));
    for (const client of [sseAll, sseGlob]) {
      await client.waitForEvents(grantEvents.length, 20_000);
      expect(ids(client.events)).toEqual(ids(grantEvents));
    }
    await ws.waitForEvents(grantEvents.length, 20_000);
    expect(ids(ws.events)).toEqual(ids(grantEvents));

    // Two status intervals pass while the paused client is behind, then it reads everything.
    const statusTicks = behind.received.length;
    await new Promise((resolve) => setTimeout(resolve, 2100));
    behind.ws.resume();
    await behind.waitForEvents(grantEvents.length, 20_000);
    await behind.waitFor((c) => c.received.length > statusTicks + grantEvents.length, 'status frames');
    let seen = 0;
    let backlogReported = false;
    for (const message of behind.received) {
      if (message.role === 'event') seen++;
      if (message.role === 'status') {
        // Only its own types are counted: at most the family events it has not received yet.
        const depth = message.payload[b.wire.ws.statusFields.depth] as number;
        expect(depth).toBeLessThanOrEqual(grantEvents.length - seen);
        if (depth > 0) backlogReported = true;
      }
    }
    expect(backlogReported).toBe(true);
    expect(behind.events.every((event) => b.types.inFamily(event.type))).toBe(true);

    const rest = await fetch(`${server.url}${b.path('list', { since_id: anchor!.id, limit: '1000' })}`, { headers: grants });
    const page = (await rest.json()) as { data: JsonObject[] };
    expect(page.data.length).toBeGreaterThan(0);
    expect(page.data.every((envelope) => b.types.inFamily(b.event(envelope).type))).toBe(true);
    for (const client of [sseAll, sseGlob]) client.close();
    ws.close();
    behind.close();
  }, 60_000);
});
