/** SIGTERM on a real `specstream serve` process: streams end cleanly, then the process exits 0. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.js';
import type { TestServer } from '../helpers/test-server.js';
import { ids, openSse, openWs, publish } from './clients.js';

describe('specstream serve', () => {
  let spawned: SpawnedServer | undefined;
  let dir: string;
  afterEach(async () => {
    await spawned?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends SSE responses cleanly and sends WebSockets end (shutdown) + 1001 on SIGTERM, then exits 0', async () => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-shutdown-'));
    spawned = await spawnServer(['--port', '0', '--store', `sqlite:${join(dir, 'events.db')}`, '--key', 'rw:sk_rw:events:read,events:write', '--log-level', 'warn']);
    // Just what the stream clients need of a test server.
    const server = { url: spawned.url, auth: () => ({ Authorization: 'Bearer sk_rw' }) } as unknown as TestServer;
    const sse = await openSse(server, '/v1/events/stream', server.auth('reader'));
    const ws = await openWs(server, '/v1/events/ws', server.auth('reader'));
    await sse.waitFor((c) => c.frames.length >= 1, 'retry');
    const events = await publish(server, 5, { key: 'reader' });
    await sse.waitForEvents(5);
    await ws.waitForEvents(5);

    const code = await spawned.stop('SIGTERM');
    await sse.waitForEnd();
    await ws.waitForClose();
    expect(code).toBe(0);
    expect(ids(sse.events)).toEqual(ids(events));
    expect(sse.frames.some((f) => f.message === 'sseInternalError')).toBe(false);
    expect(ws.frames.at(-1)).toEqual({ type: 'end', reason: 'shutdown' });
    expect(ws.closeCode).toBe(1001);
    spawned = undefined;
  }, 30_000);
});
