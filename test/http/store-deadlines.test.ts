/**
 * With the store hung (connection open, no answers), a publish answers 503 within
 * `store_timeout_ms` and `/readyz` within 2 s (`readiness_timeout_ms`), on every networked
 * backend (issue 12 item 8).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { catalog } from '../../src/generated/catalog.js';
import { HangingProxy } from '../helpers/hanging-proxy.js';
import { NATS_URL, POSTGRES_URL } from '../helpers/services.js';
import { storeBackends, type FreshLog } from '../helpers/store-backends.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../store/wait-for.js';

const backends = (await storeBackends()).filter((b) => b.name !== 'sqlite');

describe.each(backends)('$name hung behind the server', ({ name, service, fresh }) => {
  let proxy: HangingProxy;
  let server: TestServer;
  let log: FreshLog;

  afterEach(async () => {
    if (service.skip) return;
    proxy.resume();
    await server.dispose();
    await proxy.stop();
    await log.cleanup();
  });

  /** A server whose store URL goes through a hanging proxy. */
  async function start(overrides: { store_timeout_ms?: number; readiness_timeout_ms?: number } = {}): Promise<void> {
    log = fresh();
    const real = new URL((name === 'postgres' ? POSTGRES_URL : NATS_URL).split(',')[0]!);
    proxy = new HangingProxy(real.hostname, Number(real.port));
    await proxy.start();
    const via = new URL(log.store!);
    via.host = `127.0.0.1:${proxy.port}`;
    server = await startTestServer({ store: via.toString(), ...overrides });
  }

  const publish = (signal: AbortSignal) =>
    fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { ...server.auth('writer'), 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'grant.created', data: catalog['grant.created'].example }),
      signal,
    });

  it.skipIf(service.skip)(`answers a publish 503 within store_timeout_ms (${name})`, async () => {
    await start({ store_timeout_ms: 1000 });
    expect((await publish(AbortSignal.timeout(10_000))).status).toBe(201);
    proxy.hang();

    // The fetch gives up (and the test fails) if the server has not answered 2 s past the deadline.
    const response = await publish(AbortSignal.timeout(3000));
    expect(response.status).toBe(503);
    expect(['STORE_UNAVAILABLE', 'STORE_TIMEOUT']).toContain(((await response.json()) as { code: string }).code);

    const list = await fetch(`${server.url}/v1/events`, { headers: server.auth('reader'), signal: AbortSignal.timeout(3000) });
    expect(list.status).toBe(503);
    expect(await list.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it.skipIf(service.skip)(`answers /readyz within 2 s with the default options, and 200 again once the store answers (${name})`, async () => {
    await start();
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    proxy.hang();

    const probes = await Promise.all(Array.from({ length: 5 }, () => fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(2000) })));
    for (const probe of probes) {
      expect(probe.status).toBe(503);
      expect(await probe.json()).toEqual({ status: 'unavailable', checks: { store: 'unavailable' } });
    }

    proxy.resume();
    await waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 200, '/readyz to recover', 20_000);
  });
});
