/**
 * The resume point of a live-only stream (AsyncAPI `ssePosition` / `wsPosition` natively, the
 * `position` frames of any bundle): the newest event the stream could have shown, so that a client
 * that loses its connection before its first event reconnects without a gap — and never the id of
 * an event the reader may not see. Run against each test bundle (test/helpers/bundles.ts).
 */
import { EventSource } from 'eventsource';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/bundle/yaml-document.js';
import { connect, type Subscription } from '../../src/client/index.js';
import { TcpProxy } from '../cluster/harness.js';
import { BUNDLE_CASES, TEST_BUNDLES, type TestEvent } from '../helpers/bundles.js';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';
import { STREAM_BACKENDS, type SharedLog } from './backends.js';
import { eventually, ids, listenEventSource, openSse, openWs, publish, type SseClient } from './clients.js';

/** The resume point when the log holds no event of the stream's types: resuming after it replays them all. */
const ORIGIN_ID = 'evt_00000000000000000000000000';

const newest = (events: TestEvent[], match: (e: TestEvent) => boolean = () => true) => events.filter(match).at(-1)!.id;

describe.each(BUNDLE_CASES)('resume point of a live-only stream (%s bundle)', (_name, b) => {
  let server: TestServer;
  const closers: (() => void)[] = [];
  beforeEach(async () => {
    // heartbeat_s at the native default (30 s), so that no heartbeat joins the bytes compared below (the partner bundle implies 1 s).
    server = await startTestServer({ retry_ms: 100, heartbeat_s: 30 }, b);
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await server.dispose();
  });

  async function sse(path: string, key: 'reader' | 'grants' = 'reader'): Promise<SseClient> {
    const client = await openSse(server, path, server.auth(key));
    closers.push(() => client.close());
    await client.waitFor((c) => c.received.length >= 1, 'the first frame');
    await new Promise((resolve) => setTimeout(resolve, 50)); // lets a position frame, if any, arrive too
    return client;
  }

  describe('SSE', () => {
    it('follows retry: with a position frame whose id: is the newest event', async () => {
      const events = await publish(server, 7);
      const client = await sse(b.path('sse'));
      const id = newest(events);
      expect(client.raw).toBe(`retry: 100\n\n${b.wire.sse.position(id)}`);
      expect(client.roles).toEqual(['retry', 'position']);
    });

    it(`gives a reader limited to ${b.types.familyGlob} the newest event of the family, never a newer event of another type`, async () => {
      const events = await publish(server, 8); // the newest is not of the family
      expect(b.types.inFamily(events.at(-1)!.type)).toBe(false);
      const client = await sse(b.path('sse'), 'grants');
      const id = newest(events, (e) => b.types.inFamily(e.type));
      expect(client.raw).toBe(`retry: 100\n\n${b.wire.sse.position(id)}`);
      for (const other of events.filter((e) => !b.types.inFamily(e.type))) expect(client.raw).not.toContain(other.id);
    });

    it('follows the types filter', async () => {
      const events = await publish(server, 10);
      const client = await sse(b.path('sse', { types: b.types.alert }));
      expect(client.raw).toContain(b.wire.sse.position(newest(events, (e) => e.type === b.types.alert)));
    });

    it('is the origin id when the log holds no event of the types (an empty log too), and absent from a history stream', async () => {
      const empty = await sse(b.path('sse'));
      expect(empty.raw).toBe(`retry: 100\n\n${b.wire.sse.position(ORIGIN_ID)}`);
      const events = await publish(server, 5, { types: [b.types.family[0]] });
      const history = await sse(b.path('sse', { since_id: events[1]!.id }));
      await history.waitForEvents(3);
      expect(history.raw).not.toContain(b.wire.sse.positionMarker);
      expect(history.roles).not.toContain('position');
      const none = await sse(b.path('sse', { types: b.types.alert }));
      expect(none.raw).toBe(`retry: 100\n\n${b.wire.sse.position(ORIGIN_ID)}`);
    });
  });

  describe('WebSocket', () => {
    it('starts with a position frame for the newest event the reader may read', async () => {
      const events = await publish(server, 8);
      const client = await openWs(server, b.path('ws'), server.auth('grants'));
      closers.push(() => client.close());
      await client.waitFor((c) => c.received.length >= 1, 'the first frame');
      expect(client.received[0]!.payload).toEqual(b.wire.ws.position(newest(events, (e) => b.types.inFamily(e.type))));
    });
  });

  it('lets an EventSource that lost its connection before any event resume without a gap', async () => {
    await publish(server, 3);
    const proxy = new TcpProxy('127.0.0.1', server.port);
    await proxy.start();
    closers.push(() => void proxy.stop());
    const source = new EventSource(`http://127.0.0.1:${proxy.port}${b.path('sse', {}, server.queryAuth('reader'))}`);
    closers.push(() => source.close());
    const received: string[] = [];
    const positions: string[] = [];
    const listening = listenEventSource(source, b, (frame) => {
      if (frame.role === 'event') received.push(frame.event.id);
      if (frame.role === 'position') positions.push(frame.id);
    });
    const checked = (condition: () => boolean) => () => {
      if (listening.failure) throw listening.failure;
      return condition();
    };
    await eventually(checked(() => positions.length === 1), 10_000, 'the resume point');

    await proxy.cut();
    const missedWhileAway = await publish(server, 6);
    await proxy.restore();
    await eventually(checked(() => received.length >= 6), 10_000, 'the 6 events published while disconnected');
    const live = await publish(server, 2);
    await eventually(checked(() => received.length >= 8), 10_000, '8 events');
    expect(received).toEqual(ids([...missedWhileAway, ...live]));
  });

  describe('the SDK', () => {
    it.each(['sse', 'ws'] as const)('takes the position as its lastEventId before any event (%s)', async (transport) => {
      const events = await publish(server, 4);
      const { id: keyId, secret: token } = TEST_KEYS.reader;
      const subscription: Subscription<unknown, unknown> = b.specs === undefined ? connect({ url: server.url, token, transport }) : connect({ url: server.url, token, keyId, transport, specs: b.specs });
      closers.push(() => subscription.close());
      const iterator = subscription[Symbol.asyncIterator]();
      const first = iterator.next(); // starts the connection
      await eventually(() => subscription.lastEventId !== undefined, 10_000, 'the resume point');
      expect(subscription.lastEventId).toBe(newest(events));
      const [next] = await publish(server, 1);
      expect(b.event((await first).value as JsonObject).id).toBe(next!.id);
    });
  });
});

describe.each(TEST_BUNDLES.flatMap((b) => STREAM_BACKENDS.map((backend) => [b.name, backend.name, b, backend] as const)))('resume point from the log (%s bundle, %s)', (_bundle, _name, b, backend) => {
  let log: SharedLog;
  const closers: (() => void)[] = [];
  beforeEach(() => {
    log = backend.open(b);
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await log.cleanup();
  });

  async function firstFrames(server: TestServer, path: string, headers: Record<string, string>): Promise<SseClient> {
    const client = await openSse(server, path, headers);
    closers.push(() => client.close());
    await client.waitFor((c) => c.received.length >= 2, 'retry: and the resume point');
    return client;
  }

  it.skipIf(backend.skip)(
    `a ${b.types.familyGlob} reader while only other types exist: disconnecting before its first event, it resumes with the event published meanwhile (SSE)`,
    async () => {
      const server = await log.node({ retry_ms: 100 });
      const others = await publish(server, 6, { types: [b.types.audit, b.types.alert] });
      const first = await firstFrames(server, b.path('sse'), server.auth('grants'));
      expect(first.received[1]).toEqual({ role: 'position', id: ORIGIN_ID });
      for (const other of others) expect(first.raw).not.toContain(other.id);
      first.close();

      const [missed] = await publish(server, 1, { types: [b.types.family[0]] });
      const again = await openSse(server, b.path('sse'), { ...server.auth('grants'), 'Last-Event-ID': ORIGIN_ID });
      closers.push(() => again.close());
      await again.waitForEvents(1);
      expect(ids(again.events)).toEqual([missed!.id]);
    },
  );

  it.skipIf(backend.skip)('names the newest readable event of the log, although this node never saw it (SSE and WebSocket)', async () => {
    const before = await log.node();
    const [grant] = b.types.family;
    const events = await publish(before, 8, { types: [grant, b.types.audit, b.types.alert] });
    const newestGrant = newest(events, (e) => e.type === grant);
    // A node started afterwards: its memory (ring, ledger) holds none of these events.
    const server = await log.node();
    expect(server.hub.snapshot().ledgerLength).toBe(0);

    const sseClient = await firstFrames(server, b.path('sse'), server.auth('grants'));
    expect(sseClient.received[1]).toEqual({ role: 'position', id: newestGrant });
    const wsClient = await openWs(server, b.path('ws'), server.auth('grants'));
    closers.push(() => wsClient.close());
    await wsClient.waitFor((c) => c.received.length >= 1, 'the position frame');
    expect(wsClient.received[0]!.payload).toEqual(b.wire.ws.position(newestGrant));
    const audit = await openWs(server, b.path('ws', { types: b.types.audit }), server.auth('reader'));
    closers.push(() => audit.close());
    await audit.waitFor((c) => c.received.length >= 1, 'the position frame');
    expect(audit.received[0]!.payload).toEqual(b.wire.ws.position(newest(events, (e) => e.type === b.types.audit)));
  });

  it.skipIf(backend.skip)('sends the WebSocket position frame when the types have no event, and resuming from it misses nothing', async () => {
    const server = await log.node();
    await publish(server, 3, { types: [b.types.audit] });
    const first = await openWs(server, b.path('ws'), server.auth('grants'));
    closers.push(() => first.close());
    await first.waitFor((c) => c.received.length >= 1, 'the position frame');
    expect(first.received[0]!.payload).toEqual(b.wire.ws.position(ORIGIN_ID));
    first.close();
    await first.waitForClose();

    const [missed] = await publish(server, 1, { types: [b.types.family[1]] });
    const again = await openWs(server, b.path('ws', { last_event_id: ORIGIN_ID }), server.auth('grants'));
    closers.push(() => again.close());
    await again.waitForEvents(1);
    expect(ids(again.events)).toEqual([missed!.id]);
  });
});
