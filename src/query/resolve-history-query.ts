import type { Principal } from '../auth/principal.js';
import { errors, SpecstreamError, type ErrorDetail } from '../errors.js';
import { EVENT_TYPES } from '../generated/catalog.js';
import { eventIdIssue } from './event-id-param.js';
import { lowerBoundMs } from './instant.js';
import { parseHistoryQuery, type HistoryQuery, type HistoryQueryInput } from '../generated/query.js';

/** A validated history query, narrowed to what the caller may read. */
export interface ResolvedHistoryQuery {
  /** Concrete types to deliver (never empty): the requested ones, or every readable type. */
  types: string[];
  /** True when the caller may read every catalog type, so no type filter is needed. */
  allTypes: boolean;
  /** Exclusive lower bound (since_id, or the resume point). */
  afterId?: string;
  /** Inclusive lower bound on time. */
  since?: Date;
  untilId?: string;
  until?: Date;
  /** True when the query asks for history (a starting point was given). */
  hasStart: boolean;
  /** The resume point, when one was given (it took precedence over since/since_id). */
  resumeFrom?: string;
}

/** The raw query values, as strings, and the `Last-Event-ID` header. */
export interface RawHistoryQuery {
  types?: unknown;
  since?: unknown;
  until?: unknown;
  since_id?: unknown;
  until_id?: unknown;
  last_event_id?: unknown;
  lastEventId?: unknown;
  lastEventID?: unknown;
}

/**
 * Validates a history query with the generated rules (400 with the rule's code) and intersects
 * its types with the caller's scopes (403 when an explicitly named type, or every type a glob
 * matches, is unreadable). `Last-Event-ID` (header first, then the query spellings) is a resume
 * point that replaces `since`/`since_id`.
 */
export function resolveHistoryQuery(
  raw: RawHistoryQuery,
  principal: Principal,
  lastEventIdHeader?: string,
): ResolvedHistoryQuery {
  const resume = firstString(lastEventIdHeader, raw.last_event_id, raw.lastEventId, raw.lastEventID);
  const input: HistoryQueryInput = {};
  assign(input, 'types', raw.types);
  assign(input, 'since', raw.since);
  assign(input, 'until', raw.until);
  assign(input, 'since_id', raw.since_id);
  assign(input, 'until_id', raw.until_id);
  if (resume !== undefined) input.last_event_id = resume;

  const parsed = parseHistoryQuery(input);
  // The spec's pattern admits ids no server can issue (a first character above 7): refused too.
  const idIssues = impossibleIds(input);
  if (!parsed.success || idIssues.length > 0) {
    const ruleIssues: ErrorDetail[] = parsed.success ? [] : parsed.issues.map((issue) => ({ path: issue.path, code: issue.code, message: issue.message }));
    const details = [...idIssues, ...ruleIssues.filter((issue) => !idIssues.some((id) => id.path === issue.path && id.code === issue.code))];
    const [first] = details;
    throw new SpecstreamError(first?.code ?? 'VALIDATION_FAILED', 400, first?.message ?? 'The query is invalid', details);
  }
  // `since` is inclusive and event times are whole milliseconds: `.5471Z` starts at `.548`, not `.547`.
  if (input.since !== undefined && parsed.data.since !== undefined) parsed.data.since = new Date(lowerBoundMs(input.since) ?? parsed.data.since.getTime());
  return narrowToReader(parsed.data, principal, EVENT_TYPES);
}

/**
 * Intersects a parsed query's types with `catalogTypes` (the operation's catalog; a query's
 * `types` are already expanded against it) and the
 * caller's scopes: 403 when an explicitly named type, or every type a glob matches, is unreadable.
 */
export function narrowToReader(
  query: HistoryQuery,
  principal: Principal,
  catalogTypes: readonly string[],
  /** Every type of the bundle (when the operation is restricted to some): `allTypes` compares with it. */
  wholeCatalog: readonly string[] = catalogTypes,
): ResolvedHistoryQuery {
  const readable = catalogTypes.filter((type) => principal.canRead(type));
  let types: string[];
  if (query.types === undefined) {
    types = readable;
  } else {
    const patterns = query.typePatterns ?? [];
    const exactForbidden = patterns.filter((p) => !p.includes('*') && !principal.canRead(p));
    types = query.types.filter((type) => catalogTypes.includes(type) && principal.canRead(type));
    if (exactForbidden.length > 0 || types.length === 0) {
      throw errors.forbidden(`This key may not read ${exactForbidden.length > 0 ? exactForbidden.join(', ') : 'these types'}`);
    }
  }
  if (types.length === 0) throw errors.forbidden('This key may not read any event type');

  const resolved: ResolvedHistoryQuery = {
    types,
    allTypes: types.length === wholeCatalog.length,
    hasStart: false,
  };
  if (query.lastEventId !== undefined) {
    resolved.afterId = query.lastEventId;
    resolved.resumeFrom = query.lastEventId;
    resolved.hasStart = true;
  } else if (query.sinceId !== undefined) {
    resolved.afterId = query.sinceId;
    resolved.hasStart = true;
  } else if (query.since !== undefined) {
    resolved.since = query.since;
    resolved.hasStart = true;
  }
  if (query.untilId !== undefined) resolved.untilId = query.untilId;
  if (query.until !== undefined) resolved.until = query.until;
  return resolved;
}

function assign(input: HistoryQueryInput, key: keyof HistoryQueryInput, value: unknown): void {
  if (typeof value === 'string') input[key] = value;
  else if (value !== undefined) throw errors.validationFailed(`\`${key}\` must be given once`, [
    { path: `/query/${key}`, code: 'DUPLICATE_PARAMETER', message: 'must be a single value' },
  ]);
}

/** An INVALID_EVENT_ID issue for each id of the query that no server could have issued. */
function impossibleIds(input: HistoryQueryInput): ErrorDetail[] {
  const names = { since_id: 'since_id', until_id: 'until_id', last_event_id: 'Last-Event-ID' } as const;
  return (Object.keys(names) as (keyof typeof names)[]).flatMap((key) => {
    const value = input[key];
    const issue = value === undefined ? undefined : eventIdIssue(value, `/query/${key}`, names[key]);
    return issue ? [issue] : [];
  });
}

function firstString(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === 'string' && value !== '') return value;
  return undefined;
}
