import { statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpecstreamError } from '../../src/errors.js';
import { timeOfId } from '../../src/store/event-id.js';
import { openStore } from '../../src/store/index.js';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/store-sqlite.js';
import type { NewEvent } from '../../src/store/store.js';
import { describeStorableContract } from './storable.contract.js';
import { describeStoreContract } from './store.contract.js';
import { waitFor } from './wait-for.js';

describeStoreContract('SqliteStore (file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'specstream-store-'));
  const store = SqliteStore.open(join(dir, 'events.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describeStoreContract('SqliteStore (:memory:)', async () => {
  const store = SqliteStore.open(':memory:');
  return { store, cleanup: () => store.close() };
});

describeStorableContract('SqliteStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'specstream-store-'));
  const store = SqliteStore.open(join(dir, 'events.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

function event(type: string, n: number): NewEvent {
  return { type, source: '/sqlite', data: { n } };
}

describe('SqliteStore', () => {
  let dir: string;
  let file: string;
  const opened: Array<{ close(): unknown }> = [];

  /** Opens a store on this test's file; closed in afterEach. */
  function open(options?: SqliteStoreOptions, path = file): SqliteStore {
    const store = SqliteStore.open(path, options);
    opened.push(store);
    return store;
  }

  /** A raw connection to this test's file, for looking under the hood; closed in afterEach. */
  function raw(): Database.Database {
    const db = new Database(file);
    opened.push(db);
    return db;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'specstream-sqlite-'));
    file = join(dir, 'events.db');
  });

  afterEach(async () => {
    for (const handle of opened.splice(0).reverse()) await handle.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('.open', () => {
    it('creates missing parent directories', async () => {
      const store = open(undefined, join(dir, 'a', 'b', 'events.db'));

      await store.append([event('a', 1)]);
      expect(await store.read({ limit: 10 })).toHaveLength(1);
    });

    it('runs the log in WAL mode with the synchronous level asked for', async () => {
      const store = open({ synchronous: 'FULL' });
      await store.append([event('a', 1)]);

      expect(raw().pragma('journal_mode', { simple: true })).toBe('wal');
    });

    it('throws STORE_UNAVAILABLE when the file cannot be opened', async () => {
      const notADirectory = join(dir, 'plain-file');
      await writeFile(notADirectory, 'x');

      expect(() => open(undefined, join(notADirectory, 'events.db'))).toThrow(
        expect.objectContaining({ code: 'STORE_UNAVAILABLE' }),
      );
    });

    it('throws STORE_UNAVAILABLE with the SQLite error as cause for a file that is not a database', async () => {
      await writeFile(file, 'this is not a database, just some text that is long enough'.repeat(20));

      let thrown: unknown;
      try {
        open();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(SpecstreamError);
      expect(thrown).toMatchObject({ code: 'STORE_UNAVAILABLE', cause: { code: 'SQLITE_NOTADB' } });
    });

    it('refuses a schema newer than it knows', async () => {
      raw().pragma('user_version = 99');

      expect(() => open()).toThrow('schema version 99');
    });

    it('rejects invalid options with a RangeError', () => {
      expect(() => open({ pollIntervalMs: 0 })).toThrow(RangeError);
      expect(() => open({ synchronous: 'OFF' as 'FULL' })).toThrow(RangeError);
    });
  });

  describe('reopening', () => {
    it('keeps the events', async () => {
      const first = open();
      const { events } = await first.append([event('a', 1), event('b', 2)]);
      await first.close();

      expect(await open().read({ limit: 10 })).toEqual(events);
    });

    it('keeps appends queued when close was called', async () => {
      const first = open();
      const pending = first.append([event('a', 1)]);
      await first.close();
      const { events } = await pending;

      expect(await open().read({ limit: 10 })).toEqual(events);
    });

    it('keeps ids increasing even with a clock behind the stored ids', async () => {
      const first = open();
      const before = (await first.append([event('a', 1), event('a', 2)])).events;
      await first.close();

      const reopened = open({ clock: () => 0 });
      const after = (await reopened.append([event('a', 3)])).events;

      expect(after[0]!.id > before[1]!.id).toBe(true);
      expect(after[0]!.time).toBe(new Date(timeOfId(after[0]!.id)).toISOString());
    });

    it('keeps ids increasing after retention emptied the log, even with a clock behind', async () => {
      let now = Date.now();
      const first = open({ clock: () => now });
      const before = (await first.append([event('a', 1)])).events;
      now += 60_000;
      expect(await first.applyRetention({ maxAgeMs: 1000 })).toBe(1);
      await first.close();

      const reopened = open({ clock: () => 0 });
      const after = (await reopened.append([event('a', 2)])).events;

      expect(after[0]!.id > before[0]!.id).toBe(true);
    });
  });

  describe('two instances on one file', () => {
    it('wake each other through the poll', async () => {
      const writer = open();
      const reader = open({ pollIntervalMs: 10 });
      let calls = 0;
      const controller = new AbortController();
      await reader.watch(() => calls++, controller.signal);

      const { events } = await writer.append([event('a', 1)]);
      await waitFor(() => calls > 0, 'the poll to notice the other instance');

      expect(await reader.read({ limit: 10 })).toEqual(events);
      controller.abort();
    });

    it('keep ids increasing across instances whatever their clocks', async () => {
      const ahead = open({ clock: () => Date.now() + 60_000 });
      const behind = open({ clock: () => Date.now() - 60_000 });

      const first = (await ahead.append([event('a', 1)])).events;
      const second = (await behind.append([event('a', 2)])).events;
      const third = (await ahead.append([event('a', 3)])).events;

      const stored = (await behind.read({ limit: 10 })).map((e) => e.id);
      expect(stored).toEqual([first[0]!.id, second[0]!.id, third[0]!.id]);
      expect([...stored].sort()).toEqual(stored);
    });
  });

  describe('#append', () => {
    it('rejects with STORE_UNAVAILABLE, storing nothing, while another process holds the write lock', async () => {
      const store = open({ busyTimeoutMs: 0 });
      await store.append([event('a', 1)]);
      const other = raw();
      other.exec('BEGIN IMMEDIATE');

      const failed = store.append([event('a', 2)]);
      await expect(failed).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', cause: { code: 'SQLITE_BUSY' } });

      other.exec('ROLLBACK');
      await store.append([event('a', 3)]);
      expect((await store.read({ limit: 10 })).map((e) => e.data)).toEqual([{ n: 1 }, { n: 3 }]);
    });

    it('commits the calls of one turn in one transaction', async () => {
      const store = open();
      await store.append([event('a', 0)]);
      const walBytes = () => statSync(`${file}-wal`).size;
      const before = walBytes();
      await Promise.all(Array.from({ length: 50 }, (_, i) => store.append([event('a', i)])));

      // One commit rewrites a handful of pages; 50 commits would append at least 50 x 4 frames.
      const pageSize = raw().pragma('page_size', { simple: true }) as number;
      expect((walBytes() - before) / (pageSize + 24)).toBeLessThan(20);
    });

    it('refuses with its own error a call the database refuses, and stores the rest of its group', async () => {
      const store = open();
      raw().exec(`CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.subject = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;`);

      const calls = [1, 2, 3].map((n) => store.append([{ ...event('a', n), subject: n === 2 ? 'poison' : `s${n}` }]));

      await expect(calls[1]).rejects.toMatchObject({ code: 'VALIDATION_FAILED', status: 400, details: [{ path: '', code: 'REFUSED_BY_STORE' }] });
      await expect(calls[0]).resolves.toBeDefined();
      await expect(calls[2]).resolves.toBeDefined();
      expect((await store.read({ limit: 10 })).map((e) => e.subject)).toEqual(['s1', 's3']);
    });

    it('rejects malformed arguments with a TypeError', async () => {
      const store = open();

      await expect(store.append([{ type: 'a', source: '/x', data: [] as unknown as Record<string, unknown> }])).rejects.toBeInstanceOf(TypeError);
      await expect(store.append([event('a', 1)], { idempotencyKey: 'k' })).rejects.toBeInstanceOf(TypeError);
    });
  });

  describe('idempotency keys', () => {
    it('are forgotten after idempotencyTtlMs and purged by applyRetention', async () => {
      let now = Date.now();
      const store = open({ clock: () => now, idempotencyTtlMs: 1000 });
      await store.append([event('a', 1)], { idempotencyKey: 'k', fingerprint: 'f1' });
      now += 1001;

      const again = await store.append([event('a', 2)], { idempotencyKey: 'k', fingerprint: 'f2' });
      expect(again.replayed).toBe(false);

      now += 1001;
      await store.applyRetention({});
      expect(raw().prepare('SELECT count(*) FROM idempotency').pluck().get()).toBe(0);
    });
  });

  describe('#applyRetention', () => {
    it('deletes in several chunks and counts them all', async () => {
      const store = open();
      for (let batch = 0; batch < 5; batch++) {
        await store.append(Array.from({ length: 1000 }, (_, i) => event('a', batch * 1000 + i)));
      }

      expect(await store.applyRetention({ maxCount: 10 })).toBe(4990);
      expect(await store.read({ limit: 100 })).toHaveLength(10);
    });
  });

  describe('#read', () => {
    it('uses an index for id ranges and type filters', () => {
      open();
      const db = raw();
      const plan = (sql: string, ...params: unknown[]) =>
        db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((row) => (row as { detail: string }).detail).join('; ');

      expect(plan('SELECT * FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?', '', '~', 10)).toMatch(
        /SEARCH events USING INDEX sqlite_autoindex_events_1 \(id>\? AND id<\?\)/,
      );
      expect(
        plan('SELECT * FROM events WHERE type IN (?, ?) AND id > ? AND id <= ? ORDER BY id LIMIT ?', 'a', 'b', '', '~', 10),
      ).toMatch(/SEARCH events USING INDEX events_type_id \(type=\? AND id>\? AND id<\?\)/);
    });
  });
});

describe('openStore', () => {
  let dir: string;
  const stores: Array<{ close(): Promise<void> }> = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'specstream-open-'));
  });

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('opens sqlite::memory:', async () => {
    const store = await openStore('sqlite::memory:');
    stores.push(store);

    expect(store.kind).toBe('sqlite');
    await store.append([event('a', 1)]);
    expect(await store.read({ limit: 1 })).toHaveLength(1);
  });

  it.each([
    ['a relative path', (path: string) => `sqlite:${relative(process.cwd(), path)}`],
    ['an absolute path', (path: string) => `sqlite:${path}`],
    ['the URL form', (path: string) => `sqlite://${path}`],
  ])('opens sqlite: with %s', async (_, url) => {
    const path = join(dir, 'nested', 'events.db');
    const store = await openStore(url(path), { synchronous: 'FULL' });
    stores.push(store);
    const { events } = await store.append([event('a', 1)]);
    await store.close();

    const reopened = SqliteStore.open(path);
    stores.push(reopened);
    expect(await reopened.read({ limit: 1 })).toEqual(events);
  });

  it.each([
    ['postgres://app:s3cret@127.0.0.1:1/events'],
    ['postgresql://app:s3cret@127.0.0.1:1/events'],
  ])('rejects %s with STORE_UNAVAILABLE when it cannot connect, without echoing the password', async (url) => {
    const opening = openStore(url);

    await expect(opening).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(opening).rejects.not.toThrow('s3cret');
  });

  it.each([
    ['mysql://db/events', 'unknown store scheme "mysql:"'],
    ['./data/events.db', 'the store URL needs a scheme'],
    ['sqlite:', 'sqlite: needs a path'],
    ['sqlite://host/events.db', 'a sqlite: URL has no host'],
  ])('rejects %s with a TypeError', async (url, message) => {
    const opening = openStore(url);

    await expect(opening).rejects.toBeInstanceOf(TypeError);
    await expect(opening).rejects.toThrow(message);
  });
});
