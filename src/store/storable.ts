import type { ErrorDetail } from '../errors.js';

/**
 * What the event log refuses, the same on every backend (SQLite, PostgreSQL, NATS JetStream):
 *
 * - **U+0000 (NUL)** in any string or object key: PostgreSQL `text` cannot hold it, and C
 *   consumers of the log would cut the string there.
 * - **A lone surrogate** (a UTF-16 code unit U+D800-U+DFFF that is not half of a pair) in any
 *   string or key: it has no UTF-8 form, so SQLite and PostgreSQL would store U+FFFD instead and
 *   the stored event would differ from the acknowledged one (RFC 8259 §8.2, RFC 3629 §3).
 * - **`__proto__` as an object key**: `JSON.parse` makes it an ordinary member but an assignment
 *   (a validator copying the value, a consumer's `Object.assign`) sets the prototype instead, so
 *   validators and consumers would not see the same object.
 * - **Nesting deeper than a limit** (objects and arrays, counted from the root value, which is at
 *   depth 1): every recursive walk (validation, serialisation, canonicalisation) then stays far
 *   from the stack limit.
 *
 * The walk is iterative (an explicit stack), so it is itself safe on any depth, and linear in the
 * size of the value.
 */

/** The deepest nesting the store itself accepts (`json_max_depth` cannot be set higher). */
export const STORE_MAX_DEPTH = 512;

/** Detail codes of the problems `findUnstorable` reports (under VALIDATION_FAILED). */
export type UnstorableCode = 'INVALID_CHARACTER' | 'RESERVED_KEY' | 'TOO_DEEP';

/** NUL, or a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const UNSTORABLE_CHARACTER = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot be stored, or undefined when it can. */
export function unstorableCharacter(text: string): string | undefined {
  const match = UNSTORABLE_CHARACTER.exec(text);
  if (match === null) return undefined;
  const unit = match[0].charCodeAt(0);
  return unit === 0
    ? `contains U+0000 (NUL) at index ${match.index}, which the server refuses in every string`
    : `contains a lone surrogate U+${unit.toString(16).toUpperCase()} at index ${match.index} (not valid Unicode), which the server refuses in every string`;
}

/** A value on the walk's stack; the path is built only when a problem is found. */
interface Node {
  value: unknown;
  parent: Node | undefined;
  key: string;
  depth: number;
  /** Set when the member's key itself is refused: reported when the node is visited, not entered. */
  keyProblem?: { code: UnstorableCode; message: string };
}

/**
 * The problems that make `value` unstorable (see the module comment), as error details whose
 * `path` is the JSON Pointer (RFC 6901) of the offending member under `prefix`; at most `max`
 * of them, in document order. An empty array means the value can be stored.
 *
 * `maxDepth` counts objects and arrays from `value` itself (depth 1). A container deeper than it
 * is reported once (as TOO_DEEP) and not entered.
 */
export function findUnstorable(value: unknown, maxDepth: number, prefix = '', max = 20): ErrorDetail[] {
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1) throw new RangeError(`findUnstorable: maxDepth must be a positive integer, got ${String(maxDepth)}`);
  const problems: ErrorDetail[] = [];
  const report = (node: Node, code: UnstorableCode, message: string) => {
    problems.push({ path: prefix + pointerOf(node), code, message });
  };
  const stack: Node[] = [{ value, parent: undefined, key: '', depth: 0 }];
  while (stack.length > 0 && problems.length < max) {
    const node = stack.pop()!;
    if (node.keyProblem !== undefined) {
      report(node, node.keyProblem.code, node.keyProblem.message);
      continue;
    }
    const current = node.value;
    if (typeof current === 'string') {
      const why = unstorableCharacter(current);
      if (why !== undefined) report(node, 'INVALID_CHARACTER', why);
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    const depth = node.depth + 1;
    if (depth > maxDepth) {
      report(node, 'TOO_DEEP', `is nested deeper than ${maxDepth} levels (objects and arrays), the limit`);
      continue;
    }
    // Children are pushed in reverse so that they are visited, and reported, in document order.
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], parent: node, key: String(i), depth });
      continue;
    }
    const keys = Object.keys(current);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const member: Node = { value: (current as Record<string, unknown>)[key], parent: node, key, depth };
      if (key === '__proto__') {
        member.keyProblem = { code: 'RESERVED_KEY', message: 'the key "__proto__" is refused (it would set a prototype instead of a member)' };
      } else {
        const why = unstorableCharacter(key);
        if (why !== undefined) member.keyProblem = { code: 'INVALID_CHARACTER', message: `its key ${why}` };
      }
      stack.push(member);
    }
  }
  return problems.slice(0, max);
}

/** The JSON Pointer of `node` relative to the walk's root. */
function pointerOf(node: Node): string {
  const segments: string[] = [];
  for (let at: Node | undefined = node; at?.parent !== undefined; at = at.parent) segments.push(escapePointer(at.key));
  return segments.length === 0 ? '' : `/${segments.reverse().join('/')}`;
}

/** RFC 6901 §3: `~` -> `~0`, `/` -> `~1`. Unstorable characters are shown as escapes. */
function escapePointer(segment: string): string {
  const escaped = segment.replace(/~/g, '~0').replace(/\//g, '~1');
  return UNSTORABLE_CHARACTER.test(escaped) ? JSON.stringify(escaped).slice(1, -1) : escaped;
}
