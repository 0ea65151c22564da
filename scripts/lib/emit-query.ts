/**
 * Emits the history-query checkers of a bundle: for every list, stream and check operation, the
 * rules of its `x-specstream-query-rules` (written against parameter roles) compiled into a few
 * lines of zod refinement code each, with the operation's parameter names and catalog types.
 * Nothing is interpreted from YAML at run time: the server runs these checkers.
 *
 * One emitter for every bundle: the native bundle's `src/generated/query.ts` (TypeScript) and a
 * bundle's `generated/index.js` (JavaScript that imports only zod) with its `index.d.ts` carry
 * the same code and the same exports (`queryCheckers` and its types); the JavaScript is the
 * TypeScript without its annotations (`Target`).
 */
import type { Bundle, BundleOperation, HistoryRole, QueryRule } from '../../src/bundle/bundle.js';
import { HISTORY_ROLES, QUERY_OPERATION_ROLES } from '../../src/bundle/bundle.js';
import { compileTypeGlob } from '../../src/catalog/type-glob.js';
import { EVENT_ID_PATTERN } from '../../src/store/event-id.js';
import { generatedHeader } from './header.js';
import { docComment, indentAll, literal, propertyKey, quote } from './source.js';

/** The compiled query of one operation: what `queryCheckers[operationId]` is generated from. */
export interface QueryOperationModel {
  operationId: string;
  /**
   * The rules its checker applies: the engine's own format checks first (a time or an id
   * parameter that no declared `format` rule covers is checked all the same, as
   * `INVALID_TIMESTAMP` / `INVALID_EVENT_ID`), then the operation's `x-specstream-query-rules`
   * in the spec's order.
   */
  rules: QueryRule[];
  /** True when the operation declares `x-specstream-query-rules`. */
  declared: boolean;
  /** The parameter each role is reported under (`/query/<name>`): the operation's first parameter of that role, else the role. */
  names: Record<HistoryRole, string>;
  /** The catalog types the operation serves (sorted), or undefined for every type (`EVENT_TYPES`). */
  types?: string[];
}

/** Identifiers the emitted query code declares at the top level of a module (the bundle emitter must not reuse them). */
export const QUERY_IDENTIFIERS = [
  'EVENT_ID',
  'DATE_TIME',
  'parseDateTime',
  'daysInMonth',
  'toDate',
  'compileTypeGlob',
  'splitTypes',
  'matchesCatalog',
  'unknownTypeMessage',
  'pointer',
  'historyQueryInput',
  'parsedQuery',
  'queryChecker',
  'queryCheckers',
  'ROLE_NAMES',
  'AddIssue',
  'HistoryRole',
  'QueryOperationId',
  'QueryRule',
  'HistoryQueryInput',
  'HistoryQuery',
  'QueryIssue',
  'QueryCheck',
  'QueryChecker',
] as const;

const TIME_ROLES: readonly HistoryRole[] = ['since', 'until'];
const ID_ROLES: readonly HistoryRole[] = ['since_id', 'until_id', 'last_event_id'];

/** The operations of `bundle` that read a history query, with their rules, names and types; sorted by operationId. */
export function queryModelOf(bundle: Bundle): QueryOperationModel[] {
  const allTypes = bundle.catalog.map((entry) => entry.type).sort();
  return bundle.operations
    .filter((op) => (QUERY_OPERATION_ROLES as readonly string[]).includes(op.role))
    .map((op) => operationModel(op, allTypes))
    .sort((a, b) => (a.operationId < b.operationId ? -1 : a.operationId > b.operationId ? 1 : 0));
}

function operationModel(op: BundleOperation, allTypes: readonly string[]): QueryOperationModel {
  const names = Object.fromEntries(HISTORY_ROLES.map((role) => [role, op.params.find((p) => p.role === role)?.name ?? role])) as Record<HistoryRole, string>;
  const read = new Set(op.params.filter((p) => p.role !== undefined && (p.in === 'query' || p.in === 'header')).map((p) => p.role));
  const formatted = new Set(op.queryRules.filter((rule) => rule.rule === 'format').map((rule) => rule.param));
  const engine: QueryRule[] = [];
  for (const role of [...TIME_ROLES, ...ID_ROLES]) {
    if (!read.has(role) || formatted.has(role)) continue;
    engine.push(
      TIME_ROLES.includes(role)
        ? { rule: 'format', param: role, format: 'date-time', code: 'INVALID_TIMESTAMP', message: `\`${names[role]}\` must be an RFC 3339 date-time` }
        : { rule: 'format', param: role, format: 'event-id', code: 'INVALID_EVENT_ID', message: `\`${names[role]}\` must be an event id` },
    );
  }
  const model: QueryOperationModel = { operationId: op.operationId, rules: [...engine, ...op.queryRules], declared: op.queryRules.length > 0, names };
  if (op.types) {
    const matchers = op.types.map(compileTypeGlob);
    model.types = allTypes.filter((type) => matchers.some((match) => match(type)));
  }
  return model;
}

/** `ts`: TypeScript (the native src/generated/query.ts); `js`: the same code without annotations (a bundle's index.js). */
export type Target = 'ts' | 'js';

/** `text` in TypeScript output, nothing in JavaScript: how the emitted code's annotations are written. */
function annotate(target: Target): (text: string) => string {
  return (text) => (target === 'ts' ? text : '');
}

const GROUP: Record<QueryRule['rule'], number> = { format: 0, requires: 1, excludes: 1, ordered: 1, catalog: 2 };

function kindOf(role: HistoryRole): 'date-time' | 'event-id' | undefined {
  return TIME_ROLES.includes(role) ? 'date-time' : ID_ROLES.includes(role) ? 'event-id' : undefined;
}

function describeRule(rule: QueryRule): string {
  switch (rule.rule) {
    case 'format':
      return `\`${rule.param}\` must be ${rule.format === 'date-time' ? 'an RFC 3339 date-time' : 'an event id'}`;
    case 'requires':
      return `\`${rule.param}\` requires \`${rule.requires}\``;
    case 'excludes':
      return `\`${rule.param}\` excludes \`${rule.excludes}\``;
    case 'ordered':
      return `\`${rule.param}\` must not be after \`${rule.before}\``;
    case 'catalog':
      return `every item of \`${rule.param}\` must match a catalog type of the operation`;
  }
}

/** The statements that check one rule (inside a `checkRules<N>` function). */
function ruleCode(rule: QueryRule): string {
  const field = (role: HistoryRole) => `input.${role}`;
  const add = (message: string) => `add(${quote(rule.param)}, ${quote(rule.code)}, ${message});`;
  const message = quote(rule.message);
  const comment = `// ${rule.code}: ${describeRule(rule)}`;
  switch (rule.rule) {
    case 'format': {
      const test = rule.format === 'date-time' ? `parseDateTime(${field(rule.param)}) === undefined` : `!EVENT_ID.test(${field(rule.param)})`;
      return `${comment}\nif (${field(rule.param)} !== undefined && ${test}) {\n  ${add(message)}\n}`;
    }
    case 'requires':
      return `${comment}\nif (${field(rule.param)} !== undefined && ${field(rule.requires)} === undefined) {\n  ${add(message)}\n}`;
    case 'excludes':
      return `${comment}\nif (${field(rule.param)} !== undefined && ${field(rule.excludes)} !== undefined) {\n  ${add(message)}\n}`;
    case 'ordered': {
      // Compared only when both values are valid: an invalid one already has its format issue.
      const value = (role: HistoryRole) =>
        kindOf(role) === 'date-time'
          ? `${field(role)} === undefined ? undefined : parseDateTime(${field(role)})`
          : `${field(role)} !== undefined && EVENT_ID.test(${field(role)}) ? ${field(role)} : undefined`;
      return [
        comment,
        '{',
        `  const after = ${value(rule.param)};`,
        `  const before = ${value(rule.before)};`,
        '  if (after !== undefined && before !== undefined && after > before) {',
        `    ${add(message)}`,
        '  }',
        '}',
      ].join('\n');
    }
    case 'catalog':
      return [
        comment,
        `if (${field(rule.param)} !== undefined) {`,
        `  for (const item of splitTypes(${field(rule.param)})) {`,
        '    if (!matchesCatalog(item, types)) {',
        `      ${add(`unknownTypeMessage(${message}, item)`)}`,
        '    }',
        '  }',
        '}',
      ].join('\n');
  }
}

/** The distinct rule lists of `models` (by content), each with the operations that apply it, in first-use order. */
function ruleSets(models: readonly QueryOperationModel[]): Array<{ rules: QueryRule[]; operations: string[] }> {
  const sets = new Map<string, { rules: QueryRule[]; operations: string[] }>();
  for (const model of models) {
    const key = JSON.stringify(model.rules);
    const set = sets.get(key) ?? { rules: model.rules, operations: [] };
    set.operations.push(model.operationId);
    sets.set(key, set);
  }
  return [...sets.values()];
}

const ROLE_INPUT_DOCS: Record<HistoryRole, string> = {
  types: 'Comma-separated event types; `*` globs (`grant.*`) match within the operation\'s catalog types.',
  since: 'RFC 3339 time: events logged at or after it.',
  until: 'RFC 3339 time: events logged at or before it.',
  since_id: 'Events after this id (exclusive).',
  until_id: 'Events up to and including this id.',
  last_event_id: 'The resume point: events after this id; takes precedence over `since`/`since_id`.',
};

/**
 * The query types, valid both in a TypeScript module and in a declaration file: `HistoryRole`,
 * `QueryOperationId`, `QueryRule`, `HistoryQueryInput`, `HistoryQuery`, `QueryIssue`, `QueryCheck`,
 * `QueryChecker`. They refer to the module's `EventType` and to zod's `ZodType`.
 */
function queryTypes(models: readonly QueryOperationModel[]): string {
  const operations = models.length === 0 ? 'never' : models.map((model) => quote(model.operationId)).join(' | ');
  const roles = HISTORY_ROLES.map(quote).join(' | ');
  return `/** A parameter role the history query reads (\`x-specstream-param\`). */
export type HistoryRole = ${roles};

/** An operation whose query rules are compiled here: every list, stream and check operation (operationId). */
export type QueryOperationId = ${operations};

/** A rule of \`x-specstream-query-rules\`, written against parameter roles. */
export type QueryRule =
  | { rule: 'requires'; param: HistoryRole; requires: HistoryRole; code: string; message: string }
  | { rule: 'excludes'; param: HistoryRole; excludes: HistoryRole; code: string; message: string }
  | { rule: 'ordered'; param: HistoryRole; before: HistoryRole; code: string; message: string }
  | { rule: 'format'; param: HistoryRole; format: 'date-time' | 'event-id'; code: string; message: string }
  | { rule: 'catalog'; param: HistoryRole; code: string; message: string };

/**
 * The history query as it arrives, by role: raw strings. An empty string is a value (\`since=\` is an
 * invalid timestamp), not an absent parameter. The server gives each role the value of the
 * operation's first parameter of that role that the request carries (a header before a query alias).
 */
export interface HistoryQueryInput {
${HISTORY_ROLES.map((role) => indentAll(`${docComment([ROLE_INPUT_DOCS[role]])}${role}?: string;`)).join('\n')}
}

/** A valid history query, parsed. */
export interface HistoryQuery {
  /** The catalog types \`types\` selects: its globs expanded against the operation's types, in catalog order. */
  types?: EventType[];
  /** The items of \`types\` as given (trimmed, de-duplicated, in order). */
  typePatterns?: string[];
  /** \`since\`, as the instant it denotes (digits past the millisecond are cut). */
  since?: Date;
  /** \`until\`, as the instant it denotes. */
  until?: Date;
  sinceId?: string;
  untilId?: string;
  /** The resume point. */
  lastEventId?: string;
}

/** One broken rule: its code, its sentence, and where (a JSON Pointer to the operation's parameter, such as \`/query/since\`). */
export interface QueryIssue {
  code: string;
  message: string;
  path: string;
}

/** What a checker answers: the parsed query, or every broken rule. */
export type QueryCheck = { success: true; data: HistoryQuery } | { success: false; issues: QueryIssue[] };

/** The compiled query rules of one operation. */
export interface QueryChecker {
  /**
   * The rules it applies, as data (for docs and tests; the code above is generated from them): the
   * engine's format checks of time and id parameters no declared \`format\` rule covers, then the
   * operation's \`x-specstream-query-rules\` in the spec's order.
   */
  readonly rules: readonly QueryRule[];
  /** The parameter each role is reported under: the operation's first parameter of that role, else the role. */
  readonly names: Readonly<Record<HistoryRole, string>>;
  /** The catalog types the operation serves (sorted): \`types\` is matched and expanded against them. */
  readonly types: readonly EventType[];
  /**
   * The zod schema behind \`parse\`: each broken rule is a \`custom\` issue at \`[role]\` whose
   * \`params.code\` is the rule's code; a value that is not a string is zod's own issue. Unknown keys are ignored.
   */
  readonly schema: ZodType<HistoryQuery, HistoryQueryInput>;
  /**
   * Checks \`input\` and parses it. On failure every broken rule is reported (\`code\` is the rule's
   * code, VALIDATION_FAILED for a value that is not a string), format rules first, then
   * requires/excludes/ordered, then catalog (rule order within each group).
   */
  parse(input: HistoryQueryInput): QueryCheck;
}
`;
}

const PARSE_DATE_TIME_DOC = `/**
 * The instant (ms since the epoch) of an RFC 3339 date-time with \`Z\` or a numeric offset, or
 * undefined when \`value\` is not one, including impossible dates (\`2026-02-30\`, \`2026-13-01\`).
 * Lower-case \`t\` and \`z\` are accepted (RFC 3339 section 5.6), and so is a space in place of the
 * offset's \`+\`, which is what an unencoded \`+\` in a query string decodes to. Fractions of a
 * millisecond are truncated; leap seconds (\`:60\`) are not accepted.
 */
`;

/**
 * RFC 3339 date-time parsing: \`parseDateTime\` (exported) and its helpers. Inline in a bundle's
 * single module; the native bundle's own file (src/generated/date-time.ts), which the server's
 * query code imports without loading zod.
 */
function dateTimeCode(target: Target): string {
  const t = annotate(target);
  return `const DATE_TIME = /^(\\d{4})-(\\d{2})-(\\d{2})[Tt](\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d+))?(?:[Zz]|([+\\- ])(\\d{2}):(\\d{2}))$/;

${PARSE_DATE_TIME_DOC}export function parseDateTime(value${t(': string')})${t(': number | undefined')} {
  const match = DATE_TIME.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction, sign, oh, om] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  if (sign !== undefined) {
    const offsetHours = Number(oh);
    const offsetMinutes = Number(om);
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    offset = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  }
  const ms = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime() - offset * 60_000;
}

function daysInMonth(year${t(': number')}, month${t(': number')})${t(': number')} {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

`;
}

/**
 * The query code of a module: the helpers, one \`checkRules<N>\` function per distinct rule list, and
 * \`queryCheckers\`. Expects \`z\`, \`EVENT_TYPES\` and (in TypeScript) the types of \`queryTypes\`,
 * \`EventType\` and \`ZodType\` in scope, and \`parseDateTime\` when \`dateTime\` is \`'imported'\`.
 */
function queryCode(models: readonly QueryOperationModel[], target: Target, dateTime: 'inline' | 'imported' = 'inline'): string {
  const t = annotate(target);
  const sets = ruleSets(models);
  const setOf = new Map(sets.flatMap((set, index) => set.operations.map((id) => [id, index + 1] as const)));
  const parts: string[] = [];
  parts.push(`/** \`evt_\` + a ULID this server could have issued (first character 0-7; src/store/event-id.ts). */
const EVENT_ID = ${String(EVENT_ID_PATTERN)};

${dateTime === 'inline' ? dateTimeCode(target) : ''}function toDate(value${t(': string')})${t(': Date')} {
  return new Date(parseDateTime(value) ?? Number.NaN);
}

/**
 * A type glob as a predicate: \`*\` matches any run of characters, dots included; other characters
 * match themselves. The matching of src/catalog/type-glob.ts (the server's scopes): literal
 * segments found left to right, never a RegExp, so a client's glob cannot make it backtrack.
 */
function compileTypeGlob(pattern${t(': string')})${t(': (type: string) => boolean')} {
  if (!pattern.includes('*')) return (type) => type === pattern;
  const segments = pattern.split('*');
  const prefix = segments[0] ?? '';
  const suffix = segments[segments.length - 1] ?? '';
  const middle = segments.slice(1, -1).filter((segment) => segment !== '');
  const minLength = prefix.length + suffix.length + middle.reduce((sum, segment) => sum + segment.length, 0);
  return (type) => {
    if (type.length < minLength || !type.startsWith(prefix) || !type.endsWith(suffix)) return false;
    let at = prefix.length;
    const end = type.length - suffix.length;
    for (const segment of middle) {
      const found = type.indexOf(segment, at);
      if (found === -1 || found + segment.length > end) return false;
      at = found + segment.length;
    }
    return true;
  };
}

/** The items of a comma list, trimmed; empty items are kept (and rejected by the catalog rule). */
function splitTypes(value${t(': string')})${t(': string[]')} {
  return value.split(',').map((item) => item.trim());
}

/** True when \`item\` is one of \`types\`, or a glob that matches at least one. */
function matchesCatalog(item${t(': string')}, types${t(': readonly string[]')})${t(': boolean')} {
  if (item === '') return false;
  const matches = compileTypeGlob(item);
  return types.some((type) => matches(type));
}

function unknownTypeMessage(message${t(': string')}, item${t(': string')})${t(': string')} {
  if (item === '') return \`\${message} (an empty item)\`;
  const shown = item.length > 128 ? \`\${item.slice(0, 128)}...\` : item;
  return \`\${message}: \${shown}\`;
}

/** The JSON Pointer of an issue at \`path\` (\`[role]\`): \`/query/<the operation's parameter of that role>\`. */
function pointer(path${t(': ReadonlyArray<PropertyKey>')}, names${t(': Readonly<Record<string, string>>')})${t(': string')} {
  return ['/query', ...path.map((key) => (names[String(key)] ?? String(key)).replace(/~/g, '~0').replace(/\\//g, '~1'))].join('/');
}
${t(`
/** Reports one broken rule: the role of the parameter that broke it, the rule's code and its message. */
type AddIssue = (role: HistoryRole, code: string, message: string) => void;
`)}
const historyQueryInput = z.object({
${HISTORY_ROLES.map((role) => `  ${role}: z.string().optional(),`).join('\n')}
});
`);

  sets.forEach((set, index) => {
    const n = index + 1;
    const ordered = set.rules
      .map((rule, position) => ({ rule, position }))
      .sort((a, b) => GROUP[a.rule.rule] - GROUP[b.rule.rule] || a.position - b.position)
      .map(({ rule }) => rule);
    const used = set.operations.map((id) => `\`${id}\``).join(', ');
    parts.push(`/** The rules of ${used}. */
const rules${n} = ${literal(set.rules)}${t(' as const satisfies readonly QueryRule[]')};

/** Checks \`rules${n}\`: format rules first, then requires/excludes/ordered, then catalog (rule order within each group). */
function checkRules${n}(input${t(': HistoryQueryInput')}, types${t(': readonly string[]')}, add${t(': AddIssue')})${t(': void')} {
${ordered.length === 0 ? '  // No rule, and no time or id parameter to check.' : ordered.map((rule) => indentAll(ruleCode(rule))).join('\n')}
}
`);
  });

  const roleNames = `/** Each role reported under its own name (an operation whose parameters are named after their roles). */
const ROLE_NAMES${t(': Readonly<Record<HistoryRole, string>>')} = Object.freeze(${literal(Object.fromEntries(HISTORY_ROLES.map((role) => [role, role])))});

`;
  parts.push(`/** An input every rule accepted, parsed; \`types\` expanded against the operation's types. */
function parsedQuery(input${t(': HistoryQueryInput')}, types${t(': readonly EventType[]')})${t(': HistoryQuery')} {
  const query${t(': HistoryQuery')} = {};
  if (input.types !== undefined) {
    const patterns = [...new Set(splitTypes(input.types))];
    const matchers = patterns.map(compileTypeGlob);
    query.types = types.filter((type) => matchers.some((matches) => matches(type)));
    query.typePatterns = patterns;
  }
  if (input.since !== undefined) query.since = toDate(input.since);
  if (input.until !== undefined) query.until = toDate(input.until);
  if (input.since_id !== undefined) query.sinceId = input.since_id;
  if (input.until_id !== undefined) query.untilId = input.until_id;
  if (input.last_event_id !== undefined) query.lastEventId = input.last_event_id;
  return query;
}

/** The checker of one operation: \`check\` (its compiled rules) over \`historyQueryInput\`, issues named by \`names\`. */
function queryChecker(
  rules${t(': readonly QueryRule[]')},
  check${t(': (input: HistoryQueryInput, types: readonly string[], add: AddIssue) => void')},
  names${t(': Readonly<Record<HistoryRole, string>>')},
  types${t(': readonly EventType[]')},
)${t(': QueryChecker')} {
  const schema${t(': ZodType<HistoryQuery, HistoryQueryInput>')} = historyQueryInput
    .superRefine((input, ctx) => {
      check(input, types, (role, code, message) => ctx.addIssue({ code: 'custom', message, path: [role], params: { code } }));
    })
    .transform((input) => parsedQuery(input, types));
  return {
    rules,
    names,
    types,
    schema,
    parse(input) {
      const result = schema.safeParse(input);
      if (result.success) return { success: true, data: result.data };
      return {
        success: false,
        issues: result.error.issues.map((issue) => ({
          code: issue.code === 'custom' && typeof issue.params?.code === 'string' ? issue.params.code : 'VALIDATION_FAILED',
          message: issue.message,
          path: pointer(issue.path, names),
        })),
      };
    },
  };
}

${models.some(namedAfterRoles) ? roleNames : ''}/** The compiled query rules of every list, stream and check operation, by operationId (sorted). */
export const queryCheckers${t(': Readonly<Record<QueryOperationId, QueryChecker>>')} = Object.freeze({
${models.map((model) => indentAll(checkerEntry(model, setOf.get(model.operationId)!, target))).join('\n')}
});
`);
  return parts.join('\n');
}

function namedAfterRoles(model: QueryOperationModel): boolean {
  return HISTORY_ROLES.every((role) => model.names[role] === role);
}

/** One entry of `queryCheckers`: the operation's checker from its rule set `n`, its names and its types. */
function checkerEntry(model: QueryOperationModel, n: number, target: Target): string {
  const names = namedAfterRoles(model) ? 'ROLE_NAMES' : literal(model.names);
  return `${propertyKey(model.operationId)}: queryChecker(rules${n}, checkRules${n}, ${names}, ${typesOf(model, target)}),`;
}

/** The operation's types as an expression: `EVENT_TYPES`, or its frozen list. */
function typesOf(model: QueryOperationModel, target: Target): string {
  if (!model.types) return 'EVENT_TYPES';
  return `Object.freeze${annotate(target)('<EventType[]>')}(${literal(model.types)})`;
}

/** A bundle's `index.js` part: the query code without annotations. */
export function emitBundleQueryJs(models: readonly QueryOperationModel[]): string {
  return `// History query rules (x-specstream-query-rules), compiled per operation.\n\n${queryCode(models, 'js')}`;
}

/** A bundle's `index.d.ts` part: the query types and the declarations of what `emitBundleQueryJs` exports. */
export function emitBundleQueryDts(models: readonly QueryOperationModel[]): string {
  return `// History query rules (x-specstream-query-rules), compiled per operation.

${queryTypes(models)}
${PARSE_DATE_TIME_DOC}export declare function parseDateTime(value: string): number | undefined;

/** The compiled query rules of every list, stream and check operation, by operationId (sorted). */
export declare const queryCheckers: Readonly<Record<QueryOperationId, QueryChecker>>;
`;
}

/**
 * The native bundle's src/generated/date-time.ts: \`parseDateTime\` without zod, so the server's own
 * query code (src/query/instant.ts) can use it before the validators are loaded.
 */
export function emitNativeDateTime(): string {
  return `${generatedHeader('specs/openapi.yaml')}${dateTimeCode('ts')}`;
}

/**
 * The native bundle's src/generated/query.ts: the query code every bundle gets, plus the native
 * names of the one rule set its operations share (`QUERY_RULES`, `historyQuerySchema`,
 * `parseHistoryQuery`). Throws when the native operations do not share one rule set.
 */
export function emitNativeQuery(models: readonly QueryOperationModel[]): string {
  const sets = ruleSets(models);
  const governed = models.filter((model) => model.declared).map((model) => model.operationId);
  if (sets.length !== 1 || governed.length !== models.length) {
    throw new Error(
      'specs/openapi.yaml: every list, stream and check operation of the native bundle refers to the same x-specstream-query-rules, which format-check every time and id parameter',
    );
  }
  const first = models[0]!.operationId;
  return `${generatedHeader('specs/openapi.yaml')}import { z, type ZodType } from 'zod';
import { EVENT_TYPES, type EventType } from './catalog.js';
import { parseDateTime } from './date-time.js';

export { parseDateTime };

${queryTypes(models)}
${queryCode(models, 'ts', 'imported')}
/** The operations (by operationId) whose query the spec's rules govern, sorted. */
export const QUERY_RULE_OPERATIONS = ${literal(governed)} as const;

/** The rules as the spec writes them (\`components/x-specstream-query-rules\`), in the spec's order: the one set every operation above refers to. */
export const QUERY_RULES = rules1;

/** A code a query issue carries: a rule's code, or VALIDATION_FAILED for a value that is not a string. */
export type QueryIssueCode = (typeof QUERY_RULES)[number]['code'] | 'VALIDATION_FAILED';

/** Validates and parses a native history query (\`QueryChecker.schema\` of every native operation). */
export const historyQuerySchema: ZodType<HistoryQuery, HistoryQueryInput> = queryCheckers[${quote(first)}].schema;

/** Checks a native history query against the spec's rules (\`QueryChecker.parse\` of every native operation). */
export function parseHistoryQuery(input: HistoryQueryInput): QueryCheck {
  return queryCheckers[${quote(first)}].parse(input);
}
`;
}
