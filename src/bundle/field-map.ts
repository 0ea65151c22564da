/**
 * Field maps: the closed mapping language of bundles (docs/bundles.md "Field maps"). Each wire
 * field is one source expression (`$event.time`), a constant (`{const: value}`), or the spread
 * `'...': <expression>` of an object's properties. Compiled once at load into a function; no
 * template language, nothing evaluated per request but property reads.
 */
import type { ProblemList } from './bundle-error.js';
import { isObject, type JsonObject } from './yaml-document.js';

/** The source expressions, grouped by what they read. */
export const SOURCES = {
  event: ['id', 'type', 'time', 'subject', 'source', 'data'],
  stream: ['position'],
  dropped: ['count', 'first_missing_id', 'last_missing_id', 'backfill_url'],
  stats: ['ts', 'throughput_eps', 'queue_depth', 'queue_max', 'subscribers', 'store', 'receivers', 'detectors'],
  error: ['code', 'message', 'status', 'details'],
  end: ['reason'],
} as const;

export type SourceGroup = keyof typeof SOURCES;

/** What a compiled map reads: `{event: {...}, stats: {...}, now: '...'}`; absent values are left out. */
export type FieldSource = Partial<Record<SourceGroup, Record<string, unknown>>> & { now?: string };

/** One compiled field: a key and how to get its value (`spread` copies an object's properties). */
export type CompiledField =
  | { kind: 'value'; key: string; get: (source: FieldSource) => unknown }
  | { kind: 'spread'; get: (source: FieldSource) => unknown };

/** A compiled field map. */
export interface FieldMap {
  readonly fields: readonly CompiledField[];
  /** The expression each key reads (`$event.time`), for the envelope's inverse and the docs. */
  readonly expressions: ReadonlyMap<string, string>;
  /** The expression spread at the top level, if any. */
  readonly spread?: string;
  /** Builds the object, keys in the map's order; undefined values are left out. */
  build(source: FieldSource): JsonObject;
}

/**
 * Compiles `map` (found at `pointer`), allowing expressions of the `groups` given. Problems are
 * added to `problems`; the result is still usable (bad fields are dropped).
 */
export function compileFieldMap(map: unknown, pointer: string, groups: readonly SourceGroup[], problems: ProblemList): FieldMap {
  const fields: CompiledField[] = [];
  const expressions = new Map<string, string>();
  let spread: string | undefined;
  if (!isObject(map)) {
    problems.add(pointer, 'expected a field map: an object of wire field -> expression');
    return makeMap(fields, expressions, spread);
  }
  for (const [key, value] of Object.entries(map)) {
    const at = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (isObject(value) && 'const' in value) {
      if (Object.keys(value).length !== 1) problems.add(at, 'a constant is `{const: value}` with no other key');
      const constant = value.const;
      fields.push({ kind: 'value', key, get: () => constant });
      continue;
    }
    const getter = compileExpression(value, at, groups, problems);
    if (!getter) continue;
    if (key === '...') {
      spread = String(value);
      fields.push({ kind: 'spread', get: getter });
    } else {
      expressions.set(key, String(value));
      fields.push({ kind: 'value', key, get: getter });
    }
  }
  return makeMap(fields, expressions, spread);
}

function makeMap(fields: CompiledField[], expressions: Map<string, string>, spread: string | undefined): FieldMap {
  return {
    fields,
    expressions,
    ...(spread !== undefined ? { spread } : {}),
    build(source) {
      const out: JsonObject = {};
      for (const field of fields) {
        const value = field.get(source);
        if (field.kind === 'spread') {
          if (isObject(value)) for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
        } else if (value !== undefined) {
          out[field.key] = value;
        }
      }
      return out;
    },
  };
}

/** Compiles `$group.name` (or `$now`) to a getter. */
export function compileExpression(
  expression: unknown,
  pointer: string,
  groups: readonly SourceGroup[],
  problems: ProblemList,
): ((source: FieldSource) => unknown) | undefined {
  if (expression === '$now') return (source) => source.now ?? new Date().toISOString();
  const allowed = groups.flatMap((group) => SOURCES[group].map((name) => `$${group}.${name}`));
  if (typeof expression !== 'string' || !allowed.includes(expression)) {
    problems.add(pointer, `expected one of ${[...allowed, '$now'].join(', ')} or {const: value}, got ${JSON.stringify(expression)}`);
    return undefined;
  }
  const [group, name] = expression.slice(1).split('.') as [SourceGroup, string];
  return (source) => source[group]?.[name];
}
