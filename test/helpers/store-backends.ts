/**
 * The three store backends as test servers see them: a fresh log per call (its own SQLite file,
 * PostgreSQL schema or JetStream stream), for suites that must hold on every backend.
 */
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { checkNats, checkPostgres, NATS_URL, POSTGRES_URL, uniqueName, type ServiceCheck } from './services.js';

/** A fresh, empty log: `store` is the URL for the `store` option; `cleanup` deletes it. */
export interface FreshLog {
  /** `undefined` for SQLite: the test server's own file. */
  store: string | undefined;
  cleanup(): Promise<void>;
}

export interface Backend {
  name: 'sqlite' | 'postgres' | 'jetstream';
  service: ServiceCheck;
  fresh(): FreshLog;
}

/** Every backend with its availability (see `services.ts` for the skip/CI rule). */
export async function storeBackends(): Promise<Backend[]> {
  const [postgres, nats] = await Promise.all([checkPostgres(), checkNats()]);
  return [
    { name: 'sqlite', service: { available: true, skip: false, reason: '' }, fresh: () => ({ store: undefined, cleanup: async () => {} }) },
    {
      name: 'postgres',
      service: postgres,
      fresh: () => {
        const schema = uniqueName('ss_http');
        return { store: `${POSTGRES_URL}?schema=${schema}`, cleanup: () => dropSchema(schema) };
      },
    },
    {
      name: 'jetstream',
      service: nats,
      fresh: () => {
        const stream = uniqueName('SS_HTTP');
        return { store: `${NATS_URL}?stream=${stream}`, cleanup: () => deleteStream(stream) };
      },
    },
  ];
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

async function deleteStream(name: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '').split(',') });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}
