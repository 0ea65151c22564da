/**
 * The history query of a bundle's list, stream and check operations: parameters found by their
 * role (`x-specstream-param`), checked by the operation's generated checker (its
 * `x-specstream-query-rules`, compiled by `specstream generate`; src/generated/query.ts for the
 * native bundle), then narrowed to what the caller may read. The same path for every bundle.
 */
import type { Principal } from '../auth/principal.js';
import { errors, SpecstreamError } from '../errors.js';
import type { HistoryQueryInput } from '../generated/query.js';
import { lowerBoundMs } from '../query/instant.js';
import { narrowToReader, type ResolvedHistoryQuery } from '../query/resolve-history-query.js';
import { HISTORY_ROLES, type BundleOperation, type BundleParam, type HistoryRole } from './bundle.js';
import type { ServedBundle } from './served-bundle.js';

/** What a request offers: its parsed query and its headers (lower-case names). */
export interface QuerySource {
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Validates and narrows the query of `op` (a list, stream or check operation) for `principal`.
 * Throws 400 with the first broken rule's code and message (`details`: every broken rule, or
 * `DUPLICATE_PARAMETER` for a parameter given twice) and 403 (`narrowToReader`).
 */
export function resolveStreamQuery(served: ServedBundle, op: BundleOperation, source: QuerySource, principal: Principal): ResolvedHistoryQuery {
  const checker = served.queryCheckers[op.operationId];
  // loadGeneratedCode refuses generated code without a checker for every such operation.
  if (!checker) throw new TypeError(`${op.operationId} has no generated query checker`);
  const input = queryInput(op, source);
  const checked = checker.parse(input);
  if (!checked.success) {
    const [first] = checked.issues;
    throw new SpecstreamError(first?.code ?? 'VALIDATION_FAILED', 400, first?.message ?? 'The query is invalid', checked.issues);
  }
  const query = checked.data;
  // `since` is inclusive and event times are whole milliseconds: `.5471Z` starts at `.548`, not `.547`.
  if (input.since !== undefined && query.since !== undefined) query.since = new Date(lowerBoundMs(input.since) ?? query.since.getTime());
  return narrowToReader(query, principal, checker.types, served.catalog.types);
}

const HISTORY_ROLE_SET: ReadonlySet<string> = new Set(HISTORY_ROLES);
const headersFirst = new WeakMap<BundleOperation, readonly BundleParam[]>();

/**
 * The request's value of each history role: the first parameter of the role the request carries,
 * headers before query parameters (a header beats a query alias), then in the operation's order.
 * An empty resume point is none (a browser may send an empty `Last-Event-ID`); any other empty
 * value is a value (`since=` is an invalid timestamp).
 */
function queryInput(op: BundleOperation, source: QuerySource): HistoryQueryInput {
  let params = headersFirst.get(op);
  if (!params) {
    params = [...op.params].filter((p) => p.role !== undefined && HISTORY_ROLE_SET.has(p.role)).sort((a, b) => (a.in === 'header' ? 0 : 1) - (b.in === 'header' ? 0 : 1));
    headersFirst.set(op, params);
  }
  const input: HistoryQueryInput = {};
  for (const param of params) {
    const role = param.role as HistoryRole;
    const raw = param.in === 'header' ? source.headers[param.name.toLowerCase()] : param.in === 'query' ? source.query[param.name] : undefined;
    if (raw === undefined || (raw === '' && role === 'last_event_id')) continue;
    if (typeof raw !== 'string') {
      throw errors.validationFailed(`\`${param.name}\` must be given once`, [
        { path: `/${param.in}/${param.name}`, code: 'DUPLICATE_PARAMETER', message: 'must be a single value' },
      ]);
    }
    input[role] ??= raw;
  }
  return input;
}
