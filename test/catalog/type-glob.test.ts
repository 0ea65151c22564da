import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileTypeGlob, expandTypeGlobs } from '../../src/catalog/type-glob.js';
import { EVENT_TYPES } from '../../src/generated/catalog.js';

/** The meaning of a `*`-glob, by dynamic programming over (pattern, type) prefixes: the reference the matcher must agree with. */
function reference(pattern: string, type: string): boolean {
  let row = Array.from({ length: type.length + 1 }, (_, j) => j === 0);
  for (const char of pattern) {
    const next = Array.from({ length: type.length + 1 }, () => false);
    for (let j = 0; j <= type.length; j++) {
      if (char === '*') next[j] = row[j]! || (j > 0 && next[j - 1]!);
      else next[j] = j > 0 && row[j - 1]! && type[j - 1] === char;
    }
    row = next;
  }
  return row[type.length]!;
}

describe('compileTypeGlob', () => {
  it.each([
    ['grant.*', 'grant.created', true],
    ['grant.*', 'grant.', true],
    ['grant.*', 'grants.created', false],
    ['*.created', 'grant.created', true],
    ['*.created', 'created', false],
    ['*', 'anything.at.all', true],
    ['*', '', true],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['ab*bc', 'abc', false],
    ['ab*bc', 'abbc', true],
    ['*t*e*', 'token.issued', true],
    ['*x*y*', 'yx', false],
    ['grant.created', 'grant.created', true],
    ['grant.created', 'grant.createdx', false],
    ['g.+?^${}()|[]\\*', 'g.+?^${}()|[]\\anything', true],
    ['g.+*', 'gx+y', false],
  ])('%s against %s is %s', (pattern, type, expected) => {
    expect(compileTypeGlob(pattern)(type)).toBe(expected);
    expect(reference(pattern, type)).toBe(expected);
  });

  it('agrees with the reference on arbitrary globs and types', () => {
    const alphabet = fc.constantFrom('a', 'b', '.', '*');
    const text = (chars: fc.Arbitrary<string>) => fc.array(chars, { maxLength: 14 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(text(alphabet), text(fc.constantFrom('a', 'b', '.')), (pattern, type) => {
        expect(compileTypeGlob(pattern)(type)).toBe(reference(pattern, type));
      }),
      { numRuns: 5000 },
    );
  });

  // A backtracking matcher (each `*` a `.*`) takes seconds for 12 stars and never returns for 14+:
  // on such a matcher these cases hang until the test timeout.
  it.each([
    ['12 stars, x', '************x', false],
    ['14 stars, x', '*'.repeat(14) + 'x', false],
    ['40 stars, x', '*'.repeat(40) + 'x', false],
    ['500 "*a", x', '*a'.repeat(500) + 'x', false],
    ['500 "*a", *d', '*a'.repeat(500) + '*d', true],
    ['300 "*b*"', '*b*'.repeat(300), false],
    ['1023 stars, x', '*'.repeat(1023) + 'x', false],
    ['1023 stars, d', '*'.repeat(1023) + 'd', true],
  ])('answers (%s) against a long type without backtracking', (_name, pattern, expected) => {
    const type = `${'a'.repeat(5000)}.created`;
    expect(compileTypeGlob(pattern)(type)).toBe(expected);
    expect(expandTypeGlobs([pattern], EVENT_TYPES)).toEqual(EVENT_TYPES.filter((t) => reference(pattern, t)));
  });
});
