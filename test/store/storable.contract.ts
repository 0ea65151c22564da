import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewEvent, Store, StoredEvent } from '../../src/store/store.js';
import type { StoreFixture } from './store.contract.js';

function good(n: number): NewEvent {
  return { type: 'a', source: '/storable', subject: `s${n}`, data: { n } };
}

/** `levels` nested objects around 1, built without recursion. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { end: 1 };
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

/**
 * What every backend refuses, and how (src/store/storable.ts): before the call joins a group
 * commit, so the other calls of the same group are stored; and what it stores is what it returns,
 * byte for byte.
 */
export function describeStorableContract(name: string, open: () => Promise<StoreFixture>): void {
  describe(`${name} (storable input)`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    it.each([
      ['NUL in subject', { type: 'a', source: '/s', subject: 'a\u0000b', data: {} }, '/1/subject', 'INVALID_CHARACTER'],
      ['NUL in source', { type: 'a', source: '\u0000', data: {} }, '/1/source', 'INVALID_CHARACTER'],
      ['NUL in type', { type: 'a\u0000', source: '/s', data: {} }, '/1/type', 'INVALID_CHARACTER'],
      ['NUL in a data string', { type: 'a', source: '/s', data: { x: ['\u0000'] } }, '/1/data/x/0', 'INVALID_CHARACTER'],
      ['NUL in a data key', { type: 'a', source: '/s', data: { 'k\u0000': 1 } }, '/1/data/k\\u0000', 'INVALID_CHARACTER'],
      ['a lone surrogate in subject', { type: 'a', source: '/s', subject: '\udfff', data: {} }, '/1/subject', 'INVALID_CHARACTER'],
      ['a lone surrogate in a data string', { type: 'a', source: '/s', data: { x: 'a\ud800' } }, '/1/data/x', 'INVALID_CHARACTER'],
      ['a __proto__ key', { type: 'a', source: '/s', data: JSON.parse('{"m":{"__proto__":{"x":1}}}') as Record<string, unknown> }, '/1/data/m/__proto__', 'RESERVED_KEY'],
      ['data nested 600 levels deep', { type: 'a', source: '/s', data: nested(600) }, `/1/data${'/a'.repeat(511)}`, 'TOO_DEEP'],
    ] as const)('refuses %s with VALIDATION_FAILED naming it, and stores the rest of its group', async (_what, bad, path, code) => {
      // All in one turn of the event loop: one group commit on every backend.
      const before = store.append([good(1)]);
      const refused = store.append([good(2), bad as NewEvent]);
      const after = store.append([good(3)]);

      await expect(refused).rejects.toMatchObject({ code: 'VALIDATION_FAILED', status: 400, details: [{ path, code }] });
      const stored = [...(await before).events, ...(await after).events];
      expect((await store.read({ limit: 100 })).map((e) => e.subject)).toEqual(['s1', 's3']);
      expect(await store.read({ limit: 100 })).toEqual(stored);
    });

    it('returns what it stored, byte for byte, from read, get and readEncoded', async () => {
      const tricky = 'é 😀 \u2028 \u001f "q" \\ / \t \n \uffff';
      const results = await Promise.all([
        store.append([{ type: 'a', source: tricky, subject: tricky, data: { [tricky]: [tricky, 1.5, -0, 1e21, null, true], z: {}, a: [] } }]),
        store.append([good(1), { type: 'b', source: '/s', data: { n: 2 } }]),
      ]);
      const acknowledged = results.flatMap((r) => r.events);
      const text = (events: readonly StoredEvent[]) => events.map((e) => JSON.stringify(e));

      expect(text(await store.read({ limit: 100 }))).toEqual(text(acknowledged));
      for (const event of acknowledged) expect(JSON.stringify(await store.get(event.id))).toBe(JSON.stringify(event));
      const encoded = (store as Partial<{ readEncoded: (q: { limit: number }) => Promise<{ json: string }[]> }>).readEncoded;
      if (encoded) expect((await encoded.call(store, { limit: 100 })).map((e) => e.json)).toEqual(text(acknowledged));
    });
  });
}
