/**
 * Datadog Logs, through the HTTP intake v2 (`POST https://http-intake.logs.<site>/api/v2/logs`,
 * https://docs.datadoghq.com/api/latest/logs/#send-logs).
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { SpecstreamEvent } from '../generated/events.js';
import { AcceptedIds, describeFetchError, encodeItem, positiveInteger, splitIntoRequests, type EncodedItem } from './batching.js';
import { batchingOf, errorForStatus, PermanentError, RetryableError, type BatchingOptions, type Destination } from './destination.js';
import { eventTime, NATIVE_ENVELOPE_KEYS, type EnvelopeKeys } from './wire-event.js';

const gzip = promisify(gzipCallback);

/** Datadog's documented limits per request of the logs intake (uncompressed). */
export const DATADOG_LIMITS = {
  /** Maximum content size per payload: 5 MB. */
  maxRequestBytes: 5_000_000,
  /** Maximum size of a single log: 1 MB. */
  maxEntryBytes: 1_000_000,
  /** Maximum array size: 1 000 entries. */
  maxEntriesPerRequest: 1_000,
} as const;

/** Options of {@link DatadogDestination}. All are JSON values except `fetch`. */
export interface DatadogDestinationOptions extends BatchingOptions {
  /** A Datadog API key, sent as `DD-API-KEY`. */
  apiKey: string;
  /**
   * The Datadog site: `datadoghq.com` (US1, the default), `us3.datadoghq.com`, `us5.datadoghq.com`,
   * `datadoghq.eu`, `ap1.datadoghq.com`, `ddog-gov.com`… The intake is `https://http-intake.logs.<site>/api/v2/logs`.
   */
  site?: string;
  /** The full intake URL, replacing the one derived from `site` (a proxy, a test receiver). Defaults to none. */
  url?: string;
  /** Defaults to `datadog`. */
  name?: string;
  /** The `ddsource` of every log (the integration name Datadog shows and pipelines match on). Defaults to `specstream`. */
  ddsource?: string;
  /** The `service` of every log. Defaults to none. */
  service?: string;
  /** The `hostname` of every log. Defaults to none (Datadog then shows no host). */
  hostname?: string;
  /** Tags (`key:value`) added to every log's `ddtags`, before `type:<event type>`. Defaults to none. */
  tags?: string[];
  /**
   * Whether the log's date is the event's time (`time`, or the envelope's time key such as `createdAt`, sent as the `date` attribute, which Datadog uses as
   * the official timestamp) rather than the time Datadog received it. Defaults to true. Datadog
   * accepts dates up to 18 hours in the past: set false to backfill older events.
   */
  useEventTime?: boolean;
  /** Whether requests are gzipped (`Content-Encoding: gzip`), as Datadog recommends. Defaults to true. */
  gzip?: boolean;
  /** Most uncompressed bytes per request (the JSON array). Defaults to Datadog's limit, 5 000 000. */
  maxRequestBytes?: number;
  /**
   * Most bytes of one log entry (its JSON). An event whose entry is larger is rejected as permanent
   * (dead-lettered whole) rather than truncated by Datadog. Defaults to Datadog's limit, 1 000 000.
   */
  maxEntryBytes?: number;
  /** Most log entries per request. Defaults to Datadog's limit, 1 000. */
  maxEntriesPerRequest?: number;
  /** A request taking longer than this counts as a retryable failure. Defaults to 10 000 ms. */
  timeoutMs?: number;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
}

/** What {@link datadogLogEntry} needs of the options. */
export type DatadogLogOptions = Pick<DatadogDestinationOptions, 'ddsource' | 'service' | 'hostname' | 'tags' | 'useEventTime'>;

/** One log entry as the intake takes it: Datadog's reserved attributes, then the event under `specstream`. */
export interface DatadogLogEntry {
  ddsource: string;
  /** Comma-separated `key:value` tags. */
  ddtags: string;
  hostname?: string;
  service?: string;
  /** A one-line summary: `<type> <subject> (<id>)`, or `<type> (<id>)` without a subject. */
  message: string;
  /** The event's time (ISO 8601; the envelope's time key), which Datadog takes as the log's timestamp. */
  date?: string;
  /** The whole event envelope, searchable as `@specstream.type`, `@specstream.data.<field>`… */
  specstream: SpecstreamEvent;
}

/**
 * Maps an event to a Datadog log entry. The envelope goes whole under `specstream` rather than at the
 * top level, where its `source` would collide with Datadog's reserved `source` attribute; the top
 * level holds only Datadog's own attributes (`ddsource`, `ddtags`, `hostname`, `service`, `message`,
 * `date`).
 */
export function datadogLogEntry(event: SpecstreamEvent, options: DatadogLogOptions = {}, keys: EnvelopeKeys = NATIVE_ENVELOPE_KEYS): DatadogLogEntry {
  const date = (options.useEventTime ?? true) ? eventTime(event, keys) : undefined;
  // Key order is fixed (Datadog's attributes first), and unset options are left out rather than null.
  return {
    ddsource: options.ddsource ?? 'specstream',
    ddtags: [...(options.tags ?? []), `type:${event.type}`].join(','),
    ...(options.hostname !== undefined && { hostname: options.hostname }),
    ...(options.service !== undefined && { service: options.service }),
    message: event.subject === undefined ? `${event.type} (${event.id})` : `${event.type} ${event.subject} (${event.id})`,
    ...(date !== undefined && { date }),
    specstream: event,
  };
}

/**
 * Sends each batch as one or more `POST`s of a JSON array of log entries (see
 * {@link datadogLogEntry}), split to stay within Datadog's limits per request: 5 MB uncompressed,
 * 1 000 entries. A 2xx (Datadog answers 202) acknowledges; 408, 429 and 5xx (with `Retry-After`),
 * network errors and timeouts are retryable; 400, 401, 403 and 413 are permanent.
 *
 * An event whose entry exceeds 1 MB is not sent: Datadog would truncate it. A batch holding one is
 * refused as a whole with a {@link PermanentError} before any request, so the forwarder bisects it
 * and dead-letters that event alone while the rest is delivered. When a later request of a batch
 * fails, the requests Datadog already accepted are not posted again when the batch is retried.
 * `flush` has nothing to do: a 202 is Datadog's acknowledgement.
 */
export class DatadogDestination implements Destination {
  readonly name: string;
  /** The intake URL requests go to. */
  readonly url: string;
  readonly #options: DatadogDestinationOptions;
  readonly #limits: { maxRequestBytes: number; maxEntryBytes: number; maxEntriesPerRequest: number };
  readonly #accepted = new AcceptedIds();
  #closed = false;
  #keys: EnvelopeKeys = NATIVE_ENVELOPE_KEYS;
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;

  /** @throws TypeError without `apiKey`, or with a bad `site`, `url` or tag; RangeError on a limit out of range */
  constructor(options: DatadogDestinationOptions) {
    if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') throw new TypeError('DatadogDestination: `apiKey` is required');
    const site = options.site ?? 'datadoghq.com';
    if (typeof site !== 'string' || !/^[a-z0-9.-]+$/i.test(site)) throw new TypeError(`DatadogDestination: \`site\` must be a host name such as "datadoghq.eu", got ${JSON.stringify(site)}`);
    const url = options.url ?? `https://http-intake.logs.${site}/api/v2/logs`;
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new TypeError(`DatadogDestination: \`url\` must be an http(s) URL, got ${JSON.stringify(url)}`);
    for (const key of ['name', 'ddsource', 'service', 'hostname'] as const) {
      const value = options[key];
      if (value !== undefined && (typeof value !== 'string' || value === '')) throw new TypeError(`DatadogDestination: \`${key}\` must be a non-empty string, got ${JSON.stringify(value)}`);
    }
    if (options.tags !== undefined && !Array.isArray(options.tags)) throw new TypeError('DatadogDestination: `tags` must be an array of strings');
    for (const tag of options.tags ?? []) {
      if (typeof tag !== 'string' || tag === '' || tag.includes(',')) throw new TypeError(`DatadogDestination: each tag must be a non-empty string without commas, got ${JSON.stringify(tag)}`);
    }
    this.#limits = {
      maxRequestBytes: positiveInteger(options.maxRequestBytes ?? DATADOG_LIMITS.maxRequestBytes, 'DatadogDestination: maxRequestBytes'),
      maxEntryBytes: positiveInteger(options.maxEntryBytes ?? DATADOG_LIMITS.maxEntryBytes, 'DatadogDestination: maxEntryBytes'),
      maxEntriesPerRequest: positiveInteger(options.maxEntriesPerRequest ?? DATADOG_LIMITS.maxEntriesPerRequest, 'DatadogDestination: maxEntriesPerRequest'),
    };
    if (this.#limits.maxEntryBytes + 2 > this.#limits.maxRequestBytes) {
      throw new RangeError(`DatadogDestination: maxEntryBytes (${this.#limits.maxEntryBytes}) must leave room for the array brackets within maxRequestBytes (${this.#limits.maxRequestBytes})`);
    }
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw new RangeError(`DatadogDestination: timeoutMs must be > 0, got ${options.timeoutMs}`);
    this.#options = options;
    this.url = url;
    this.name = options.name ?? 'datadog';
    ({ batchSize: this.batchSize, flushIntervalMs: this.flushIntervalMs } = batchingOf(options, 'DatadogDestination'));
  }

  /** Reads each event's time (the log's `date`) from the envelope's time key. */
  useEnvelope(keys: EnvelopeKeys): void {
    this.#keys = keys;
  }

  /**
   * Posts the batch's entries in order, in as few requests as the limits allow.
   * @throws PermanentError when an entry exceeds `maxEntryBytes` (before sending anything) or Datadog refuses a request for good
   * @throws RetryableError on a network error, a timeout, 408, 429 or 5xx
   */
  async send(events: readonly SpecstreamEvent[]): Promise<void> {
    if (this.#closed) throw new Error(`${this.name}: send() after close()`);
    const items = this.#accepted.pending(events).map((event) => encodeItem(event, datadogLogEntry(event, this.#options, this.#keys)));
    const oversize = items.find((item) => item.bytes > this.#limits.maxEntryBytes);
    if (oversize) {
      throw new PermanentError(`${this.name}: event ${oversize.event.id} is ${oversize.bytes} bytes as a log entry, over the limit of ${this.#limits.maxEntryBytes}`);
    }
    const requests = splitIntoRequests(items, {
      maxItems: this.#limits.maxEntriesPerRequest,
      maxBytes: this.#limits.maxRequestBytes,
      framingBytes: (n) => n + 1, // `[`, `]` and n - 1 commas
    });
    for (const request of requests) {
      await this.#post(request);
      this.#accepted.add(request.map((item) => item.event));
    }
  }

  async #post(items: EncodedItem[]): Promise<void> {
    const json = Buffer.from(`[${items.map((item) => item.text).join(',')}]`, 'utf8');
    const compress = this.#options.gzip ?? true;
    const body = compress ? await gzip(json) : json;
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'DD-API-KEY': this.#options.apiKey };
    if (compress) headers['Content-Encoding'] = 'gzip';
    const fetchImpl = this.#options.fetch ?? globalThis.fetch.bind(globalThis);
    let response: Response;
    try {
      response = await fetchImpl(this.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000) });
    } catch (error) {
      throw new RetryableError(`${this.name}: ${describeFetchError(error)}`, { cause: error });
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return;
    const error = errorForStatus(response.status, response.headers, this.name);
    const detail = datadogErrorDetail(text);
    if (detail === undefined) throw error;
    throw error instanceof RetryableError
      ? new RetryableError(`${error.message}: ${detail}`, { retryAfterMs: error.retryAfterMs })
      : new PermanentError(`${error.message}: ${detail}`, { status: error.status });
  }

  /** Nothing to do: Datadog's 202 is its acknowledgement. */
  async flush(): Promise<void> {}

  /** Safe to call twice; `send` afterwards throws. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** The `errors` of a Datadog error body (`{"errors": ["…"]}` or `{"errors": [{"title", "detail"}]}`), joined; undefined when there are none. */
function datadogErrorDetail(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { errors?: unknown };
    if (!Array.isArray(body.errors)) return undefined;
    const messages = body.errors
      .map((error: unknown) => {
        if (typeof error === 'string') return error;
        const { title, detail } = (error ?? {}) as { title?: unknown; detail?: unknown };
        return [title, detail].filter((part) => typeof part === 'string' && part !== '').join(': ');
      })
      .filter((message) => message !== '');
    return messages.length > 0 ? messages.join('; ').slice(0, 500) : undefined;
  } catch {
    return undefined;
  }
}
