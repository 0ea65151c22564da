/**
 * The history query of a bundle's stream, list and check operations: parameters found by their
 * role (`x-specstream-param`), checked against the bundle's `x-specstream-query-rules`, then
 * narrowed to what the caller may read. The native bundle keeps its generated validator
 * (src/generated/query.ts); another bundle's rules are interpreted here, with the same codes.
 */
import type { Principal } from '../auth/principal.js';
import { compileTypeGlob } from '../catalog/type-glob.js';
import { errors, SpecstreamError, type ErrorDetail } from '../errors.js';
import { parseDateTime, type HistoryQuery } from '../generated/query.js';
import { lowerBoundMs } from '../query/instant.js';
import { narrowToReader, resolveHistoryQuery, type ResolvedHistoryQuery } from '../query/resolve-history-query.js';
import type { BundleOperation, ParamRole, QueryRule } from './bundle.js';
import type { ServedBundle } from './served-bundle.js';

const EVENT_ID = /^evt_[0-7][0-9A-HJKMNP-TV-Z]{25}$/u;

/** The roles the history query reads (limit and cursor belong to the list handler). */
const HISTORY_ROLES: ReadonlySet<ParamRole> = new Set(['types', 'since', 'until', 'since_id', 'until_id', 'last_event_id']);

/** What a request offers: its parsed query and its headers (lower-case names). */
export interface QuerySource {
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

/** Validates and narrows the query of `op` for `principal`; throws 400/403 registry errors. */
export function resolveStreamQuery(served: ServedBundle, op: BundleOperation, source: QuerySource, principal: Principal): ResolvedHistoryQuery {
  const header = source.headers['last-event-id'];
  if (served.bundle.native) return resolveHistoryQuery(source.query, principal, typeof header === 'string' ? header : undefined);

  const input = new Map<ParamRole, string>();
  // Headers first: a header beats a query alias of the same role.
  for (const param of [...op.params].sort((a, b) => (a.in === 'header' ? 0 : 1) - (b.in === 'header' ? 0 : 1))) {
    if (!param.role || !HISTORY_ROLES.has(param.role)) continue;
    const raw = param.in === 'header' ? source.headers[param.name.toLowerCase()] : param.in === 'query' ? source.query[param.name] : undefined;
    if (raw === undefined || raw === '') continue;
    if (typeof raw !== 'string') {
      throw errors.validationFailed(`\`${param.name}\` must be given once`, [
        { path: `/${param.in}/${param.name}`, code: 'DUPLICATE_PARAMETER', message: 'must be a single value' },
      ]);
    }
    if (!input.has(param.role)) input.set(param.role, raw);
  }
  const all = served.catalog.types;
  const opTypes = op.types ? all.filter((type) => op.types!.some((glob) => compileTypeGlob(glob)(type))) : all;
  const parsed = applyRules(served.bundle.queryRules, input, opTypes, op);
  return narrowToReader(parsed, principal, opTypes, all);
}

/** Checks `rules` (spec order within: format, then requires/excludes/ordered, then catalog) and parses. */
function applyRules(rules: readonly QueryRule[], input: Map<ParamRole, string>, catalog: readonly string[], op: BundleOperation): HistoryQuery {
  const issues: ErrorDetail[] = [];
  const nameOf = (role: ParamRole) => op.params.find((p) => p.role === role)?.name ?? role;
  const issue = (role: ParamRole, code: string, message: string) => issues.push({ path: `/query/${nameOf(role)}`, code, message });
  const time = (role: ParamRole) => (input.has(role) ? parseDateTime(input.get(role)!) : undefined);
  const phases: Array<QueryRule['rule'][]> = [['format'], ['requires', 'excludes', 'ordered'], ['catalog']];
  const declaredFormats = new Set(rules.filter((r) => r.rule === 'format').map((r) => r.param));
  // Ids and times are always checked, even when the bundle declares no format rule for them.
  for (const role of ['since', 'until'] as const) {
    if (!declaredFormats.has(role) && input.has(role) && time(role) === undefined) issue(role, 'INVALID_TIMESTAMP', `\`${nameOf(role)}\` must be an RFC 3339 date-time`);
  }
  for (const role of ['since_id', 'until_id', 'last_event_id'] as const) {
    if (!declaredFormats.has(role) && input.has(role) && !EVENT_ID.test(input.get(role)!)) issue(role, 'INVALID_EVENT_ID', `\`${nameOf(role)}\` must be an event id`);
  }
  for (const phase of phases) {
    for (const rule of rules) {
      if (!phase.includes(rule.rule)) continue;
      const value = input.get(rule.param);
      switch (rule.rule) {
        case 'format':
          if (value !== undefined && (rule.format === 'date-time' ? parseDateTime(value) === undefined : !EVENT_ID.test(value))) issue(rule.param, rule.code, rule.message);
          break;
        case 'requires':
          if (value !== undefined && !input.has(rule.requires)) issue(rule.param, rule.code, rule.message);
          break;
        case 'excludes':
          if (value !== undefined && input.has(rule.excludes)) issue(rule.param, rule.code, rule.message);
          break;
        case 'ordered': {
          const before = input.get(rule.before);
          if (value === undefined || before === undefined) break;
          const isTime = rule.param === 'since' || rule.param === 'until';
          const a = isTime ? parseDateTime(value) : EVENT_ID.test(value) ? value : undefined;
          const b = isTime ? parseDateTime(before) : EVENT_ID.test(before) ? before : undefined;
          if (a !== undefined && b !== undefined && a > b) issue(rule.param, rule.code, rule.message);
          break;
        }
        case 'catalog':
          if (value !== undefined) {
            for (const item of value.split(',').map((t) => t.trim())) {
              if (item === '' || !catalog.some((type) => compileTypeGlob(item)(type))) issue(rule.param, rule.code, `${rule.message}: ${item.slice(0, 128)}`);
            }
          }
          break;
      }
    }
  }
  if (issues.length > 0) {
    const [first] = issues;
    throw new SpecstreamError(first!.code, 400, first!.message, issues);
  }
  const query: HistoryQuery = {};
  const types = input.get('types');
  if (types !== undefined) {
    const patterns = [...new Set(types.split(',').map((t) => t.trim()))];
    const matchers = patterns.map((p) => compileTypeGlob(p));
    query.types = catalog.filter((type) => matchers.some((m) => m(type))) as HistoryQuery['types'];
    query.typePatterns = patterns;
  }
  // `since` is inclusive and event times are whole milliseconds: `.5471Z` starts at `.548`.
  if (input.has('since')) query.since = new Date(lowerBoundMs(input.get('since')!)!);
  if (input.has('until')) query.until = new Date(time('until')!);
  if (input.has('since_id')) query.sinceId = input.get('since_id')!;
  if (input.has('until_id')) query.untilId = input.get('until_id')!;
  if (input.has('last_event_id')) query.lastEventId = input.get('last_event_id')!;
  return query;
}
