import { describe, expect, it } from 'vitest';
import { findUnstorable, unstorableCharacter } from '../../src/store/storable.js';

/** `levels` nested objects around 1, built without recursion. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

describe('findUnstorable', () => {
  it('accepts ordinary JSON, including surrogate pairs and every other code point', () => {
    const value = { a: ['é', '😀', '\uffff', '\u2028', '\u0001'], 'k😀': { n: 1.5, t: true, z: null } };
    expect(findUnstorable(value, 64)).toEqual([]);
  });

  it.each([
    ['NUL', 'a\u0000b', 'U+0000'],
    ['a lone low surrogate', '\udfff', 'U+DFFF'],
    ['a lone high surrogate at the end', 'x\ud83d', 'U+D83D'],
    ['a high surrogate followed by a non-surrogate', '\ud83dx', 'U+D83D'],
    ['a low surrogate after a complete pair', '\ud83d\ude00\ude00', 'U+DE00'],
  ])('reports %s in a string, by JSON Pointer', (_what, text, shown) => {
    const [problem, ...rest] = findUnstorable({ data: { list: ['ok', text] } }, 64);
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ path: '/data/list/1', code: 'INVALID_CHARACTER' });
    expect(problem!.message).toContain(shown);
    expect(unstorableCharacter(text)).toBeDefined();
  });

  it('reports a bad key with the key escaped in the pointer', () => {
    expect(findUnstorable({ 'a/b~\u0000': 1 }, 64)).toEqual([
      expect.objectContaining({ path: '/a~1b~0\\u0000', code: 'INVALID_CHARACTER' }),
    ]);
  });

  it('refuses __proto__ as a key, wherever it is, and does not enter it', () => {
    const value = JSON.parse('{"m":{"__proto__":{"x":"\\u0000"}},"__proto__":1}') as unknown;
    expect(findUnstorable(value, 64).map((p) => [p.path, p.code])).toEqual([
      ['/m/__proto__', 'RESERVED_KEY'],
      ['/__proto__', 'RESERVED_KEY'],
    ]);
  });

  it('counts depth from the root (level 1) and reports the first level too deep once', () => {
    expect(findUnstorable(nested(64), 64)).toEqual([]);
    expect(findUnstorable(nested(65), 64)).toEqual([
      expect.objectContaining({ path: '/a'.repeat(64), code: 'TOO_DEEP' }),
    ]);
    expect(findUnstorable([[[]]], 2)).toEqual([expect.objectContaining({ path: '/0/0', code: 'TOO_DEEP' })]);
  });

  it('walks 100,000 levels without recursion', () => {
    expect(findUnstorable(nested(100_000), 64)).toHaveLength(1);
    expect(() => findUnstorable(nested(100_000), 200_000)).not.toThrow();
  });

  it('reports in document order, at most `max` problems, under a prefix', () => {
    const value = Array.from({ length: 50 }, () => '\u0000');
    const problems = findUnstorable(value, 64, '/3', 5);
    expect(problems.map((p) => p.path)).toEqual(['/3/0', '/3/1', '/3/2', '/3/3', '/3/4']);
  });

  it('rejects a maxDepth that is not a positive integer', () => {
    expect(() => findUnstorable({}, 0)).toThrow(RangeError);
  });
});
