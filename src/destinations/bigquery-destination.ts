/**
 * Rows in a BigQuery table by streaming insert (the legacy `tabledata.insertAll`,
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll), with the official
 * `@google-cloud/bigquery` client.
 */
import type { BigQuery, BigQueryOptions } from '@google-cloud/bigquery';
import type { SpecstreamEvent } from '../generated/events.js';
import { batchingOf, isRetryableStatus, PermanentError, RetryableError, type BatchingOptions, type Destination } from './destination.js';
import { assertPeerInstalled, importPeer } from './optional-peer.js';
import { eventData, eventTime, NATIVE_ENVELOPE_KEYS, type EnvelopeKeys } from './wire-event.js';

/** Options of {@link BigQueryDestination}. Everything but `bigquery` and `authClient` is plain data (a config file can hold it). */
export interface BigQueryDestinationOptions extends BatchingOptions {
  /** The project of the table. Defaults to the credentials' project (`GOOGLE_CLOUD_PROJECT`, the key file, the metadata server). */
  projectId?: string;
  /** The dataset of the table. */
  dataset: string;
  /** The table; it must exist with the columns of {@link bigQueryTableSchema}. */
  table: string;
  /** A service account key file. Defaults to Application Default Credentials. */
  keyFilename?: string;
  /** A service account key as an object (`client_email`, `private_key`, …). Defaults to Application Default Credentials. */
  credentials?: BigQueryOptions['credentials'];
  /** The API's base URL, for an emulator or a test server. Defaults to `https://bigquery.googleapis.com`. */
  apiEndpoint?: string;
  /**
   * Insert the valid rows of a batch that has invalid ones. Defaults to false: BigQuery then inserts
   * none of them, and the forwarder's re-sends of the valid ones insert them exactly once. With true,
   * those re-sends count on BigQuery's best-effort `insertId` de-duplication.
   */
  skipInvalidRows?: boolean;
  /** Ignore fields the table does not have instead of rejecting the row. Defaults to false. */
  ignoreUnknownValues?: boolean;
  /** The client's own retries of a request answered 408, 429, 5xx or a rate-limit reason, with backoff from about 1 s. Defaults to 3; 0 leaves every retry to the forwarder. */
  maxRetries?: number;
  /** One `send` (the insert with the client's retries) taking longer than this fails as retryable; the request is abandoned, not aborted. Defaults to 30 000 ms. */
  timeoutMs?: number;
  /** Defaults to `bigquery:<projectId>.<dataset>.<table>` (without the project when not given). */
  name?: string;
  /** A google-auth-library `AuthClient` or `GoogleAuth` to authorize with, instead of `keyFilename`/`credentials`. */
  authClient?: BigQueryOptions['authClient'];
  /** A client to use instead of one built from the options above (which are then ignored but `dataset`, `table`, `skipInvalidRows`, `ignoreUnknownValues`). */
  bigquery?: BigQuery;
}

/** One column of {@link bigQueryTableSchema}, as the BigQuery API's `TableFieldSchema`. */
export interface BigQueryField {
  name: string;
  type: 'STRING' | 'TIMESTAMP' | 'JSON';
  mode: 'REQUIRED' | 'NULLABLE';
  description: string;
}

/**
 * The table schema the rows of {@link bigQueryRow} fit: every envelope field, `data` as `JSON`
 * (or `STRING` with `{ data: 'STRING' }`; the row carries it as JSON text either way). Use it with
 * `dataset.createTable(name, { schema, timePartitioning: { type: 'DAY', field: 'time' }, clustering: { fields: ['type'] } })`.
 */
export function bigQueryTableSchema(options: { data?: 'JSON' | 'STRING' } = {}): { fields: BigQueryField[] } {
  return {
    fields: [
      { name: 'id', type: 'STRING', mode: 'REQUIRED', description: 'Event id: evt_ and a ULID; increases in log order. The insertId of the row.' },
      { name: 'type', type: 'STRING', mode: 'REQUIRED', description: 'Catalog event type, e.g. grant.created.' },
      { name: 'time', type: 'TIMESTAMP', mode: 'REQUIRED', description: 'When the event happened (the envelope time).' },
      { name: 'source', type: 'STRING', mode: 'REQUIRED', description: 'CloudEvents source.' },
      { name: 'subject', type: 'STRING', mode: 'NULLABLE', description: 'CloudEvents subject; NULL when the event has none.' },
      { name: 'data', type: options.data ?? 'JSON', mode: 'REQUIRED', description: 'The event payload.' },
      { name: 'specversion', type: 'STRING', mode: 'REQUIRED', description: 'CloudEvents spec version (1.0).' },
      { name: 'datacontenttype', type: 'STRING', mode: 'REQUIRED', description: 'Media type of data (application/json).' },
    ],
  };
}

/** The row of an event in {@link bigQueryTableSchema}: envelope fields as they are, `subject` null when absent, `data` as JSON text. */
export interface BigQueryRow {
  id: string;
  type: string;
  time: string;
  source: string;
  subject: string | null;
  data: string;
  specversion: string;
  datacontenttype: string;
}

/**
 * Maps an event to its row. `time` stays the envelope's RFC 3339 string, which BigQuery parses
 * (offset included) into a TIMESTAMP; `data` is JSON text, as insertAll takes a `JSON` column.
 * Time and data are read through `keys` (a bundle's envelope: `createdAt` for
 * examples/grant-events); CloudEvents attributes the envelope does not carry are `''`
 * (`source`, `specversion`), `application/json` (`datacontenttype`) or null (`subject`).
 */
export function bigQueryRow(event: SpecstreamEvent, keys: EnvelopeKeys = NATIVE_ENVELOPE_KEYS): BigQueryRow {
  const attributes = event as Partial<SpecstreamEvent>;
  return {
    id: event.id,
    type: event.type,
    time: eventTime(event, keys) ?? '',
    source: attributes.source ?? '',
    subject: attributes.subject ?? null,
    data: JSON.stringify(eventData(event, keys) ?? {}),
    specversion: attributes.specversion ?? '',
    datacontenttype: attributes.datacontenttype ?? 'application/json',
  };
}

/** Row error reasons that retrying cannot cure. The others (`stopped`: not inserted because of another row; `backendError`, `timeout`, …) are retryable. */
const PERMANENT_ROW_REASONS = new Set(['invalid']);

/** Error reasons that make a 4xx retryable (BigQuery answers 403 for quota and rate limits). */
const RETRYABLE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded', 'backendError', 'internalError', 'timeout']);

interface InsertError {
  index: number;
  errors: { reason?: string; location?: string; message?: string }[];
}

/**
 * Classifies a client error. A `PartialFailureError` (insertAll answered 200 with `insertErrors`)
 * is a {@link PermanentError} naming the invalid rows' events when any row is `invalid`, else
 * retryable. An HTTP error is retryable for 401 (the token is refreshed), 408, 429, 5xx and the
 * rate-limit and quota reasons, permanent for other statuses (400, 403, 404). No status (network,
 * timeout, credentials that could not be loaded) is retryable.
 */
function classify(error: unknown, name: string, events: readonly SpecstreamEvent[]): RetryableError | PermanentError {
  const failure = error as { name?: string; code?: unknown; message?: string; errors?: { reason?: string; message?: string }[]; response?: { insertErrors?: InsertError[] } };
  const insertErrors = failure.name === 'PartialFailureError' ? failure.response?.insertErrors : undefined;
  if (insertErrors) {
    const describe = (rows: InsertError[]) =>
      rows
        .slice(0, 5)
        .map((row) => {
          const detail = row.errors.find((e) => PERMANENT_ROW_REASONS.has(e.reason ?? '')) ?? row.errors[0];
          return `${events[row.index]?.id ?? `row ${row.index}`} ${detail?.reason ?? 'error'}${detail?.location ? ` at ${detail.location}` : ''}: ${detail?.message ?? ''}`;
        })
        .join('; ') + (rows.length > 5 ? '; …' : '');
    const invalid = insertErrors.filter((row) => row.errors.some((e) => PERMANENT_ROW_REASONS.has(e.reason ?? '')));
    if (invalid.length > 0) return new PermanentError(`${name}: ${invalid.length} of ${events.length} row(s) invalid: ${describe(invalid)}`, { cause: error });
    return new RetryableError(`${name}: ${insertErrors.length} of ${events.length} row(s) not inserted: ${describe(insertErrors)}`, { cause: error });
  }
  const status = typeof failure.code === 'number' ? failure.code : undefined;
  const details = Array.isArray(failure.errors) ? failure.errors : [];
  const reasons = details.map((e) => e?.reason ?? '');
  // The client joins several messages into a multi-line text; the API's per-error messages read better on one line.
  const texts = [...new Set(details.map((e) => e?.message).filter((text): text is string => typeof text === 'string' && text !== ''))];
  const text = texts.length > 0 ? texts.join('; ') : (failure.message ?? String(error));
  const message = `${name}: ${status === undefined ? '' : `${status} `}${reasons.length > 0 ? `${reasons.join(', ')}: ` : ''}${text}`;
  if (status === undefined || status === 401 || isRetryableStatus(status) || reasons.some((reason) => RETRYABLE_REASONS.has(reason))) {
    return new RetryableError(message, { cause: error });
  }
  return new PermanentError(message, { cause: error, status });
}

/**
 * Each `send` is one insertAll of the batch, a row per event ({@link bigQueryRow}) with `insertId`
 * = event id, so BigQuery drops a re-sent row on a best-effort basis (Google documents about a
 * minute; de-duplicate by `id` in queries where it matters). `flush` has nothing to do: inserted
 * rows are durable once insertAll answers.
 *
 * Rows BigQuery reports `invalid` make the batch fail with a {@link PermanentError}; the forwarder
 * then sends each half again until the invalid events are alone and dead-letters just those. With
 * `skipInvalidRows` false (the default) BigQuery inserted nothing, so the valid rows are inserted
 * once, by the re-sends; with true they were inserted already and the re-sends count on `insertId`.
 * Rows not inserted for another reason (`stopped`, `backendError`) fail the batch as retryable.
 *
 * The client library is imported on the first `send`, so importing this module does not load it.
 */
export class BigQueryDestination implements Destination {
  readonly name: string;
  /** From the options (`batchSize`, `flushIntervalMs`): how the forwarder batches for it unless `addDestination` says otherwise. */
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;
  readonly #options: BigQueryDestinationOptions;
  #client: Promise<BigQuery> | undefined;
  #closed = false;
  #keys: EnvelopeKeys = NATIVE_ENVELOPE_KEYS;

  /**
   * @throws TypeError without `dataset` or `table`; RangeError on `maxRetries` < 0 or `timeoutMs` <= 0;
   * MissingPeerError without `@google-cloud/bigquery` installed (unless `bigquery` is given)
   */
  constructor(options: BigQueryDestinationOptions) {
    if (typeof options.dataset !== 'string' || options.dataset === '') throw new TypeError('BigQueryDestination: `dataset` is required');
    if (typeof options.table !== 'string' || options.table === '') throw new TypeError('BigQueryDestination: `table` is required');
    if (options.maxRetries !== undefined && !(Number.isInteger(options.maxRetries) && options.maxRetries >= 0)) {
      throw new RangeError(`BigQueryDestination: maxRetries must be an integer >= 0, got ${options.maxRetries}`);
    }
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw new RangeError(`BigQueryDestination: timeoutMs must be > 0, got ${options.timeoutMs}`);
    if (!options.bigquery) assertPeerInstalled('BigQueryDestination', '@google-cloud/bigquery');
    this.#options = options;
    const project = options.projectId ?? options.bigquery?.projectId;
    this.name = options.name ?? `bigquery:${project && project !== '{{projectId}}' ? `${project}.` : ''}${options.dataset}.${options.table}`;
    ({ batchSize: this.batchSize, flushIntervalMs: this.flushIntervalMs } = batchingOf(options, 'BigQueryDestination'));
  }

  /** Reads each row's time and data through the envelope's keys. */
  useEnvelope(keys: EnvelopeKeys): void {
    this.#keys = keys;
  }

  /** The client, built on first use from the lazily imported library. */
  #bigquery(): Promise<BigQuery> {
    this.#client ??= (async () => {
      if (this.#options.bigquery) return this.#options.bigquery;
      const { BigQuery } = await importPeer('BigQueryDestination', '@google-cloud/bigquery', () => import('@google-cloud/bigquery'));
      const { projectId, keyFilename, credentials, apiEndpoint, authClient, maxRetries } = this.#options;
      // `maxRetries: 0` would be read as "unset" (3) by the client: autoRetry false is how to turn retries off.
      const retryOptions = maxRetries === 0 ? { autoRetry: false } : { maxRetries: maxRetries ?? 3 };
      const options: BigQueryOptions = { retryOptions };
      if (projectId !== undefined) options.projectId = projectId;
      if (keyFilename !== undefined) options.keyFilename = keyFilename;
      if (credentials !== undefined) options.credentials = credentials;
      if (apiEndpoint !== undefined) options.apiEndpoint = apiEndpoint;
      if (authClient !== undefined) options.authClient = authClient;
      return new BigQuery(options);
    })();
    return this.#client;
  }

  async send(events: readonly SpecstreamEvent[]): Promise<void> {
    if (this.#closed) throw new Error(`${this.name}: send() after close()`);
    if (events.length === 0) return;
    const bigquery = await this.#bigquery();
    const table = bigquery.dataset(this.#options.dataset).table(this.#options.table);
    const rows = events.map((event) => ({ insertId: event.id, json: bigQueryRow(event, this.#keys) }));
    const insert = table.insert(rows, {
      raw: true,
      // The client would re-send failed rows (invalid ones included) itself; the forwarder decides instead.
      partialRetries: 0,
      skipInvalidRows: this.#options.skipInvalidRows ?? false,
      ignoreUnknownValues: this.#options.ignoreUnknownValues ?? false,
    });
    // The client's `timeout` option is lost on its way to node-fetch 3 (teeny-request 10), and it
    // offers no abort: a request past the deadline is abandoned, and should it still succeed, its rows
    // are repeats that the retry's identical insertIds make BigQuery drop.
    insert.catch(() => {});
    const timeoutMs = this.#options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      if ((await Promise.race([insert, deadline])) === 'timeout') throw new RetryableError(`${this.name}: no answer within ${timeoutMs} ms`);
    } catch (error) {
      if (error instanceof RetryableError) throw error;
      throw classify(error, this.name, events);
    } finally {
      clearTimeout(timer);
    }
  }

  async flush(): Promise<void> {}

  /** Safe to call twice. The client holds no connection to close. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
