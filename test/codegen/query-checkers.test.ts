/**
 * The query checkers `specstream generate` emits into a bundle's generated/index.js: the rules of
 * examples/global-events (a `Last-Event-Id` query parameter beside the header), and the engine's
 * own format checks in a bundle that declares no rules (test/fixtures/bundles/mini).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import * as globalEvents from '../../examples/global-events/generated/index.js';
import { expandTypeGlobs } from '../../src/catalog/type-glob.js';
import * as mini from '../fixtures/bundles/mini/generated/index.js';
import { ROOT } from './typecheck.js';

const ID = 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P';
const IMPOSSIBLE_ID = 'evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ';

/** `[code, path, message]` of each issue, in the checker's order; [] when the query is accepted. */
function issuesOf(checker: globalEvents.QueryChecker | mini.QueryChecker, input: globalEvents.HistoryQueryInput): Array<[string, string, string]> {
  const result = checker.parse(input);
  return result.success ? [] : result.issues.map((issue) => [issue.code, issue.path, issue.message]);
}

describe('queryCheckers of examples/global-events', () => {
  const stream = globalEvents.queryCheckers.streamGlobalEvents;

  it('has one checker per list, stream and check operation, by operationId', () => {
    expect(Object.keys(globalEvents.queryCheckers)).toEqual(['checkGlobalEventsPermission', 'streamGlobalEvents']);
  });

  it('applies the rules of components/x-specstream-query-rules, in the spec order, for both operations', async () => {
    const spec = parseYaml(await readFile(join(ROOT, 'examples', 'global-events', 'openapi.yaml'), 'utf8')) as {
      components: { 'x-specstream-query-rules': unknown[] };
    };
    expect(stream.rules).toEqual(spec.components['x-specstream-query-rules']);
    expect(globalEvents.queryCheckers.checkGlobalEventsPermission.rules).toBe(stream.rules);
    expect(stream.types).toBe(globalEvents.EVENT_TYPES);
  });

  it('reports each role under the operation\'s parameter name: the resume point as the query parameter Last-Event-Id', () => {
    expect(stream.names).toEqual({ types: 'types', since: 'since', until: 'until', since_id: 'since_id', until_id: 'until_id', last_event_id: 'Last-Event-Id' });
  });

  it.each<[string, globalEvents.HistoryQueryInput, Array<[string, string, string]>]>([
    ['until without since', { until: '2026-01-01T00:00:00Z' }, [['UNTIL_REQUIRES_SINCE', '/query/until', '`until` requires `since`']]],
    ['until_id without since_id', { until_id: ID }, [['UNTIL_ID_REQUIRES_SINCE_ID', '/query/until_id', '`until_id` requires `since_id`']]],
    ['since after until', { since: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }, [['SINCE_AFTER_UNTIL', '/query/since', '`since` must not be after `until`']]],
    [
      'a bad resume point',
      { last_event_id: 'evt_42' },
      [['INVALID_EVENT_ID', '/query/Last-Event-Id', '`Last-Event-Id` must be an event id (evt_ + 26-character ULID)']],
    ],
    [
      'a resume point no server can issue',
      { last_event_id: IMPOSSIBLE_ID },
      [['INVALID_EVENT_ID', '/query/Last-Event-Id', '`Last-Event-Id` must be an event id (evt_ + 26-character ULID)']],
    ],
    [
      'since with since_id, both invalid: format rules first',
      { since: 'yesterday', since_id: '42' },
      [
        ['INVALID_TIMESTAMP', '/query/since', '`since` must be an RFC 3339 date-time'],
        ['INVALID_EVENT_ID', '/query/since_id', '`since_id` must be an event id (evt_ + 26-character ULID)'],
        ['SINCE_EXCLUDES_SINCE_ID', '/query/since', '`since` and `since_id` cannot be used together'],
      ],
    ],
    [
      'an unknown type and an empty item, one issue each',
      { types: 'Realm*,nope,' },
      [
        ['UNKNOWN_EVENT_TYPE', '/query/types', '`types` names a type that is not in the catalog: nope'],
        ['UNKNOWN_EVENT_TYPE', '/query/types', '`types` names a type that is not in the catalog (an empty item)'],
      ],
    ],
  ])('refuses %s', (_name, input, want) => {
    expect(issuesOf(stream, input)).toEqual(want);
  });

  it('parses a valid query: globs expanded against the catalog, times as instants', () => {
    expect(stream.parse({ types: '*Created, RealmCreated', since: '2026-01-01T00:00:00.5471Z', last_event_id: ID })).toEqual({
      success: true,
      data: {
        types: ['RealmCreated', 'ResourceCreated'],
        typePatterns: ['*Created', 'RealmCreated'],
        since: new Date('2026-01-01T00:00:00.547Z'),
        lastEventId: ID,
      },
    });
  });

  it('matches type globs as the server does elsewhere (src/catalog/type-glob.ts)', () => {
    const glob = fc.string({ unit: fc.constantFrom('*', 'R', 'e', 'a', 'l', 'm', 'C', 'r', 't', 'd', 'A', 'P', 'c', 's', 'o', 'u', 'x'), maxLength: 10 });
    fc.assert(
      fc.property(glob, (pattern) => {
        const expected = expandTypeGlobs([pattern], globalEvents.EVENT_TYPES);
        const result = stream.parse({ types: pattern });
        if (expected.length === 0) expect(result.success).toBe(false);
        else expect(result).toEqual({ success: true, data: { types: expected, typePatterns: [pattern] } });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('queryCheckers of a bundle without x-specstream-query-rules (test/fixtures/bundles/mini)', () => {
  it('checks every time and id parameter all the same, under the operation\'s own name', () => {
    expect(mini.queryCheckers.listEvents.rules).toEqual([
      { rule: 'format', param: 'since_id', format: 'event-id', code: 'INVALID_EVENT_ID', message: '`after` must be an event id' },
    ]);
    expect(issuesOf(mini.queryCheckers.listEvents, { since_id: IMPOSSIBLE_ID })).toEqual([['INVALID_EVENT_ID', '/query/after', '`after` must be an event id']]);
    expect(issuesOf(mini.queryCheckers.streamEvents, { last_event_id: 'x' })).toEqual([
      ['INVALID_EVENT_ID', '/query/Last-Event-ID', '`Last-Event-ID` must be an event id'],
    ]);
  });

  it('applies no other rule', () => {
    expect(mini.queryCheckers.streamWebSocket.rules).toEqual([]);
    expect(mini.queryCheckers.streamWebSocket.parse({ types: 'nope', until: '2026-01-01T00:00:00Z' })).toEqual({
      success: true,
      data: { types: [], typePatterns: ['nope'], until: new Date('2026-01-01T00:00:00Z') },
    });
  });
});
