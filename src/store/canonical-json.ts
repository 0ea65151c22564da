import { createHash } from 'node:crypto';
import { STORE_MAX_DEPTH } from './storable.js';

/**
 * The JSON Canonicalization Scheme (RFC 8785, JCS) of a JSON value: no whitespace; object members
 * sorted by their names' UTF-16 code units (§3.2.3); strings escaped as ECMAScript's
 * `JSON.stringify` does (§3.2.2.2: `\b \t \n \f \r \" \\`, other controls as lowercase `\u00xx`);
 * numbers in ECMAScript's shortest round-trip form (§3.2.2.3), `-0` as `0`.
 *
 * Two JSON texts that denote the same value (members in another order, other spacing, `1e2` for
 * `100`, `"\u0041"` for `"A"`) have the same canonical form.
 *
 * Throws a TypeError for what I-JSON (RFC 7493) and so JCS exclude: a non-finite number, a lone
 * surrogate in a string or name, a function or any other non-JSON value (a member whose value is
 * `undefined` is left out, as `JSON.stringify` does); and a
 * RangeError for nesting deeper than STORE_MAX_DEPTH (the recursion stays shallow: callers check
 * request bodies against `body_max_depth` first).
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts, 1);
  return parts.join('');
}

/** A digest of a JSON value that does not depend on how it was written: SHA-256 of its JCS form, hex. */
export function jsonFingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function write(value: unknown, out: string[], depth: number): void {
  switch (typeof value) {
    case 'string':
      out.push(quote(value));
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${String(value)} is not a JSON number`);
      // ECMAScript Number::toString is what RFC 8785 §3.2.2.3 specifies; -0 serialises as 0.
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} is not a JSON value`);
  }
  if (value === null) {
    out.push('null');
    return;
  }
  if (depth > STORE_MAX_DEPTH) throw new RangeError(`canonicalJson: nested deeper than ${STORE_MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i > 0) out.push(',');
      write(item, out, depth + 1);
    });
    out.push(']');
    return;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) throw new TypeError('canonicalJson: only plain objects are JSON objects');
  // Default sort compares UTF-16 code units, as §3.2.3 requires. Members whose value is
  // `undefined` are left out, as JSON.stringify does.
  const names = Object.keys(value)
    .filter((name) => (value as Record<string, unknown>)[name] !== undefined)
    .sort();
  out.push('{');
  names.forEach((name, i) => {
    if (i > 0) out.push(',');
    out.push(quote(name), ':');
    write((value as Record<string, unknown>)[name], out, depth + 1);
  });
  out.push('}');
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function quote(text: string): string {
  // A lone surrogate has no canonical form (I-JSON, RFC 7493 §2.1).
  if (LONE_SURROGATE.test(text)) throw new TypeError('canonicalJson: a string contains a lone surrogate');
  return JSON.stringify(text);
}
