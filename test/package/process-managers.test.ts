/**
 * The compiled server under the ways it is run in production, each stopped the way that runner stops
 * it (Linux /proc is read to find every process a command started):
 * - `npm start`: npm execs node, so the tree is npm → node with no shell or tsx between, and SIGTERM
 *   or SIGINT sent to the npm process alone (what systemd, Kubernetes and process managers do) stops
 *   the server gracefully within its shutdown bound, leaving no process;
 * - the systemd unit deploy/specstream.service: `systemd-analyze verify` when it is installed, and
 *   always its ExecStart with its Environment=, run and stopped with its KillSignal;
 * - the README's Procfile line, stopped as Procfile runners do (SIGTERM to the process group).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertDistFresh, ROOT } from './dist.js';

const run = promisify(execFile);
const KEY = 'pm:sk_pm_admin:admin';
/** The server closes connections still busy 10 s after a signal (src/server.ts); allow start-up noise on top. */
const SHUTDOWN_BOUND_MS = 15_000;

interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
  cmdline: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return { pid, state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]), cmdline };
  } catch {
    return undefined; // gone
  }
}

function allProcs(): Proc[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProc(Number(name)))
    .filter((proc): proc is Proc => proc !== undefined);
}

/** Every live (non-zombie) descendant of `pid`. */
function descendants(pid: number): Proc[] {
  const procs = allProcs().filter((proc) => proc.state !== 'Z');
  const found: Proc[] = [];
  const walk = (parent: number) => {
    for (const child of procs.filter((proc) => proc.ppid === parent)) {
      found.push(child);
      walk(child.pid);
    }
  };
  walk(pid);
  return found;
}

/** Resolves once none of `pids` is alive (zombies count as gone); rejects after `timeoutMs`. */
async function allGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.map(readProc).filter((proc) => proc !== undefined && proc.state !== 'Z');
    if (alive.length === 0) return;
    if (Date.now() > deadline) throw new Error(`still running: ${alive.map((proc) => `${proc!.pid} ${proc!.cmdline}`).join('; ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Started {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `file args` in its own process group and resolves once it logs `listening on http://…`. */
function start(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Started> {
  const child = spawn(file, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.push(child);
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: match[1], output: () => output, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${output}`));
    });
  });
}

/**
 * Opens an SSE stream, so that the shutdown has a connection to close. Resolves once the stream is
 * open with `ended`, which resolves when the server ends it (an object, since a promise resolved
 * with a promise would wait for that one).
 */
function openStream(url: string): Promise<{ ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const request = get(`${url}/v1/events/stream?types=grant.*`, { headers: { authorization: 'Bearer sk_pm_admin' } }, (response) => {
      if (response.statusCode !== 200) reject(new Error(`stream answered ${response.statusCode}`));
      response.resume();
      resolve({ ended: new Promise<void>((ended) => response.once('close', () => ended())) });
    });
    request.once('error', reject);
  });
}

const started: ChildProcess[] = [];
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'specstream-pm-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  // A failed test must not leave a server behind: kill what is left of each group this file started.
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the compiled server under process managers', () => {
  beforeAll(() => assertDistFresh());

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'npm start is npm → one node process; %s to the npm process alone stops the server gracefully and leaves no process',
    async (signal) => {
      const npm = await start('npm', ['start', '--', '--port', '0', '--store', `sqlite:${join(tempDir(), 'events.db')}`, '--key', KEY]);
      const tree = descendants(npm.child.pid!);
      expect(tree.map((proc) => proc.cmdline)).toEqual([expect.stringMatching(/^node bin\/specstream\.js serve --port 0 /)]);
      const stream = await openStream(npm.url);

      const t0 = Date.now();
      process.kill(npm.child.pid!, signal);
      await stream.ended;
      const { code } = await npm.exited;
      await allGone([npm.child.pid!, ...tree.map((proc) => proc.pid)], SHUTDOWN_BOUND_MS);
      expect(Date.now() - t0).toBeLessThan(SHUTDOWN_BOUND_MS);
      expect(npm.output()).toContain(`"signal":"${signal}","msg":"shutting down"`);
      expect(npm.output()).toContain('"msg":"stopped"');
      expect(code).toBe(0);
    },
    60_000,
  );

  describe('deploy/specstream.service', () => {
    const unit = readFileSync(join(ROOT, 'deploy', 'specstream.service'), 'utf8');
    const values = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1]!);

    it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('passes systemd-analyze verify', async () => {
      // The unit names /usr/bin/node; verify checks the executable exists, so point it at this node.
      const dir = tempDir();
      writeFileSync(join(dir, 'specstream.service'), unit.replace('/usr/bin/node ', `${process.execPath} `));
      const { stdout, stderr } = await run('systemd-analyze', ['verify', join(dir, 'specstream.service')]);
      expect(`${stdout}${stderr}`).toBe('');
    });

    it('runs its ExecStart with its Environment= and stops within TimeoutStopSec on its KillSignal, exit 0', async () => {
      const state = tempDir();
      const env: NodeJS.ProcessEnv = { SPECSTREAM_KEYS: KEY };
      for (const line of values('Environment')) {
        const at = line.indexOf('=');
        env[line.slice(0, at)] = line.slice(at + 1).replaceAll('/var/lib/specstream', state);
      }
      env.PORT = '0'; // the unit's 8080 may be taken here
      const [node, script, ...args] = values('ExecStart')[0]!.split(' ');
      expect(node).toBe('/usr/bin/node');
      expect(script).toBe('/opt/specstream/node_modules/specstream/bin/specstream.js');
      // The repository stands in for /opt/specstream/node_modules/specstream (the tarball test installs that).
      const server = await start(process.execPath, [join(ROOT, 'bin', 'specstream.js'), ...args], { env, cwd: state });
      expect(server.output()).toContain('"store":"sqlite"');
      expect(existsSync(join(state, 'events.db'))).toBe(true);
      const stream = await openStream(server.url);

      const t0 = Date.now();
      process.kill(server.child.pid!, values('KillSignal')[0] as NodeJS.Signals);
      await stream.ended;
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(Number.parseInt(values('TimeoutStopSec')[0]!, 10) * 1000);
      expect(server.output()).toContain('"msg":"stopped"');
    }, 60_000);
  });

  it("runs the README's Procfile line with PORT from the environment and stops on SIGTERM to its process group", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const line = /^web: (.+)$/m.exec(readme)?.[1];
    expect(line).toBeDefined();
    const server = await start('sh', ['-c', line!], { env: { PORT: '0', SPECSTREAM_KEYS: KEY, SPECSTREAM_STORE: `sqlite:${join(tempDir(), 'events.db')}` } });
    const tree = [server.child.pid!, ...descendants(server.child.pid!).map((proc) => proc.pid)];
    const stream = await openStream(server.url.replace('0.0.0.0', '127.0.0.1'));
    process.kill(-server.child.pid!, 'SIGTERM');
    await stream.ended;
    await server.exited;
    await allGone(tree, SHUTDOWN_BOUND_MS);
    expect(server.output()).toContain('"msg":"stopped"');
  }, 60_000);
});
