/**
 * Splunk HTTP Event Collector (HEC): `POST <url>/services/collector/event` with the JSON event
 * protocol, and optionally indexer acknowledgement (`/services/collector/ack`).
 * https://help.splunk.com/splunk-enterprise/get-data-in/collect-http-event-data/format-events-for-http-event-collector
 */
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { SpecstreamEvent } from '../generated/events.js';
import { AcceptedIds, describeFetchError, encodeItem, positiveInteger, splitIntoRequests, type EncodedItem } from './batching.js';
import { batchingOf, errorForStatus, PermanentError, RetryableError, type BatchingOptions, type Destination } from './destination.js';
import { eventTime, NATIVE_ENVELOPE_KEYS, type EnvelopeKeys } from './wire-event.js';

const gzip = promisify(gzipCallback);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Options of {@link SplunkHecDestination}. All are JSON values except `fetch`. */
export interface SplunkHecDestinationOptions extends BatchingOptions {
  /**
   * The HEC base URL, e.g. `https://splunk.example.com:8088` (Splunk Cloud:
   * `https://http-inputs-<stack>.splunkcloud.com`). A trailing `/services/collector` or
   * `/services/collector/event` is accepted and dropped.
   */
  url: string;
  /** The HEC token, sent as `Authorization: Splunk <token>`. */
  token: string;
  /** Defaults to `splunk:<url's host>`. */
  name?: string;
  /** The index of every event. Defaults to none: the token's default index. */
  index?: string;
  /**
   * The sourcetype of every event. Defaults to `specstream:event`, a sourcetype of its own so that
   * `props.conf` can target it; Splunk extracts the event's JSON fields at search time.
   */
  sourcetype?: string;
  /** The source of every event. Defaults to none: the token's default (`http:<token name>`). */
  source?: string;
  /** The host of every event. Defaults to none: Splunk's default for the token. */
  host?: string;
  /**
   * A channel GUID, sent as `X-Splunk-Request-Channel` (required by tokens with indexer
   * acknowledgement). Defaults to none, or to a random GUID when `ack` is true.
   */
  channel?: string;
  /**
   * Use indexer acknowledgement: `flush` resolves only once Splunk reports every request of the batch
   * indexed (`/services/collector/ack`), so the forwarder checkpoints only indexed events. The token
   * must have indexer acknowledgement enabled; if Splunk answers without an `ackId`, its 200 is taken
   * as the acknowledgement. Defaults to false.
   */
  ack?: boolean;
  /** Time between acknowledgement queries. Defaults to 1 000 ms. */
  ackPollIntervalMs?: number;
  /**
   * How long `flush` waits for indexer acknowledgement before giving up with a retryable error (the
   * batch is then sent again). Defaults to 300 000 ms (five minutes, as Splunk suggests).
   */
  ackTimeoutMs?: number;
  /** Whether requests are gzipped (`Content-Encoding: gzip`). Defaults to false. */
  gzip?: boolean;
  /**
   * Most uncompressed bytes per request; a batch above it is split. Defaults to 1 000 000, the
   * `max_content_length` of older Splunk versions (recent ones allow 800 MB). An event larger than
   * this on its own is sent alone, and Splunk decides (413 is permanent: dead-lettered).
   */
  maxRequestBytes?: number;
  /** A request taking longer than this counts as a retryable failure. Defaults to 10 000 ms. */
  timeoutMs?: number;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
}

/** What {@link splunkHecEvent} needs of the options. */
export type SplunkHecEventOptions = Pick<SplunkHecDestinationOptions, 'host' | 'source' | 'sourcetype' | 'index'>;

/** One event in Splunk's HEC JSON event protocol. */
export interface SplunkHecEvent {
  /** The event's time (the envelope's time key) in seconds since the epoch, milliseconds as the fraction (`1700000000.123`). */
  time?: number;
  host?: string;
  source?: string;
  sourcetype: string;
  index?: string;
  /** The whole envelope, as the stream sent it. */
  event: SpecstreamEvent;
}

/**
 * Maps an event to a HEC event: its envelope as `event`, its time (`keys.time`: `time` natively,
 * `createdAt` for examples/grant-events) as `time`, the metadata from the options.
 */
export function splunkHecEvent(event: SpecstreamEvent, options: SplunkHecEventOptions = {}, keys: EnvelopeKeys = NATIVE_ENVELOPE_KEYS): SplunkHecEvent {
  const ms = Date.parse(eventTime(event, keys) ?? '');
  return {
    ...(Number.isFinite(ms) && { time: ms / 1_000 }),
    ...(options.host !== undefined && { host: options.host }),
    ...(options.source !== undefined && { source: options.source }),
    sourcetype: options.sourcetype ?? 'specstream:event',
    ...(options.index !== undefined && { index: options.index }),
    event,
  };
}

/** A request Splunk accepted with an `ackId` that it has not yet reported indexed. */
interface Unacked {
  ackId: number;
  events: SpecstreamEvent[];
}

/**
 * Sends each batch as one or more `POST`s to `/services/collector/event`, each a concatenation of
 * JSON event objects (see {@link splunkHecEvent}; no array, no separator), split at
 * `maxRequestBytes`. A 2xx acknowledges (with `ack`, once indexed: see below); 408, 429, 503 ("server
 * is busy", code 9) and other 5xx (with `Retry-After`), network errors and timeouts are retryable;
 * 400 (invalid data, code 5 to 7 and 10 to 13), 401, 403 (token, codes 1 to 4) and 413 are permanent.
 * When a later request of a batch fails, the requests Splunk already accepted are not posted again
 * when the batch is retried.
 *
 * With `ack`, each accepted request's `ackId` is kept and `flush` polls
 * `POST /services/collector/ack?channel=<channel>` with `{"acks":[…]}` every `ackPollIntervalMs` until
 * every one is `true`; after `ackTimeoutMs` it rejects with a {@link RetryableError} and forgets
 * them, so the retry posts the batch again (at least once: Splunk may then hold it twice).
 */
export class SplunkHecDestination implements Destination {
  readonly name: string;
  /** The base URL, without a trailing slash. */
  readonly url: string;
  /** The channel sent with every request, if any. */
  readonly channel: string | undefined;
  readonly #options: SplunkHecDestinationOptions;
  readonly #maxRequestBytes: number;
  readonly #accepted = new AcceptedIds();
  #unacked: Unacked[] = [];
  #closed = false;
  #closing: Promise<void> | undefined;
  #keys: EnvelopeKeys = NATIVE_ENVELOPE_KEYS;
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;

  /** @throws TypeError without `url` or `token`, or with a bad `url` or `channel`; RangeError on a number out of range */
  constructor(options: SplunkHecDestinationOptions) {
    if (typeof options.url !== 'string' || !URL.canParse(options.url)) throw new TypeError(`SplunkHecDestination: \`url\` must be the HEC base URL, got ${JSON.stringify(options.url)}`);
    const parsed = new URL(options.url);
    if (!/^https?:$/.test(parsed.protocol)) throw new TypeError(`SplunkHecDestination: \`url\` must be http(s), got ${JSON.stringify(options.url)}`);
    if (typeof options.token !== 'string' || options.token.trim() === '') throw new TypeError('SplunkHecDestination: `token` is required');
    for (const key of ['name', 'index', 'sourcetype', 'source', 'host'] as const) {
      const value = options[key];
      if (value !== undefined && (typeof value !== 'string' || value === '')) throw new TypeError(`SplunkHecDestination: \`${key}\` must be a non-empty string, got ${JSON.stringify(value)}`);
    }
    if (options.channel !== undefined && (typeof options.channel !== 'string' || !GUID.test(options.channel))) {
      throw new TypeError(`SplunkHecDestination: \`channel\` must be a GUID such as "${randomUUID()}", got ${JSON.stringify(options.channel)}`);
    }
    this.#maxRequestBytes = positiveInteger(options.maxRequestBytes ?? 1_000_000, 'SplunkHecDestination: maxRequestBytes');
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw new RangeError(`SplunkHecDestination: timeoutMs must be > 0, got ${options.timeoutMs}`);
    for (const key of ['ackPollIntervalMs', 'ackTimeoutMs'] as const) {
      const value = options[key];
      if (value !== undefined && !(value >= 0)) throw new RangeError(`SplunkHecDestination: ${key} must be >= 0, got ${value}`);
    }
    this.#options = options;
    parsed.search = '';
    parsed.hash = '';
    this.url = parsed.href.replace(/\/+$/, '').replace(/\/services\/collector(\/event)?$/, '');
    this.channel = options.channel ?? (options.ack ? randomUUID() : undefined);
    this.name = options.name ?? `splunk:${parsed.host}`;
    ({ batchSize: this.batchSize, flushIntervalMs: this.flushIntervalMs } = batchingOf(options, 'SplunkHecDestination'));
  }

  /** Reads each event's time (the HEC `time`) from the envelope's time key. */
  useEnvelope(keys: EnvelopeKeys): void {
    this.#keys = keys;
  }

  /**
   * Posts the batch's events in order, in as few requests as `maxRequestBytes` allows. With `ack`,
   * resolves once Splunk accepted them; `flush` then waits until they are indexed.
   * @throws PermanentError when Splunk refuses a request for good; RetryableError on a network error, a timeout, 408, 429 or 5xx
   */
  async send(events: readonly SpecstreamEvent[]): Promise<void> {
    if (this.#closed) throw new Error(`${this.name}: send() after close()`);
    // Requests still awaiting their acknowledgement are kept when this send repeats some of their events
    // (a retry, or a half of the batch): those events are not posted again; `flush` waits for them.
    const ids = new Set(events.map((event) => event.id));
    this.#unacked = this.#unacked.filter((request) => request.events.some((event) => ids.has(event.id)));
    const inFlight = new Set(this.#unacked.flatMap((request) => request.events.map((event) => event.id)));
    const items = this.#accepted
      .pending(events)
      .filter((event) => !inFlight.has(event.id))
      .map((event) => encodeItem(event, splunkHecEvent(event, this.#options, this.#keys)));
    for (const request of splitIntoRequests(items, { maxItems: Infinity, maxBytes: this.#maxRequestBytes, framingBytes: () => 0 })) {
      const ackId = await this.#post(request);
      const sent = request.map((item) => item.event);
      if (this.#options.ack && ackId !== undefined) this.#unacked.push({ ackId, events: sent });
      else this.#accepted.add(sent);
    }
  }

  /** Posts one request; gives its `ackId`, if Splunk assigned one. */
  async #post(items: EncodedItem[]): Promise<number | undefined> {
    const json = Buffer.from(items.map((item) => item.text).join(''), 'utf8');
    const compress = this.#options.gzip ?? false;
    const headers = this.#headers();
    if (compress) headers['Content-Encoding'] = 'gzip';
    const text = await this.#request(`${this.url}/services/collector/event`, compress ? await gzip(json) : json, headers);
    const ackId = parseHecBody(text)?.ackId;
    return typeof ackId === 'number' && Number.isInteger(ackId) ? ackId : undefined;
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = { Authorization: `Splunk ${this.#options.token}`, 'Content-Type': 'application/json' };
    if (this.channel !== undefined) headers['X-Splunk-Request-Channel'] = this.channel;
    return headers;
  }

  /** One POST; gives the response text of a 2xx, throws the classified error otherwise. */
  async #request(url: string, body: Buffer<ArrayBuffer>, headers: Record<string, string>): Promise<string> {
    const fetchImpl = this.#options.fetch ?? globalThis.fetch.bind(globalThis);
    let response: Response;
    try {
      response = await fetchImpl(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000) });
    } catch (error) {
      throw new RetryableError(`${this.name}: ${describeFetchError(error)}`, { cause: error });
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return text;
    const error = errorForStatus(response.status, response.headers, this.name);
    const hec = parseHecBody(text);
    if (typeof hec?.text !== 'string') throw error;
    const detail = `${hec.text}${typeof hec.code === 'number' ? ` (code ${hec.code})` : ''}`;
    throw error instanceof RetryableError
      ? new RetryableError(`${error.message}: ${detail}`, { retryAfterMs: error.retryAfterMs })
      : new PermanentError(`${error.message}: ${detail}`, { status: error.status });
  }

  /**
   * With `ack`: resolves once Splunk reports every request sent since the last flush indexed.
   * Otherwise nothing to do (Splunk's 200 is the acknowledgement).
   * @throws RetryableError when the acknowledgements do not all arrive within `ackTimeoutMs`
   * @throws PermanentError when Splunk refuses the acknowledgement query for good (e.g. code 14, ACK is disabled)
   */
  async flush(): Promise<void> {
    if (this.#unacked.length === 0) return;
    const interval = this.#options.ackPollIntervalMs ?? 1_000;
    const timeoutMs = this.#options.ackTimeoutMs ?? 300_000;
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const acked = await this.#queryAcks(this.#unacked.map((request) => request.ackId));
        lastError = undefined;
        this.#unacked = this.#unacked.filter((request) => {
          if (!acked.has(request.ackId)) return true;
          this.#accepted.add(request.events);
          return false;
        });
        if (this.#unacked.length === 0) return;
      } catch (error) {
        if (error instanceof PermanentError) {
          this.#unacked = [];
          throw error;
        }
        lastError = error; // a busy or unreachable Splunk: ask again until the deadline
      }
      if (Date.now() + interval > deadline) {
        const pending = this.#unacked.map((request) => request.ackId);
        this.#unacked = [];
        const reason = lastError instanceof Error ? ` (last query: ${lastError.message})` : '';
        throw new RetryableError(`${this.name}: ackId ${pending.join(', ')} not reported indexed within ${timeoutMs} ms${reason}`, { cause: lastError });
      }
      await sleep(interval);
    }
  }

  /** Asks Splunk which of `ackIds` are indexed; gives those reported `true`. */
  async #queryAcks(ackIds: number[]): Promise<Set<number>> {
    const url = `${this.url}/services/collector/ack?channel=${encodeURIComponent(this.channel ?? '')}`;
    const text = await this.#request(url, Buffer.from(JSON.stringify({ acks: ackIds }), 'utf8'), this.#headers());
    const acks = (parseHecBody(text)?.acks ?? {}) as Record<string, unknown>;
    return new Set(ackIds.filter((id) => acks[String(id)] === true));
  }

  /**
   * Waits for the acknowledgements still pending (as `flush`), then refuses further sends. Safe to
   * call twice: the second call settles as the first.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.flush();
    return this.#closing;
  }
}

/** A HEC response body (`{"text", "code", "ackId"?, "acks"?}`), or undefined when it is not JSON. */
function parseHecBody(text: string): { text?: unknown; code?: unknown; ackId?: unknown; acks?: unknown } | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === 'object' && body !== null ? body : undefined;
  } catch {
    return undefined;
  }
}
