/**
 * (c) Slow clients keep receiving everything, from the store once the ring has moved on, with
 * bounded server memory; only a client behind retention gets the `dropped` notice, with an exact
 * count of what it missed, and continues from the oldest retained event.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { SseFrameReader } from '../helpers/frames.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { eventually, ids, openSse, openWs, paddedData, publish, waitUntil } from './clients.js';

const STREAM = '/v1/events/stream';

/** An SSE reader that consumes at most `bytesPerSecond` until `unthrottle()`. */
function openThrottledSse(server: TestServer, path: string, headers: Record<string, string>, bytesPerSecond: number) {
  const reader = new SseFrameReader(() => notify());
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  let limit = bytesPerSecond / 100;
  let timer: NodeJS.Timeout | undefined;
  let closeRequest = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers }, (res) => {
      res.pause();
      timer = setInterval(() => {
        let budget = limit;
        while (budget > 0 && res.readableLength > 0) {
          const chunk = res.read(Math.min(budget, res.readableLength)) as Buffer | null;
          if (chunk === null) break;
          reader.feed(chunk);
          budget -= chunk.length;
        }
        res.read(0); // ask the stream to refill from the socket
      }, 10);
      resolve();
    });
    req.on('error', reject);
    req.end();
    closeRequest = () => req.destroy();
  });
  return {
    ready,
    reader,
    unthrottle: () => {
      limit = Number.POSITIVE_INFINITY;
    },
    waitForEvents: (n: number, timeoutMs: number) =>
      waitUntil(
        () => {
          if (reader.failure) throw reader.failure;
          return reader.events.length >= n;
        },
        (check) => {
          listeners.add(check);
          return () => listeners.delete(check);
        },
        timeoutMs,
        `${n} events`,
      ),
    close: () => {
      clearInterval(timer);
      closeRequest();
    },
  };
}

describe('slow clients', () => {
  let server: TestServer;
  afterEach(async () => {
    await server.dispose();
  });

  it('(c) a client reading 100x slower than the publisher receives every event in order, from the store, with bounded server memory', async () => {
    server = await startTestServer({ ring_size: 64 });
    const [anchor] = await publish(server, 1);
    // 10 KB/s: a couple of these 4 KB events per second.
    const slow = openThrottledSse(server, `${STREAM}?since_id=${anchor!.id}`, server.auth('reader'), 10_000);
    await slow.ready;
    await eventually(() => server.hub.subscriberCount === 1, 2000, 'the subscription');

    let maxBuffered = 0;
    let leftTheRing = false;
    let maxRing = 0;
    const sample = setInterval(() => {
      const snapshot = server.hub.snapshot();
      const subscriber = snapshot.subscribers[0];
      if (subscriber === undefined) return;
      maxBuffered = Math.max(maxBuffered, subscriber.bufferedBytes);
      maxRing = Math.max(maxRing, snapshot.ring.length);
      if (!subscriber.inRing) leftTheRing = true;
    }, 5);

    const started = Date.now();
    const published = await publish(server, 4000, { types: ['audit_log.created'], batch: 200, data: (type) => paddedData(type, 4000) });
    const seconds = (Date.now() - started) / 1000;
    const receivedWhilePublishing = slow.reader.events.length;
    // The publisher ran at least 100 times faster than the client read.
    expect(published.length / seconds).toBeGreaterThanOrEqual(100 * Math.max(receivedWhilePublishing, 1) / seconds);

    // Keep reading slowly a little longer while the server holds the backlog, then read at full speed.
    await new Promise((resolve) => setTimeout(resolve, 300));
    slow.unthrottle();
    await slow.waitForEvents(published.length, 60_000);
    clearInterval(sample);
    slow.close();

    expect(ids(slow.reader.events)).toEqual(ids(published));
    expect(leftTheRing).toBe(true);
    expect(maxRing).toBeLessThanOrEqual(64);
    // 16 MB were published; the server never held more than one write (≤ 1 MiB) for this client.
    expect(maxBuffered).toBeLessThanOrEqual(1.25 * 1024 * 1024);
  }, 90_000);

  it('keeps a slow WebSocket reader alive while its pongs wait behind the events it has not read', async () => {
    // Pings every 3 s; the client reads in short bursts, far slower than the server writes, so a
    // ping waits behind unread events for longer than an interval: judged by pongs alone, it would
    // be condemned as dead (this test fails that way). 3 s rather than 1 s: on a loaded machine a
    // reader whose timers run late could otherwise read nothing for a whole interval.
    server = await startTestServer({ heartbeat_s: 3, ring_size: 64 });
    const [anchor] = await publish(server, 1);
    const client = await openWs(server, `/v1/events/ws?since_id=${anchor!.id}`, server.auth('reader'));
    client.ws.pause();
    const bursts = setInterval(() => {
      client.ws.resume();
      setTimeout(() => client.ws.pause(), 3);
    }, 300);
    const published = await publish(server, 1500, { types: ['audit_log.created'], batch: 100, data: (type) => paddedData(type, 8000) });
    // Three ping intervals of slow reading.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    expect(client.closeCode).toBeUndefined();
    clearInterval(bursts);
    client.ws.resume();
    await client.waitForEvents(published.length, 30_000);
    expect(ids(client.events)).toEqual(ids(published));
    expect(client.closeCode).toBeUndefined();
    client.close();
  }, 90_000);

  it('sends the dropped notice with the exact count to an SSE client behind retention, which continues from the oldest retained event', async () => {
    server = await startTestServer({ ring_size: 16 });
    const [anchor] = await publish(server, 1);
    const client = await openSse(server, `${STREAM}?since_id=${anchor!.id}`, server.auth('grants'));
    client.pause();
    const published = await publish(server, 2000, { types: ['grant.created', 'audit_log.created'], batch: 100, data: (type) => paddedData(type, 8000) });
    const mine = published.filter((event) => event.type === 'grant.created');
    await eventually(() => server.hub.snapshot().subscribers[0]?.paused === true, 5000, 'the server to see backpressure');
    await server.store.applyRetention({ maxCount: 100 });
    client.resume();
    await client.waitFor((c) => c.frames.some((f) => f.message === 'sseStreamDropped'), 'the dropped notice', 20_000);
    const retainedMine = mine.filter((event) => event.id >= published.at(-100)!.id);
    await client.waitFor((c) => c.events.at(-1)?.id === mine.at(-1)!.id, 'the last event', 20_000);

    const messages = client.frames.map((f) => f.message);
    const notice = messages.indexOf('sseDroppedNotice');
    expect(messages[notice + 1]).toBe('sseStreamDropped');
    const dropped = client.frames[notice + 1] as { data: { count: number; first_missing_id: string; last_missing_id: string; backfill_url: string } };
    const before = framesEvents(client.frames.slice(0, notice));
    const after = framesEvents(client.frames.slice(notice + 2));
    const missing = mine.filter((event) => event.id > before.at(-1)!.id && event.id < after[0]!.id);
    expect(client.frames[notice]).toEqual({ message: 'sseDroppedNotice', comment: `you are reading too slowly, dropped ${missing.length} messages` });
    expect(dropped.data).toMatchObject({ count: missing.length, first_missing_id: missing[0]!.id, last_missing_id: missing.at(-1)!.id });
    // The backfill link lists exactly the missing range: after the client's position, up to the last missing event.
    const backfill = new URL(dropped.data.backfill_url, server.url);
    expect(backfill.pathname).toBe('/v1/events');
    expect(backfill.searchParams.get('since_id')! >= before.at(-1)!.id && backfill.searchParams.get('since_id')! < missing[0]!.id).toBe(true);
    expect(backfill.searchParams.get('until_id')).toBe(missing.at(-1)!.id);
    expect(backfill.searchParams.get('types')).toBe('grant.created,grant.revoked');
    // Everything it did not miss, in order, once; and it resumed at the oldest retained event of its types.
    expect(ids([...before, ...missing, ...after])).toEqual(ids(mine));
    expect(after[0]!.id).toBe(retainedMine[0]!.id);
    client.close();
  }, 60_000);

  it('sends the dropped frame to a WebSocket client behind retention', async () => {
    server = await startTestServer({ ring_size: 16, heartbeat_s: 30 });
    const [anchor] = await publish(server, 1);
    const client = await openWs(server, `/v1/events/ws?since_id=${anchor!.id}`, server.auth('reader'));
    client.ws.pause();
    const published = await publish(server, 2000, { types: ['audit_log.created'], batch: 100, data: (type) => paddedData(type, 8000) });
    await eventually(() => server.hub.snapshot().subscribers[0]?.paused === true, 5000, 'the server to see backpressure');
    await server.store.applyRetention({ maxCount: 50 });
    client.ws.resume();
    await client.waitFor((c) => c.events.at(-1)?.id === published.at(-1)!.id, 'the last event', 20_000);

    const at = client.frames.findIndex((f) => f.type === 'dropped');
    const before = client.frames.slice(0, at).flatMap((f) => (f.type === 'event' ? [f.event] : []));
    const after = client.frames.slice(at + 1).flatMap((f) => (f.type === 'event' ? [f.event] : []));
    const missing = published.filter((event) => event.id > before.at(-1)!.id && event.id < after[0]!.id);
    expect(client.frames[at]).toEqual({ type: 'dropped', count: missing.length, first_missing_id: missing[0]!.id, last_missing_id: missing.at(-1)!.id });
    expect(after).toHaveLength(50);
    expect(ids([...before, ...missing, ...after])).toEqual(ids(published));
    client.close();
  }, 60_000);
});

function framesEvents(frames: readonly { message: string }[]): SpecstreamEvent[] {
  return frames.flatMap((frame) => (frame.message === 'sseEvent' ? [(frame as unknown as { data: SpecstreamEvent }).data] : []));
}
