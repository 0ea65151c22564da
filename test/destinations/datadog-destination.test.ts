/**
 * The Datadog destination against a fake logs intake (./fakes/datadog-intake.ts) that decodes and
 * checks every request the way Datadog documents it, and end to end from a real server through the
 * forwarder.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/client/index.js';
import { DatadogDestination, type DatadogDestinationOptions } from '../../src/destinations/datadog-destination.js';
import { PermanentError, RetryableError } from '../../src/destinations/destination.js';
import type { Forwarder } from '../../src/destinations/forwarder.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { FakeDatadogIntake, INTAKE_LIMITS, type IntakeRequest } from './fakes/datadog-intake.js';
import { batch, publishIds, readNdjson, until, useForwarderHarness } from './helpers.js';

const API_KEY = '0123456789abcdef0123456789abcdef';

/** An event as the stream delivers it; ids increase with `i` like the server's ULIDs. */
function event(i: number, options: { subject?: string | null; text?: string } = {}): SpecstreamEvent {
  const base = {
    specversion: '1.0',
    id: `evt_01JD${String(i).padStart(22, '0')}`,
    source: '/tests',
    ...(options.subject !== null && { subject: options.subject ?? `s-${i}` }),
    time: new Date(Date.UTC(2026, 10, 24, 0, 0, 0, 123) + i * 1_001).toISOString(),
    datacontenttype: 'application/json',
  };
  return (
    options.text === undefined
      ? { ...base, type: 'grant.created', data: { grantId: `grnt_${i}`, userId: 'usr_1', scopes: ['read'] } }
      : { ...base, type: 'admin.legacy_note', data: { noteId: `note_${i}`, author: 'stf_1', text: options.text } }
  ) as SpecstreamEvent;
}

const ids = (entries: Record<string, unknown>[]) => entries.map((entry) => (entry.specstream as SpecstreamEvent).id);
const entryBytes = (entry: Record<string, unknown>) => Buffer.byteLength(JSON.stringify(entry));

describe('DatadogDestination', () => {
  let intake: FakeDatadogIntake;
  const open: DatadogDestination[] = [];

  function destination(options: Partial<DatadogDestinationOptions> = {}): DatadogDestination {
    const created = new DatadogDestination({ apiKey: API_KEY, url: intake.url, ...options });
    open.push(created);
    return created;
  }

  beforeEach(async () => {
    intake = await FakeDatadogIntake.start(API_KEY);
  });
  afterEach(async () => {
    for (const created of open.splice(0)) await created.close();
    await intake.close();
  });

  describe('#constructor', () => {
    it('throws TypeError without apiKey', () => {
      expect(() => new DatadogDestination({ apiKey: '' })).toThrow(new TypeError('DatadogDestination: `apiKey` is required'));
    });
    it('throws TypeError on a site that is not a host name', () => {
      expect(() => new DatadogDestination({ apiKey: API_KEY, site: 'https://datadoghq.eu' })).toThrow(
        new TypeError('DatadogDestination: `site` must be a host name such as "datadoghq.eu", got "https://datadoghq.eu"'),
      );
    });
    it('throws TypeError on a url that is not http(s)', () => {
      expect(() => new DatadogDestination({ apiKey: API_KEY, url: 'ftp://intake' })).toThrow(new TypeError('DatadogDestination: `url` must be an http(s) URL, got "ftp://intake"'));
    });
    it('throws TypeError on a tag with a comma', () => {
      expect(() => new DatadogDestination({ apiKey: API_KEY, tags: ['env:a,b'] })).toThrow(new TypeError('DatadogDestination: each tag must be a non-empty string without commas, got "env:a,b"'));
    });
    it('throws RangeError on a limit that is not a positive integer', () => {
      expect(() => new DatadogDestination({ apiKey: API_KEY, maxEntriesPerRequest: 0 })).toThrow(new RangeError('DatadogDestination: maxEntriesPerRequest must be an integer >= 1, got 0'));
    });
    it('throws RangeError when maxEntryBytes leaves no room within maxRequestBytes', () => {
      expect(() => new DatadogDestination({ apiKey: API_KEY, maxRequestBytes: 100, maxEntryBytes: 99 })).toThrow(
        new RangeError('DatadogDestination: maxEntryBytes (99) must leave room for the array brackets within maxRequestBytes (100)'),
      );
    });
    it('is named datadog unless given a name', () => {
      expect(new DatadogDestination({ apiKey: API_KEY }).name).toBe('datadog');
      expect(new DatadogDestination({ apiKey: API_KEY, name: 'dd-eu' }).name).toBe('dd-eu');
    });
  });

  describe('#send', () => {
    it.each([
      [undefined, 'https://http-intake.logs.datadoghq.com/api/v2/logs'],
      ['datadoghq.eu', 'https://http-intake.logs.datadoghq.eu/api/v2/logs'],
      ['us5.datadoghq.com', 'https://http-intake.logs.us5.datadoghq.com/api/v2/logs'],
    ])('posts to the intake of site %s', async (site, want) => {
      const urls: string[] = [];
      const fetchStub: typeof fetch = async (input) => {
        urls.push(String(input));
        return new Response('{}', { status: 202 });
      };
      const sink = new DatadogDestination({ apiKey: API_KEY, ...(site !== undefined && { site }), fetch: fetchStub });
      await sink.send([event(1)]);
      expect(urls).toEqual([want]);
      expect(sink.url).toBe(want);
    });

    it('posts a gzipped JSON array of log entries with DD-API-KEY, in the documented mapping', async () => {
      const withSubject = event(1);
      const withoutSubject = event(2, { subject: null });
      await destination({ service: 'billing', hostname: 'fw-1', tags: ['env:test', 'team:core'] }).send([withSubject, withoutSubject]);
      expect(intake.requests).toHaveLength(1);
      const request = intake.requests[0]!;
      expect(request).toMatchObject({ method: 'POST', path: '/api/v2/logs', encoding: 'gzip', status: 202, truncated: [] });
      expect(request.headers['dd-api-key']).toBe(API_KEY);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.wireBytes).toBeLessThan(request.payloadBytes);
      const expected = [
        {
          ddsource: 'specstream',
          ddtags: 'env:test,team:core,type:grant.created',
          hostname: 'fw-1',
          service: 'billing',
          message: `grant.created s-1 (${withSubject.id})`,
          date: '2026-11-24T00:00:01.124Z',
          specstream: withSubject,
        },
        {
          ddsource: 'specstream',
          ddtags: 'env:test,team:core,type:grant.created',
          hostname: 'fw-1',
          service: 'billing',
          message: `grant.created (${withoutSubject.id})`,
          date: '2026-11-24T00:00:02.125Z',
          specstream: withoutSubject,
        },
      ];
      expect(request.payload).toBe(JSON.stringify(expected));
    });

    it('sends identity-encoded JSON without Content-Encoding when gzip is false, and no date when useEventTime is false', async () => {
      const one = event(1);
      await destination({ gzip: false, useEventTime: false, ddsource: 'billing-events' }).send([one]);
      const request = intake.requests[0]!;
      expect(request.headers['content-encoding']).toBeUndefined();
      expect(request.encoding).toBe('identity');
      expect(request.wireBytes).toBe(request.payloadBytes);
      expect(request.payload).toBe(JSON.stringify([{ ddsource: 'billing-events', ddtags: 'type:grant.created', message: `grant.created s-1 (${one.id})`, specstream: one }]));
    });

    it('splits a batch at maxEntriesPerRequest, in order', async () => {
      const events = Array.from({ length: 10 }, (_, i) => event(i));
      await destination({ maxEntriesPerRequest: 4 }).send(events);
      expect(intake.requests.map((r) => r.entries.length)).toEqual([4, 4, 2]);
      expect(ids(intake.accepted())).toEqual(events.map((e) => e.id));
    });

    it('splits a batch at maxRequestBytes, filling each request as far as it goes', async () => {
      const events = Array.from({ length: 9 }, (_, i) => event(i, { text: 'n'.repeat(500 + i * 97) }));
      const maxRequestBytes = 4_000;
      await destination({ maxRequestBytes, maxEntryBytes: 2_000 }).send(events);
      const requests = intake.requests;
      expect(requests.length).toBeGreaterThan(2);
      for (const [i, request] of requests.entries()) {
        expect(request.payloadBytes).toBeLessThanOrEqual(maxRequestBytes);
        const next = requests[i + 1]?.entries[0];
        // The next request's first entry (plus a comma) would not have fitted in this one.
        if (next) expect(request.payloadBytes + 1 + entryBytes(next)).toBeGreaterThan(maxRequestBytes);
      }
      expect(ids(intake.accepted())).toEqual(events.map((e) => e.id));
    });

    it('counts the brackets and commas of the array toward maxRequestBytes', async () => {
      const events = [10, 11, 12, 13].map((i) => event(i)); // entries of equal length
      await destination({ gzip: false }).send([events[0]!]);
      const entry = intake.requests[0]!.payloadBytes - 2; // `[` and `]`
      intake.requests.length = 0;
      await destination({ maxRequestBytes: 2 * entry + 3, maxEntryBytes: entry }).send(events);
      expect(intake.requests.map((r) => [r.entries.length, r.payloadBytes])).toEqual([
        [2, 2 * entry + 3],
        [2, 2 * entry + 3],
      ]);
      intake.requests.length = 0;
      await destination({ maxRequestBytes: 2 * entry + 2, maxEntryBytes: entry }).send(events);
      expect(intake.requests.map((r) => r.entries.length)).toEqual([1, 1, 1, 1]);
    });

    it('keeps to Datadog limits by default: 1 000 entries per request', async () => {
      const events = Array.from({ length: 1_001 }, (_, i) => event(i));
      await destination().send(events);
      expect(intake.requests.map((r) => [r.status, r.entries.length])).toEqual([
        [202, 1_000],
        [202, 1],
      ]);
      expect(ids(intake.accepted())).toEqual(events.map((e) => e.id));
    });

    it('keeps to Datadog limits by default: 5 MB uncompressed per request', async () => {
      const events = Array.from({ length: 6 }, (_, i) => event(i, { text: 'x'.repeat(900_000) }));
      await destination().send(events);
      expect(intake.requests.map((r) => [r.status, r.entries.length])).toEqual([
        [202, 5],
        [202, 1],
      ]);
      expect(intake.requests.every((r) => r.payloadBytes <= INTAKE_LIMITS.maxPayloadBytes && r.truncated.length === 0)).toBe(true);
      expect(ids(intake.accepted())).toEqual(events.map((e) => e.id));
    });

    it('refuses a batch holding an entry over 1 MB with PermanentError before posting anything', async () => {
      const big = event(2, { text: 'x'.repeat(INTAKE_LIMITS.maxLogBytes) });
      const sink = destination();
      const error = await sink.send([event(1), big, event(3)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toMatch(new RegExp(`^datadog: event ${big.id} is \\d+ bytes as a log entry, over the limit of 1000000$`));
      expect(intake.requests).toEqual([]);
      await sink.send([event(1), event(3)]);
      expect(ids(intake.accepted())).toEqual([event(1).id, event(3).id]);
    });

    it('does not post again what Datadog accepted when a batch is retried after a failed request', async () => {
      const events = Array.from({ length: 6 }, (_, i) => event(i));
      intake.respond = (_request, index) => (index === 1 ? { status: 503, headers: { 'retry-after': '7' }, body: { errors: ['Service Unavailable'] } } : undefined);
      const sink = destination({ maxEntriesPerRequest: 2 });
      const error = await sink.send(events).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect(error).toMatchObject({ message: 'datadog answered 503: Service Unavailable', retryAfterMs: 7_000 });
      await sink.send(events);
      expect(intake.requests.map((r) => [r.status, ids(r.entries)])).toEqual([
        [202, [events[0]!.id, events[1]!.id]],
        [503, [events[2]!.id, events[3]!.id]],
        [202, [events[2]!.id, events[3]!.id]],
        [202, [events[4]!.id, events[5]!.id]],
      ]);
      expect(ids(intake.accepted())).toEqual(events.map((e) => e.id));
    });

    it.each([
      [400, PermanentError],
      [401, PermanentError],
      [403, PermanentError],
      [413, PermanentError],
      [408, RetryableError],
      [429, RetryableError],
      [500, RetryableError],
      [503, RetryableError],
    ])('classifies %i as %O', async (status, kind) => {
      intake.respond = () => ({ status, headers: { 'retry-after': '3' }, body: { errors: ['boom'] } });
      const error = await destination().send([event(1)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(kind);
      expect((error as Error).message).toBe(`datadog answered ${status}: boom`);
      if (kind === RetryableError) expect((error as RetryableError).retryAfterMs).toBe(3_000);
      else expect((error as PermanentError).status).toBe(status);
    });

    it('is refused 403 by the intake with another API key', async () => {
      const error = await destination({ apiKey: 'ffffffffffffffffffffffffffffffff' }).send([event(1)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toBe('datadog answered 403: Forbidden');
      expect(intake.requests.map((r) => r.refusal)).toEqual(['Forbidden']);
    });

    it('rejects with RetryableError when the intake cannot be reached or times out', async () => {
      const unreachable = new DatadogDestination({ apiKey: API_KEY, url: 'http://127.0.0.1:1/api/v2/logs' });
      await expect(unreachable.send([event(1)])).rejects.toBeInstanceOf(RetryableError);
      const timeout: typeof fetch = () => Promise.reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
      await expect(new DatadogDestination({ apiKey: API_KEY, fetch: timeout }).send([event(1)])).rejects.toThrow(new RetryableError('datadog: request timed out'));
    });
  });

  describe('#close', () => {
    it('is safe to call twice, and send() afterwards throws', async () => {
      const sink = destination();
      await sink.close();
      await sink.close();
      await expect(sink.send([event(1)])).rejects.toThrow(new Error('datadog: send() after close()'));
      expect(intake.requests).toEqual([]);
    });
  });

  describe('with the Forwarder', () => {
    const harness = useForwarderHarness('datadog');

    function start(sink: DatadogDestination, deadLetterPath?: string): Promise<Forwarder> {
      return harness.start(sink, { batchSize: 10, deadLetterPath });
    }

    it('delivers every published event in order, end to end', async () => {
      const published = await publishIds(harness.server, batch(25, 'dd'));
      await start(destination({ service: 'grants' }));
      await until(() => intake.accepted().length >= 25, '25 logs at the intake');
      expect(ids(intake.accepted())).toEqual(published);
      expect(intake.requests.every((r: IntakeRequest) => r.status === 202 && r.encoding === 'gzip' && r.headers['dd-api-key'] === API_KEY)).toBe(true);
      expect(intake.accepted().map((entry) => [entry.ddtags, entry.service, entry.message])).toEqual(
        published.map((id, i) => ['type:grant.created', 'grants', `grant.created dd-${i} (${id})`]),
      );
    });

    it('dead-letters an event over maxEntryBytes and delivers the others in order', async () => {
      const big = { type: 'admin.legacy_note', subject: 'big', data: { noteId: 'note_1', author: 'stf_1', text: 'x'.repeat(6_000) } } as NewEvent;
      const published = await publishIds(harness.server, [...batch(3, 'before'), big, ...batch(3, 'after')]);
      const deadLetterPath = join(harness.dir, 'dead.ndjson');
      await start(destination({ maxEntryBytes: 4_000 }), deadLetterPath);
      await until(() => readNdjson(deadLetterPath).length >= 1 && intake.accepted().length >= 6, 'the dead letter and six logs');
      const dead = readNdjson<{ reason: string; event: SpecstreamEvent }>(deadLetterPath);
      expect(dead.map((d) => d.event.id)).toEqual([published[3]]);
      expect(dead[0]!.reason).toMatch(new RegExp(`^rejected: datadog: event ${published[3]} is \\d+ bytes as a log entry, over the limit of 4000$`));
      expect(ids(intake.accepted())).toEqual(published.filter((_, i) => i !== 3));
    });

    it('dead-letters only the event of a batch that Datadog refuses with 400', async () => {
      const published = await publishIds(harness.server, batch(5, 'x'));
      intake.respond = (request) => (request.entries.some((entry) => (entry.specstream as SpecstreamEvent).subject === 'x-2') ? { status: 400, body: { errors: ['bad log'] } } : undefined);
      const deadLetterPath = join(harness.dir, 'dead.ndjson');
      await start(destination(), deadLetterPath);
      await until(() => readNdjson(deadLetterPath).length >= 1 && intake.accepted().length >= 4, 'the dead letter and four logs');
      expect(readNdjson<{ reason: string; event: SpecstreamEvent }>(deadLetterPath).map((d) => [d.event.id, d.reason])).toEqual([[published[2], 'rejected: datadog answered 400: bad log']]);
      expect(ids(intake.accepted())).toEqual(published.filter((_, i) => i !== 2));
    });

    it('retries a 429 with Retry-After and delivers each event once', async () => {
      const published = await publishIds(harness.server, batch(4, 'rl'));
      intake.respond = (_request, index) => (index === 0 ? { status: 429, headers: { 'retry-after': '0' } } : undefined);
      const forwarder = await start(destination());
      await until(() => intake.accepted().length >= 4, 'four logs');
      await forwarder.stop();
      expect(intake.requests[0]!.status).toBe(429);
      expect(intake.requests.slice(1).every((r) => r.status === 202)).toBe(true);
      expect(ids(intake.accepted())).toEqual(published);
      expect(forwarder.metrics().datadog).toMatchObject({ sent: 4, failed: 1, retried: 1, deadLettered: 0 });
    });
  });
});
