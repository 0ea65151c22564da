/**
 * NDJSON objects in Amazon S3 (or an S3-compatible store: MinIO, Ceph, R2, s3rver), partitioned
 * by date and type, written with the AWS SDK v3 (`PutObject`).
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { SpecstreamEvent } from '../generated/events.js';
import { batchingOf, isRetryableStatus, PermanentError, RetryableError, type BatchingOptions, type Destination } from './destination.js';
import { assertPeerInstalled, importPeer } from './optional-peer.js';
import { eventTime, NATIVE_ENVELOPE_KEYS, type EnvelopeKeys } from './wire-event.js';

const gzip = promisify(gzipCallback);

/** Options of {@link S3Destination}. Everything but `client` is plain data (a config file can hold it). */
export interface S3DestinationOptions extends BatchingOptions {
  /** The bucket; it must exist. */
  bucket: string;
  /** Key prefix, without leading or trailing `/`. Defaults to `events`; `''` puts `dt=…` at the top. */
  prefix?: string;
  /** Defaults to the SDK's: `AWS_REGION`, then the shared config file. */
  region?: string;
  /** Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:9000`. Defaults to AWS's for `region`. */
  endpoint?: string;
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`), which most S3-compatible servers need. Defaults to false (virtual-hosted style). */
  forcePathStyle?: boolean;
  /** Static credentials. Defaults to the SDK's default provider chain (environment, shared files, SSO, container and instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Gzip each object (`.ndjson.gz`, `Content-Encoding: gzip`). Defaults to true. */
  gzip?: boolean;
  /** Attempts of one PUT inside the SDK (its own retries with backoff) before `send` fails. Defaults to 3, the SDK's default; 1 leaves every retry to the forwarder. */
  maxAttempts?: number;
  /**
   * When the SDK adds a checksum to a PUT: `WHEN_SUPPORTED` (a CRC32 in an `x-amz-checksum-crc32`
   * header on every PUT) or `WHEN_REQUIRED` (only where S3 requires one, i.e. not on PutObject).
   * Defaults to the SDK's setting (`AWS_REQUEST_CHECKSUM_CALCULATION`, else `WHEN_SUPPORTED`).
   * S3-compatible servers that reject or mishandle the checksum headers need `WHEN_REQUIRED`.
   */
  requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /** One `send` (all its PUTs, with the SDK's retries) taking longer than this fails as retryable. Defaults to 30 000 ms. */
  timeoutMs?: number;
  /** Defaults to `s3:<bucket>/<prefix>`. */
  name?: string;
  /** A client to use instead of one built from the options above (which are then ignored but `bucket`, `prefix`, `gzip`, `timeoutMs`); `close()` leaves it open. */
  client?: S3Client;
}

/** One object of a batch: its key and its events, oldest first. */
export interface S3Object {
  key: string;
  events: SpecstreamEvent[];
}

/**
 * Splits a batch into its objects, one per (UTC date of the event's time, `type`), in order of first
 * appearance; each keeps its events in batch order. The key is
 * `<prefix>/dt=YYYY-MM-DD/type=<type>/<first id>-<last id>.ndjson[.gz]`. The time is the envelope
 * member `options.envelope.time` names (`time` by default; `createdAt` for examples/grant-events).
 * @throws PermanentError on an event whose time is not a date
 */
export function s3Objects(events: readonly SpecstreamEvent[], options: { prefix?: string; gzip?: boolean; envelope?: EnvelopeKeys } = {}): S3Object[] {
  const keys = options.envelope ?? NATIVE_ENVELOPE_KEYS;
  const prefix = (options.prefix ?? 'events').replace(/^\/+|\/+$/g, '');
  const extension = options.gzip === false ? '.ndjson' : '.ndjson.gz';
  const groups = new Map<string, SpecstreamEvent[]>();
  for (const event of events) {
    const time = new Date(eventTime(event, keys) ?? NaN);
    if (Number.isNaN(time.getTime())) {
      const raw: unknown = keys.time === undefined ? undefined : (event as unknown as Record<string, unknown>)[keys.time];
      throw new PermanentError(`event ${event.id} has a time${keys.time === 'time' ? '' : ` (${keys.time ?? 'none in this envelope'})`} that is not a date: ${JSON.stringify(raw)}`);
    }
    const partition = `dt=${time.toISOString().slice(0, 10)}/type=${encodeURIComponent(event.type)}`;
    const group = groups.get(partition);
    if (group) group.push(event);
    else groups.set(partition, [event]);
  }
  return [...groups].map(([partition, group]) => ({
    key: `${prefix === '' ? '' : `${prefix}/`}${partition}/${group[0]!.id}-${group[group.length - 1]!.id}${extension}`,
    events: group,
  }));
}

/** S3 error codes that retrying cannot cure, whatever the status. */
const PERMANENT_CODES = new Set([
  'AccessDenied',
  'AccountProblem',
  'AllAccessDisabled',
  'InvalidAccessKeyId',
  'InvalidBucketName',
  'InvalidStorageClass',
  'NoSuchBucket',
  'SignatureDoesNotMatch',
]);

/** S3 error codes answered with a 4xx that a retry can cure: the request timed out, the clock or the credentials were stale. */
const RETRYABLE_CODES = new Set(['RequestTimeout', 'RequestTimeTooSkewed', 'ExpiredToken', 'TokenRefreshRequired', 'SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests']);

/**
 * Classifies an SDK error: a {@link PermanentError} for the codes above and for a 3xx or 4xx other
 * than 408 and 429; a {@link RetryableError} for the retryable codes, throttling, 5xx, timeouts and
 * network or credential provider failures (no HTTP status).
 */
function classify(error: unknown, name: string): RetryableError | PermanentError {
  const sdk = error as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const code = sdk.Code ?? sdk.name ?? 'Error';
  const status = sdk.$metadata?.httpStatusCode;
  const message = `${name}: ${code}${status === undefined ? '' : ` (${status})`}: ${sdk.message ?? String(error)}`;
  if (PERMANENT_CODES.has(code)) return new PermanentError(message, { cause: error, status });
  if (RETRYABLE_CODES.has(code) || sdk.$retryable || status === undefined || isRetryableStatus(status)) return new RetryableError(message, { cause: error });
  // Other 4xx, and a 3xx such as `PermanentRedirect` (the bucket is in another region).
  return new PermanentError(message, { cause: error, status });
}

/**
 * Each `send` writes the batch as NDJSON (one event per line, as the stream carries it), one
 * object per (date, type) group: see {@link s3Objects}. The PUTs of a batch run in parallel; the
 * batch is acknowledged when all succeeded. `flush` has nothing to do: S3 acknowledges a PUT once
 * the object is durable.
 *
 * Idempotence: a key is derived from the group's first and last id, and a group holds every event
 * of its date and type between them (a batch is a contiguous slice of the stream), so one key always
 * holds the same content and a re-sent batch overwrites its objects with identical ones. A batch
 * re-delivered after a restart, or split by the forwarder to isolate a rejected event, can have
 * other boundaries, though: its objects then get other keys and overlap objects already written.
 * Readers de-duplicate by event `id` (e.g. `QUALIFY ROW_NUMBER() OVER (PARTITION BY id) = 1`).
 *
 * Errors: `NoSuchBucket`, `AccessDenied`, `InvalidAccessKeyId`, `SignatureDoesNotMatch` and other
 * 4xx (but 408, 429 and S3's 400 `RequestTimeout`, 403 `RequestTimeTooSkewed`, 400 `ExpiredToken`)
 * are permanent; throttling, 5xx, timeouts and network errors retryable. The SDK retries a PUT
 * itself first (`maxAttempts`).
 *
 * S3-compatible servers: set `endpoint` and usually `forcePathStyle: true`. Each body is a buffer
 * of known length, so the SDK sends it whole with its CRC32 in a header, never `aws-chunked` with a
 * trailing checksum (which servers that do not decode it would store verbatim); a server that rejects
 * the `x-amz-checksum-*` headers needs `requestChecksumCalculation: 'WHEN_REQUIRED'`.
 *
 * The AWS SDK (`@aws-sdk/client-s3`, an optional peer dependency) is imported on the first `send`,
 * so importing this module does not load it; constructing one without it installed throws
 * `MissingPeerError`.
 */
export class S3Destination implements Destination {
  readonly name: string;
  /** From the options (`batchSize`, `flushIntervalMs`): how the forwarder batches for it unless `addDestination` says otherwise. */
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;
  readonly #options: S3DestinationOptions;
  #client: Promise<{ client: S3Client; PutObjectCommand: typeof import('@aws-sdk/client-s3').PutObjectCommand }> | undefined;
  #ownsClient: boolean;
  #closed = false;
  #keys: EnvelopeKeys = NATIVE_ENVELOPE_KEYS;

  /** @throws TypeError without `bucket`; RangeError on `maxAttempts` < 1 or `timeoutMs` <= 0; MissingPeerError without `@aws-sdk/client-s3` */
  constructor(options: S3DestinationOptions) {
    if (typeof options.bucket !== 'string' || options.bucket === '') throw new TypeError('S3Destination: `bucket` is required');
    if (options.maxAttempts !== undefined && !(Number.isInteger(options.maxAttempts) && options.maxAttempts >= 1)) {
      throw new RangeError(`S3Destination: maxAttempts must be an integer >= 1, got ${options.maxAttempts}`);
    }
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw new RangeError(`S3Destination: timeoutMs must be > 0, got ${options.timeoutMs}`);
    assertPeerInstalled('S3Destination', '@aws-sdk/client-s3');
    this.#options = options;
    this.#ownsClient = options.client === undefined;
    this.name = options.name ?? `s3:${options.bucket}/${(options.prefix ?? 'events').replace(/^\/+|\/+$/g, '')}`;
    ({ batchSize: this.batchSize, flushIntervalMs: this.flushIntervalMs } = batchingOf(options, 'S3Destination'));
  }

  /** Partitions by the time the envelope's time key names. */
  useEnvelope(keys: EnvelopeKeys): void {
    this.#keys = keys;
  }

  /** The client, built on first use from the lazily imported SDK. */
  #sdk() {
    this.#client ??= importPeer('S3Destination', '@aws-sdk/client-s3', () => import('@aws-sdk/client-s3')).then((sdk) => {
      const options = this.#options;
      if (options.client) return { client: options.client, PutObjectCommand: sdk.PutObjectCommand };
      const config: S3ClientConfig = {
        region: options.region,
        endpoint: options.endpoint,
        forcePathStyle: options.forcePathStyle,
        credentials: options.credentials,
        maxAttempts: options.maxAttempts,
        requestChecksumCalculation: options.requestChecksumCalculation,
      };
      // An undefined key would override the SDK's own default chain (environment, config file).
      for (const key of Object.keys(config) as (keyof S3ClientConfig)[]) if (config[key] === undefined) delete config[key];
      return { client: new sdk.S3Client(config), PutObjectCommand: sdk.PutObjectCommand };
    });
    return this.#client;
  }

  async send(events: readonly SpecstreamEvent[]): Promise<void> {
    if (this.#closed) throw new Error(`${this.name}: send() after close()`);
    const compress = this.#options.gzip !== false;
    const objects = s3Objects(events, { prefix: this.#options.prefix, gzip: compress, envelope: this.#keys });
    const { client, PutObjectCommand } = await this.#sdk();
    const signal = AbortSignal.timeout(this.#options.timeoutMs ?? 30_000);
    const results = await Promise.allSettled(
      objects.map(async (object) => {
        const text = object.events.map((event) => JSON.stringify(event) + '\n').join('');
        const body = compress ? await gzip(text) : Buffer.from(text);
        await client.send(
          new PutObjectCommand({
            Bucket: this.#options.bucket,
            Key: object.key,
            Body: body,
            ContentType: 'application/x-ndjson',
            ContentEncoding: compress ? 'gzip' : undefined,
            Metadata: { 'first-id': object.events[0]!.id, 'last-id': object.events[object.events.length - 1]!.id, events: String(object.events.length) },
          }),
          { abortSignal: signal },
        );
      }),
    );
    const errors = results.flatMap((result) => (result.status === 'rejected' ? [classify(result.reason, this.name)] : []));
    if (errors.length === 0) return;
    // Objects already written are overwritten with the same bytes when the batch is sent again.
    throw errors.find((error) => error instanceof RetryableError) ?? errors[0]!;
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient && this.#client) (await this.#client.catch(() => undefined))?.client.destroy();
  }
}
