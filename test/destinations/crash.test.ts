/**
 * At least once across kill -9: a forwarder process (writing to a file through a destination that
 * fails half of its sends) is killed with SIGKILL mid-run and restarted, twice; every published event
 * reaches the file, first occurrences in log order, none skipped, and any repeat is a re-delivery
 * of events after the checkpoint.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';
import { batch, publishIds, readNdjson, until } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('Forwarder process', () => {
  let server: TestServer;
  let dir: string;
  let children: ChildProcess[];
  beforeEach(async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'specstream-crash-'));
    children = [];
  });
  afterEach(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await server.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function spawnForwarder(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/destinations/fixtures/forward-child.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        FORWARD_URL: server.url,
        FORWARD_TOKEN: TEST_KEYS.reader.secret,
        FORWARD_OUT: join(dir, 'out.ndjson'),
        FORWARD_CHECKPOINT: join(dir, 'checkpoint.json'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`forwarder did not start:\n${output}`)), 20_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('started\n')) {
          clearTimeout(timer);
          resolve(child);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`forwarder exited (${code ?? signal}) before starting:\n${output}`));
      });
    });
  }

  async function kill9(child: ChildProcess): Promise<void> {
    // Not a wait for a condition: a random offset, so the kill lands anywhere in the send cycle
    // (before a write, between write and acknowledgement, during a checkpoint save), not only right after a write.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  it('delivers every event at least once, in order, none skipped, across two SIGKILLs', async () => {
    const out = join(dir, 'out.ndjson');
    const published = await publishIds(server, batch(200, 'a'));
    let child = await spawnForwarder();
    await until(() => readNdjson(out).length >= 60, '60 events before the first kill', 30_000);
    await kill9(child);
    expect(readNdjson(out).length).toBeLessThan(200); // the kill landed mid-run
    published.push(...(await publishIds(server, batch(100, 'b'))));
    child = await spawnForwarder();
    published.push(...(await publishIds(server, batch(100, 'c'))));
    await until(() => readNdjson(out).length >= 320, '320 lines before the second kill', 30_000);
    await kill9(child);
    expect(new Set(readNdjson(out).map((e) => e.id)).size).toBeLessThan(400); // mid-run again
    child = await spawnForwarder();
    published.push(...(await publishIds(server, batch(50, 'd'))));
    await until(() => new Set(readNdjson(out).map((e) => e.id)).has(published[published.length - 1]!), 'the last event', 30_000);
    await kill9(child);

    const lines = readNdjson(out).map((e) => e.id);
    const firsts = lines.filter((id, i) => lines.indexOf(id) === i);
    expect(firsts).toEqual(published);
    // A repeat only ever restarts from an earlier point and then continues in log order.
    const order = new Map(published.map((id, i) => [id, i]));
    for (let i = 1; i < lines.length; i++) {
      const previous = order.get(lines[i - 1]!)!;
      const current = order.get(lines[i]!)!;
      if (current !== previous + 1) expect(current).toBeLessThanOrEqual(previous);
    }
  }, 120_000);
});
