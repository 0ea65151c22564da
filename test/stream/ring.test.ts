import { describe, expect, it } from 'vitest';
import { EventIdGenerator } from '../../src/store/event-id.js';
import { EventRing, RingEntry } from '../../src/stream/ring.js';
import { nativeEncoder } from '../helpers/encoders.js';

const generator = new EventIdGenerator();
const makeIds = (n: number) => Array.from({ length: n }, () => generator.next());

describe('EventRing', () => {
  const entry = (seq: number, id: string, size = 10) => new RingEntry(seq, id, 'a.x', 0, JSON.stringify({ id, pad: 'x'.repeat(size) }));

  it('holds a contiguous run of the log and knows the id before it', () => {
    const ids = makeIds(10);
    const ring = new EventRing(4, 1 << 20, '');
    ids.forEach((id, i) => ring.push(entry(i + 1, id)));
    expect(ring.firstSeq).toBe(7);
    expect(ring.nextSeq).toBe(11);
    expect(ring.baseId).toBe(ids[5]);
    expect(ring.seqAtOrBefore(ids[5]!)).toBe(6);
    expect(ring.seqAtOrBefore(ids[8]!)).toBe(9);
    expect(ring.seqAtOrBefore(ids[4]!)).toBeUndefined();
    expect(ring.at(6)).toBeUndefined();
    expect(ring.at(7)!.id).toBe(ids[6]);
  });

  describe('#dropBelow', () => {
    it('evicts the entries below the oldest retained id, and all up to an inclusive bound', () => {
      const ids = makeIds(6);
      const ring = new EventRing(16, 1 << 20, '');
      ids.forEach((id, i) => ring.push(entry(i + 1, id)));
      expect(ring.dropBelow({ id: ids[3]!, inclusive: false })).toBe(3);
      expect(ring.firstSeq).toBe(4);
      expect(ring.baseId).toBe(ids[2]);
      expect(ring.seqAtOrBefore(ids[0]!)).toBeUndefined();
      expect(ring.seqAtOrBefore(ids[3]!)).toBe(4);
      expect(ring.dropBelow({ id: ids[3]!, inclusive: false })).toBe(0);
      expect(ring.dropBelow({ id: ids[5]!, inclusive: true })).toBe(3);
      expect(ring.length).toBe(0);
      expect(ring.baseId).toBe(ids[5]);
      const [next] = makeIds(1);
      ring.push(entry(7, next!));
      expect(ring.at(7)!.id).toBe(next);
    });
  });

  it('evicts by bytes but always keeps the newest event', () => {
    const ids = makeIds(3);
    const ring = new EventRing(100, 65_536, '');
    ids.forEach((id, i) => ring.push(entry(i + 1, id, 40_000)));
    expect(ring.length).toBe(1);
    expect(ring.at(3)!.id).toBe(ids[2]);
  });

  it('encodes an entry once per format and shares the bytes', () => {
    const [id] = makeIds(1);
    const e = entry(1, id!);
    const sse = nativeEncoder('sse');
    const ws = nativeEncoder('ws');
    expect(e.bytes(sse)).toBe(e.bytes(sse));
    expect(e.bytes(ws)).toBe(e.bytes(ws));
    expect(e.bytes(sse).toString()).toBe(`id: ${id}\nevent: a.x\ndata: ${e.json}\n\n`);
  });

  it('rejects an entry out of sequence', () => {
    const ring = new EventRing(4, 1 << 20, '');
    expect(() => ring.push(entry(2, makeIds(1)[0]!))).toThrow(new RangeError('EventRing.push: expected seq 1, got 2'));
  });
});
