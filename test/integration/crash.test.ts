import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { catalog } from '../../src/generated/catalog.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.js';

const KEY = 'ops:sk_crash_test:events:read,events:write';
const AUTH = { Authorization: 'Bearer sk_crash_test', 'content-type': 'application/json' };

describe('kill -9 of the server', () => {
  let dir: string;
  let server: SpawnedServer | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged event; ids stay increasing and unique after restart', async () => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-crash-'));
    const store = `sqlite:${join(dir, 'events.db')}`;
    server = await spawnServer(['--port', '0', '--store', store, '--key', KEY, '--log-level', 'warn']);
    const url = server.url;

    const acknowledged: string[] = [];
    let stop = false;
    const publisher = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        const batch = Array.from({ length: 1 + (i % 5) }, () => ({
          type: 'audit_log.created',
          data: { ...catalog['audit_log.created'].example, entryId: `w${worker}-${i}` },
        }));
        try {
          const response = await fetch(`${url}/v1/events`, { method: 'POST', headers: AUTH, body: JSON.stringify(batch) });
          if (response.status !== 201) continue;
          const body = (await response.json()) as { data: { id: string }[] };
          acknowledged.push(...body.data.map((e) => e.id));
        } catch {
          return; // the server died mid-request: that request was never acknowledged
        }
      }
    };
    const workers = Array.from({ length: 4 }, (_, w) => publisher(w));
    // Kill once a fair number of events are acknowledged, while publishing continues.
    const deadline = Date.now() + 20_000;
    while (acknowledged.length < 500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await server.stop('SIGKILL');
    stop = true;
    await Promise.all(workers);
    expect(acknowledged.length).toBeGreaterThanOrEqual(500);

    server = await spawnServer(['--port', '0', '--store', store, '--key', KEY, '--log-level', 'warn']);
    const stored: string[] = [];
    let cursor: string | null = null;
    for (;;) {
      const page = (await (
        await fetch(`${server.url}/v1/events?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { headers: AUTH })
      ).json()) as { data: { id: string }[]; next_cursor: string | null; has_more: boolean };
      stored.push(...page.data.map((e) => e.id));
      if (!page.has_more) break;
      cursor = page.next_cursor;
    }
    const storedSet = new Set(stored);
    expect(acknowledged.filter((id) => !storedSet.has(id))).toEqual([]);
    expect(storedSet.size).toBe(stored.length);
    expect([...stored].sort()).toEqual(stored);

    // New ids after the restart are above everything stored before.
    const after = (await (
      await fetch(`${server.url}/v1/events`, {
        method: 'POST',
        headers: AUTH,
        body: JSON.stringify({ type: 'audit_log.created', data: catalog['audit_log.created'].example }),
      })
    ).json()) as { id: string };
    expect(after.id > (stored[stored.length - 1] as string)).toBe(true);
  });
});
