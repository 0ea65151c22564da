import { describe, expect, it } from 'vitest';
import { EventIdGenerator } from '../../src/store/event-id.js';
import { EventLedger, OVERFLOW_INDEX, TypeIndex } from '../../src/stream/ledger.js';
import { Subscriber, type SubscriberTransport } from '../../src/stream/subscriber.js';
import { nativeEncoder } from '../helpers/encoders.js';

const generator = new EventIdGenerator();
const makeIds = (n: number) => Array.from({ length: n }, () => generator.next());

describe('TypeIndex', () => {
  it('gives types past the 255th a shared index that no mask selects, so a filtered count never includes another type', () => {
    const types = new TypeIndex();
    const names = Array.from({ length: 300 }, (_, i) => `t${i}.x`);
    for (const name of names) types.of(name);
    expect(types.of('t254.x')).toBe(254);
    expect(types.of('t255.x')).toBe(OVERFLOW_INDEX);
    expect(types.of('t299.x')).toBe(OVERFLOW_INDEX);
    const mask = types.mask(['t299.x', 't3.x'])!;
    expect(mask[OVERFLOW_INDEX]).toBe(0);
    expect(mask[3]).toBe(1);

    const ledger = new EventLedger(100_000, '');
    const ids = makeIds(3);
    ledger.append(ids[0]!, types.of('t299.x'));
    ledger.append(ids[1]!, types.of('t298.x'));
    ledger.append(ids[2]!, types.of('t3.x'));
    // t298.x shares the index: it must not be counted (or named) for a t299.x reader.
    expect(ledger.span('', { id: ids[2]!, inclusive: true }, mask)).toEqual({ count: 1, firstId: ids[2], lastId: ids[2], partial: false });

    // Delivery still matches overflow types by name.
    const subscriber = new Subscriber({ format: 'sse', encoder: nativeEncoder('sse') } as unknown as SubscriberTransport, 'k', ['t299.x', 't3.x'], mask, undefined, '');
    expect(subscriber.wants(OVERFLOW_INDEX, 't299.x')).toBe(true);
    expect(subscriber.wants(OVERFLOW_INDEX, 't298.x')).toBe(false);
    expect(subscriber.wants(3, 't3.x')).toBe(true);
  });
});

describe('EventLedger', () => {
  describe('#span', () => {
    it('lists the entries of the masked types strictly between two ids', () => {
      const types = new TypeIndex();
      const ledger = new EventLedger(100_000, '');
      const ids = makeIds(10_000);
      ids.forEach((id, i) => ledger.append(id, types.of(i % 3 === 0 ? 'a.x' : 'b.y')));
      const mask = types.mask(['a.x']);
      const span = ledger.span(ids[10]!, { id: ids[100]!, inclusive: false }, mask);
      // a.x at multiples of 3 in 11..99: 12..99 -> 30 entries
      expect(span).toEqual({ count: 30, firstId: ids[12], lastId: ids[99], partial: false });
      expect(ledger.span(ids[10]!, { id: ids[99]!, inclusive: true }, undefined).count).toBe(89);
      expect(ledger.span(ids[10]!, { id: ids[11]!, inclusive: false }, undefined).count).toBe(0);
    });

    it('reports a span that starts before its coverage as partial', () => {
      const ids = makeIds(10);
      const ledger = new EventLedger(10, ids[4]!);
      ids.slice(5).forEach((id) => ledger.append(id, 0));
      expect(ledger.span(ids[0]!, { id: ids[9]!, inclusive: false }, undefined)).toEqual({
        count: 4,
        firstId: ids[5],
        lastId: ids[8],
        partial: true,
      });
    });
  });

  describe('#count', () => {
    it('counts whole chunks from their totals and partial chunks by scanning, matching a brute-force count', () => {
      const types = new TypeIndex();
      const ledger = new EventLedger(1_000_000, '');
      const ids = makeIds(20_000);
      const kinds = ids.map((_, i) => (i * 7919) % 5);
      ids.forEach((id, i) => ledger.append(id, types.of(`t.${kinds[i]}`)));
      const mask = types.mask(['t.1', 't.4']);
      for (const [a, b] of [[0, 19_999], [5, 9000], [4095, 4097], [100, 100], [12_000, 19_000]] as const) {
        const expected = kinds.slice(a + 1, b + 1).filter((k) => k === 1 || k === 4).length;
        expect(ledger.count(ids[a]!, ids[b]!, mask)).toBe(expected);
        expect(ledger.count(ids[a]!, ids[b]!, undefined)).toBe(b - a);
      }
    });
  });

  describe('#append', () => {
    it('forgets the oldest chunks beyond its capacity and moves its coverage', () => {
      const ledger = new EventLedger(4096, '');
      const ids = makeIds(4096 * 3);
      ids.forEach((id) => ledger.append(id, 0));
      expect(ledger.length).toBeGreaterThanOrEqual(4096);
      expect(ledger.length).toBeLessThanOrEqual(4096 * 2);
      expect(ledger.coverageStartId).toBe(ids[ids.length - ledger.length - 1]);
      expect(ledger.seqAtOrBefore(ids[0]!)).toBeUndefined();
      expect(ledger.seqAtOrBefore(ids.at(-1)!)).toBe(ids.length);
    });
  });
});
