/**
 * WAL checkpoints off the event loop (src/store/sqlite-checkpointer.ts): with SQLite's automatic
 * checkpoint off, the checkpointer's thread copies the WAL into the database file every 250
 * commits, and the store relies on it.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteCheckpointer } from '../../src/store/sqlite-checkpointer.js';
import { SqliteStore } from '../../src/store/store-sqlite.js';
import { waitFor } from './wait-for.js';

describe('SqliteCheckpointer', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-checkpoint-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('checkpoints the WAL into the database file from its own thread every 250 commits', async () => {
    const path = join(dir, 'c.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (x TEXT)');
    const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
    const empty = statSync(path).size;
    let failed = false;
    const checkpointer = new SqliteCheckpointer(path, 1000, () => (failed = true));
    try {
      for (let i = 0; i < 249; i++) {
        insert.run('x'.repeat(2000));
        checkpointer.committed();
      }
      // No checkpoint yet: nothing else copies the WAL into the file.
      expect(statSync(path).size).toBe(empty);
      insert.run('x'.repeat(2000));
      checkpointer.committed();
      await waitFor(() => statSync(path).size > 250 * 2000, 'the rows to reach the database file');
      expect(failed).toBe(false);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it('lets the store close last, removing the WAL as SQLite does', async () => {
    const path = join(dir, 'events.db');
    const store = SqliteStore.open(path);
    for (let i = 0; i < 600; i++) await store.append([{ type: 'token.issued', source: '/t', data: { i, pad: 'p'.repeat(500) } }]);
    await waitFor(() => statSync(path).size > 250 * 500, 'a checkpoint while the store is open');
    await store.close();
    expect(() => statSync(`${path}-wal`)).toThrow();
    const reopened = SqliteStore.open(path);
    try {
      expect((await reopened.read({ afterId: '', limit: 1000 })).length).toBe(600);
    } finally {
      await reopened.close();
    }
  });
});
