import { describe, expect, it } from 'vitest';
import { TailCache } from '../../src/store/tail-cache.js';
import type { EncodedEvent } from '../../src/store/store.js';

/** Ids that sort like the log's: `evt_` + a zero-padded counter. */
function id(n: number): string {
  return `evt_${String(n).padStart(26, '0')}`;
}

function events(from: number, to: number): EncodedEvent[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({ id: id(from + i), type: 'a', json: `{"n":${from + i}}` }));
}

describe('TailCache', () => {
  describe('#read', () => {
    it('answers undefined before it is anchored', () => {
      const cache = new TailCache();
      expect(cache.extend('', events(1, 2))).toBe(false);
      expect(cache.read('', 10)).toBeUndefined();
    });

    it('serves every event after a position it holds, oldest first, at most limit', () => {
      const cache = new TailCache();
      cache.anchor(id(0));
      expect(cache.extend(id(0), events(1, 5))).toBe(true);

      expect(cache.read(id(0), 10)!.map((e) => e.id)).toEqual(events(1, 5).map((e) => e.id));
      expect(cache.read(id(2), 2)!.map((e) => e.id)).toEqual([id(3), id(4)]);
      expect(cache.read(id(5), 10)).toEqual([]);
    });

    it('answers undefined for a position older than what it holds', () => {
      const cache = new TailCache();
      cache.anchor(id(10));
      cache.extend(id(10), events(11, 12));

      expect(cache.read(id(9), 10)).toBeUndefined();
      expect(cache.read(id(10), 10)!.map((e) => e.id)).toEqual([id(11), id(12)]);
    });

    it('answers undefined while it knows of a newer event than it holds, and again once it holds it', () => {
      const cache = new TailCache();
      cache.anchor(id(0));
      cache.extend(id(0), events(1, 2));
      cache.noteHead(id(4));

      expect(cache.read(id(2), 10)).toBeUndefined();
      cache.extend(id(2), events(3, 4));
      expect(cache.read(id(2), 10)!.map((e) => e.id)).toEqual([id(3), id(4)]);
    });
  });

  describe('#extend', () => {
    it('takes only a segment that continues what it holds', () => {
      const cache = new TailCache();
      cache.anchor(id(0));
      cache.extend(id(0), events(1, 3));

      // A gap (a segment after id 5 while it ends at 3) and a repeat are both ignored.
      expect(cache.extend(id(5), events(6, 7))).toBe(false);
      expect(cache.extend(id(0), events(1, 3))).toBe(false);
      expect(cache.read(id(0), 10)!.map((e) => e.id)).toEqual([id(1), id(2), id(3)]);
    });

    it('evicts the oldest events beyond its bounds and stops serving positions below them', () => {
      const cache = new TailCache({ maxEvents: 3 });
      cache.anchor(id(0));
      cache.extend(id(0), events(1, 5));

      expect(cache.size).toBe(3);
      expect(cache.read(id(1), 10)).toBeUndefined();
      expect(cache.read(id(2), 10)!.map((e) => e.id)).toEqual([id(3), id(4), id(5)]);
    });

    it('keeps at least the newest event whatever its size', () => {
      const cache = new TailCache({ maxChars: 4 });
      cache.anchor(id(0));
      cache.extend(id(0), events(1, 3));

      expect(cache.size).toBe(1);
      expect(cache.read(id(2), 10)!.map((e) => e.id)).toEqual([id(3)]);
    });
  });

  describe('#extendFromRead', () => {
    it('takes the part of a complete read that follows what it holds', () => {
      const cache = new TailCache();
      cache.anchor(id(0));
      cache.extend(id(0), events(1, 2));

      cache.extendFromRead(id(1), events(2, 6));
      expect(cache.read(id(0), 10)!.map((e) => e.id)).toEqual(events(1, 6).map((e) => e.id));
    });

    it('ignores a read that starts after what it holds (it would leave a gap)', () => {
      const cache = new TailCache();
      cache.anchor(id(0));
      cache.extend(id(0), events(1, 2));

      cache.extendFromRead(id(3), events(4, 6));
      expect(cache.lastId).toBe(id(2));
    });
  });

  it('#dropWhile forgets the oldest events and serves nothing below them', () => {
    const cache = new TailCache();
    cache.anchor(id(0));
    cache.extend(id(0), events(1, 5));

    cache.dropWhile((event) => event.id < id(3));
    expect(cache.read(id(1), 10)).toBeUndefined();
    expect(cache.read(id(2), 10)!.map((e) => e.id)).toEqual([id(3), id(4), id(5)]);
  });

  it('#clear stops it answering until anchored again', () => {
    const cache = new TailCache();
    cache.anchor(id(0));
    cache.extend(id(0), events(1, 2));
    cache.clear();

    expect(cache.read(id(2), 10)).toBeUndefined();
    cache.anchor(id(2));
    expect(cache.read(id(2), 10)).toEqual([]);
  });
});
