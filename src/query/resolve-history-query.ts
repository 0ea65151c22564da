/**
 * A history query after its operation's generated checker accepted it (src/bundle/stream-query.ts),
 * narrowed to what the caller may read: what the hub, the SSE writer and the WebSocket server run.
 */
import type { Principal } from '../auth/principal.js';
import { errors } from '../errors.js';
import type { HistoryQuery } from '../generated/query.js';

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
