/**
 * `serve --workers N` (src/workers/): two processes on one port and one SQLite file serve every
 * subscriber every event, in one order of strictly increasing ids, whichever worker took the
 * publish and whichever serves the stream; a worker's commit wakes the other workers at once
 * (checked on the store: its poll is set to an hour); SIGTERM stops them all; a log the processes
 * cannot share is refused.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { catalog } from '../../src/generated/catalog.js';
import { SqliteStore } from '../../src/store/store-sqlite.js';
import { coalescingSender } from '../../src/workers/messages.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'sk_workers_admin';
const AUTH = { Authorization: `Bearer ${KEY}` };

/** Resolves when `condition()` holds, polling every 20 ms; rejects after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The pids of the children of `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('serve --workers', () => {
  let dir: string;
  let server: SpawnedServer | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-workers-'));
  });
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives every subscriber every event, in one order of strictly increasing ids, across two workers', async () => {
    server = await spawnServer(['--workers', '2', '--port', '0', '--store', `sqlite:${join(dir, 'events.db')}`, '--key', `admin:${KEY}:admin`, '--log-level', 'warn'], { timeoutMs: 60_000 });
    const url = server.url;
    // Connections are handed to the workers in turn: these streams are spread over both.
    const streams: { ids: string[]; started: () => boolean; close(): void }[] = [];
    for (let i = 0; i < 6; i++) {
      const ids: string[] = [];
      let started = false;
      const req = request(`${url}/v1/events/stream`, { headers: { ...AUTH, Accept: 'text/event-stream' }, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          let end = text.indexOf('\n\n');
          while (end !== -1) {
            const frame = text.slice(0, end);
            text = text.slice(end + 2);
            if (frame.includes('event: stream.position')) started = true;
            if (frame.includes('event: token.issued')) ids.push(/^id: (\S+)/m.exec(frame)![1]!);
            end = text.indexOf('\n\n');
          }
        });
        res.on('error', () => {});
      });
      req.on('error', () => {});
      req.end();
      streams.push({ ids, started: () => started, close: () => req.destroy() });
    }
    for (let i = 0; i < 4; i++) {
      const ids: string[] = [];
      let started = false;
      const socket = new WebSocket(`${url.replace('http', 'ws')}/v1/events/ws`, { headers: AUTH });
      socket.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as { type: string; event?: { id: string } };
        if (frame.type === 'event') ids.push(frame.event!.id);
        else if (frame.type === 'position') started = true;
      });
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('open', resolve));
      streams.push({ ids, started: () => started, close: () => socket.terminate() });
    }

    // 300 single-event publishes over 12 kept-alive connections: both workers take some.
    const agent = new Agent({ keepAlive: true, maxSockets: 12 });
    const body = JSON.stringify({ type: 'token.issued', data: catalog['token.issued'].example });
    const publishOne = () =>
      new Promise<string>((resolve, reject) => {
        const req = request(`${url}/v1/events`, { method: 'POST', agent, headers: { ...AUTH, 'Content-Type': 'application/json' } }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => (res.statusCode === 201 ? resolve((JSON.parse(text) as { id: string }).id) : reject(new Error(`${res.statusCode} ${text}`))));
        });
        req.on('error', reject);
        req.end(body);
      });
    // Streams start live: each has started once it received its resume point.
    await until(() => streams.every((s) => s.started()), 10_000, 'every stream to start');
    const published: string[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        for (let i = 0; i < 25; i++) published.push(await publishOne());
      }),
    );
    agent.destroy();
    try {
      await until(() => streams.every((s) => s.ids.length >= published.length), 30_000, 'every stream to receive all 300 events');
      const order = [...published].sort();
      for (const stream of streams) {
        expect(stream.ids).toEqual(order);
      }
      // Strictly increasing (no two equal either).
      expect(order.every((id, i) => i === 0 || id > order[i - 1]!)).toBe(true);
    } finally {
      for (const stream of streams) stream.close();
    }
  }, 120_000);

  it('stops every worker on SIGTERM and exits 0', async () => {
    server = await spawnServer(['--workers', '2', '--port', '0', '--store', `sqlite:${join(dir, 'events.db')}`, '--key', `admin:${KEY}:admin`, '--log-level', 'warn'], { timeoutMs: 60_000 });
    // The spawned process is node (the primary); its children are the workers.
    const workers = childrenOf(server.process.pid!);
    expect(workers).toHaveLength(2);
    const code = await server.stop('SIGTERM');
    server = undefined;
    expect(code).toBe(0);
    await until(() => workers.every((pid) => !alive(pid)), 10_000, 'the workers to exit');
  }, 120_000);

  it('refuses a log the processes cannot share (sqlite::memory:) with exit code 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--workers', '2', '--port', '0', '--store', 'sqlite::memory:', '--key', `admin:${KEY}:admin`], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(output).toContain('sqlite::memory:');
  }, 60_000);
});

describe('SqliteStore wake-ups across processes', () => {
  it('wakes a watcher of another instance on the same file at once when told (checkForAppends), with its poll an hour away', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'specstream-wake-'));
    const writer = SqliteStore.open(join(dir, 'events.db'));
    const reader = SqliteStore.open(join(dir, 'events.db'), { pollIntervalMs: 3_600_000 });
    const abort = new AbortController();
    try {
      let woken = 0;
      await reader.watch(() => woken++, abort.signal);
      const told: string[] = [];
      writer.onCommitted((newest) => {
        told.push(newest);
        reader.checkForAppends();
      });
      const [stored] = (await writer.append([{ type: 'token.issued', source: '/t', data: { n: 1 } }])).events;
      await until(() => woken > 0, 5000, 'the reader to be woken');
      expect(told).toEqual([stored!.id]);
      expect((await reader.readEncoded({ afterId: '', limit: 10 })).map((e) => e.id)).toEqual([stored!.id]);
    } finally {
      abort.abort();
      await writer.close();
      await reader.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('coalescingSender', () => {
  it('keeps at most one message in flight and folds the calls made meanwhile into one more', () => {
    const callbacks: ((error: Error | null) => void)[] = [];
    const send = coalescingSender((_message, callback) => {
      callbacks.push(callback);
      return true;
    }, 0);
    send();
    send();
    send();
    expect(callbacks).toHaveLength(1);
    callbacks[0]!(null);
    expect(callbacks).toHaveLength(2);
    callbacks[1]!(null);
    expect(callbacks).toHaveLength(2);
  });
});
