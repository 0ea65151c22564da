import { afterEach, describe, expect, it } from 'vitest';
import type { ReadQuery } from '../../src/store/store.js';
import { SqliteStore } from '../../src/store/store-sqlite.js';
import { nativeEncoder } from '../helpers/encoders.js';
import { SseFrameReader, validateWsFrame } from '../helpers/frames.js';

const events = [
  { type: 'grant.created', source: '/grants', subject: 'grnt_1', data: { grantId: 'grnt_1', userId: 'u\u00e9\u{1F600}', scopes: ['a:b'] } },
  { type: 'security.alert', source: '/security "quoted"', data: { alertId: 'al_1', severity: 'high', rule: 'r', description: 'line\nbreak' } },
  { type: 'token.issued', source: '/tokens', data: { tokenId: 't', grantId: 'grnt_1', expiresAt: '2026-03-01T13:00:00.000Z', ttlSeconds: 5 } },
];

describe('SqliteStore#readEncoded', () => {
  let store: SqliteStore;
  afterEach(async () => {
    await store.close();
  });

  it.each<[string, Omit<ReadQuery, 'limit'>]>([
    ['everything', {}],
    ['a type filter', { types: ['grant.created', 'token.issued'] }],
    ['after an id', { afterId: 'first' }],
  ])('equals JSON.stringify of read for %s', async (_name, query) => {
    store = SqliteStore.open(':memory:');
    const stored = (await store.append([...events, ...events])).events;
    const q: ReadQuery = { ...query, limit: 100, ...(query.afterId === 'first' ? { afterId: stored[0]!.id } : {}) };
    const read = await store.read(q);
    const encoded = await store.readEncoded(q);
    expect(encoded.map((e) => e.json)).toEqual(read.map((e) => JSON.stringify(e)));
    expect(encoded.map((e) => [e.id, e.type])).toEqual(read.map((e) => [e.id, e.type]));
  });
});

describe('WireEncoder#events', () => {
  it.each<['sse' | 'ws']>([['sse'], ['ws']])('encodes %s frames that validate, at least one event per piece', async (format) => {
    const store = SqliteStore.open(':memory:');
    await store.append(Array.from({ length: 50 }, (_, i) => events[i % 3]!));
    const encoded = await store.readEncoded({ limit: 100 });
    await store.close();
    const pieces: Buffer[] = [];
    for (let start = 0; start < encoded.length; ) {
      const piece = nativeEncoder(format).events(encoded, start, 600);
      expect(piece.end).toBeGreaterThan(start);
      pieces.push(piece.bytes);
      start = piece.end;
    }
    expect(pieces.length).toBeGreaterThan(5);
    const bytes = Buffer.concat(pieces);
    if (format === 'sse') {
      const reader = new SseFrameReader();
      reader.feed(bytes);
      expect(reader.events.map((e) => e.id)).toEqual(encoded.map((e) => e.id));
    } else {
      const ids: string[] = [];
      for (let offset = 0; offset < bytes.length; ) {
        expect(bytes[offset]).toBe(0x81);
        let length = bytes[offset + 1]!;
        let header = 2;
        if (length === 126) {
          length = bytes.readUInt16BE(offset + 2);
          header = 4;
        }
        const frame = validateWsFrame(bytes.toString('utf8', offset + header, offset + header + length));
        if (frame.type === 'event') ids.push(frame.event.id);
        offset += header + length;
      }
      expect(ids).toEqual(encoded.map((e) => e.id));
    }
  });
});
