/**
 * The BigQuery destination with the real `@google-cloud/bigquery` client against a local fake of
 * the REST API's insertAll (fakes/bigquery-api.ts). The client authorizes with a google-auth-library
 * OAuth2Client holding a fixed access token, so nothing goes to Google.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/client/index.js';
import { BigQueryDestination, bigQueryRow, bigQueryTableSchema, type BigQueryDestinationOptions } from '../../src/destinations/bigquery-destination.js';
import { PermanentError, RetryableError } from '../../src/destinations/destination.js';
import type { Forwarder } from '../../src/destinations/forwarder.js';
import { catalog, type EventType } from '../../src/generated/catalog.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { googleError, startFakeBigQuery, type FakeBigQuery, type FakeField } from './fakes/bigquery-api.js';
import { closedPort, publishIds, readNdjson, until, useForwarderHarness } from './helpers.js';

const TOKEN = 'ya29.test-access-token';
const INSERT_ALL = '/bigquery/v2/projects/proj/datasets/ds/tables/events/insertAll';

/** The recommended schema as the fake's columns; `short` also limits `subject` to 8 characters (a STRING(8) column). */
const COLUMNS: FakeField[] = bigQueryTableSchema().fields.map(({ name, type, mode }) => ({ name, type, mode }));
const SHORT_SUBJECT: FakeField[] = COLUMNS.map((field) => (field.name === 'subject' ? { ...field, maxLength: 8 } : field));

const id = (n: number) => `evt_${String(n).padStart(26, '0')}`;

/** An event as the stream carries it; `subject: null` leaves the subject out. */
function event(n: number, type: EventType = 'grant.created', subject: string | null = `s-${n}`): SpecstreamEvent {
  return {
    specversion: '1.0',
    id: id(n),
    type,
    source: `/${type.split('.')[0]}`,
    ...(subject === null ? {} : { subject }),
    time: '2024-03-01T10:00:00.123+01:00',
    datacontenttype: 'application/json',
    data: catalog[type].example,
  } as SpecstreamEvent;
}

function authClient(token = TOKEN): OAuth2Client {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token, token_type: 'Bearer', expiry_date: Date.now() + 24 * 3_600_000 });
  return client;
}

const pathOf = (path: string) => new URL(path, 'http://x').pathname;

describe('BigQueryDestination', () => {
  let fake: FakeBigQuery;

  beforeEach(async () => {
    fake = await startFakeBigQuery({ token: TOKEN, tables: { 'proj.ds.events': COLUMNS, 'proj.ds.short': SHORT_SUBJECT } });
  });
  afterEach(async () => {
    await fake.close();
  });

  function destination(options: Partial<BigQueryDestinationOptions> = {}): BigQueryDestination {
    return new BigQueryDestination({ projectId: 'proj', dataset: 'ds', table: 'events', apiEndpoint: fake.url, authClient: authClient(), ...options });
  }

  const insertIdsSent = () => fake.requests.flatMap((request) => (request.body as { rows: { insertId: string }[] }).rows.map((row) => row.insertId));

  describe('#send', () => {
    it('posts one insertAll with a bearer token, insertId = event id and the documented row of every envelope field', async () => {
      const events = [event(1, 'grant.created'), event(2, 'token.issued', null)];
      await destination().send(events);
      expect(fake.requests).toHaveLength(1);
      const [request] = fake.requests;
      expect(request!.method).toBe('POST');
      expect(pathOf(request!.path)).toBe(INSERT_ALL);
      expect(request!.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(request!.body).toEqual({
        skipInvalidRows: false,
        ignoreUnknownValues: false,
        rows: [
          {
            insertId: id(1),
            json: {
              id: id(1),
              type: 'grant.created',
              time: '2024-03-01T10:00:00.123+01:00',
              source: '/grant',
              subject: 's-1',
              data: JSON.stringify(catalog['grant.created'].example),
              specversion: '1.0',
              datacontenttype: 'application/json',
            },
          },
          {
            insertId: id(2),
            json: {
              id: id(2),
              type: 'token.issued',
              time: '2024-03-01T10:00:00.123+01:00',
              source: '/token',
              subject: null,
              data: JSON.stringify(catalog['token.issued'].example),
              specversion: '1.0',
              datacontenttype: 'application/json',
            },
          },
        ],
      });
      expect(fake.rows('proj.ds.events').map((row) => row.id)).toEqual([id(1), id(2)]);
      expect(JSON.parse(fake.rows('proj.ds.events')[0]!.data as string)).toEqual(catalog['grant.created'].example);
    });

    it('passes skipInvalidRows and ignoreUnknownValues through', async () => {
      await destination({ skipInvalidRows: true, ignoreUnknownValues: true }).send([event(1)]);
      expect(fake.requests[0]!.body).toMatchObject({ skipInvalidRows: true, ignoreUnknownValues: true });
    });

    it('rejects with PermanentError naming the invalid rows, and BigQuery inserts none of the batch', async () => {
      const error = await destination({ table: 'short' })
        .send([event(1, 'grant.created', 'ok'), event(2, 'grant.created', 'much-too-long'), event(3, 'grant.created', 'ok')])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toBe(
        `bigquery:proj.ds.short: 1 of 3 row(s) invalid: ${id(2)} invalid at subject: Field subject: STRING(8) has maximum length 8 but got a value with length 13`,
      );
      expect(fake.rows('proj.ds.short')).toEqual([]);
      expect(fake.requests).toHaveLength(1); // the client's own re-send of failed rows is off: the forwarder decides
    });

    it('with skipInvalidRows, BigQuery inserts the valid rows and the batch still rejects with PermanentError', async () => {
      const error = await destination({ table: 'short', skipInvalidRows: true })
        .send([event(1, 'grant.created', 'ok'), event(2, 'grant.created', 'much-too-long')])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect(fake.rows('proj.ds.short').map((row) => row.id)).toEqual([id(1)]);
    });

    it('rejects with RetryableError when rows were not inserted for a retryable reason', async () => {
      fake.intercept = () => ({
        status: 200,
        body: {
          kind: 'bigquery#tableDataInsertAllResponse',
          insertErrors: [
            { index: 0, errors: [{ reason: 'backendError', location: '', debugInfo: '', message: 'try again' }] },
            { index: 1, errors: [{ reason: 'stopped', location: '', debugInfo: '', message: '' }] },
          ],
        },
      });
      const error = await destination()
        .send([event(1), event(2)])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toBe(`bigquery:proj.ds.events: 2 of 2 row(s) not inserted: ${id(1)} backendError: try again; ${id(2)} stopped: `);
    });

    it('re-sends the same insertIds when the client retries a 503 itself (maxRetries 1), and the rows are stored once', async () => {
      fake.intercept = (_, index) => (index === 0 ? { status: 503, body: googleError(503, 'UNAVAILABLE', 'backendError', 'The service is currently unavailable.') } : undefined);
      await destination({ maxRetries: 1 }).send([event(1), event(2)]);
      expect(fake.requests).toHaveLength(2);
      expect(fake.requests[1]!.body).toEqual(fake.requests[0]!.body);
      expect(fake.rows('proj.ds.events').map((row) => row.id)).toEqual([id(1), id(2)]);
    });

    it('uses an injected BigQuery client', async () => {
      const bigquery = new BigQuery({ projectId: 'proj', apiEndpoint: fake.url, authClient: authClient() });
      const injected = new BigQueryDestination({ dataset: 'ds', table: 'events', bigquery, apiEndpoint: 'http://127.0.0.1:1' });
      expect(injected.name).toBe('bigquery:proj.ds.events');
      await injected.send([event(1)]);
      expect(fake.rows('proj.ds.events').map((row) => row.id)).toEqual([id(1)]);
    });
  });

  describe('errors', () => {
    describe.each([
      ['503 backendError', { status: 503, reason: 'backendError', want: RetryableError }],
      ['500 internalError', { status: 500, reason: 'internalError', want: RetryableError }],
      ['429 rateLimitExceeded', { status: 429, reason: 'rateLimitExceeded', want: RetryableError }],
      ['403 quotaExceeded', { status: 403, reason: 'quotaExceeded', want: RetryableError }],
      ['403 rateLimitExceeded', { status: 403, reason: 'rateLimitExceeded', want: RetryableError }],
      ['401 unauthorized', { status: 401, reason: 'unauthorized', want: RetryableError }],
      ['400 invalid', { status: 400, reason: 'invalid', want: PermanentError }],
      ['403 accessDenied', { status: 403, reason: 'accessDenied', want: PermanentError }],
      ['404 notFound', { status: 404, reason: 'notFound', want: PermanentError }],
    ])('on %s', (_, { status, reason, want }) => {
      it(`rejects with ${want.name} after one request (maxRetries 0)`, async () => {
        fake.intercept = () => ({ status, body: googleError(status, 'STATUS', reason, `fake ${reason}`) });
        const error = await destination({ maxRetries: 0 })
          .send([event(1)])
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(want);
        expect((error as Error).message).toBe(`bigquery:proj.ds.events: ${status} ${reason}: fake ${reason}`);
        if (want === PermanentError) expect((error as PermanentError).status).toBe(status);
        expect(fake.requests).toHaveLength(1);
      });
    });

    it('rejects with PermanentError 404 for a table that does not exist', async () => {
      const error = await destination({ table: 'missing', maxRetries: 0 })
        .send([event(1)])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ status: 404, message: 'bigquery:proj.ds.missing: 404 notFound: Not found: Table proj:ds.missing' });
    });

    it('rejects with RetryableError when the API is unreachable', async () => {
      const port = await closedPort();
      const error = await destination({ apiEndpoint: `http://127.0.0.1:${port}`, maxRetries: 0 })
        .send([event(1)])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toMatch(/ECONNREFUSED/);
    });

    it('rejects with RetryableError after timeoutMs when the API does not answer', async () => {
      fake.intercept = () => ({ status: 0, hang: true });
      const error = await destination({ timeoutMs: 300, maxRetries: 0 })
        .send([event(1)])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toBe('bigquery:proj.ds.events: no answer within 300 ms');
      expect(fake.requests).toHaveLength(1);
    });
  });

  describe('#constructor', () => {
    it('throws TypeError without dataset or table', () => {
      expect(() => new BigQueryDestination({ dataset: '', table: 't' })).toThrow(new TypeError('BigQueryDestination: `dataset` is required'));
      expect(() => new BigQueryDestination({ dataset: 'd', table: '' })).toThrow(new TypeError('BigQueryDestination: `table` is required'));
    });
    it('throws RangeError on a negative maxRetries', () => {
      expect(() => new BigQueryDestination({ dataset: 'd', table: 't', maxRetries: -1 })).toThrow(new RangeError('BigQueryDestination: maxRetries must be an integer >= 0, got -1'));
    });
    it('names itself bigquery:<project>.<dataset>.<table>, without the project when not given', () => {
      expect(new BigQueryDestination({ projectId: 'p', dataset: 'd', table: 't' }).name).toBe('bigquery:p.d.t');
      expect(new BigQueryDestination({ dataset: 'd', table: 't' }).name).toBe('bigquery:d.t');
    });
  });

  describe('#close', () => {
    it('is safe to call twice; send() afterwards rejects', async () => {
      const bq = destination();
      await bq.close();
      await bq.close();
      await expect(bq.send([event(1)])).rejects.toThrow('bigquery:proj.ds.events: send() after close()');
      expect(fake.requests).toEqual([]);
    });
  });

  describe('bigQueryTableSchema', () => {
    it('has a column for every envelope field, and bigQueryRow fills exactly those', () => {
      const full = event(1);
      const columns = bigQueryTableSchema().fields.map((field) => field.name);
      expect([...columns].sort()).toEqual(Object.keys(full).sort());
      expect(Object.keys(bigQueryRow(full)).sort()).toEqual([...columns].sort());
      expect(Object.keys(bigQueryRow(event(2, 'grant.created', null))).sort()).toEqual([...columns].sort());
    });
    it('types data as JSON by default and as STRING on request', () => {
      expect(bigQueryTableSchema().fields.find((field) => field.name === 'data')!.type).toBe('JSON');
      expect(bigQueryTableSchema({ data: 'STRING' }).fields.find((field) => field.name === 'data')!.type).toBe('STRING');
      expect(bigQueryTableSchema().fields.map((field) => `${field.name} ${field.type} ${field.mode}`)).toEqual([
        'id STRING REQUIRED',
        'type STRING REQUIRED',
        'time TIMESTAMP REQUIRED',
        'source STRING REQUIRED',
        'subject STRING NULLABLE',
        'data JSON REQUIRED',
        'specversion STRING REQUIRED',
        'datacontenttype STRING REQUIRED',
      ]);
    });
  });

  it('does not load the BigQuery client when the module is imported, only on the first send', async () => {
    // A fresh process: this test file has loaded the client already. CommonJS modules imported from ESM are in require.cache.
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const loaded = () => Object.keys(require.cache).some((path) => path.includes('@google-cloud/bigquery'));
      const { BigQueryDestination } = await import('./src/destinations/bigquery-destination.ts');
      const { OAuth2Client } = await import('google-auth-library'); // so that no credential lookup goes to the network
      const authClient = new OAuth2Client();
      authClient.setCredentials({ access_token: 't', expiry_date: Date.now() + 3600000 });
      const destination = new BigQueryDestination({ projectId: 'p', dataset: 'd', table: 't', apiEndpoint: 'http://127.0.0.1:1', maxRetries: 0, authClient });
      const before = loaded();
      const error = await destination.send([{ specversion: '1.0', id: 'evt_00000000000000000000000001', type: 'grant.created', source: '/grant', time: '2024-01-01T00:00:00Z', datacontenttype: 'application/json', data: {} }]).catch((error) => error.name);
      console.log(JSON.stringify({ before, after: loaded(), error }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd() });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ before: false, after: true, error: 'RetryableError' }); // the client was built and used, not just loaded
  });

  describe('with the Forwarder', () => {
    const harness = useForwarderHarness('bigquery');

    async function forward(destination: BigQueryDestination, expected: number, deadLetterPath?: string): Promise<Forwarder> {
      const forwarder = await harness.start(destination, { batchSize: 5, deadLetterPath });
      await until(() => {
        const metrics = forwarder.metrics()[destination.name];
        return (metrics?.sent ?? 0) + (metrics?.deadLettered ?? 0) >= expected;
      }, `${expected} events acknowledged`);
      await forwarder.stop();
      return forwarder;
    }

    /** Events with subjects `<tag>-<i>`; those whose index is in `long` get a subject longer than 8 characters. */
    function events(n: number, long: number[] = []): NewEvent[] {
      const types: EventType[] = ['grant.created', 'grant.revoked', 'token.issued'];
      return Array.from({ length: n }, (_, i) => {
        const type = types[i % types.length]!;
        return { type, subject: long.includes(i) ? `too-long-${i}` : `ok-${i}`, data: catalog[type].example } as NewEvent;
      });
    }

    it('inserts every event exactly once, in log order, with insertId = id', async () => {
      const ids = await publishIds(harness.server, events(12));
      const bq = destination();
      const done = await forward(bq, ids.length);
      expect(fake.rows('proj.ds.events').map((row) => row.id)).toEqual(ids);
      expect(insertIdsSent()).toEqual(ids);
      expect(fake.rows('proj.ds.events').map((row) => [row.type, row.subject])).toEqual(events(12).map((e) => [e.type, e.subject]));
      expect(done.metrics()[bq.name]).toMatchObject({ sent: 12, failed: 0, deadLettered: 0 });
    });

    it('dead-letters only the invalid events; the valid ones are inserted exactly once', async () => {
      const ids = await publishIds(harness.server, events(10, [3, 7]));
      const deadLetterPath = join(harness.dir, 'dead.ndjson');
      const bq = destination({ table: 'short' });
      const done = await forward(bq, ids.length, deadLetterPath);
      const dead = readNdjson<{ reason: string; event: SpecstreamEvent }>(deadLetterPath);
      expect(dead.map((d) => d.event.id)).toEqual([ids[3], ids[7]]);
      expect(dead[0]!.reason).toBe(
        `rejected: bigquery:proj.ds.short: 1 of 1 row(s) invalid: ${ids[3]} invalid at subject: Field subject: STRING(8) has maximum length 8 but got a value with length 10`,
      );
      expect(fake.rows('proj.ds.short').map((row) => row.id)).toEqual(ids.filter((_, i) => i !== 3 && i !== 7));
      expect(done.metrics()[bq.name]).toMatchObject({ sent: 8, deadLettered: 2 });
    });

    it('with skipInvalidRows, the re-sent valid rows are dropped by insertId and stored once', async () => {
      const ids = await publishIds(harness.server, events(10, [3, 7]));
      const deadLetterPath = join(harness.dir, 'dead.ndjson');
      const bq = destination({ table: 'short', skipInvalidRows: true });
      await forward(bq, ids.length, deadLetterPath);
      expect(readNdjson<{ event: SpecstreamEvent }>(deadLetterPath).map((d) => d.event.id)).toEqual([ids[3], ids[7]]);
      expect(fake.rows('proj.ds.short').map((row) => row.id)).toEqual(ids.filter((_, i) => i !== 3 && i !== 7));
      // BigQuery inserted the valid rows of a batch with an invalid one, and the forwarder's halves sent them again: only their insertId kept them single.
      const invalid = new Set([ids[3], ids[7]]);
      const batches = fake.requests.map((request) => (request.body as { rows: { insertId: string }[] }).rows.map((row) => row.insertId));
      const mixed = batches.flatMap((batch, index) => (batch.some((insertId) => invalid.has(insertId)) && batch.some((insertId) => !invalid.has(insertId)) ? [index] : []));
      expect(mixed.length, 'a batch with valid and invalid rows').toBeGreaterThan(0);
      for (const index of mixed) {
        for (const insertId of batches[index]!.filter((insertId) => !invalid.has(insertId))) {
          expect(batches.slice(index + 1).some((later) => later.includes(insertId)), `${insertId} sent again`).toBe(true);
        }
      }
    });

    it('retries a batch answered 503 under the same insertIds', async () => {
      const ids = await publishIds(harness.server, events(3));
      fake.intercept = (_, index) => (index === 0 ? { status: 503, body: googleError(503, 'UNAVAILABLE', 'backendError', 'The service is currently unavailable.') } : undefined);
      const bq = destination({ maxRetries: 0 });
      const done = await forward(bq, ids.length);
      const [first, second] = fake.requests.map((request) => (request.body as { rows: { insertId: string }[] }).rows.map((row) => row.insertId));
      expect(second).toEqual(first);
      expect(fake.rows('proj.ds.events').map((row) => row.id)).toEqual(ids);
      expect(done.metrics()[bq.name]).toMatchObject({ sent: 3, failed: 1, retried: 1, deadLettered: 0 });
    });
  });
});
