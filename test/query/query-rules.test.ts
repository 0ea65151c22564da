import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { EVENT_TYPES } from '../../src/generated/catalog.js';
import {
  historyQuerySchema,
  parseDateTime,
  parseHistoryQuery,
  QUERY_RULE_OPERATIONS,
  QUERY_RULES,
  queryCheckers,
  type HistoryQuery,
  type HistoryQueryInput,
} from '../../src/generated/query.js';
import { ROOT } from '../codegen/typecheck.js';

const ID_A = 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P';
const ID_B = 'evt_01JF3M0000000000000000000Z';

/** `code path` of each issue, in the parser's order. */
function issues(input: HistoryQueryInput): string[] {
  const result = parseHistoryQuery(input);
  return result.success ? [] : result.issues.map((issue) => `${issue.code} ${issue.path}`);
}

function parsed(input: HistoryQueryInput): HistoryQuery {
  const result = parseHistoryQuery(input);
  if (!result.success) throw new Error(`expected success, got ${JSON.stringify(result.issues)}`);
  return result.data;
}

describe('QUERY_RULES', () => {
  it('are the rules of components/x-specstream-query-rules in specs/openapi.yaml', async () => {
    const spec = parseYaml(await readFile(join(ROOT, 'specs', 'openapi.yaml'), 'utf8')) as {
      components: { 'x-specstream-query-rules': unknown[] };
    };
    expect(QUERY_RULES).toEqual(spec.components['x-specstream-query-rules']);
  });

  it('govern every operation that refers to them', () => {
    expect([...QUERY_RULE_OPERATIONS]).toEqual(['checkStreamAccess', 'listEvents', 'streamEvents', 'streamEventsWebSocket']);
  });

  it('are compiled into the checker of each of those operations, the shape every bundle gets (queryCheckers)', () => {
    expect(Object.keys(queryCheckers)).toEqual([...QUERY_RULE_OPERATIONS]);
    for (const checker of Object.values(queryCheckers)) {
      expect(checker.rules).toBe(QUERY_RULES);
      expect(checker.types).toBe(EVENT_TYPES);
      expect(checker.names).toEqual({ types: 'types', since: 'since', until: 'until', since_id: 'since_id', until_id: 'until_id', last_event_id: 'last_event_id' });
      expect(checker.parse({ until: '2026-01-01T00:00:00Z' })).toEqual(parseHistoryQuery({ until: '2026-01-01T00:00:00Z' }));
    }
  });
});

describe('parseHistoryQuery', () => {
  describe('accepts', () => {
    it.each<[string, HistoryQueryInput, HistoryQuery]>([
      ['no parameters (live only)', {}, {}],
      ['since in UTC', { since: '2026-01-01T00:00:00Z' }, { since: new Date('2026-01-01T00:00:00.000Z') }],
      ['since with an offset and a fraction', { since: '2026-01-01T00:00:00.123+02:00' }, { since: new Date('2025-12-31T22:00:00.123Z') }],
      ['a negative offset', { since: '2026-01-01T00:00:00-05:30' }, { since: new Date('2026-01-01T05:30:00.000Z') }],
      ['lower-case t and z (RFC 3339 5.6)', { since: '2026-01-01t00:00:00z' }, { since: new Date('2026-01-01T00:00:00.000Z') }],
      ['an unencoded + that the query string decoded to a space', { since: '2026-01-01T00:00:00 02:00' }, { since: new Date('2025-12-31T22:00:00.000Z') }],
      ['a fraction beyond milliseconds (truncated)', { since: '2026-01-01T00:00:00.123999Z' }, { since: new Date('2026-01-01T00:00:00.123Z') }],
      ['a leap day', { since: '2024-02-29T12:00:00Z' }, { since: new Date('2024-02-29T12:00:00.000Z') }],
      ['since equal to until', { since: '2026-01-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }, { since: new Date('2026-01-01T00:00:00Z'), until: new Date('2026-01-01T00:00:00Z') }],
      [
        'since before until as instants although after as strings',
        { since: '2026-01-01T01:00:00+01:00', until: '2026-01-01T00:30:00Z' },
        { since: new Date('2026-01-01T00:00:00Z'), until: new Date('2026-01-01T00:30:00Z') },
      ],
      ['since_id and until_id in order', { since_id: ID_A, until_id: ID_B }, { sinceId: ID_A, untilId: ID_B }],
      ['since_id equal to until_id', { since_id: ID_A, until_id: ID_A }, { sinceId: ID_A, untilId: ID_A }],
      ['a resume point with since', { last_event_id: ID_A, since: '2026-01-01T00:00:00Z' }, { lastEventId: ID_A, since: new Date('2026-01-01T00:00:00Z') }],
      [
        'types with a glob and spaces',
        { types: ' grant.* , token.issued' },
        { types: ['grant.created', 'grant.revoked', 'token.issued'], typePatterns: ['grant.*', 'token.issued'] },
      ],
      ['types that overlap (de-duplicated)', { types: 'grant.revoked,grant.*,grant.revoked' }, { types: ['grant.created', 'grant.revoked'], typePatterns: ['grant.revoked', 'grant.*'] }],
      ['the * glob', { types: '*' }, { types: [...EVENT_TYPES], typePatterns: ['*'] }],
      ['a suffix glob', { types: '*.created' }, { types: ['audit_log.created', 'grant.created', 'internal_audit_log.created', 'resource.created'], typePatterns: ['*.created'] }],
    ])('%s', (_, input, want) => {
      expect(parsed(input)).toEqual(want);
    });

    it('ignores parameters the rules do not govern', () => {
      expect(parsed({ token: 'secret', limit: '5' } as HistoryQueryInput)).toEqual({});
    });
  });

  describe('rejects', () => {
    it.each<[string, HistoryQueryInput, string[]]>([
      ['an empty since', { since: '' }, ['INVALID_TIMESTAMP /query/since']],
      ['month 13', { since: '2026-13-01T00:00:00Z' }, ['INVALID_TIMESTAMP /query/since']],
      ['February 30', { since: '2026-02-30T00:00:00Z' }, ['INVALID_TIMESTAMP /query/since']],
      ['February 29 of a common year', { since: '2026-02-29T00:00:00Z' }, ['INVALID_TIMESTAMP /query/since']],
      ['February 29 of 1900', { since: '1900-02-29T00:00:00Z' }, ['INVALID_TIMESTAMP /query/since']],
      ['April 31', { since: '2026-04-31T00:00:00Z' }, ['INVALID_TIMESTAMP /query/since']],
      ['a date without a time', { since: '2026-01-01' }, ['INVALID_TIMESTAMP /query/since']],
      ['a time without an offset', { since: '2026-01-01T00:00:00' }, ['INVALID_TIMESTAMP /query/since']],
      ['hour 24', { since: '2026-01-01T24:00:00Z' }, ['INVALID_TIMESTAMP /query/since']],
      ['a leap second', { since: '2026-12-31T23:59:60Z' }, ['INVALID_TIMESTAMP /query/since']],
      ['a one-digit offset hour', { since: '2026-01-01T00:00:00+2:00' }, ['INVALID_TIMESTAMP /query/since']],
      ['an offset without a colon', { since: '2026-01-01T00:00:00+0200' }, ['INVALID_TIMESTAMP /query/since']],
      ['an offset of 24 hours', { since: '2026-01-01T00:00:00+24:00' }, ['INVALID_TIMESTAMP /query/since']],
      ['an empty fraction', { since: '2026-01-01T00:00:00.Z' }, ['INVALID_TIMESTAMP /query/since']],
      ['epoch seconds', { since: '1767225600' }, ['INVALID_TIMESTAMP /query/since']],
      ['a bad until with a good since', { since: '2026-01-01T00:00:00Z', until: 'tomorrow' }, ['INVALID_TIMESTAMP /query/until']],
      ['an empty since_id', { since_id: '' }, ['INVALID_EVENT_ID /query/since_id']],
      ['a lower-case event id', { since_id: ID_A.toLowerCase() }, ['INVALID_EVENT_ID /query/since_id']],
      ['an id with a letter ULIDs exclude', { since_id: 'evt_01JF3K9Y6Q2W8E4R5T7Y9U1I3O' }, ['INVALID_EVENT_ID /query/since_id']],
      ['a short id', { since_id: ID_A.slice(0, -1), until_id: `${ID_B}0` }, ['INVALID_EVENT_ID /query/since_id', 'INVALID_EVENT_ID /query/until_id']],
      ['a bad resume point', { last_event_id: 'evt_42' }, ['INVALID_EVENT_ID /query/last_event_id']],
      ['an id no server can issue (first character above 7)', { since_id: 'evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ' }, ['INVALID_EVENT_ID /query/since_id']],
      ['until without since', { until: '2026-01-01T00:00:00Z' }, ['UNTIL_REQUIRES_SINCE /query/until']],
      ['until with since_id only', { since_id: ID_A, until: '2026-01-01T00:00:00Z' }, ['UNTIL_REQUIRES_SINCE /query/until']],
      ['until_id without since_id', { until_id: ID_B }, ['UNTIL_ID_REQUIRES_SINCE_ID /query/until_id']],
      ['since with since_id', { since: '2026-01-01T00:00:00Z', since_id: ID_A }, ['SINCE_EXCLUDES_SINCE_ID /query/since']],
      ['since after until', { since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' }, ['SINCE_AFTER_UNTIL /query/since']],
      ['since after until by a millisecond', { since: '2026-01-01T00:00:00.001Z', until: '2026-01-01T00:00:00Z' }, ['SINCE_AFTER_UNTIL /query/since']],
      ['since after until as instants although before as strings', { since: '2026-01-01T00:00:00-01:00', until: '2026-01-01T00:30:00Z' }, ['SINCE_AFTER_UNTIL /query/since']],
      ['since_id after until_id', { since_id: ID_B, until_id: ID_A }, ['SINCE_ID_AFTER_UNTIL_ID /query/since_id']],
      ['an unknown type', { types: 'grant.deleted' }, ['UNKNOWN_EVENT_TYPE /query/types']],
      ['a glob that matches nothing', { types: 'grant.*x' }, ['UNKNOWN_EVENT_TYPE /query/types']],
      ['a type in the wrong case', { types: 'Grant.Created' }, ['UNKNOWN_EVENT_TYPE /query/types']],
      ['an empty types', { types: '' }, ['UNKNOWN_EVENT_TYPE /query/types']],
      ['a trailing comma', { types: 'grant.created,' }, ['UNKNOWN_EVENT_TYPE /query/types']],
      ['a blank item', { types: 'grant.created, ,token.issued' }, ['UNKNOWN_EVENT_TYPE /query/types']],
      ['two unknown items (one issue each)', { types: 'a.b,grant.created,c.*' }, ['UNKNOWN_EVENT_TYPE /query/types', 'UNKNOWN_EVENT_TYPE /query/types']],
      ['a bad since with until (no ordering issue)', { since: 'x', until: '2026-01-01T00:00:00Z' }, ['INVALID_TIMESTAMP /query/since']],
      ['a bad since_id with until_id (no ordering issue)', { since_id: 'x', until_id: ID_A }, ['INVALID_EVENT_ID /query/since_id']],
      [
        'several rules at once, format rules first and catalog last',
        { types: 'nope', until_id: ID_A, until: '2026-01-01T00:00:00Z', since: '2026-01-02T00:00:00Z', last_event_id: 'bad' },
        [
          'INVALID_EVENT_ID /query/last_event_id',
          'UNTIL_ID_REQUIRES_SINCE_ID /query/until_id',
          'SINCE_AFTER_UNTIL /query/since',
          'UNKNOWN_EVENT_TYPE /query/types',
        ],
      ],
      [
        'since with since_id, both invalid',
        { since_id: 'bad', since: 'bad' },
        ['INVALID_TIMESTAMP /query/since', 'INVALID_EVENT_ID /query/since_id', 'SINCE_EXCLUDES_SINCE_ID /query/since'],
      ],
    ])('%s', (_, input, want) => {
      expect(issues(input)).toEqual(want);
    });

    it('carries the rule message, naming the bad item for types', () => {
      const result = parseHistoryQuery({ since: '', types: 'grant.deleted,' });
      expect(result).toEqual({
        success: false,
        issues: [
          { code: 'INVALID_TIMESTAMP', path: '/query/since', message: '`since` must be an RFC 3339 date-time' },
          { code: 'UNKNOWN_EVENT_TYPE', path: '/query/types', message: '`types` names a type that is not in the catalog: grant.deleted' },
          { code: 'UNKNOWN_EVENT_TYPE', path: '/query/types', message: '`types` names a type that is not in the catalog (an empty item)' },
        ],
      });
    });

    it('reports a value that is not a string (a repeated parameter) as VALIDATION_FAILED', () => {
      expect(issues({ since: ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'] } as unknown as HistoryQueryInput)).toEqual([
        'VALIDATION_FAILED /query/since',
      ]);
    });
  });

  it('uses zod custom issues that carry the rule code', () => {
    const result = historyQuerySchema.safeParse({ until: '2026-01-01T00:00:00Z' });
    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({ code: 'custom', path: ['until'], params: { code: 'UNTIL_REQUIRES_SINCE' } }),
    ]);
  });

  it('exposes parseDateTime', () => {
    expect(parseDateTime('1970-01-01T00:00:00Z')).toBe(0);
    expect(parseDateTime('0001-01-01T00:00:00Z')).toBe(-62135596800000);
    expect(parseDateTime('9999-12-31T23:59:59.999+23:59')).toBe(Date.UTC(9999, 11, 31, 23, 59, 59, 999) - (23 * 60 + 59) * 60_000);
    expect(parseDateTime('2026-02-30T00:00:00Z')).toBeUndefined();
  });
});

// ------------------------------------------------------------------------------------------------
// Property-based: random combinations of absent / valid / invalid values, checked against a small
// reference implementation of the rules written here from the spec's prose, independently of the
// generated code.

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+\- ]\d{2}:\d{2})$/;

/** Reference: the instant of an RFC 3339 date-time, validated by a round trip through Date. */
function referenceInstant(value: string): number | undefined {
  const match = DATE_RE.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, offset] = match as unknown as string[];
  const fields = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]));
  if (fields[0] < 100) date.setUTCFullYear(fields[0]);
  const roundTrip = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()];
  if (roundTrip.some((field, index) => field !== fields[index])) return undefined;
  let offsetMinutes = 0;
  if (offset !== undefined && offset.toUpperCase() !== 'Z') {
    const hours = Number(offset.slice(1, 3));
    const minutes = Number(offset.slice(4, 6));
    if (hours > 23 || minutes > 59) return undefined;
    offsetMinutes = (offset[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  const ms = fraction ? Math.floor(Number(`0${fraction}`) * 1000 + 1e-6) : 0;
  return date.getTime() + ms - offsetMinutes * 60_000;
}

/** Reference: `evt_` + 26 Crockford characters, the first 0-7 (a ULID's 48-bit time ends at `7ZZZZZZZZZ`). */
function referenceIsEventId(value: string): boolean {
  return value.length === 30 && value.startsWith('evt_') && '01234567'.includes(value[4]!) && [...value.slice(4)].every((char) => CROCKFORD.includes(char));
}

/** Reference glob matcher: `*` matches any run of characters; no regular expressions. */
function globMatches(pattern: string, text: string): boolean {
  if (pattern === '') return text === '';
  if (pattern[0] === '*') {
    for (let index = 0; index <= text.length; index++) if (globMatches(pattern.slice(1), text.slice(index))) return true;
    return false;
  }
  return text !== '' && pattern[0] === text[0] && globMatches(pattern.slice(1), text.slice(1));
}

interface ReferenceVerdict {
  issues: string[];
  data?: HistoryQuery;
}

function reference(input: HistoryQueryInput): ReferenceVerdict {
  const format: string[] = [];
  const relation: string[] = [];
  const catalogIssues: string[] = [];
  const since = input.since === undefined ? undefined : referenceInstant(input.since);
  const until = input.until === undefined ? undefined : referenceInstant(input.until);
  if (input.since !== undefined && since === undefined) format.push('INVALID_TIMESTAMP /query/since');
  if (input.until !== undefined && until === undefined) format.push('INVALID_TIMESTAMP /query/until');
  for (const param of ['since_id', 'until_id', 'last_event_id'] as const) {
    const value = input[param];
    if (value !== undefined && !referenceIsEventId(value)) format.push(`INVALID_EVENT_ID /query/${param}`);
  }
  if (input.until !== undefined && input.since === undefined) relation.push('UNTIL_REQUIRES_SINCE /query/until');
  if (input.until_id !== undefined && input.since_id === undefined) relation.push('UNTIL_ID_REQUIRES_SINCE_ID /query/until_id');
  if (input.since !== undefined && input.since_id !== undefined) relation.push('SINCE_EXCLUDES_SINCE_ID /query/since');
  if (since !== undefined && until !== undefined && since > until) relation.push('SINCE_AFTER_UNTIL /query/since');
  const sinceId = input.since_id;
  const untilId = input.until_id;
  if (sinceId !== undefined && untilId !== undefined && referenceIsEventId(sinceId) && referenceIsEventId(untilId) && sinceId > untilId) {
    relation.push('SINCE_ID_AFTER_UNTIL_ID /query/since_id');
  }
  let patterns: string[] | undefined;
  if (input.types !== undefined) {
    patterns = input.types.split(',').map((item) => item.trim());
    for (const item of patterns) {
      if (item === '' || !EVENT_TYPES.some((type) => globMatches(item, type))) catalogIssues.push('UNKNOWN_EVENT_TYPE /query/types');
    }
  }
  const all = [...format, ...relation, ...catalogIssues];
  if (all.length > 0) return { issues: all };
  const data: HistoryQuery = {};
  if (patterns) {
    data.types = EVENT_TYPES.filter((type) => patterns.some((pattern) => globMatches(pattern, type)));
    data.typePatterns = patterns.filter((item, index) => patterns.indexOf(item) === index);
  }
  if (since !== undefined) data.since = new Date(since);
  if (until !== undefined) data.until = new Date(until);
  if (input.since_id !== undefined) data.sinceId = input.since_id;
  if (input.until_id !== undefined) data.untilId = input.until_id;
  if (input.last_event_id !== undefined) data.lastEventId = input.last_event_id;
  return { issues: [], data };
}

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** A valid RFC 3339 date-time and the instant it denotes, written in a random but equivalent way. */
const timestampWithInstant = fc
  .record({
    instant: fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) }),
    // A small pool of instants too, so that since/until often tie or cross.
    pooled: fc.option(fc.constantFrom(Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1, 0, 0, 0, 1), Date.UTC(2026, 5, 30, 23, 59, 59, 999)), { nil: undefined }),
    offsetMinutes: fc.oneof(fc.constant(0), fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 })),
    zulu: fc.boolean(),
    lower: fc.boolean(),
    spaceForPlus: fc.boolean(),
    fractionDigits: fc.constantFrom(0, 1, 3, 6),
  })
  .map(({ instant, pooled, offsetMinutes, zulu, lower, spaceForPlus, fractionDigits }) => {
    const at = pooled ?? instant;
    const offset = zulu ? 0 : offsetMinutes;
    // Fractions are kept to what the instant can express: 1 digit only when it is exact.
    const ms = fractionDigits === 1 ? at - (at % 100) : fractionDigits === 0 ? at - (at % 1000) : at;
    const local = new Date(ms + offset * 60_000);
    const fraction = fractionDigits === 0 ? '' : `.${pad(local.getUTCMilliseconds(), 3).padEnd(fractionDigits, '0').slice(0, fractionDigits)}`;
    const sign = offset < 0 ? '-' : spaceForPlus ? ' ' : '+';
    const zone = zulu ? 'Z' : `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
    const text = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${fraction}${zone}`;
    return [lower ? text.replace('T', 't').replace('Z', 'z') : text, ms] as const;
  });
const validTimestamp = timestampWithInstant.map(([text]) => text);

const invalidTimestamp = fc.oneof(
  fc.constantFrom(
    '',
    '2026-13-01T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-01-32T00:00:00Z',
    '2026-06-31T00:00:00Z',
    '2026-01-01T00:60:00Z',
    '2026-01-01T00:00:00',
    '2026-01-01 00:00:00Z',
    '2026-01-01T00:00:00+25:00',
    '2026-01-01T00:00:00+02:60',
    '2026-01-01T00:00:00.Z',
    'now',
  ),
  fc.string({ maxLength: 30 }),
);

const validId = fc.oneof(
  fc
    .tuple(fc.constantFrom(...'01234567'), fc.string({ unit: fc.constantFrom(...CROCKFORD), minLength: 25, maxLength: 25 }))
    .map(([first, tail]) => `evt_${first}${tail}`),
  fc.constantFrom(ID_A, ID_B),
);
const invalidId = fc.oneof(
  fc.constantFrom('', 'evt_', ID_A.toLowerCase(), ID_A.slice(0, -1), `${ID_A}0`, ID_A.replace('J', 'I'), ID_A.replace('evt_', 'EVT_'), ` ${ID_A}`, `evt_8${ID_A.slice(5)}`, 'evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ'),
  fc.string({ maxLength: 32 }),
);

const typeItem = fc.oneof(
  fc.constantFrom(...EVENT_TYPES),
  fc.constantFrom('grant.*', '*', '*.created', 'admin.*', '*_log.*', '*audit*'),
  fc.constantFrom('grant.deleted', 'nope.*', 'grant', 'GRANT.CREATED', '', ' ', 'grant.created*x', '.*'),
  fc.string({ maxLength: 12 }),
);
const typesValue = fc.oneof(
  fc
    .array(fc.tuple(typeItem, fc.constantFrom('', ' ', '  ')), { minLength: 1, maxLength: 4 })
    .map((items) => items.map(([item, space]) => `${space}${item}${space}`).join(',')),
  fc.string({ maxLength: 20 }),
);

const param = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: valid, weight: 3 }, { arbitrary: invalid, weight: 1 });

const historyInput: fc.Arbitrary<HistoryQueryInput> = fc
  .record({
    types: fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: typesValue, weight: 1 }),
    since: param(validTimestamp, invalidTimestamp),
    until: param(validTimestamp, invalidTimestamp),
    since_id: param(validId, invalidId),
    until_id: param(validId, invalidId),
    last_event_id: param(validId, invalidId),
  })
  .map((record) => Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as HistoryQueryInput);

const GROUP: Record<string, number> = {
  INVALID_TIMESTAMP: 0,
  INVALID_EVENT_ID: 0,
  UNTIL_REQUIRES_SINCE: 1,
  UNTIL_ID_REQUIRES_SINCE_ID: 1,
  SINCE_EXCLUDES_SINCE_ID: 1,
  SINCE_AFTER_UNTIL: 1,
  SINCE_ID_AFTER_UNTIL_ID: 1,
  UNKNOWN_EVENT_TYPE: 2,
};

describe('parseHistoryQuery (property-based)', () => {
  it('agrees with the reference implementation on the verdict, the issues and the parsed query', () => {
    fc.assert(
      fc.property(historyInput, (input) => {
        const want = reference(input);
        const result = parseHistoryQuery(input);
        const got = result.success ? { issues: [], data: result.data } : { issues: result.issues.map((issue) => `${issue.code} ${issue.path}`) };
        expect({ input, issues: [...got.issues].sort() }).toEqual({ input, issues: [...want.issues].sort() });
        if (result.success) expect(result.data).toEqual(want.data);
      }),
      { numRuns: 3000 },
    );
  });

  it('orders issues: format rules, then requires/excludes/ordered, then catalog', () => {
    fc.assert(
      fc.property(historyInput, (input) => {
        const result = parseHistoryQuery(input);
        if (result.success) return;
        const groups = result.issues.map((issue) => GROUP[issue.code]);
        expect(groups.every((group) => group !== undefined)).toBe(true);
        expect(groups).toEqual([...groups].sort());
      }),
      { numRuns: 1000 },
    );
  });

  it('reads every valid timestamp as the instant it denotes', () => {
    fc.assert(
      fc.property(timestampWithInstant, ([text, instant]) => {
        expect(referenceInstant(text)).toBe(instant);
        expect(parseDateTime(text)).toBe(instant);
      }),
      { numRuns: 2000 },
    );
  });

  it('hits every rule code on random input (the generators reach every rule)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(historyInput, (input) => {
        const result = parseHistoryQuery(input);
        if (!result.success) for (const issue of result.issues) seen.add(issue.code);
      }),
      { numRuns: 3000, seed: 42 },
    );
    expect([...seen].sort()).toEqual([...new Set(QUERY_RULES.map((rule) => rule.code))].sort());
  });
});
