/**
 * The store backends the stream tests run on: SQLite always, PostgreSQL when reachable (skipped
 * with a reason otherwise, required when CI=true; see test/helpers/services.ts). Each `open()`
 * gives a fresh store URL (its own file or schema) that several servers can share, one after the
 * other or side by side, as nodes of one cluster.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Config } from '../../src/config/load-config.js';
import { NATIVE, type TestBundle } from '../helpers/bundles.js';
import { checkPostgres, POSTGRES_URL, uniqueName } from '../helpers/services.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** A fresh log that servers can be started on. */
export interface SharedLog {
  /** Starts a server (a node) on this log, serving the log's bundle. */
  node(overrides?: Partial<Config>): Promise<TestServer>;
  /** Disposes of every node started and deletes the log. */
  cleanup(): Promise<void>;
}

export interface StreamBackend {
  name: 'sqlite' | 'postgres';
  /** True when the backend is unreachable outside CI. */
  skip: boolean;
  reason: string;
  /** A fresh log whose nodes serve `bundle` (the native one by default). */
  open(bundle?: TestBundle): SharedLog;
}

const postgres = await checkPostgres();

function sharedLog(store: string, drop: () => Promise<void>, bundle: TestBundle): SharedLog {
  const nodes: TestServer[] = [];
  return {
    async node(overrides = {}) {
      const server = await startTestServer({ store, ...overrides }, bundle);
      nodes.push(server);
      return server;
    },
    async cleanup() {
      for (const server of nodes.splice(0)) await server.dispose();
      await drop();
    },
  };
}

/** SQLite (one file, shared by the nodes) and PostgreSQL (one schema). */
export const STREAM_BACKENDS: readonly StreamBackend[] = [
  {
    name: 'sqlite',
    skip: false,
    reason: '',
    open: (bundle = NATIVE) => {
      const dir = mkdtempSync(join(tmpdir(), 'specstream-log-'));
      return sharedLog(`sqlite:${join(dir, 'events.db')}`, async () => rmSync(dir, { recursive: true, force: true }), bundle);
    },
  },
  {
    name: 'postgres',
    skip: postgres.skip,
    reason: postgres.reason,
    open: (bundle = NATIVE) => {
      const schema = uniqueName('ss_stream');
      const url = new URL(POSTGRES_URL);
      url.searchParams.set('schema', schema);
      return sharedLog(url.toString(), async () => {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await client.end();
        }
      }, bundle);
    },
  },
];
