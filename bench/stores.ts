/**
 * `npm run bench -- --store=<url>`: runs the benchmarks over a PostgreSQL (`postgres://...`) or NATS
 * JetStream (`nats://...`) store instead of a temporary SQLite file. Each scenario gets its own
 * schema or stream (a name unique to the run), dropped when the scenario ends.
 */
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/store.js';

/** The `--store=` argument, or undefined for the default (a temporary SQLite file per scenario). */
export const benchStore = process.argv.slice(2).find((arg) => arg.startsWith('--store='))?.slice('--store='.length);

/** The store URL for `scenario`: `sqlite:<dbPath>` by default, else `--store` with a fresh schema or stream. */
export function storeUrlFor(scenario: string, dbPath: string): string {
  if (benchStore === undefined) return `sqlite:${dbPath}`;
  const name = `bench_${scenario.replace(/[^a-z0-9]/gi, '_')}_${process.pid}`.toLowerCase();
  if (/^postgres(ql)?:/i.test(benchStore)) return withParam(benchStore, 'schema', name);
  if (/^nats:/i.test(benchStore)) return withParam(benchStore, 'stream', name.toUpperCase());
  if (benchStore.startsWith('sqlite:')) return `sqlite:${dbPath}`;
  throw new TypeError(`--store: expected postgres://, nats:// or sqlite:, got ${benchStore.split(':')[0]}:`);
}

/** Opens a scenario's store from the benchmark process itself (to preload history). */
export function openBenchStore(url: string): Promise<Store> {
  return openStore(url);
}

/** Drops the schema or stream `storeUrlFor` made (nothing for SQLite: its directory is removed). */
export async function dropBenchStore(url: string): Promise<void> {
  if (/^postgres(ql)?:/i.test(url)) {
    const { default: pg } = await import('pg');
    const parsed = new URL(url);
    const schema = parsed.searchParams.get('schema')!;
    parsed.searchParams.delete('schema');
    const client = new pg.Client({ connectionString: parsed.toString() });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end();
    }
  } else if (/^nats:/i.test(url)) {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const [, hosts, query] = /^nats:\/\/([^/?]*)[^?]*\??(.*)$/i.exec(url)!;
    const nc = await connect({ servers: hosts!.replace(/^.*@/, '').split(',') });
    try {
      await (await jetstreamManager(nc)).streams.delete(new URLSearchParams(query).get('stream')!).catch(() => false);
    } finally {
      await nc.close();
    }
  }
}

function withParam(url: string, key: string, value: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${key}=${value}`;
}
