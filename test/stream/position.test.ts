/**
 * The resume point of a live-only stream (AsyncAPI `ssePosition` / `wsPosition`): the newest event
 * the stream could have shown, so that a client that loses its connection before its first event
 * reconnects without a gap — and never the id of an event the reader may not see.
 */
import { EventSource } from 'eventsource';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Subscription } from '../../src/client/index.js';
import { EVENT_TYPES } from '../../src/generated/catalog.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { TcpProxy } from '../cluster/harness.js';
import { validateEventSourceEvent } from '../helpers/frames.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { STREAM_BACKENDS, type SharedLog } from './backends.js';
import { eventually, ids, openSse, openWs, publish, type SseClient } from './clients.js';

/** The resume point when the log holds no event of the stream's types: resuming after it replays them all. */
const ORIGIN_ID = 'evt_00000000000000000000000000';

const newest = (events: SpecstreamEvent[], match: (e: SpecstreamEvent) => boolean = () => true) => events.filter(match).at(-1)!.id;

describe('resume point of a live-only stream', () => {
  let server: TestServer;
  const closers: (() => void)[] = [];
  beforeEach(async () => {
    server = await startTestServer({ retry_ms: 100 });
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await server.dispose();
  });

  async function sse(path: string, key: 'reader' | 'grants' = 'reader'): Promise<SseClient> {
    const client = await openSse(server, path, server.auth(key));
    closers.push(() => client.close());
    await client.waitFor((c) => c.frames.length >= 1, 'the first frame');
    await new Promise((resolve) => setTimeout(resolve, 50)); // lets a position frame, if any, arrive too
    return client;
  }

  describe('SSE', () => {
    it('follows retry: with a stream.position event whose id: is the newest event', async () => {
      const events = await publish(server, 7);
      const client = await sse('/v1/events/stream');
      const id = newest(events);
      expect(client.raw).toBe(`retry: 100\n\nid: ${id}\nevent: stream.position\ndata: {"id":"${id}"}\n\n`);
      expect(client.frames.map((f) => f.message)).toEqual(['sseRetry', 'ssePosition']);
    });

    it('gives a reader limited to grant.* the newest grant event, never a newer event of another type', async () => {
      const events = await publish(server, 8); // the newest is not a grant event
      expect(events.at(-1)!.type.startsWith('grant.')).toBe(false);
      const client = await sse('/v1/events/stream', 'grants');
      const id = newest(events, (e) => e.type.startsWith('grant.'));
      expect(client.raw).toBe(`retry: 100\n\nid: ${id}\nevent: stream.position\ndata: {"id":"${id}"}\n\n`);
      for (const other of events.filter((e) => !e.type.startsWith('grant.'))) expect(client.raw).not.toContain(other.id);
    });

    it('follows the types filter', async () => {
      const events = await publish(server, 10);
      const client = await sse('/v1/events/stream?types=security.alert');
      expect(client.raw).toContain(`data: {"id":"${newest(events, (e) => e.type === 'security.alert')}"}\n`);
    });

    it('is the origin id when the log holds no event of the types (an empty log too), and absent from a history stream', async () => {
      const empty = await sse('/v1/events/stream');
      expect(empty.raw).toBe(`retry: 100\n\nid: ${ORIGIN_ID}\nevent: stream.position\ndata: {"id":"${ORIGIN_ID}"}\n\n`);
      const events = await publish(server, 5, { types: ['grant.created'] });
      const history = await sse(`/v1/events/stream?since_id=${events[1]!.id}`);
      await history.waitForEvents(3);
      expect(history.raw).not.toContain('position');
      const none = await sse('/v1/events/stream?types=security.alert');
      expect(none.raw).toBe(`retry: 100\n\nid: ${ORIGIN_ID}\nevent: stream.position\ndata: {"id":"${ORIGIN_ID}"}\n\n`);
    });
  });

  describe('WebSocket', () => {
    it('starts with a position frame for the newest event the reader may read', async () => {
      const events = await publish(server, 8);
      const client = await openWs(server, '/v1/events/ws', server.auth('grants'));
      closers.push(() => client.close());
      await client.waitFor((c) => c.frames.length >= 1, 'the first frame');
      expect(client.frames[0]).toEqual({ type: 'position', id: newest(events, (e) => e.type.startsWith('grant.')) });
    });
  });

  it('lets an EventSource that lost its connection before any event resume without a gap', async () => {
    await publish(server, 3);
    const proxy = new TcpProxy('127.0.0.1', server.port);
    await proxy.start();
    closers.push(() => void proxy.stop());
    const source = new EventSource(`http://127.0.0.1:${proxy.port}/v1/events/stream?token=sk_test_reader`);
    closers.push(() => source.close());
    const received: string[] = [];
    const positions: string[] = [];
    const handler = (event: MessageEvent<string>) => {
      const frame = validateEventSourceEvent(event);
      if (frame.message === 'sseEvent') received.push(frame.id);
      if (frame.message === 'ssePosition') positions.push(frame.id);
    };
    for (const type of [...EVENT_TYPES, 'stream.position']) source.addEventListener(type, handler);
    await eventually(() => positions.length === 1, 10_000, 'the resume point');

    await proxy.cut();
    const missedWhileAway = await publish(server, 6);
    await proxy.restore();
    await eventually(() => received.length >= 6, 10_000, 'the 6 events published while disconnected');
    const live = await publish(server, 2);
    await eventually(() => received.length >= 8, 10_000, '8 events');
    expect(received).toEqual(ids([...missedWhileAway, ...live]));
  });

  describe('the SDK', () => {
    it.each(['sse', 'ws'] as const)('takes the position as its lastEventId before any event (%s)', async (transport) => {
      const events = await publish(server, 4);
      const subscription: Subscription = connect({ url: server.url, token: 'sk_test_reader', transport });
      closers.push(() => subscription.close());
      const iterator = subscription[Symbol.asyncIterator]();
      const first = iterator.next(); // starts the connection
      await eventually(() => subscription.lastEventId !== undefined, 10_000, 'the resume point');
      expect(subscription.lastEventId).toBe(newest(events));
      const [next] = await publish(server, 1);
      expect(((await first).value as SpecstreamEvent).id).toBe(next!.id);
    });
  });
});

describe.each(STREAM_BACKENDS.map((backend) => [backend.name, backend] as const))('resume point from the log (%s)', (_name, backend) => {
  let log: SharedLog;
  const closers: (() => void)[] = [];
  beforeEach(() => {
    log = backend.open();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await log.cleanup();
  });

  async function firstFrames(server: TestServer, path: string, headers: Record<string, string>): Promise<SseClient> {
    const client = await openSse(server, path, headers);
    closers.push(() => client.close());
    await client.waitFor((c) => c.frames.length >= 2, 'retry: and the resume point');
    return client;
  }

  it.skipIf(backend.skip)(
    'a grant.* reader while only other types exist: disconnecting before its first event, it resumes with the event published meanwhile (SSE)',
    async () => {
      const server = await log.node({ retry_ms: 100 });
      const others = await publish(server, 6, { types: ['audit_log.created', 'security.alert'] });
      const first = await firstFrames(server, '/v1/events/stream', server.auth('grants'));
      const position = first.frames[1] as { message: string; id: string };
      expect(position).toMatchObject({ message: 'ssePosition', id: ORIGIN_ID });
      for (const other of others) expect(first.raw).not.toContain(other.id);
      first.close();

      const [missed] = await publish(server, 1, { types: ['grant.created'] });
      const again = await openSse(server, '/v1/events/stream', { ...server.auth('grants'), 'Last-Event-ID': position.id });
      closers.push(() => again.close());
      await again.waitForEvents(1);
      expect(ids(again.events)).toEqual([missed!.id]);
    },
  );

  it.skipIf(backend.skip)('names the newest readable event of the log, although this node never saw it (SSE and WebSocket)', async () => {
    const before = await log.node();
    const events = await publish(before, 8, { types: ['grant.created', 'audit_log.created', 'security.alert'] });
    const newestGrant = newest(events, (e) => e.type === 'grant.created');
    // A node started afterwards: its memory (ring, ledger) holds none of these events.
    const server = await log.node();
    expect(server.hub.snapshot().ledgerLength).toBe(0);

    const sseClient = await firstFrames(server, '/v1/events/stream', server.auth('grants'));
    expect(sseClient.frames[1]).toMatchObject({ message: 'ssePosition', id: newestGrant });
    const wsClient = await openWs(server, '/v1/events/ws', server.auth('grants'));
    closers.push(() => wsClient.close());
    await wsClient.waitFor((c) => c.frames.length >= 1, 'the position frame');
    expect(wsClient.frames[0]).toEqual({ type: 'position', id: newestGrant });
    const audit = await openWs(server, '/v1/events/ws?types=audit_log.created', server.auth('reader'));
    closers.push(() => audit.close());
    await audit.waitFor((c) => c.frames.length >= 1, 'the position frame');
    expect(audit.frames[0]).toEqual({ type: 'position', id: newest(events, (e) => e.type === 'audit_log.created') });
  });

  it.skipIf(backend.skip)('sends the WebSocket position frame when the types have no event, and resuming from it misses nothing', async () => {
    const server = await log.node();
    await publish(server, 3, { types: ['audit_log.created'] });
    const first = await openWs(server, '/v1/events/ws', server.auth('grants'));
    closers.push(() => first.close());
    await first.waitFor((c) => c.frames.length >= 1, 'the position frame');
    expect(first.frames[0]).toEqual({ type: 'position', id: ORIGIN_ID });
    first.close();
    await first.waitForClose();

    const [missed] = await publish(server, 1, { types: ['grant.revoked'] });
    const again = await openWs(server, `/v1/events/ws?last_event_id=${ORIGIN_ID}`, server.auth('grants'));
    closers.push(() => again.close());
    await again.waitForEvents(1);
    expect(ids(again.events)).toEqual([missed!.id]);
  });
});
