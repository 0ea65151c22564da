/**
 * Every store call has a deadline (`timeoutMs`): with the backend hung (connection open, no
 * answers) calls fail within it instead of waiting, and what they report is true: STORE_UNAVAILABLE
 * means nothing was stored, STORE_TIMEOUT that it may have been (issue 12 item 8).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { JetStreamStore } from '../../src/store/store-jetstream.js';
import { PostgresStore } from '../../src/store/store-postgres.js';
import type { NewEvent, Store } from '../../src/store/store.js';
import { HangingProxy } from '../helpers/hanging-proxy.js';
import { storeBackends } from '../helpers/store-backends.js';
import { NATS_URL, POSTGRES_URL, uniqueName } from '../helpers/services.js';
import { waitFor } from './wait-for.js';

const TIMEOUT_MS = 800;
/** Generous: a call must settle within its deadline plus this (scheduling on a busy machine). */
const SLACK_MS = 2500;

const backends = (await storeBackends()).filter((b) => b.name !== 'sqlite');

function event(subject: string): NewEvent {
  return { type: 'a', source: '/deadline', subject, data: { subject } };
}

/** The outcome of `promise`, failing the test if it has not settled within `ms`. */
async function settlesWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([Promise.allSettled([promise]).then(([outcome]) => outcome!), late]);
  } finally {
    clearTimeout(timer);
  }
}

function codeOf(outcome: PromiseSettledResult<unknown>): string | undefined {
  return outcome.status === 'rejected' ? (outcome.reason as { code?: string }).code : 'resolved';
}

describe.each(backends)('$name store with the backend hung', ({ name, service }) => {
  let proxy: HangingProxy;
  let store: Store;
  let cleanup: () => Promise<void>;

  afterEach(async () => {
    if (service.skip) return;
    proxy.resume();
    await store.close();
    await proxy.stop();
    await cleanup();
  });

  async function open(): Promise<void> {
    if (name === 'postgres') {
      const target = new URL(POSTGRES_URL);
      proxy = new HangingProxy(target.hostname, Number(target.port || 5432));
      await proxy.start();
      const schema = uniqueName('ss_deadline');
      target.host = `127.0.0.1:${proxy.port}`;
      store = await PostgresStore.open(target.toString(), { schema, timeoutMs: TIMEOUT_MS, pollIntervalMs: 50 });
      cleanup = async () => {
        const { default: pgModule } = await import('pg');
        const client = new pgModule.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      };
    } else {
      const target = new URL(NATS_URL.split(',')[0]!);
      proxy = new HangingProxy(target.hostname, Number(target.port || 4222));
      await proxy.start();
      const stream = uniqueName('SS_DEADLINE');
      store = await JetStreamStore.open(`nats://127.0.0.1:${proxy.port}?stream=${stream}`, { timeoutMs: TIMEOUT_MS, pollIntervalMs: 50 });
      cleanup = async () => {
        const { connect } = await import('@nats-io/transport-node');
        const { jetstreamManager } = await import('@nats-io/jetstream');
        const nc = await connect({ servers: [target.host] });
        await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
        await nc.close();
      };
    }
  }

  it.skipIf(service.skip)(`fails reads and ping with STORE_UNAVAILABLE within the deadline (${name})`, async () => {
    await open();
    const { events } = await store.append([event('before')]);
    proxy.hang();

    const calls: Array<[string, Promise<unknown>]> = [
      ['read', store.read({ limit: 10 })],
      ['get', store.get(events[0]!.id)],
      ['bounds', store.bounds()],
      ['ping', store.ping()],
    ];
    for (const [what, call] of calls) {
      const outcome = await settlesWithin(call, TIMEOUT_MS + SLACK_MS, what);
      expect(codeOf(outcome), what).toBe('STORE_UNAVAILABLE');
    }

    proxy.resume();
    await waitFor(() => store.ping().then(() => true, () => false), 'the store to answer again', 20_000);
    expect((await store.read({ limit: 10 })).map((e) => e.subject)).toEqual(['before']);
  });

  it.skipIf(service.skip)(`fails an append within the deadline, and tells the truth about what was stored (${name})`, async () => {
    await open();
    await store.append([event('before')]);
    proxy.hang();

    const during = await settlesWithin(store.append([event('during')], { idempotencyKey: 'k-during', fingerprint: 'f' }), TIMEOUT_MS + SLACK_MS, 'append');
    const code = codeOf(during);
    expect(['STORE_UNAVAILABLE', 'STORE_TIMEOUT']).toContain(code);

    proxy.resume();
    await waitFor(() => store.ping().then(() => true, () => false), 'the store to answer again', 20_000);
    if (code === 'STORE_UNAVAILABLE') {
      // "Nothing was stored": a retry without the key must leave exactly one copy.
      await store.append([event('during')]);
    } else {
      // "May have been stored": a retry with the same key must leave exactly one copy.
      await waitFor(
        () => store.append([event('during')], { idempotencyKey: 'k-during', fingerprint: 'f' }).then(() => true, () => false),
        'the retry to be answered',
        20_000,
      );
    }
    await store.append([event('after')]);
    expect((await store.read({ limit: 10 })).map((e) => e.subject)).toEqual(['before', 'during', 'after']);
  });

  it.skipIf(service.skip)(`fails every append of a burst within the deadline (${name})`, async () => {
    await open();
    await store.append([event('before')]);
    proxy.hang();

    const burst = Array.from({ length: 20 }, (_, i) => store.append([event(`burst-${i}`)]));
    const outcomes = await Promise.all(burst.map((call, i) => settlesWithin(call, TIMEOUT_MS + SLACK_MS, `append ${i}`)));
    for (const outcome of outcomes) expect(['STORE_UNAVAILABLE', 'STORE_TIMEOUT']).toContain(codeOf(outcome));
  });
});
