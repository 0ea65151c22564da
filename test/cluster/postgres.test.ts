import pg from 'pg';
import { describe } from 'vitest';
import { checkPostgres, POSTGRES_URL, uniqueName } from '../helpers/services.js';
import { describeCluster } from './cluster.suite.js';

const service = await checkPostgres();

describe.skipIf(service.skip)(`PostgreSQL cluster${service.skip ? ` (skipped: ${service.reason})` : ''}`, () => {
  describeCluster('two Specstream nodes over one PostgreSQL schema', async () => {
    const schema = uniqueName('ss_cluster');
    const base = new URL(POSTGRES_URL);
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('schema', schema);
    return {
      url: url.toString(),
      urlVia: (port) => {
        const via = new URL(url);
        via.hostname = '127.0.0.1';
        via.port = String(port);
        return via.toString();
      },
      host: base.hostname,
      port: Number(base.port || 5432),
      cleanup: async () => {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await client.end();
        }
      },
    };
  });
});
