import type { EventType } from '../generated/catalog.js';
import type { Envelope, EventDataMap, SpecstreamEvent } from '../generated/events.js';
import { queryValues, type BundleClientOptions, type ClientOptions, type ConnectOptions, type WireEvent } from './connect.js';
import { errorFromResponse, ProfileError } from './errors.js';
import { fetchPage, listOperationsFor, readMerged, type WirePage } from './list-events.js';
import { loadProfile } from './load-profile.js';
import { credentialsFor, operationsOf } from './profile.js';

/** An event to publish (`components.schemas.NewEvent`), typed by the catalog: `data` follows `type`. */
export type NewEvent<T extends EventType = EventType> = {
  [K in T]: {
    type: K;
    /** Defaults to `/` plus the type's first segment. */
    source?: string;
    subject?: string;
    datacontenttype?: 'application/json';
    data: EventDataMap[K];
  };
}[T];

/** An event to publish to any bundle: the publish input is `{type, data, subject?, source?}` in every bundle. */
export interface NewWireEvent {
  type: string;
  data: unknown;
  subject?: string;
  source?: string;
}

/** Options of `publish()`. */
export interface PublishOptions {
  /** Makes a retry safe: the same key and body return the first result and store nothing again. */
  idempotencyKey?: string;
  signal?: AbortSignal;
  /**
   * How many times a `429` with `Retry-After` (the server's publish rate limit: nothing was stored)
   * is retried after waiting the delay it names; default 3, `0` never. A delay longer than
   * `maxRetryAfterMs` is not waited for: the `429` is thrown as `SpecstreamError` `RATE_LIMITED`.
   */
  rateLimitRetries?: number;
  /** Longest `Retry-After` waited for, in ms; default 60 000. */
  maxRetryAfterMs?: number;
}

/** The delay of a `Retry-After` value (delay-seconds or an HTTP-date, RFC 9110 section 10.2.3) in ms, or undefined. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Publishes one event (resolves with its stored envelope, in the bundle's wire form) or a batch of
 * 1 to 1000 (all or nothing; resolves with the envelopes in the order given) to the bundle's publish
 * operation. A batch is sent as the bundle's publish body declares it (the native bundle: a JSON
 * array; the example bundles: `{events: [...]}`). Rejects with the typed errors of `errors.ts`, and
 * with ProfileError `NO_OPERATION` when the bundle has no publish operation (a read-only bundle:
 * publish through a bundle that has one, e.g. the native one, on a server of the same store).
 */
export async function publish(options: BundleClientOptions, event: NewWireEvent, opts?: PublishOptions): Promise<WireEvent>;
export async function publish(options: BundleClientOptions, events: readonly NewWireEvent[], opts?: PublishOptions): Promise<WireEvent[]>;
export async function publish<T extends EventType>(options: ClientOptions, event: NewEvent<T>, opts?: PublishOptions): Promise<Envelope<T>>;
export async function publish(options: ClientOptions, events: readonly NewEvent[], opts?: PublishOptions): Promise<SpecstreamEvent[]>;
export async function publish(options: ClientOptions, body: NewWireEvent | readonly NewWireEvent[], opts: PublishOptions = {}): Promise<unknown> {
  return publishAny(options, body, opts);
}

/** `publish()` without the overloads' typing: one event resolves with one envelope, a batch with an array. */
export async function publishAny(options: ClientOptions, body: NewWireEvent | readonly NewWireEvent[], opts: PublishOptions = {}): Promise<unknown> {
  const profile = await loadProfile(options);
  const op = operationsOf(profile).publish;
  if (!op) {
    throw new ProfileError(
      'NO_OPERATION',
      `the bundle "${profile.name}" has no publish operation (x-specstream-operation: publish): it is read-only; publish through a bundle that has one (e.g. the native one) on a server of the same store`,
    );
  }
  const isBatch = Array.isArray(body);
  if (isBatch && op.batch === undefined) throw new ProfileError('UNSUPPORTED_OPTION', `${op.path} takes one event per request (its body declares no batch form)`);
  const credentials = credentialsFor(op.auth, options, op.path);
  const url = new URL(op.path, options.url);
  for (const [name, value] of Object.entries(credentials.query)) url.searchParams.set(name, value);
  const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/json', ...credentials.headers };
  if (opts.idempotencyKey !== undefined) headers['Idempotency-Key'] = opts.idempotencyKey;
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const text = JSON.stringify(isBatch && op.batch === 'events' ? { events: body } : body);
  let response: Response;
  for (let retry = 0; ; retry++) {
    response = await fetchImpl(url, { method: 'POST', headers, body: text, ...(opts.signal ? { signal: opts.signal } : {}) });
    // A 429 is answered before the body is read: nothing was stored, so waiting and sending again is safe.
    const delay = response.status === 429 ? retryAfterMs(response.headers.get('retry-after')) : undefined;
    if (delay === undefined || retry >= (opts.rateLimitRetries ?? 3) || delay > (opts.maxRetryAfterMs ?? 60_000)) break;
    await response.body?.cancel().catch(() => {});
    await sleep(delay, opts.signal);
  }
  if (!response.ok) throw await errorFromResponse(response);
  const json = (await response.json()) as WireEvent | { data: WireEvent[] };
  return isBatch ? (json as { data: WireEvent[] }).data : (json as WireEvent);
}

/** Options of `list()`: the history query of the bundle's list operation (native: `GET /v1/events`). */
export interface ListOptions extends ClientOptions, Pick<ConnectOptions, 'types' | 'since' | 'until' | 'sinceId' | 'untilId'> {
  /** Page size, 1 to 1000; defaults to the server's (100). */
  pageSize?: number;
  signal?: AbortSignal;
}

/** A page of `GET /v1/events`. */
export interface EventPage {
  data: SpecstreamEvent[];
  next_cursor: string | null;
  has_more: boolean;
}

type BundleListOptions = ListOptions & BundleClientOptions;

/**
 * Fetches one page of the bundle's list operation for the query (native: `GET /v1/events`); pass
 * the previous page's `next_cursor` as `cursor`. Rejects with ProfileError `UNSUPPORTED_OPTION` when
 * the bundle lists the wanted types at several paths (`list()` merges them).
 */
export async function listPage(options: BundleListOptions, cursor?: string): Promise<WirePage>;
export async function listPage(options: ListOptions, cursor?: string): Promise<EventPage>;
export async function listPage(options: ListOptions, cursor?: string): Promise<unknown> {
  return listPageAny(options, cursor);
}

/** `listPage()` without the overloads' typing. */
export async function listPageAny(options: ListOptions, cursor?: string): Promise<WirePage> {
  const profile = await loadProfile(options);
  const values = queryValues(options);
  const ops = listOperationsFor(profile, operationsOf(profile).lists, values.types);
  if (ops.length > 1) {
    throw new ProfileError('UNSUPPORTED_OPTION', `the bundle "${profile.name}" lists these types at several paths (${ops.map((op) => op.path).join(', ')}): use list(), which merges them, or pass types`);
  }
  return fetchPage(ops[0]!, { ...options, values }, options.pageSize, cursor);
}

/**
 * Every stored event matching the query, oldest first, fetched page by page as the iteration
 * proceeds (one request per page). Ends when the server says `has_more: false`. A bundle that lists
 * type families at separate paths is read from each and merged in log order.
 */
export function list(options: BundleListOptions): AsyncGenerator<WireEvent, void>;
export function list(options: ListOptions): AsyncGenerator<SpecstreamEvent, void>;
export function list(options: ListOptions): AsyncGenerator<unknown, void> {
  return listAny(options);
}

/** `list()` without the overloads' typing. */
export async function* listAny(options: ListOptions): AsyncGenerator<WireEvent, void> {
  const profile = await loadProfile(options);
  const values = queryValues(options);
  const ops = listOperationsFor(profile, operationsOf(profile).lists, values.types);
  for await (const entry of readMerged(profile, ops, { ...options, values }, options.pageSize)) yield entry.event;
}
