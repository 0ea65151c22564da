import type { EventType } from '../generated/catalog.js';
import type { Envelope, EventDataMap, SpecstreamEvent } from '../generated/events.js';
import { streamQuery, type ClientOptions, type ConnectOptions } from './connect.js';
import { errorFromResponse } from './errors.js';

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

/** Options of `publish()`. */
export interface PublishOptions {
  /** Makes a retry safe: the same key and body return the first result and store nothing again. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

function headersOf(options: ClientOptions, extra: Record<string, string> = {}): Record<string, string> {
  return { Accept: 'application/json', ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }), ...extra };
}

/**
 * Publishes one event (resolves with its stored envelope) or a batch of 1 to 1000 (all or nothing;
 * resolves with the envelopes in the order given). Rejects with the typed errors of `errors.ts`.
 */
export async function publish<T extends EventType>(options: ClientOptions, event: NewEvent<T>, opts?: PublishOptions): Promise<Envelope<T>>;
export async function publish(options: ClientOptions, events: readonly NewEvent[], opts?: PublishOptions): Promise<SpecstreamEvent[]>;
export async function publish(
  options: ClientOptions,
  body: NewEvent | readonly NewEvent[],
  opts: PublishOptions = {},
): Promise<SpecstreamEvent | SpecstreamEvent[]> {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const extra: Record<string, string> = { 'Content-Type': 'application/json' };
  if (opts.idempotencyKey !== undefined) extra['Idempotency-Key'] = opts.idempotencyKey;
  const response = await fetchImpl(new URL('/v1/events', options.url), {
    method: 'POST',
    headers: headersOf(options, extra),
    body: JSON.stringify(body),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (!response.ok) throw await errorFromResponse(response);
  const json = (await response.json()) as SpecstreamEvent | { data: SpecstreamEvent[] };
  return Array.isArray(body) ? (json as { data: SpecstreamEvent[] }).data : (json as SpecstreamEvent);
}

/** Options of `list()`: the history query of `GET /v1/events`. */
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

/** Fetches one page of `GET /v1/events`; pass the previous page's `next_cursor` as `cursor`. */
export async function listPage(options: ListOptions, cursor?: string): Promise<EventPage> {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const url = new URL('/v1/events', options.url);
  const query = streamQuery(options);
  if (options.pageSize !== undefined) query.set('limit', String(options.pageSize));
  if (cursor !== undefined) query.set('cursor', cursor);
  url.search = query.toString();
  const response = await fetchImpl(url, { headers: headersOf(options), ...(options.signal ? { signal: options.signal } : {}) });
  if (!response.ok) throw await errorFromResponse(response);
  return (await response.json()) as EventPage;
}

/**
 * Every stored event matching the query, oldest first, fetched page by page as the iteration
 * proceeds (one request per page). Ends when the server says `has_more: false`.
 */
export async function* list(options: ListOptions): AsyncGenerator<SpecstreamEvent, void> {
  let cursor: string | undefined;
  for (;;) {
    const page = await listPage(options, cursor);
    yield* page.data;
    if (!page.has_more || page.next_cursor === null) return;
    cursor = page.next_cursor;
  }
}
