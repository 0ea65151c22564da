/**
 * Which external services (PostgreSQL, NATS JetStream) the tests can reach, and the rule for when
 * they cannot: in CI (`CI=true`) they are required, so a test that needs one FAILS; elsewhere the
 * test is skipped with a one-line reason.
 */
import { connect as connectTcp } from 'node:net';
import pg from 'pg';

/** The PostgreSQL server the tests use; `SPECSTREAM_TEST_POSTGRES_URL` overrides it. */
export const POSTGRES_URL = process.env.SPECSTREAM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The NATS server (with JetStream) the tests use; `SPECSTREAM_TEST_NATS_URL` overrides it. */
export const NATS_URL = process.env.SPECSTREAM_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

const inCi = process.env.CI === 'true' || process.env.CI === '1';

/** A service's availability: `skip` is the reason to skip (undefined when usable or when CI must fail). */
export interface ServiceCheck {
  available: boolean;
  /** Pass to `describe.skipIf`: true only when unavailable outside CI. */
  skip: boolean;
  reason: string;
}

function verdict(name: string, error: unknown): ServiceCheck {
  if (error === undefined) return { available: true, skip: false, reason: '' };
  const reason = `${name} unreachable (${error instanceof Error ? error.message : String(error)})`;
  if (inCi) {
    // Not skipped: the suite runs and fails against the missing service, which is what CI wants.
    console.error(`CI=true: ${reason}; tests that need it will fail`);
    return { available: false, skip: false, reason };
  }
  console.warn(`skipping: ${reason}; set CI=true to make this a failure`);
  return { available: false, skip: true, reason };
}

/** Checks PostgreSQL with one `SELECT 1` (2 s timeout). */
export async function checkPostgres(): Promise<ServiceCheck> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return verdict('PostgreSQL', undefined);
  } catch (error) {
    return verdict(`PostgreSQL at ${redact(POSTGRES_URL)}`, error);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Checks that NATS accepts TCP connections and says INFO with JetStream enabled (2 s timeout). */
export async function checkNats(): Promise<ServiceCheck> {
  const { hostname, port } = new URL(NATS_URL.split(',')[0]!);
  const error = await new Promise<unknown>((resolve) => {
    const socket = connectTcp({ host: hostname, port: Number(port || 4222) });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(new Error('no INFO within 2 s'));
    }, 2000);
    socket.on('data', (chunk) => {
      text += chunk.toString();
      if (!text.includes('\r\n')) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(/"jetstream"\s*:\s*true/.test(text) ? undefined : new Error('the server has JetStream disabled'));
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
  return verdict(`NATS JetStream at ${redact(NATS_URL)}`, error);
}

/** A name unique to this run, for a schema or stream: `prefix` + pid + time + random. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
