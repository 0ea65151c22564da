/**
 * Streams, backfill and single reads agree on what exists after retention, on every node: a
 * stream never gets from a node's in-memory ring an event the log has deleted; it gets the
 * `dropped` notice (exact count and ids, when the node saw the events) and continues from the
 * oldest retained event. Run on SQLite (two servers on one file) and PostgreSQL (two nodes on one
 * schema).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import type { TestServer } from '../helpers/test-server.js';
import { STREAM_BACKENDS, type SharedLog } from './backends.js';
import { eventually, ids, openSse, openWs, paddedData, publish } from './clients.js';

type DroppedData = { count: number; first_missing_id: string; last_missing_id: string; backfill_url: string };

/** Waits until `server`'s tail has read up to `id` (its ring then holds it). */
async function tailed(server: TestServer, id: string): Promise<void> {
  await eventually(() => server.hub.snapshot().headId >= id, 10_000, `the tail to reach ${id}`);
}

describe.each(STREAM_BACKENDS.map((backend) => [backend.name, backend] as const))('retention and the in-memory ring (%s)', (_name, backend) => {
  let log: SharedLog;
  const closers: (() => void)[] = [];
  beforeEach(() => {
    log = backend.open();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await log.cleanup();
  });

  it.skipIf(backend.skip)(
    'retention_max_count=3, six events: a stream resuming after the first gets the dropped notice for 2 and 3, then 4 to 6, as backfill and single reads say',
    async () => {
      const server = await log.node({ retention_max_count: 3 });
      const events = await publish(server, 6, { types: ['grant.created'] });
      await tailed(server, events[5]!.id);
      expect(await server.hub.applyRetention()).toBe(3);

      const sse = await openSse(server, '/v1/events/stream', { ...server.auth('reader'), 'Last-Event-ID': events[0]!.id });
      closers.push(() => sse.close());
      await sse.waitForEvents(3);
      expect(sse.frames.map((f) => f.message)).toEqual(['sseRetry', 'sseDroppedNotice', 'sseStreamDropped', 'sseEvent', 'sseEvent', 'sseEvent']);
      const dropped = (sse.frames[2] as unknown as { data: DroppedData }).data;
      expect(dropped).toMatchObject({ count: 2, first_missing_id: events[1]!.id, last_missing_id: events[2]!.id });
      expect(ids(sse.events)).toEqual(ids(events.slice(3)));

      const ws = await openWs(server, `/v1/events/ws?last_event_id=${events[0]!.id}`, server.auth('reader'));
      closers.push(() => ws.close());
      await ws.waitForEvents(3);
      expect(ws.frames[0]).toEqual({ type: 'dropped', count: 2, first_missing_id: events[1]!.id, last_missing_id: events[2]!.id });
      expect(ids(ws.events)).toEqual(ids(events.slice(3)));

      // The backfill and single reads say the same.
      const backfill = (await (await fetch(`${server.url}/v1/events?since_id=${events[0]!.id}`, { headers: server.auth('reader') })).json()) as { data: SpecstreamEvent[] };
      expect(ids(backfill.data)).toEqual(ids(events.slice(3)));
      for (const gone of events.slice(1, 3)) {
        expect((await fetch(`${server.url}/v1/events/${gone.id}`, { headers: server.auth('reader') })).status).toBe(404);
      }
    },
  );

  it.skipIf(backend.skip)('a node whose ring still holds events another node deleted does not serve them to a resuming stream', async () => {
    const deleter = await log.node();
    const other = await log.node();
    const events = await publish(deleter, 6, { types: ['grant.created', 'audit_log.created'] });
    await tailed(other, events[5]!.id);
    // Another node's retention (any deletion of the oldest events) that this node was not told about.
    expect(await deleter.store.applyRetention({ maxCount: 3 })).toBe(3);
    expect(other.hub.snapshot().ring.length).toBe(6); // it has not looked at the log's bounds yet

    const sse = await openSse(other, '/v1/events/stream?types=grant.created', { ...other.auth('reader'), 'Last-Event-ID': events[0]!.id });
    closers.push(() => sse.close());
    await sse.waitForEvents(1);
    expect(sse.frames.map((f) => f.message)).toEqual(['sseRetry', 'sseDroppedNotice', 'sseStreamDropped', 'sseEvent']);
    // Of its type, only event 3 (index 2) was deleted after its position; 5 (index 4) is retained.
    expect((sse.frames[2] as unknown as { data: DroppedData }).data).toMatchObject({ count: 1, first_missing_id: events[2]!.id, last_missing_id: events[2]!.id });
    expect(ids(sse.events)).toEqual([events[4]!.id]);
  });

  it.skipIf(backend.skip)(
    'a retention pass evicts what the log deleted from the ring, so a stream paused inside the ring gets the dropped notice instead of deleted events',
    async () => {
      const deleter = await log.node({ retention_max_count: 3 });
      const server = await log.node();
      const client = await openSse(server, '/v1/events/stream', server.auth('reader'));
      closers.push(() => client.close());
      await client.waitFor((c) => c.frames.length >= 2, 'the resume point');
      client.pause();
      const published = await publish(deleter, 1000, { types: ['audit_log.created'], batch: 100, data: (type) => paddedData(type, 8000) });
      await tailed(server, published.at(-1)!.id);
      await eventually(() => server.hub.snapshot().subscribers[0]?.paused === true, 10_000, 'the server to see backpressure');
      expect(server.hub.snapshot().subscribers[0]!.inRing).toBe(true);

      await deleter.hub.applyRetention();
      await server.hub.applyRetention(); // deletes nothing itself; learns the log's new bounds
      expect(server.hub.snapshot().ring.length).toBe(3);
      client.resume();
      await client.waitFor((c) => c.events.at(-1)?.id === published.at(-1)!.id, 'the last event', 30_000);

      const notice = client.frames.findIndex((f) => f.message === 'sseStreamDropped');
      expect(notice).toBeGreaterThan(0);
      const before = client.events.filter((e) => e.id < published.at(-3)!.id);
      const dropped = (client.frames[notice] as unknown as { data: DroppedData }).data;
      const missing = published.filter((e) => e.id > before.at(-1)!.id && e.id < published.at(-3)!.id);
      expect(dropped).toMatchObject({ count: missing.length, first_missing_id: missing[0]!.id, last_missing_id: missing.at(-1)!.id });
      // Nothing deleted was delivered after the pass: what follows the notice is exactly the retained events.
      const after = client.frames.slice(notice + 1).flatMap((f) => (f.message === 'sseEvent' ? [(f as unknown as { data: SpecstreamEvent }).data] : []));
      expect(ids(after)).toEqual(ids(published.slice(-3)));
      expect(ids([...before, ...missing, ...after])).toEqual(ids(published));
    },
    60_000,
  );
});
