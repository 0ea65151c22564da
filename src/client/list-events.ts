/**
 * Reading a bundle's list operations (REST backfill): one operation page by page, or several (a
 * bundle may list each type family at its own path, as the SIEM bundle lists log events and alerts)
 * merged in log order by event id. Used by `list()` and by `connect()` to fill the gap of a stream
 * that cannot resume by itself.
 */
import { errorFromResponse, ProfileError } from './errors.js';
import { credentialsFor, envelopeId, type ClientProfile, type OperationProfile, type QueryRole } from './profile.js';
import { encodeReservedQuery } from './query-encoding.js';

/** A listed event: the wire envelope, its id and (when the operation lists one type) its type. */
export interface ListedEvent {
  event: Record<string, unknown>;
  id: string | undefined;
  type: string | undefined;
}

/** A page of a list operation: `{data, next_cursor, has_more}`. */
export interface WirePage<E = Record<string, unknown>> {
  data: E[];
  next_cursor: string | null;
  has_more: boolean;
}

/** What a list request carries besides the paging. */
export interface ListRequest {
  url: string;
  token?: string | undefined;
  keyId?: string | undefined;
  fetch?: typeof fetch | undefined;
  signal?: AbortSignal | undefined;
  /** Query values by role (`types` as a comma list). */
  values: Partial<Record<QueryRole, string>>;
}

/** `*` matches any run of characters; everything else matches itself. */
export function globMatches(glob: string, type: string): boolean {
  const parts = glob.split('*');
  if (parts.length === 1) return glob === type;
  if (!type.startsWith(parts[0]!) || !type.endsWith(parts.at(-1)!)) return false;
  let at = parts[0]!.length;
  const end = type.length - parts.at(-1)!.length;
  for (const part of parts.slice(1, -1)) {
    const found = type.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return at <= end;
}

/**
 * The list operations to read for `types` (comma list or undefined): the unrestricted one when there
 * is one, else every operation restricted to types the filter lets through.
 *
 * @throws ProfileError `NO_OPERATION` (no list operation) or `UNSUPPORTED_OPTION` (a filter the
 *   bundle's lists cannot apply: an operation holds some wanted types and some unwanted ones and
 *   takes no `types` parameter).
 */
export function listOperationsFor(profile: ClientProfile, lists: readonly OperationProfile[], types: string | undefined): OperationProfile[] {
  if (lists.length === 0) throw new ProfileError('NO_OPERATION', `the bundle "${profile.name}" declares no list operation (x-specstream-operation: list)`);
  const unrestricted = lists.find((op) => op.types === undefined);
  const wanted = types?.split(',').map((t) => t.trim()).filter(Boolean);
  if (unrestricted && (wanted === undefined || unrestricted.query.types !== undefined)) return [unrestricted];
  if (wanted === undefined) return lists.filter((op) => op.types !== undefined);
  const chosen: OperationProfile[] = [];
  for (const op of lists) {
    if (op.types === undefined) continue;
    const matched = op.types.filter((type) => wanted.some((glob) => globMatches(glob, type)));
    if (matched.length === 0) continue;
    if (matched.length < op.types.length && op.query.types === undefined) {
      throw new ProfileError('UNSUPPORTED_OPTION', `${op.path} lists ${op.types.join(', ')} and takes no types parameter: it cannot list only ${types}`);
    }
    chosen.push(op);
  }
  if (chosen.length === 0 && unrestricted === undefined) {
    throw new ProfileError('UNSUPPORTED_OPTION', `no list operation of the bundle "${profile.name}" lists ${types}`);
  }
  return chosen.length > 0 ? chosen : [unrestricted!];
}

/**
 * Fetches one page of `op`; `cursor` is the previous page's `next_cursor`.
 *
 * @throws ProfileError `UNSUPPORTED_OPTION` for a query value the operation has no parameter for.
 */
export async function fetchPage(op: OperationProfile, request: ListRequest, pageSize: number | undefined, cursor: string | undefined): Promise<WirePage> {
  const url = new URL(op.path, request.url);
  const values: Partial<Record<QueryRole, string>> = { ...request.values };
  if (op.types !== undefined && op.query.types === undefined) delete values.types; // the operation is the filter
  if (pageSize !== undefined && op.query.limit !== undefined) values.limit = String(pageSize);
  if (cursor !== undefined) values.cursor = cursor;
  for (const [role, value] of Object.entries(values) as [QueryRole, string][]) {
    const name = op.query[role];
    if (name === undefined) throw new ProfileError('UNSUPPORTED_OPTION', `${op.path} takes no ${role} parameter`);
    url.searchParams.set(name, value);
  }
  const credentials = credentialsFor(op.auth, request, op.path);
  for (const [name, value] of Object.entries(credentials.query)) url.searchParams.set(name, value);
  encodeReservedQuery(url);
  const fetchImpl = request.fetch ?? globalThis.fetch.bind(globalThis);
  const response = await fetchImpl(url, { headers: { Accept: 'application/json', ...credentials.headers }, ...(request.signal ? { signal: request.signal } : {}) });
  if (!response.ok) throw await errorFromResponse(response);
  return (await response.json()) as WirePage;
}

/** Every event of `op` matching the request, oldest first, page by page (one request per page). */
export async function* readPages(profile: ClientProfile, op: OperationProfile, request: ListRequest, pageSize?: number): AsyncGenerator<ListedEvent, void> {
  const type = op.types?.length === 1 && !op.types[0]!.includes('*') ? op.types[0] : undefined;
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchPage(op, request, pageSize, cursor);
    for (const event of page.data) {
      const listedType = type ?? (profile.envelope.type === undefined ? undefined : event[profile.envelope.type]);
      yield { event, id: envelopeId(profile, event), type: typeof listedType === 'string' ? listedType : undefined };
    }
    if (!page.has_more || page.next_cursor === null) return;
    cursor = page.next_cursor;
  }
}

/**
 * Every event of the operations `ops`, merged in log order (ids increase in log order): each
 * operation is read page by page as the merge needs it. Events without an id (an envelope that
 * carries none) cannot be ordered and come operation after operation.
 */
export async function* readMerged(profile: ClientProfile, ops: readonly OperationProfile[], request: ListRequest, pageSize?: number): AsyncGenerator<ListedEvent, void> {
  if (ops.length === 1 || profile.envelope.id === undefined) {
    for (const op of ops) yield* readPages(profile, op, request, pageSize);
    return;
  }
  const sources = ops.map((op) => readPages(profile, op, request, pageSize));
  try {
    const heads = await Promise.all(sources.map((source) => source.next()));
    for (;;) {
      let best = -1;
      heads.forEach((head, index) => {
        if (head.done) return;
        const current = best === -1 ? undefined : heads[best]!;
        if (current === undefined || current.done || (head.value.id ?? '') < (current.value.id ?? '')) best = index;
      });
      if (best === -1) return;
      const head = heads[best]!;
      if (head.done) return;
      yield head.value;
      heads[best] = await sources[best]!.next();
    }
  } finally {
    await Promise.all(sources.map((source) => source.return(undefined)));
  }
}
