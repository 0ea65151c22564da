import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { catalog } from '../../src/generated/catalog.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.js';

// Each of these took seconds to forever on a matcher that turned every `*` into a backtracking `.*`,
// and froze the whole process (health checks included) meanwhile. The server runs in its own
// process so that such a freeze fails these tests by their timeout instead of freezing the runner.
const NO_MATCH = [
  ['12 stars then x', '************x'],
  ['20 stars then x', `${'*'.repeat(20)}x`],
  ['1000 stars then x', `${'*'.repeat(1000)}x`],
  ['300 "*." then x', `${'*.'.repeat(300)}x`],
] as const;
const CREATED = `${'*'.repeat(30)}.created`;
const READER = { Authorization: 'Bearer sk_glob_reader' };

describe('type globs from clients (issue 12 item 2)', () => {
  let server: SpawnedServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-globs-'));
    server = await spawnServer([
      '--port', '0', '--store', `sqlite:${join(dir, 'events.db')}`, '--log-level', 'warn',
      '--key', 'reader:sk_glob_reader:events:read', '--key', 'writer:sk_glob_writer:events:write',
    ]);
    const body = (['grant.created', 'token.issued', 'audit_log.created'] as const).map((type) => ({ type, data: catalog[type].example }));
    const published = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { Authorization: 'Bearer sk_glob_writer', 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(published.status).toBe(201);
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(NO_MATCH)('GET /v1/events refuses types=(%s) with UNKNOWN_EVENT_TYPE', async (_name, glob) => {
    const response = await fetch(`${server.url}/v1/events?types=${glob}`, { headers: READER });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { code: string }).code).toBe('UNKNOWN_EVENT_TYPE');
  });

  it.each(NO_MATCH)('the SSE stream refuses types=(%s) before any stream byte', async (_name, glob) => {
    const response = await fetch(`${server.url}/v1/events/stream?types=${glob}`, { headers: { ...READER, Accept: 'text/event-stream' } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { code: string }).code).toBe('UNKNOWN_EVENT_TYPE');
  });

  it.each(NO_MATCH)('HEAD /v1/events/stream refuses types=(%s)', async (_name, glob) => {
    const response = await fetch(`${server.url}/v1/events/stream?types=${glob}`, { method: 'HEAD', headers: READER });
    expect(response.status).toBe(400);
  });

  it.each(NO_MATCH)('the WebSocket refuses types=(%s) before the upgrade', async (_name, glob) => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1/events/ws?types=${glob}`, { headers: READER });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      ws.once('open', () => {
        ws.terminate();
        reject(new Error('upgraded'));
      });
      ws.once('error', () => {});
    });
    expect(status).toBe(400);
  });

  it('expands a many-star glob to exactly the matching types', async () => {
    const response = await fetch(`${server.url}/v1/events?types=${CREATED}`, { headers: READER });
    expect(response.status).toBe(200);
    const types = ((await response.json()) as { data: { type: string }[] }).data.map((event) => event.type);
    expect(types.sort()).toEqual(['audit_log.created', 'grant.created']);
    const head = await fetch(`${server.url}/v1/events/stream?types=${CREATED}`, { method: 'HEAD', headers: READER });
    expect(head.status).toBe(200);
  });

  it('keeps /healthz answering while globs are matched', async () => {
    const slow = Promise.all(NO_MATCH.map(([, glob]) => fetch(`${server.url}/v1/events?types=${glob}`, { headers: READER })));
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    await slow;
  });
});
