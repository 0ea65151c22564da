/**
 * Emits src/generated/query.ts: the history-query validator, generated from the rules in
 * `components/x-specstream-query-rules` of specs/openapi.yaml. Each rule becomes a few lines of
 * zod refinement code; nothing is interpreted from YAML at run time.
 */
import { generatedHeader } from './header.js';
import { docComment, indentAll, literal, propertyKey, quote, regexLiteral, snakeToCamel } from './source.js';

/** A rule as written in the spec. */
export type QueryRuleSpec =
  | { rule: 'requires'; param: string; requires: string; code: string; message: string }
  | { rule: 'excludes'; param: string; excludes: string; code: string; message: string }
  | { rule: 'ordered'; param: string; before: string; code: string; message: string }
  | { rule: 'format'; param: string; format: 'date-time' | 'event-id'; code: string; message: string }
  | { rule: 'catalog'; param: string; code: string; message: string };

const RULES_POINTER = '#/components/x-specstream-query-rules';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface QueryParameter {
  name: string;
  description?: string;
}

export interface QueryModel {
  rules: QueryRuleSpec[];
  /** The query parameters the rules name, in the order components.parameters declares them. */
  params: QueryParameter[];
  /** operationIds whose `x-specstream-query-rules` refers to the shared rules, sorted. */
  operations: string[];
  /** The pattern of components.schemas.EventId. */
  eventIdPattern: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function requireString(rule: Record<string, unknown>, key: string, where: string): string {
  const value = rule[key];
  if (typeof value !== 'string' || value === '') throw new Error(`${where}: \`${key}\` must be a non-empty string`);
  return value;
}

/** Reads and checks the rules of an OpenAPI document (already parsed from YAML). */
export function readQueryModel(document: Record<string, unknown>, file = 'specs/openapi.yaml'): QueryModel {
  const components = isObject(document.components) ? document.components : {};
  const rawRules = components['x-specstream-query-rules'];
  if (!Array.isArray(rawRules) || rawRules.length === 0) {
    throw new Error(`${file}: components/x-specstream-query-rules must be a non-empty list`);
  }

  const declared = new Map<string, QueryParameter>();
  const parameters = isObject(components.parameters) ? components.parameters : {};
  for (const parameter of Object.values(parameters)) {
    if (isObject(parameter) && parameter.in === 'query' && typeof parameter.name === 'string') {
      declared.set(parameter.name, {
        name: parameter.name,
        ...(typeof parameter.description === 'string' ? { description: parameter.description } : {}),
      });
    }
  }

  const rules: QueryRuleSpec[] = rawRules.map((raw, index) => {
    const where = `${file}: components/x-specstream-query-rules/${index}`;
    if (!isObject(raw)) throw new Error(`${where}: must be an object`);
    const param = requireString(raw, 'param', where);
    const code = requireString(raw, 'code', where);
    const message = requireString(raw, 'message', where);
    if (!/^[A-Z][A-Z0-9_]*$/.test(code)) throw new Error(`${where}: code must be UPPER_SNAKE`);
    // Keys in the order the spec writes them, so QUERY_RULES reads like the spec.
    switch (raw.rule) {
      case 'requires':
        return { rule: 'requires', param, requires: requireString(raw, 'requires', where), code, message };
      case 'excludes':
        return { rule: 'excludes', param, excludes: requireString(raw, 'excludes', where), code, message };
      case 'ordered':
        return { rule: 'ordered', param, before: requireString(raw, 'before', where), code, message };
      case 'format': {
        const format = requireString(raw, 'format', where);
        if (format !== 'date-time' && format !== 'event-id') throw new Error(`${where}: unknown format ${format}`);
        return { rule: 'format', param, format, code, message };
      }
      case 'catalog':
        return { rule: 'catalog', param, code, message };
      default:
        throw new Error(`${where}: unknown rule kind ${JSON.stringify(raw.rule)}`);
    }
  });

  const named = new Set<string>();
  for (const rule of rules) {
    named.add(rule.param);
    if (rule.rule === 'requires') named.add(rule.requires);
    if (rule.rule === 'excludes') named.add(rule.excludes);
    if (rule.rule === 'ordered') named.add(rule.before);
  }
  for (const name of named) {
    if (!declared.has(name)) throw new Error(`${file}: a query rule names \`${name}\`, which no query parameter in components.parameters declares`);
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`${file}: query rule parameter \`${name}\` must be snake_case`);
  }
  const formats = new Map<string, string>();
  for (const rule of rules) {
    if (rule.rule !== 'format') continue;
    if (formats.has(rule.param) && formats.get(rule.param) !== rule.format) {
      throw new Error(`${file}: \`${rule.param}\` has two different formats`);
    }
    formats.set(rule.param, rule.format);
  }
  const catalogRules = rules.filter((rule) => rule.rule === 'catalog');
  if (catalogRules.length > 1) throw new Error(`${file}: only one catalog rule is supported`);
  for (const rule of catalogRules) {
    if (formats.has(rule.param)) throw new Error(`${file}: \`${rule.param}\` has both a format and a catalog rule`);
  }
  for (const rule of rules) {
    if (rule.rule === 'ordered' && formats.get(rule.param) !== formats.get(rule.before)) {
      throw new Error(`${file}: ordered rule ${rule.code} compares parameters of different formats`);
    }
  }

  const operations: string[] = [];
  const paths = isObject(document.paths) ? document.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (!isObject(operation) || operation['x-specstream-query-rules'] === undefined) continue;
      const ref = operation['x-specstream-query-rules'];
      const id = typeof operation.operationId === 'string' ? operation.operationId : `${method} ${path}`;
      if (!isObject(ref) || ref.$ref !== RULES_POINTER) {
        throw new Error(`${file}: ${id}: x-specstream-query-rules must be {$ref: '${RULES_POINTER}'}`);
      }
      operations.push(id);
    }
  }
  operations.sort();

  const schemas = isObject(components.schemas) ? components.schemas : {};
  const eventId = schemas.EventId;
  if (!isObject(eventId) || typeof eventId.pattern !== 'string') {
    throw new Error(`${file}: components.schemas.EventId.pattern is missing`);
  }

  const params = [...declared.values()].filter((parameter) => named.has(parameter.name));
  return { rules, params, operations, eventIdPattern: eventId.pattern };
}

const GROUP: Record<QueryRuleSpec['rule'], number> = { format: 0, requires: 1, excludes: 1, ordered: 1, catalog: 2 };

/** JS access to a field of the raw input. */
function field(param: string): string {
  return `input.${param}`;
}

/** The statements that check one rule inside the superRefine callback. */
function ruleCode(rule: QueryRuleSpec, formats: Map<string, string>): string {
  const issue = (param: string, message: string) =>
    `addIssue(ctx, ${quote(param)}, ${quote(rule.code)}, ${message});`;
  const message = quote(rule.message);
  const comment = `// ${rule.code}: ${describeRule(rule)}`;
  switch (rule.rule) {
    case 'format': {
      const test =
        rule.format === 'date-time'
          ? `parseDateTime(${field(rule.param)}) === undefined`
          : `!EVENT_ID.test(${field(rule.param)})`;
      return `${comment}\nif (${field(rule.param)} !== undefined && ${test}) {\n  ${issue(rule.param, message)}\n}`;
    }
    case 'requires':
      return `${comment}\nif (${field(rule.param)} !== undefined && ${field(rule.requires)} === undefined) {\n  ${issue(rule.param, message)}\n}`;
    case 'excludes':
      return `${comment}\nif (${field(rule.param)} !== undefined && ${field(rule.excludes)} !== undefined) {\n  ${issue(rule.param, message)}\n}`;
    case 'ordered': {
      // Compared only when both values are valid: an invalid one already has its format issue.
      const format = formats.get(rule.param);
      const value = (param: string) =>
        format === 'date-time'
          ? `${field(param)} === undefined ? undefined : parseDateTime(${field(param)})`
          : format === 'event-id'
            ? `${field(param)} !== undefined && EVENT_ID.test(${field(param)}) ? ${field(param)} : undefined`
            : field(param);
      return [
        comment,
        '{',
        `  const after = ${value(rule.param)};`,
        `  const before = ${value(rule.before)};`,
        `  if (after !== undefined && before !== undefined && after > before) {`,
        `    ${issue(rule.param, message)}`,
        '  }',
        '}',
      ].join('\n');
    }
    case 'catalog':
      return [
        comment,
        `if (${field(rule.param)} !== undefined) {`,
        `  for (const item of splitTypes(${field(rule.param)})) {`,
        `    if (!matchesCatalog(item)) {`,
        `      ${issue(rule.param, `unknownTypeMessage(${message}, item)`)}`,
        '    }',
        '  }',
        '}',
      ].join('\n');
  }
}

function describeRule(rule: QueryRuleSpec): string {
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
      return `every item of \`${rule.param}\` must match a catalog type`;
  }
}

export function emitQuery(model: QueryModel): string {
  const formats = new Map<string, string>();
  for (const rule of model.rules) if (rule.rule === 'format') formats.set(rule.param, rule.format);
  const catalogParam = model.rules.find((rule) => rule.rule === 'catalog')?.param;

  // Format rules first, then requires/excludes/ordered, then catalog; spec order within a group.
  const ordered = model.rules
    .map((rule, index) => ({ rule, index }))
    .sort((a, b) => GROUP[a.rule.rule] - GROUP[b.rule.rule] || a.index - b.index)
    .map(({ rule }) => rule);

  const paramUnion = model.params.map((param) => quote(param.name)).join(' | ');
  const inputFields = model.params.map((param) => {
    const doc = docComment([param.description]);
    return `${doc}${propertyKey(param.name)}?: string;`;
  });
  const outputFields = model.params.flatMap((param) => {
    const doc = docComment([param.description]);
    const key = snakeToCamel(param.name);
    if (param.name === catalogParam) {
      return [
        `${docComment([`The catalog types \`${param.name}\` selects: globs expanded against EVENT_TYPES, de-duplicated, sorted.`])}${propertyKey(key)}?: EventType[];`,
        `${docComment([`The items of \`${param.name}\` as given (trimmed, de-duplicated, in order).`])}typePatterns?: string[];`,
      ];
    }
    const type = formats.get(param.name) === 'date-time' ? 'Date' : 'string';
    return [`${doc}${propertyKey(key)}?: ${type};`];
  });
  const transform = model.params.map((param) => {
    const key = snakeToCamel(param.name);
    if (param.name === catalogParam) {
      return [
        `if (${field(param.name)} !== undefined) {`,
        `  const patterns = [...new Set(splitTypes(${field(param.name)}))];`,
        `  query.${key} = expandTypeGlobs(patterns, EVENT_TYPES).filter(isEventType);`,
        '  query.typePatterns = patterns;',
        '}',
      ].join('\n');
    }
    const value =
      formats.get(param.name) === 'date-time' ? `toDate(${field(param.name)})` : field(param.name);
    return `if (${field(param.name)} !== undefined) query.${key} = ${value};`;
  });
  const rulesLiteral = literal(model.rules);

  return `${generatedHeader('specs/openapi.yaml')}import { z } from 'zod';
import { compileTypeGlob, expandTypeGlobs } from '../catalog/type-glob.js';
import { EVENT_TYPES, isEventType, type EventType } from './catalog.js';

/** The operations (by operationId) whose query these rules govern, sorted. */
export const QUERY_RULE_OPERATIONS = ${literal(model.operations)} as const;

/** A query parameter that the rules name. */
export type QueryParam = ${paramUnion};

/** A rule of \`components/x-specstream-query-rules\`. */
export type QueryRule =
  | { rule: 'requires'; param: QueryParam; requires: QueryParam; code: string; message: string }
  | { rule: 'excludes'; param: QueryParam; excludes: QueryParam; code: string; message: string }
  | { rule: 'ordered'; param: QueryParam; before: QueryParam; code: string; message: string }
  | { rule: 'format'; param: QueryParam; format: 'date-time' | 'event-id'; code: string; message: string }
  | { rule: 'catalog'; param: QueryParam; code: string; message: string };

/** The rules as the spec writes them, in the spec's order (for docs and tests; the validator below is generated from them). */
export const QUERY_RULES = ${rulesLiteral} as const satisfies readonly QueryRule[];

/** A code a query issue carries: a rule's code, or VALIDATION_FAILED for a value that is not a string. */
export type QueryIssueCode = (typeof QUERY_RULES)[number]['code'] | 'VALIDATION_FAILED';

/**
 * The history query as it arrives: raw strings. An empty string is a value (\`since=\` is an
 * invalid timestamp), not an absent parameter. Map the header and polyfill spellings of the
 * resume point (\`Last-Event-ID\`, \`lastEventId\`, \`lastEventID\`) to \`last_event_id\` first.
 */
export interface HistoryQueryInput {
${inputFields.map((line) => indentAll(line)).join('\n')}
}

/** A valid history query, parsed. */
export interface HistoryQuery {
${outputFields.map((line) => indentAll(line)).join('\n')}
}

/** One broken rule: its code, a sentence, and where (a JSON Pointer such as \`/query/since\`). */
export interface QueryIssue {
  code: string;
  message: string;
  path: string;
}

/** \`components.schemas.EventId\`. */
const EVENT_ID = ${regexLiteral(model.eventIdPattern)};

const DATE_TIME = /^(\\d{4})-(\\d{2})-(\\d{2})[Tt](\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d+))?(?:[Zz]|([+\\- ])(\\d{2}):(\\d{2}))$/;

/**
 * The instant (ms since the epoch) of an RFC 3339 date-time with \`Z\` or a numeric offset, or
 * undefined when \`value\` is not one, including impossible dates (\`2026-02-30\`, \`2026-13-01\`).
 * Lower-case \`t\` and \`z\` are accepted (RFC 3339 section 5.6), and so is a space in place of the
 * offset's \`+\`, which is what an unencoded \`+\` in a query string decodes to. Fractions of a
 * millisecond are truncated; leap seconds (\`:60\`) are not accepted.
 */
export function parseDateTime(value: string): number | undefined {
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

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function toDate(value: string): Date {
  return new Date(parseDateTime(value) ?? Number.NaN);
}

/** The items of a comma list, trimmed; empty items are kept (and rejected by the catalog rule). */
function splitTypes(value: string): string[] {
  return value.split(',').map((item) => item.trim());
}

/** True when \`item\` is a catalog type, or a glob that matches at least one. */
function matchesCatalog(item: string): boolean {
  if (item === '') return false;
  const matches = compileTypeGlob(item);
  return EVENT_TYPES.some((type) => matches(type));
}

function unknownTypeMessage(message: string, item: string): string {
  if (item === '') return \`\${message} (an empty item)\`;
  const shown = item.length > 128 ? \`\${item.slice(0, 128)}...\` : item;
  return \`\${message}: \${shown}\`;
}

function addIssue(ctx: z.RefinementCtx, param: QueryParam, code: string, message: string): void {
  ctx.addIssue({ code: 'custom', message, path: [param], params: { code } });
}

const historyQueryInput = z.object({
${model.params.map((param) => `  ${propertyKey(param.name)}: z.string().optional(),`).join('\n')}
});

/**
 * Validates and parses a history query. Each issue of a broken rule is a zod \`custom\` issue
 * whose \`params.code\` is the rule's code; issues come in this order: format rules, then
 * requires/excludes/ordered, then catalog (spec order within each group). Unknown keys are ignored.
 */
export const historyQuerySchema: z.ZodType<HistoryQuery, HistoryQueryInput> = historyQueryInput
  .superRefine((input, ctx) => {
${ordered.map((rule) => indentAll(ruleCode(rule, formats), '    ')).join('\n')}
  })
  .transform((input): HistoryQuery => {
    const query: HistoryQuery = {};
${transform.map((line) => indentAll(line, '    ')).join('\n')}
    return query;
  });

function pointer(path: ReadonlyArray<PropertyKey>): string {
  return ['/query', ...path.map((key) => String(key).replace(/~/g, '~0').replace(/\\//g, '~1'))].join('/');
}

/**
 * Checks a history query against the spec's rules. On failure, every broken rule is reported
 * (\`code\` is the rule's code, \`path\` e.g. \`/query/since\`), in the order of \`historyQuerySchema\`.
 */
export function parseHistoryQuery(
  input: HistoryQueryInput,
): { success: true; data: HistoryQuery } | { success: false; issues: QueryIssue[] } {
  const result = historyQuerySchema.safeParse(input);
  if (result.success) return { success: true, data: result.data };
  return {
    success: false,
    issues: result.error.issues.map((issue) => ({
      code:
        issue.code === 'custom' && typeof issue.params?.code === 'string' ? issue.params.code : 'VALIDATION_FAILED',
      message: issue.message,
      path: pointer(issue.path),
    })),
  };
}
`;
}
