/**
 * The S3 destination with the real AWS SDK v3 against s3rver (a local S3-compatible server that
 * checks SigV4 signatures and stores objects on disk), and against node:http fakes for the error
 * statuses s3rver never answers. Objects are read back through the SDK.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/client/index.js';
import { PermanentError, RetryableError } from '../../src/destinations/destination.js';
import { S3Destination, s3Objects, type S3DestinationOptions } from '../../src/destinations/s3-destination.js';
import { catalog, type EventType } from '../../src/generated/catalog.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { closedPort, publishIds, until, useForwarderHarness } from './helpers.js';

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** An event as the stream carries it; ids `evt_` + 26 digits (valid ULID characters), increasing with `n`. */
function event(n: number, type: EventType, time: string): SpecstreamEvent {
  return {
    specversion: '1.0',
    id: `evt_${String(n).padStart(26, '0')}`,
    type,
    source: `/${type.split('.')[0]}`,
    subject: `s-${n}`,
    time,
    datacontenttype: 'application/json',
    data: catalog[type].example,
  } as SpecstreamEvent;
}

interface StoredObject {
  key: string;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  metadata: Record<string, string> | undefined;
  bytes: Buffer;
  events: SpecstreamEvent[];
}

/** Every object under `prefix`, listed and fetched through the SDK, keys sorted. */
async function readBucket(client: S3Client, bucket: string, prefix = ''): Promise<StoredObject[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const keys = (listed.Contents ?? []).map((object) => object.Key!).sort();
  return Promise.all(
    keys.map(async (key) => {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = Buffer.from(await object.Body!.transformToByteArray());
      const text = (key.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
      expect(text.endsWith('\n'), `${key} ends with a newline`).toBe(true);
      const events = text
        .slice(0, -1)
        .split('\n')
        .map((line) => JSON.parse(line) as SpecstreamEvent);
      return { key, contentType: object.ContentType, contentEncoding: object.ContentEncoding, metadata: object.Metadata, bytes, events };
    }),
  );
}

/** A node:http server answering every request with `answer`; gives its URL. */
async function fakeS3(servers: Server[], answer: (response: import('node:http').ServerResponse) => void): Promise<string> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => answer(response));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('S3Destination', () => {
  let dir: string;
  let s3rver: S3rver;
  let endpoint: string;
  let client: S3Client;
  let requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  let destinations: S3Destination[];
  let fakes: Server[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-s3-'));
    s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: 'bucket' }] });
    const { port } = await s3rver.run();
    endpoint = `http://127.0.0.1:${port}`;
    requests = [];
    // A second 'request' listener sees every request s3rver answers, without answering itself.
    s3rver.httpServer.on('request', (request: import('node:http').IncomingMessage) => requests.push({ method: request.method!, url: request.url!, headers: request.headers }));
    client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: CREDENTIALS });
    destinations = [];
    fakes = [];
  });
  afterEach(async () => {
    await Promise.all(destinations.map((destination) => destination.close()));
    client.destroy();
    await Promise.all(fakes.map((server) => new Promise((resolve) => (server.close(resolve), server.closeAllConnections()))));
    await s3rver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function destination(options: Partial<S3DestinationOptions> = {}): S3Destination {
    const created = new S3Destination({ bucket: 'bucket', endpoint, forcePathStyle: true, region: 'us-east-1', credentials: CREDENTIALS, ...options });
    destinations.push(created);
    return created;
  }

  const puts = () => requests.filter((request) => request.method === 'PUT');

  describe('#send', () => {
    it('writes one gzipped NDJSON object per UTC date and type, keyed by its first and last id', async () => {
      const events = [
        event(1, 'grant.created', '2024-03-01T10:00:00.000Z'),
        event(2, 'grant.revoked', '2024-03-01T10:00:01.000Z'),
        event(3, 'grant.created', '2024-03-01T23:59:59.999Z'),
        event(4, 'grant.created', '2024-03-02T00:00:00.000Z'),
        event(5, 'grant.created', '2024-03-02T01:30:00+02:00'), // 2024-03-01T23:30Z: the UTC date counts
        event(6, 'token.issued', '2024-03-02T08:00:00.000Z'),
        event(7, 'grant.revoked', '2024-03-01T11:00:00.000Z'),
      ];
      await destination().send(events);
      const objects = await readBucket(client, 'bucket');
      const id = (n: number) => `evt_${String(n).padStart(26, '0')}`;
      expect(objects.map((object) => [object.key, object.events.map((e) => e.id)])).toEqual([
        [`events/dt=2024-03-01/type=grant.created/${id(1)}-${id(5)}.ndjson.gz`, [id(1), id(3), id(5)]],
        [`events/dt=2024-03-01/type=grant.revoked/${id(2)}-${id(7)}.ndjson.gz`, [id(2), id(7)]],
        [`events/dt=2024-03-02/type=grant.created/${id(4)}-${id(4)}.ndjson.gz`, [id(4)]],
        [`events/dt=2024-03-02/type=token.issued/${id(6)}-${id(6)}.ndjson.gz`, [id(6)]],
      ]);
      // Each line is the event exactly as the stream carried it.
      expect(objects.flatMap((object) => object.events).sort((a, b) => a.id.localeCompare(b.id))).toEqual(events);
      for (const object of objects) {
        expect(object.contentType).toBe('application/x-ndjson');
        expect(object.contentEncoding).toBe('gzip');
        expect(object.bytes.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // the SDK hands back the stored gzip bytes
        expect(object.metadata).toEqual({ 'first-id': object.events[0]!.id, 'last-id': object.events.at(-1)!.id, events: String(object.events.length) });
      }
      expect(puts()).toHaveLength(4);
    });

    it('writes plain NDJSON under .ndjson without Content-Encoding when gzip is false', async () => {
      await destination({ gzip: false }).send([event(1, 'grant.created', '2024-03-01T10:00:00Z'), event(2, 'grant.created', '2024-03-01T11:00:00Z')]);
      const objects = await readBucket(client, 'bucket');
      expect(objects.map((object) => object.key)).toEqual([`events/dt=2024-03-01/type=grant.created/evt_${'0'.repeat(25)}1-evt_${'0'.repeat(25)}2.ndjson`]);
      expect(objects[0]!.contentEncoding).toBeUndefined();
      expect(objects[0]!.bytes.toString('utf8')).toBe(
        JSON.stringify(event(1, 'grant.created', '2024-03-01T10:00:00Z')) + '\n' + JSON.stringify(event(2, 'grant.created', '2024-03-01T11:00:00Z')) + '\n',
      );
    });

    it('overwrites the same keys with the same content when the same batch is sent again', async () => {
      const events = [event(1, 'grant.created', '2024-03-01T10:00:00Z'), event(2, 'grant.revoked', '2024-03-01T10:00:00Z'), event(3, 'grant.created', '2024-03-01T10:00:00Z')];
      const s3 = destination();
      await s3.send(events);
      const first = await readBucket(client, 'bucket');
      await s3.send(events);
      const second = await readBucket(client, 'bucket');
      expect(puts().map((request) => decodeURIComponent(new URL(request.url, endpoint).pathname)).sort()).toEqual([...first, ...first].map((object) => `/bucket/${object.key}`).sort());
      expect(second.map((object) => [object.key, object.events])).toEqual(first.map((object) => [object.key, object.events]));
      expect(second).toHaveLength(2);
    });

    it('puts keys under the prefix, and dt= at the top with an empty prefix', async () => {
      await destination({ prefix: '/raw/specstream/' }).send([event(1, 'grant.created', '2024-03-01T10:00:00Z')]);
      await destination({ prefix: '' }).send([event(2, 'grant.created', '2024-03-01T10:00:00Z')]);
      expect((await readBucket(client, 'bucket')).map((object) => object.key)).toEqual([
        `dt=2024-03-01/type=grant.created/evt_${'0'.repeat(25)}2-evt_${'0'.repeat(25)}2.ndjson.gz`,
        `raw/specstream/dt=2024-03-01/type=grant.created/evt_${'0'.repeat(25)}1-evt_${'0'.repeat(25)}1.ndjson.gz`,
      ]);
    });

    it('sends a CRC32 checksum header by default and none with requestChecksumCalculation WHEN_REQUIRED', async () => {
      await destination().send([event(1, 'grant.created', '2024-03-01T10:00:00Z')]);
      await destination({ requestChecksumCalculation: 'WHEN_REQUIRED' }).send([event(2, 'grant.created', '2024-03-01T10:00:00Z')]);
      const [withChecksum, without] = puts();
      expect(withChecksum!.headers['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
      expect(without!.headers).not.toHaveProperty('x-amz-checksum-crc32');
      expect(Object.keys(without!.headers).filter((name) => name.startsWith('x-amz-checksum'))).toEqual([]);
      // Both bodies are sent whole with a Content-Length, never aws-chunked (which s3rver would store verbatim).
      for (const request of [withChecksum!, without!]) {
        expect(request.headers['content-encoding']).toBe('gzip');
        expect(request.headers['content-length']).toMatch(/^\d+$/);
      }
      expect((await readBucket(client, 'bucket')).map((object) => object.events.length)).toEqual([1, 1]);
    });

    it('uses an injected client, and close() leaves it open', async () => {
      const s3 = destination({ client, endpoint: 'http://127.0.0.1:1' });
      await s3.send([event(1, 'grant.created', '2024-03-01T10:00:00Z')]);
      await s3.close();
      expect((await readBucket(client, 'bucket')).map((object) => object.events.length)).toEqual([1]);
    });
  });

  describe('errors', () => {
    it('rejects with PermanentError on NoSuchBucket', async () => {
      const error = await destination({ bucket: 'missing' })
        .send([event(1, 'grant.created', '2024-03-01T10:00:00Z')])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ message: 's3:missing/events: NoSuchBucket (404): The specified bucket does not exist', status: 404 });
    });

    it('rejects with PermanentError on an unknown access key', async () => {
      const error = await destination({ credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'x' } })
        .send([event(1, 'grant.created', '2024-03-01T10:00:00Z')])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ status: 403, message: expect.stringMatching(/^s3:bucket\/events: InvalidAccessKeyId \(403\): /) });
    });

    it('rejects with RetryableError when the endpoint is unreachable', async () => {
      const port = await closedPort();
      const error = await destination({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 })
        .send([event(1, 'grant.created', '2024-03-01T10:00:00Z')])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toMatch(/ECONNREFUSED/);
    });

    it('rejects with RetryableError after timeoutMs when the server does not answer', async () => {
      const url = await fakeS3(fakes, () => {}); // never answers
      const error = await destination({ endpoint: url, timeoutMs: 300, maxAttempts: 1 })
        .send([event(1, 'grant.created', '2024-03-01T10:00:00Z')])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toMatch(/^s3:bucket\/events: (AbortError|TimeoutError)/);
    });

    describe.each([
      ['503 SlowDown', { status: 503, code: 'SlowDown', want: RetryableError }],
      ['500 InternalError', { status: 500, code: 'InternalError', want: RetryableError }],
      ['400 RequestTimeout', { status: 400, code: 'RequestTimeout', want: RetryableError }],
      ['400 ExpiredToken', { status: 400, code: 'ExpiredToken', want: RetryableError }],
      ['403 AccessDenied', { status: 403, code: 'AccessDenied', want: PermanentError }],
      ['400 InvalidArgument', { status: 400, code: 'InvalidArgument', want: PermanentError }],
      ['301 PermanentRedirect', { status: 301, code: 'PermanentRedirect', want: PermanentError }],
    ])('on %s', (_, { status, code, want }) => {
      it(`rejects with ${want.name}`, async () => {
        const url = await fakeS3(fakes, (response) =>
          response
            .writeHead(status, { 'content-type': 'application/xml' })
            .end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>fake ${code}</Message><RequestId>r1</RequestId></Error>`),
        );
        const error = await destination({ endpoint: url, maxAttempts: 1 })
          .send([event(1, 'grant.created', '2024-03-01T10:00:00Z')])
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(want);
        expect((error as Error).message).toBe(`s3:bucket/events: ${code} (${status}): fake ${code}`);
      });
    });

    it('retries inside the SDK up to maxAttempts before it rejects', async () => {
      let answered = 0;
      const url = await fakeS3(fakes, (response) => {
        answered += 1;
        response.writeHead(503).end('<Error><Code>SlowDown</Code><Message>slow</Message></Error>');
      });
      const error = await destination({ endpoint: url, maxAttempts: 2 })
        .send([event(1, 'grant.created', '2024-03-01T10:00:00Z')])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect(answered).toBe(2);
    });

    it('rejects with PermanentError naming the event whose time is not a date, and writes nothing', async () => {
      const bad = { ...event(2, 'grant.created', '2024-03-01T10:00:00Z'), time: 'yesterday' };
      await expect(destination().send([event(1, 'grant.created', '2024-03-01T10:00:00Z'), bad])).rejects.toThrow(
        new PermanentError(`event evt_${'0'.repeat(25)}2 has a time that is not a date: "yesterday"`),
      );
      expect(puts()).toEqual([]);
    });
  });

  describe('#constructor', () => {
    it('throws TypeError without bucket', () => {
      expect(() => new S3Destination({ bucket: '' })).toThrow(new TypeError('S3Destination: `bucket` is required'));
    });
    it('throws RangeError on maxAttempts 0', () => {
      expect(() => new S3Destination({ bucket: 'b', maxAttempts: 0 })).toThrow(new RangeError('S3Destination: maxAttempts must be an integer >= 1, got 0'));
    });
    it('names itself s3:<bucket>/<prefix>', () => {
      expect(new S3Destination({ bucket: 'b' }).name).toBe('s3:b/events');
      expect(new S3Destination({ bucket: 'b', prefix: 'x/y/' }).name).toBe('s3:b/x/y');
    });
  });

  describe('#close', () => {
    it('is safe to call twice; send() afterwards rejects', async () => {
      const s3 = destination();
      await s3.send([event(1, 'grant.created', '2024-03-01T10:00:00Z')]);
      await s3.close();
      await s3.close();
      await expect(s3.send([event(2, 'grant.created', '2024-03-01T10:00:00Z')])).rejects.toThrow('s3:bucket/events: send() after close()');
    });
  });

  describe('s3Objects', () => {
    it('keeps groups in order of first appearance and events in batch order', () => {
      const objects = s3Objects([event(1, 'token.issued', '2024-01-01T00:00:00Z'), event(2, 'grant.created', '2024-01-01T00:00:00Z'), event(3, 'token.issued', '2024-01-01T00:00:00Z')], {
        prefix: 'p',
        gzip: false,
      });
      expect(objects.map((object) => [object.key, object.events.map((e) => e.subject)])).toEqual([
        [`p/dt=2024-01-01/type=token.issued/evt_${'0'.repeat(25)}1-evt_${'0'.repeat(25)}3.ndjson`, ['s-1', 's-3']],
        [`p/dt=2024-01-01/type=grant.created/evt_${'0'.repeat(25)}2-evt_${'0'.repeat(25)}2.ndjson`, ['s-2']],
      ]);
    });
  });

  it('does not load the AWS SDK when the module is imported, only on the first send', async () => {
    // A fresh process: this test file has loaded the SDK already. CommonJS modules imported from ESM are in require.cache.
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const loaded = () => Object.keys(require.cache).some((path) => path.includes('@aws-sdk/client-s3'));
      const { S3Destination } = await import('./src/destinations/s3-destination.ts');
      const destination = new S3Destination({ bucket: 'b', region: 'us-east-1', endpoint: 'http://127.0.0.1:1', maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
      const before = loaded();
      const error = await destination.send([{ specversion: '1.0', id: 'evt_00000000000000000000000001', type: 'grant.created', source: '/grant', time: '2024-01-01T00:00:00Z', datacontenttype: 'application/json', data: {} }]).catch((error) => error.name);
      console.log(JSON.stringify({ before, after: loaded(), error }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd() });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ before: false, after: true, error: 'RetryableError' }); // the client was built and used, not just loaded
  });

  describe('with the Forwarder', () => {
    const harness = useForwarderHarness('s3-e2e');

    it('delivers every event exactly once into objects partitioned by date and type', async () => {
      const types: EventType[] = ['grant.created', 'grant.revoked', 'token.issued'];
      const published: NewEvent[] = Array.from({ length: 23 }, (_, i) => {
        const type = types[i % 3 === 0 ? 0 : i % 5 === 0 ? 2 : 1]!;
        return { type, subject: `e2e-${i}`, data: catalog[type].example } as NewEvent;
      });
      const ids = await publishIds(harness.server, published);
      const s3 = new S3Destination({ bucket: 'bucket', prefix: 'e2e', endpoint, forcePathStyle: true, region: 'us-east-1', credentials: CREDENTIALS });
      const forwarder = await harness.start(s3, { batchSize: 5 });
      await until(() => (forwarder.metrics()[s3.name]?.sent ?? 0) >= ids.length, `${ids.length} events acknowledged`);
      await forwarder.stop();

      const objects = await readBucket(client, 'bucket', 'e2e/');
      const stored = objects.flatMap((object) => object.events);
      expect(stored.map((e) => e.id).sort()).toEqual(ids); // ids sort in log order; exactly once
      for (const object of objects) {
        const [, dt, type] = /^e2e\/dt=(\d{4}-\d{2}-\d{2})\/type=([^/]+)\/(evt_\w{26})-(evt_\w{26})\.ndjson\.gz$/.exec(object.key) ?? [];
        expect(object.events.every((e) => e.type === type && new Date(e.time).toISOString().slice(0, 10) === dt), object.key).toBe(true);
        expect(object.key.endsWith(`/${object.events[0]!.id}-${object.events.at(-1)!.id}.ndjson.gz`)).toBe(true);
      }
      expect(new Set(objects.map((object) => object.events[0]!.type))).toEqual(new Set(types));
      expect(stored.map((e) => e.subject).sort()).toEqual(published.map((e) => e.subject).sort());
    });
  });
});
