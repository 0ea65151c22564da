/**
 * `SqliteStore.readTail` (the `TailRead` capability): the hub's read after each commit is answered
 * from the events the store just committed, exactly as the file would answer it, and never when
 * the store knows of events it does not hold (another process's commit, retention).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/store-sqlite.js';
import type { NewEvent } from '../../src/store/store.js';

const event = (n: number, type = 'token.issued'): NewEvent => ({ type, source: '/t', data: { n } });

describe('SqliteStore#readTail', () => {
  let dir: string;
  let stores: SqliteStore[];
  const open = (options = {}) => {
    const store = SqliteStore.open(join(dir, 'events.db'), options);
    stores.push(store);
    return store;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-sqlite-tail-'));
    stores = [];
  });
  afterEach(async () => {
    for (const store of stores) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the reads after each commit as the file does, group after group', async () => {
    const store = open();
    expect(store.readTail('', 10)).toBeUndefined();
    const first = (await store.append([event(1), event(2)])).events;
    expect(store.readTail('', 10)).toEqual(await store.readEncoded({ afterId: '', limit: 10 }));
    const [a, b, c] = await Promise.all([store.append([event(3)]), store.append([event(4), event(5, 'grant.created')]), store.append([event(6)])]);
    const after = first.at(-1)!.id;
    expect(store.readTail(after, 10)).toEqual(await store.readEncoded({ afterId: after, limit: 10 }));
    expect(store.readTail(after, 10)!.map((e) => e.id)).toEqual([...a.events, ...b.events, ...c.events].map((e) => e.id));
    expect(store.readTail(after, 2)).toEqual(await store.readEncoded({ afterId: after, limit: 2 }));
    expect(store.readTail(c.events[0]!.id, 10)).toEqual([]);
  });

  it('answers undefined once it knows of another process\'s commit, and again once a read continued it', async () => {
    const writer = open();
    const other = open({ pollIntervalMs: 3_600_000 });
    const mine = (await writer.append([event(1)])).events;
    const theirs = (await other.append([event(2)])).events;
    // The writer has not looked yet: it holds its own commit, the log's newest as far as it knows.
    writer.checkForAppends();
    expect(writer.readTail(mine[0]!.id, 10)).toBeUndefined();
    const read = await writer.readEncoded({ afterId: mine[0]!.id, limit: 10 });
    expect(read.map((e) => e.id)).toEqual(theirs.map((e) => e.id));
    expect(writer.readTail(mine[0]!.id, 10)).toEqual(read);
    // Its next commit follows the other's: the cache continues across it.
    const next = (await writer.append([event(3)])).events;
    expect(writer.readTail(mine[0]!.id, 10)!.map((e) => e.id)).toEqual([...theirs, ...next].map((e) => e.id));
  });

  it('starts over from the floor of a commit that follows another process\'s unseen commit', async () => {
    const writer = open({ pollIntervalMs: 3_600_000 });
    const other = open({ pollIntervalMs: 3_600_000 });
    const mine = (await writer.append([event(1)])).events;
    const theirs = (await other.append([event(2)])).events;
    const next = (await writer.append([event(3)])).events;
    // Below the new floor it cannot tell; after it, it holds the log.
    expect(writer.readTail(mine[0]!.id, 10)).toBeUndefined();
    expect(writer.readTail(theirs[0]!.id, 10)!.map((e) => e.id)).toEqual(next.map((e) => e.id));
  });

  it('never serves an event retention deleted', async () => {
    const store = open();
    const events = (await store.append([event(1), event(2), event(3)])).events;
    expect(await store.applyRetention({ maxCount: 1 })).toBe(2);
    const tail = store.readTail('', 10);
    expect(tail === undefined || tail.every((e) => e.id === events[2]!.id)).toBe(true);
    expect(store.readTail(events[0]!.id, 10)).toBeUndefined();
  });
});
