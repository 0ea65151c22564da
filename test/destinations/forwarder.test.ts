/**
 * The forwarder against a real server: every event reaches every destination in order, the
 * checkpoint resumes without a gap, retryable failures are retried, and a permanently rejected event
 * is dead-lettered without blocking the stream.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileCheckpoint, MemoryCheckpoint } from '../../src/destinations/checkpoint.js';
import { PermanentError, RetryableError } from '../../src/destinations/destination.js';
import { FileDestination } from '../../src/destinations/file-destination.js';
import { Forwarder } from '../../src/destinations/forwarder.js';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';
import { batch, publishIds, readNdjson, RecordingDestination, until } from './helpers.js';

const FROM_START = { since: '2000-01-01T00:00:00Z' } as const;

describe('Forwarder', () => {
  let server: TestServer;
  let dir: string;
  let forwarders: Forwarder[];
  beforeEach(async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'specstream-forwarder-'));
    forwarders = [];
  });
  afterEach(async () => {
    await Promise.all(forwarders.map((f) => f.stop().catch(() => {})));
    await server.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function forwarder(checkpoint: string | MemoryCheckpoint = join(dir, 'checkpoint.json')): Forwarder {
    const created = new Forwarder({ url: server.url, token: TEST_KEYS.reader.secret, checkpoint, from: FROM_START });
    forwarders.push(created);
    return created;
  }

  describe('with a file destination', () => {
    it('appends every event in log order and checkpoints the last id on stop', async () => {
      const ids = await publishIds(server, batch(25, 'a'));
      const out = join(dir, 'out.ndjson');
      const f = forwarder().addDestination(new FileDestination({ path: out }), { batchSize: 10, flushIntervalMs: 20 });
      await f.start();
      await until(() => readNdjson(out).length >= 25, '25 events in the file');
      const more = await publishIds(server, batch(5, 'b'));
      await until(() => readNdjson(out).length >= 30, '30 events in the file');
      await f.stop();
      expect(readNdjson(out).map((e) => e.id)).toEqual([...ids, ...more]);
      expect(await new FileCheckpoint(join(dir, 'checkpoint.json')).load()).toEqual({ [`file:${out}`]: more[4] });
      expect(f.position).toBe(more[4]);
      expect(f.metrics()[`file:${out}`]).toMatchObject({ sent: 30, failed: 0, retried: 0, deadLettered: 0 });
    });

    it('resumes after stop and start from the checkpoint, missing and repeating nothing', async () => {
      const out = join(dir, 'out.ndjson');
      const first = await publishIds(server, batch(30, 'first'));
      const f1 = forwarder().addDestination(new FileDestination({ path: out }), { batchSize: 7, flushIntervalMs: 10 });
      await f1.start();
      await until(() => readNdjson(out).length >= 30, '30 events');
      await f1.stop();
      const whileStopped = await publishIds(server, batch(20, 'stopped'));
      const f2 = forwarder().addDestination(new FileDestination({ path: out }), { batchSize: 7, flushIntervalMs: 10 });
      await f2.start();
      const live = await publishIds(server, batch(5, 'live'));
      await until(() => readNdjson(out).length >= 55, '55 events');
      await f2.stop();
      expect(readNdjson(out).map((e) => e.id)).toEqual([...first, ...whileStopped, ...live]);
    });
  });

  describe('with a destination failing half of its sends (retryable)', () => {
    it('still delivers every event once, in order', async () => {
      const ids = await publishIds(server, batch(40, 'flaky'));
      const flaky = new RecordingDestination('flaky', (_, call) => (call % 2 === 0 ? new RetryableError('503 from flaky', { retryAfterMs: 1 }) : undefined));
      const steady = new RecordingDestination('steady');
      const checkpoint = new MemoryCheckpoint();
      // A high-water mark below both batch sizes: the stream is read only as the slower destination drains.
      const f = new Forwarder({ url: server.url, token: TEST_KEYS.reader.secret, checkpoint, from: FROM_START, highWaterMark: 3 });
      forwarders.push(f);
      f
        .addDestination(flaky, { batchSize: 5, flushIntervalMs: 10, maxRetries: 3 })
        .addDestination(steady, { batchSize: 8, flushIntervalMs: 10 });
      await f.start();
      await until(() => flaky.received.length >= 40 && steady.received.length >= 40, '40 events at both');
      await f.stop();
      expect(flaky.received.map((e) => e.id)).toEqual(ids);
      expect(steady.received.map((e) => e.id)).toEqual(ids);
      // Every batch fails once and then succeeds: as many failures and retries as batches.
      const { sent, failed, retried, deadLettered, batches } = f.metrics().flaky!;
      expect({ sent, deadLettered, failed: failed - batches, retried: retried - batches }).toEqual({ sent: 40, deadLettered: 0, failed: 0, retried: 0 });
      expect(batches).toBeGreaterThanOrEqual(8);
      expect(await checkpoint.load()).toEqual({ flaky: ids[39], steady: ids[39] });
      expect([flaky.closed, steady.closed]).toEqual([1, 1]);
    });
  });

  describe('with a destination rejecting one event (permanent 4xx)', () => {
    it('dead-letters only that event with the reason and delivers the rest in order', async () => {
      const ids = await publishIds(server, [...batch(6, 'ok'), ...batch(1, 'bad'), ...batch(6, 'more')]);
      const deadLetterPath = join(dir, 'dead', 'picky.ndjson');
      const picky = new RecordingDestination('picky', (events) =>
        events.some((e) => e.subject === 'bad-0') ? new PermanentError('picky answered 422', { status: 422 }) : undefined,
      );
      const f = forwarder(new MemoryCheckpoint()).addDestination(picky, { batchSize: 4, flushIntervalMs: 10, deadLetterPath });
      await f.start();
      await until(() => picky.received.length >= 12, '12 events');
      await f.stop();
      expect(picky.received.map((e) => e.id)).toEqual(ids.filter((_, i) => i !== 6));
      const dead = readNdjson<{ destination: string; reason: string; event: { id: string } }>(deadLetterPath);
      expect(dead.map((d) => [d.destination, d.reason, d.event.id])).toEqual([['picky', 'rejected: picky answered 422', ids[6]]]);
      expect(f.metrics().picky).toMatchObject({ sent: 12, deadLettered: 1 });
    });
  });

  describe('with a destination that keeps failing', () => {
    it('does not stall the others, and checkpoints each destination at its own position', async () => {
      const ids = await publishIds(server, batch(40, 'x'));
      const down = new RecordingDestination('down', () => new RetryableError('503 from down', { retryAfterMs: 5 }));
      const steady = new RecordingDestination('steady');
      const checkpoint = new MemoryCheckpoint();
      const f = new Forwarder({ url: server.url, token: TEST_KEYS.reader.secret, checkpoint, from: FROM_START, highWaterMark: 3 });
      forwarders.push(f);
      f.addDestination(down, { batchSize: 2, maxRetries: Infinity }).addDestination(steady, { batchSize: 4, flushIntervalMs: 10 });
      await f.start();
      await until(() => steady.received.length >= 40, '40 events at the steady destination');
      expect(steady.received.map((e) => e.id)).toEqual(ids);
      expect(f.positions()).toEqual({ steady: ids[39] });
      expect(f.position).toBeUndefined(); // the slowest destination has acknowledged nothing
      await until(() => f.metrics().down!.retried >= 3, 'three retries at the failing destination');
      await f.stop({ timeoutMs: 50 });
      expect(down.received).toEqual([]);
      expect(await checkpoint.load()).toEqual({ steady: ids[39] });
      expect(f.metrics().down).toMatchObject({ sent: 0, deadLettered: 0, position: undefined });
    });
  });

  describe('with saved positions', () => {
    it('resumes each destination after its own position', async () => {
      const ids = await publishIds(server, batch(30, 'p'));
      const a = new RecordingDestination('a');
      const b = new RecordingDestination('b');
      const fresh = new RecordingDestination('fresh');
      const f = new Forwarder({ url: server.url, token: TEST_KEYS.reader.secret, checkpoint: new MemoryCheckpoint({ a: ids[9]!, b: ids[19]!, removed: ids[0]! }), from: { sinceId: ids[24]! } });
      forwarders.push(f);
      f.addDestination(a, { flushIntervalMs: 10 }).addDestination(b, { flushIntervalMs: 10 }).addDestination(fresh, { flushIntervalMs: 10 });
      await f.start();
      await until(() => a.received.length >= 20 && b.received.length >= 10 && fresh.received.length >= 5, 'every destination caught up');
      await f.stop();
      expect(a.received.map((e) => e.id)).toEqual(ids.slice(10));
      expect(b.received.map((e) => e.id)).toEqual(ids.slice(20));
      expect(fresh.received.map((e) => e.id)).toEqual(ids.slice(25)); // no position yet: starts at `from`
      expect(f.positions()).toEqual({ a: ids[29], b: ids[29], fresh: ids[29] });
    });
  });

  describe("from 'live'", () => {
    it('starts every new destination at the same point, the server clock at start', async () => {
      await publishIds(server, batch(5, 'old'));
      // `live` is the server's Date header, in whole seconds: let the old events fall into an earlier second.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const a = new RecordingDestination('a');
      const b = new RecordingDestination('b');
      const f = new Forwarder({ url: server.url, token: TEST_KEYS.reader.secret, checkpoint: new MemoryCheckpoint() });
      forwarders.push(f);
      f.addDestination(a, { flushIntervalMs: 10 }).addDestination(b, { flushIntervalMs: 10 });
      await f.start();
      const fresh = await publishIds(server, batch(5, 'new'));
      await until(() => a.received.length >= 5 && b.received.length >= 5, '5 events at both');
      await f.stop();
      expect(a.received.map((e) => e.id)).toEqual(fresh);
      expect(b.received.map((e) => e.id)).toEqual(fresh);
    });

    it('rejects start() with the server refusal when the token is not accepted', async () => {
      const f = new Forwarder({ url: server.url, token: 'sk_not_a_key', checkpoint: new MemoryCheckpoint() });
      forwarders.push(f);
      await expect(f.addDestination(new RecordingDestination('r')).start()).rejects.toMatchObject({ status: 401 });
      expect(f.state).toBe('stopped');
    });
  });

  describe('#stop', () => {
    it('is safe to call twice', async () => {
      const f = forwarder(new MemoryCheckpoint()).addDestination(new RecordingDestination('r'));
      await f.start();
      await Promise.all([f.stop(), f.stop()]);
      expect(f.state).toBe('stopped');
    });
  });

  describe('#stopped', () => {
    it('rejects with AUTH_REQUIRED when the server refuses the token, and the forwarder stops', async () => {
      const f = new Forwarder({ url: server.url, token: 'sk_not_a_key', checkpoint: new MemoryCheckpoint(), from: FROM_START });
      forwarders.push(f);
      await f.addDestination(new RecordingDestination('r')).start();
      await expect(f.stopped).rejects.toMatchObject({ name: 'UnauthorizedError', status: 401, code: 'AUTH_REQUIRED' });
      expect(f.state).toBe('stopped');
    });
  });

  describe('#start', () => {
    it('refuses transport ws, whose events would queue without bound, naming the bounded alternative', () => {
      const options = { url: 'http://127.0.0.1:1', checkpoint: new MemoryCheckpoint(), transport: 'ws' } as const;
      // @ts-expect-error -- the type allows only 'sse'; a JavaScript caller (or a cast) can still pass 'ws'
      expect(() => new Forwarder(options)).toThrow(TypeError);
      // @ts-expect-error -- as above
      expect(() => new Forwarder(options)).toThrow('Forwarder: transport "ws" is not supported: a forwarder reads SSE only, because SSE is read only as fast as the destinations take events (memory bounded by highWaterMark), while a WebSocket\'s events would queue without bound; use transport: sse (the default)');
      expect(() => new Forwarder({ ...options, transport: 'sse' })).not.toThrow();
    });

    it('throws TypeError without destinations', async () => {
      await expect(forwarder(new MemoryCheckpoint()).start()).rejects.toThrow(new TypeError('Forwarder: no destination added'));
    });
  });
});
