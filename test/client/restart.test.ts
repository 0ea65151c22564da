/**
 * The SDK against a real server process that is killed (SIGKILL) mid-stream and restarted on the
 * same port and database: the subscription reconnects by itself, resumes with Last-Event-ID and
 * delivers every event exactly once, in order, on both transports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, publish, type NewEvent, type StateChange, type Subscription } from '../../src/client/index.js';
import { catalog } from '../../src/generated/catalog.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.js';
import { reach, take } from './helpers.js';

const KEY = 'ops:sk_restart_test:events:read,events:write';
const TOKEN = 'sk_restart_test';

function batch(n: number, tag: string): NewEvent[] {
  return Array.from({ length: n }, (_, i) => ({ type: 'grant.created', subject: `${tag}-${i}`, data: catalog['grant.created'].example }) as NewEvent);
}

describe.each(['sse', 'ws'] as const)('connect() over %s across a server kill and restart', (transport) => {
  let dir: string;
  let server: SpawnedServer | undefined;
  let subscription: Subscription | undefined;
  afterEach(async () => {
    subscription?.close();
    await server?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('misses no event and repeats none', async () => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-sdk-restart-'));
    const args = ['--store', `sqlite:${join(dir, 'events.db')}`, '--key', KEY, '--log-level', 'warn'];
    server = await spawnServer(['--port', '0', ...args]);
    const url = server.url;
    const port = new URL(url).port;
    const client = { url, token: TOKEN };

    const before = await publish(client, batch(20, 'before'));
    subscription = connect({ ...client, transport, sinceId: before[0]!.id, backoff: { initialMs: 50, maxMs: 400 } });
    const states: StateChange['state'][] = [];
    subscription.on('state', (change) => states.push(change.state));
    const first = await take(subscription, 19);

    const reconnecting = reach(subscription, 'reconnecting');
    const pending = subscription.next(); // in flight while the server dies
    await server.stop('SIGKILL');
    await reconnecting;

    server = await spawnServer(['--port', port, ...args]);
    // Published while the subscription may still be backing off: it must catch up on them.
    const after = await publish(client, batch(15, 'after'));
    const head = await pending;
    const rest = [head.value!, ...(await take(subscription, 14))];

    const want = [...before.slice(1), ...after].map((e) => e.id);
    expect([...first, ...rest].map((e) => e.id)).toEqual(want);
    expect(states.slice(0, 3)).toEqual(['connecting', 'open', 'reconnecting']);
    expect(states.at(-1)).toBe('open');
  });
});
