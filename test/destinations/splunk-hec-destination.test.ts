/**
 * The Splunk HEC destination against a fake collector (./fakes/splunk-hec.ts) that parses each batch
 * as concatenated JSON objects, checks the token and channel, and runs indexer acknowledgement the
 * way Splunk documents it; and end to end from a real server through the forwarder.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../src/destinations/destination.js';
import type { Forwarder } from '../../src/destinations/forwarder.js';
import { SplunkHecDestination, type SplunkHecDestinationOptions } from '../../src/destinations/splunk-hec-destination.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { FakeSplunkHec, type HecEvent, type HecRequest } from './fakes/splunk-hec.js';
import { batch, publishIds, readNdjson, until, useForwarderHarness } from './helpers.js';

const TOKEN = '11111111-2222-3333-4444-555555555555';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An event as the stream delivers it; ids increase with `i` like the server's ULIDs. */
function event(i: number, text?: string): SpecstreamEvent {
  const base = {
    specversion: '1.0',
    id: `evt_01JD${String(i).padStart(22, '0')}`,
    source: '/tests',
    subject: `s-${i}`,
    time: new Date(Date.UTC(2026, 10, 24, 0, 0, 0, 123) + i * 1_001).toISOString(),
    datacontenttype: 'application/json',
  };
  return (
    text === undefined
      ? { ...base, type: 'grant.created', data: { grantId: `grnt_${i}`, userId: 'usr_1', scopes: ['read'] } }
      : { ...base, type: 'admin.legacy_note', data: { noteId: `note_${i}`, author: 'stf_1', text } }
  ) as SpecstreamEvent;
}

const ids = (events: HecEvent[]) => events.map((e) => (e.event as SpecstreamEvent).id);
const requestIds = (requests: HecRequest[]) => requests.map((r) => ids(r.events));
/** `time` is epoch seconds (not ms) and names the same millisecond as the envelope's `time`. */
const timeMatches = (e: HecEvent) => typeof e.time === 'number' && e.time < 1e11 && Math.round(e.time * 1_000) === Date.parse((e.event as SpecstreamEvent).time);

/** The size of an event's HEC object with the default options (events 1 to 4 all have this size). */
const entryBytes = (e: SpecstreamEvent) => Buffer.byteLength(JSON.stringify({ time: Date.parse(e.time) / 1_000, sourcetype: 'specstream:event', event: e }));

describe('SplunkHecDestination', () => {
  let hec: FakeSplunkHec;
  const fakes: FakeSplunkHec[] = [];
  const open: SplunkHecDestination[] = [];

  async function startHec(options: { ack?: boolean; maxContentLength?: number } = {}): Promise<void> {
    hec = await FakeSplunkHec.start({ token: TOKEN, ...options });
    fakes.push(hec);
  }

  function destination(options: Partial<SplunkHecDestinationOptions> = {}): SplunkHecDestination {
    const created = new SplunkHecDestination({ url: hec.url, token: TOKEN, ...options });
    open.push(created);
    return created;
  }

  afterEach(async () => {
    for (const created of open.splice(0)) await created.close().catch(() => {});
    for (const fake of fakes.splice(0)) await fake.close();
  });

  describe('#constructor', () => {
    it('throws TypeError without a url', () => {
      expect(() => new SplunkHecDestination({ url: '', token: TOKEN })).toThrow(new TypeError('SplunkHecDestination: `url` must be the HEC base URL, got ""'));
    });
    it('throws TypeError without a token', () => {
      expect(() => new SplunkHecDestination({ url: 'https://splunk:8088', token: ' ' })).toThrow(new TypeError('SplunkHecDestination: `token` is required'));
    });
    it('throws TypeError on a channel that is not a GUID', () => {
      expect(() => new SplunkHecDestination({ url: 'https://splunk:8088', token: TOKEN, channel: 'forwarder-1' })).toThrow(
        /^SplunkHecDestination: `channel` must be a GUID such as "[0-9a-f-]{36}", got "forwarder-1"$/,
      );
    });
    it('throws RangeError on a maxRequestBytes that is not a positive integer', () => {
      expect(() => new SplunkHecDestination({ url: 'https://splunk:8088', token: TOKEN, maxRequestBytes: 1.5 })).toThrow(
        new RangeError('SplunkHecDestination: maxRequestBytes must be an integer >= 1, got 1.5'),
      );
    });
    it('is named splunk:<host>, and takes a url with the endpoint path as the base URL', () => {
      const sink = new SplunkHecDestination({ url: 'https://splunk.example.com:8088/services/collector/event', token: TOKEN });
      expect([sink.name, sink.url, sink.channel]).toEqual(['splunk:splunk.example.com:8088', 'https://splunk.example.com:8088', undefined]);
      expect(new SplunkHecDestination({ url: 'https://splunk.example.com:8088/', token: TOKEN, name: 'hec-prod' }).name).toBe('hec-prod');
    });
    it('picks a random channel GUID for ack when given none', () => {
      const a = new SplunkHecDestination({ url: 'https://splunk:8088', token: TOKEN, ack: true });
      const b = new SplunkHecDestination({ url: 'https://splunk:8088', token: TOKEN, ack: true });
      expect(a.channel).toMatch(GUID);
      expect(b.channel).toMatch(GUID);
      expect(a.channel).not.toBe(b.channel);
    });
  });

  describe('#send', () => {
    beforeEach(async () => {
      await startHec();
    });

    it('posts concatenated JSON event objects with Authorization: Splunk <token>, in the documented shape', async () => {
      const one = event(1);
      const two = event(2);
      await destination({ index: 'events', source: 'specstream:prod', sourcetype: 'specstream:grant', host: 'fw-1' }).send([one, two]);
      expect(hec.requests).toHaveLength(1);
      const request = hec.requests[0]!;
      expect(request).toMatchObject({ path: '/services/collector/event', encoding: 'identity', channel: undefined, status: 200, answer: { text: 'Success', code: 0 } });
      expect(request.headers.authorization).toBe(`Splunk ${TOKEN}`);
      expect(request.headers['x-splunk-request-channel']).toBeUndefined();
      expect(request.payload).toBe(
        JSON.stringify({ time: 1795478401.124, host: 'fw-1', source: 'specstream:prod', sourcetype: 'specstream:grant', index: 'events', event: one }) +
          JSON.stringify({ time: 1795478402.125, host: 'fw-1', source: 'specstream:prod', sourcetype: 'specstream:grant', index: 'events', event: two }),
      );
    });

    it('sends sourcetype specstream:event and no host, source or index by default', async () => {
      const one = event(1);
      await destination().send([one]);
      expect(hec.requests[0]!.payload).toBe(JSON.stringify({ time: 1795478401.124, sourcetype: 'specstream:event', event: one }));
    });

    it('gives every event the time of its envelope, in epoch seconds', async () => {
      const events = Array.from({ length: 40 }, (_, i) => event(i * 37));
      await destination().send(events);
      expect(hec.accepted().map(timeMatches)).toEqual(events.map(() => true));
    });

    it('gzips the body with gzip: true', async () => {
      await destination({ gzip: true }).send([event(1), event(2)]);
      const request = hec.requests[0]!;
      expect(request.headers['content-encoding']).toBe('gzip');
      expect(request.status).toBe(200);
      expect(ids(request.events)).toEqual([event(1).id, event(2).id]);
    });

    it('splits a batch at maxRequestBytes, exactly', async () => {
      const events = [10, 11, 12, 13].map((i) => event(i)); // equal lengths
      await destination().send([events[0]!]);
      const size = hec.requests[0]!.payloadBytes;
      hec.requests.length = 0;
      await destination({ maxRequestBytes: 2 * size }).send(events);
      expect(hec.requests.map((r) => [r.events.length, r.payloadBytes])).toEqual([
        [2, 2 * size],
        [2, 2 * size],
      ]);
      hec.requests.length = 0;
      await destination({ maxRequestBytes: 2 * size - 1 }).send(events);
      expect(hec.requests.map((r) => r.events.length)).toEqual([1, 1, 1, 1]);
      expect(ids(hec.accepted())).toEqual(events.map((e) => e.id));
    });

    it('splits at 1 MB by default', async () => {
      const events = Array.from({ length: 5 }, (_, i) => event(i, 'x'.repeat(400_000)));
      await destination().send(events);
      expect(hec.requests.map((r) => r.events.length)).toEqual([2, 2, 1]);
      expect(hec.requests.every((r) => r.payloadBytes <= 1_000_000)).toBe(true);
      expect(ids(hec.accepted())).toEqual(events.map((e) => e.id));
    });

    it("sends an event larger than maxRequestBytes alone, and Splunk's 413 for it is permanent", async () => {
      await startHec({ maxContentLength: 4_000 });
      const big = event(2, 'x'.repeat(5_000));
      const error = await destination({ maxRequestBytes: 3_000 }).send([event(1), big, event(3)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toMatch(/^splunk:127\.0\.0\.1:\d+ answered 413: Content-Length of \d+ too large \(maximum is 4000\)$/);
      expect(hec.requests.map((r) => [r.status, r.events.length])).toEqual([
        [200, 1],
        [413, 0],
      ]);
    });

    it('does not post again what Splunk accepted when a batch is retried after a failed request', async () => {
      const events = [10, 11, 12, 13].map((i) => event(i));
      hec.respond = (_request, index) => (index === 1 ? { status: 503, headers: { 'retry-after': '5' }, body: { text: 'Server is busy', code: 9 } } : undefined);
      const sink = destination({ maxRequestBytes: 1 });
      const error = await sink.send(events).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect(error).toMatchObject({ message: `${sink.name} answered 503: Server is busy (code 9)`, retryAfterMs: 5_000 });
      await sink.send(events);
      expect(hec.requests.map((r) => r.status)).toEqual([200, 503, 200, 200, 200]);
      expect(ids(hec.accepted())).toEqual(events.map((e) => e.id));
    });

    it.each([
      [400, { text: 'Invalid data format', code: 6 }, PermanentError],
      [400, { text: 'Incorrect index', code: 7 }, PermanentError],
      [401, { text: 'Token is required', code: 2 }, PermanentError],
      [403, { text: 'Token disabled', code: 1 }, PermanentError],
      [429, { text: 'Too many requests', code: 9 }, RetryableError],
      [500, { text: 'Internal server error', code: 8 }, RetryableError],
      [503, { text: 'Server is busy', code: 9 }, RetryableError],
    ])('classifies %i %o as %O', async (status, body, kind) => {
      hec.respond = () => ({ status, headers: { 'retry-after': '2' }, body });
      const sink = destination();
      const error = await sink.send([event(1)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(kind);
      expect((error as Error).message).toBe(`${sink.name} answered ${status}: ${body.text} (code ${body.code})`);
      if (kind === RetryableError) expect((error as RetryableError).retryAfterMs).toBe(2_000);
    });

    it('is refused 403 Invalid token by the collector with another token', async () => {
      const sink = destination({ token: 'not-the-token' });
      await expect(sink.send([event(1)])).rejects.toThrow(new PermanentError(`${sink.name} answered 403: Invalid token (code 4)`, { status: 403 }));
    });

    it('rejects with RetryableError when the collector cannot be reached', async () => {
      await expect(new SplunkHecDestination({ url: 'http://127.0.0.1:1', token: TOKEN }).send([event(1)])).rejects.toBeInstanceOf(RetryableError);
    });
  });

  describe('indexer acknowledgement', () => {
    const channel = randomUUID();

    beforeEach(async () => {
      await startHec({ ack: true });
    });

    it('sends the channel, and flush resolves once Splunk reports the request indexed (false, then true)', async () => {
      const sink = destination({ ack: true, channel, ackPollIntervalMs: 5 });
      await sink.send([event(1), event(2)]);
      expect(hec.requests.map((r) => [r.channel, r.headers['x-splunk-request-channel'], r.status, r.answer])).toEqual([
        [channel, channel, 200, { text: 'Success', code: 0, ackId: 0 }],
      ]);
      expect(hec.ackQueries).toEqual([]);
      await sink.flush();
      expect(hec.ackQueries).toEqual([
        { channel, acks: [0], status: 200, answer: { acks: { '0': false } } },
        { channel, acks: [0], status: 200, answer: { acks: { '0': true } } },
      ]);
      expect(hec.pendingAcks(channel)).toEqual([]);
      await sink.flush(); // nothing pending: no query
      expect(hec.ackQueries).toHaveLength(2);
    });

    it('waits for every request of a split batch', async () => {
      hec.indexed = (ackId, query) => (ackId === 1 ? query >= 3 : query >= 2);
      const sink = destination({ ack: true, channel, ackPollIntervalMs: 5, maxRequestBytes: 1 });
      await sink.send([event(1), event(2), event(3)]);
      await sink.flush();
      expect(hec.ackQueries.map((q) => [q.acks, q.answer])).toEqual([
        [[0, 1, 2], { acks: { '0': false, '1': false, '2': false } }],
        [[0, 1, 2], { acks: { '0': true, '1': false, '2': true } }],
        [[1], { acks: { '1': true } }],
      ]);
    });

    it('rejects flush with RetryableError when not indexed within ackTimeoutMs; the retry posts the batch again', async () => {
      hec.indexed = () => false;
      const sink = destination({ ack: true, channel, ackPollIntervalMs: 5, ackTimeoutMs: 30 });
      await sink.send([event(1)]);
      await expect(sink.flush()).rejects.toThrow(new RetryableError(`${sink.name}: ackId 0 not reported indexed within 30 ms`));
      expect(hec.ackQueries.length).toBeGreaterThanOrEqual(1);
      hec.indexed = () => true;
      await sink.send([event(1)]);
      await sink.flush();
      expect(hec.requests.map((r) => [r.answer.ackId, ids(r.events)])).toEqual([
        [0, [event(1).id]],
        [1, [event(1).id]],
      ]);
      expect(hec.ackQueries.at(-1)).toMatchObject({ acks: [1], answer: { acks: { '1': true } } });
    });

    it('does not post again a request awaiting its acknowledgement when the batch is retried', async () => {
      const events = [1, 2, 3, 4].map((i) => event(i));
      hec.respond = (_request, index) => (index === 1 ? { status: 503, body: { text: 'Server is busy', code: 9 } } : undefined);
      const sink = destination({ ack: true, channel, ackPollIntervalMs: 5, maxRequestBytes: 2 * entryBytes(events[0]!) });
      await expect(sink.send(events)).rejects.toBeInstanceOf(RetryableError);
      await sink.send(events);
      await sink.flush();
      expect(hec.requests.map((r) => [r.status, ids(r.events)])).toEqual([
        [200, [events[0]!.id, events[1]!.id]],
        [503, [events[2]!.id, events[3]!.id]],
        [200, [events[2]!.id, events[3]!.id]],
      ]);
      expect(hec.ackQueries.map((q) => q.acks)).toEqual([
        [0, 1],
        [0, 1],
      ]);
      expect(hec.pendingAcks(channel)).toEqual([]);
    });

    it('waits for pending acknowledgements on close', async () => {
      const sink = destination({ ack: true, channel, ackPollIntervalMs: 5 });
      await sink.send([event(1)]);
      await sink.close();
      expect(hec.ackQueries.map((q) => q.answer)).toEqual([{ acks: { '0': false } }, { acks: { '0': true } }]);
      await sink.close();
      expect(hec.ackQueries).toHaveLength(2);
    });

    it('takes the 200 as the acknowledgement when the token gives no ackId', async () => {
      await startHec();
      const sink = destination({ ack: true, channel, ackPollIntervalMs: 5 });
      await sink.send([event(1)]);
      await sink.flush();
      expect(hec.requests.map((r) => [r.channel, r.answer])).toEqual([[channel, { text: 'Success', code: 0 }]]);
      expect(hec.ackQueries).toEqual([]);
    });
  });

  describe('#close', () => {
    beforeEach(async () => {
      await startHec();
    });
    it('is safe to call twice, and send() afterwards throws', async () => {
      const sink = destination();
      await sink.close();
      await sink.close();
      await expect(sink.send([event(1)])).rejects.toThrow(new Error(`${sink.name}: send() after close()`));
      expect(hec.requests).toEqual([]);
    });
  });

  describe('with the Forwarder', () => {
    const harness = useForwarderHarness('splunk');

    function start(sink: SplunkHecDestination, deadLetterPath?: string): Promise<Forwarder> {
      return harness.start(sink, { batchSize: 10, deadLetterPath });
    }

    it('delivers every published event in order with indexer acknowledgement, end to end', async () => {
      await startHec({ ack: true });
      const channel = randomUUID();
      const published = await publishIds(harness.server, batch(25, 'hec'));
      const sink = destination({ ack: true, channel, ackPollIntervalMs: 5, gzip: true });
      const forwarder = await start(sink);
      await until(() => (forwarder.metrics()[sink.name]?.sent ?? 0) >= 25, '25 events acknowledged');
      expect(ids(hec.accepted())).toEqual(published);
      expect(hec.accepted().every(timeMatches)).toBe(true);
      expect(hec.requests.every((r) => r.channel === channel && r.encoding === 'gzip' && typeof r.answer.ackId === 'number')).toBe(true);
      // Every request was reported indexed before the forwarder counted its events as sent.
      expect(hec.pendingAcks(channel)).toEqual([]);
    });

    it('retries a 503 (server busy) with Retry-After and dead-letters only the event Splunk refuses with 400', async () => {
      await startHec();
      const published = await publishIds(harness.server, batch(5, 'x'));
      let busy = true;
      hec.respond = (request) => {
        if (busy) {
          busy = false;
          return { status: 503, headers: { 'retry-after': '0' }, body: { text: 'Server is busy', code: 9 } };
        }
        return request.events.some((e) => (e.event as SpecstreamEvent).subject === 'x-2') ? { status: 400, body: { text: 'Invalid data format', code: 6 } } : undefined;
      };
      const deadLetterPath = join(harness.dir, 'dead.ndjson');
      const sink = destination();
      await start(sink, deadLetterPath);
      await until(() => readNdjson(deadLetterPath).length >= 1 && hec.accepted().length >= 4, 'the dead letter and four events');
      expect(hec.requests[0]!.status).toBe(503);
      expect(readNdjson<{ reason: string; event: SpecstreamEvent }>(deadLetterPath).map((d) => [d.event.id, d.reason])).toEqual([
        [published[2], `rejected: ${sink.name} answered 400: Invalid data format (code 6)`],
      ]);
      expect(ids(hec.accepted())).toEqual(published.filter((_, i) => i !== 2));
    });
  });
});
