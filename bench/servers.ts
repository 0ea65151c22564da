/**
 * The servers `npm run bench` compares, each started fresh for each measurement in its own
 * process(es): Specstream (bench/specstream-server.ts), the plain Node broadcast server
 * (bench/baseline-server.ts) and nchan (bench/nchan.ts), when installed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNchan, startNchan, stopNchan } from './nchan.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** Where compile.ts put the compiled scripts, or undefined to run the TypeScript through tsx. */
let compiled: string | undefined;

/** Runs the Node servers and the publisher from `dir` (compile.ts) from now on; undefined: through tsx. */
export function runCompiledFrom(dir: string | undefined): void {
  compiled = dir;
}

/** Node arguments that run the bench script `script` (e.g. `publisher.ts`): compiled, or through tsx. */
export function benchScript(script: string): string[] {
  return compiled === undefined ? ['--import', 'tsx', join(HERE, script)] : [join(compiled, 'bench', script.replace(/\.ts$/, '.js'))];
}

export type ServerName = 'nchan' | 'specstream' | 'baseline';

/** A running benchmark server. */
export interface BenchServer {
  readonly name: ServerName;
  readonly url: string;
  /** The processes whose CPU and memory count: the server (nchan: its worker; `--workers`: every process). */
  pids(): number[];
  stop(): Promise<void>;
}

/** How a server is started for one measurement. */
export interface ServerSetup {
  /** Command prefix pinning it to a core (`taskset -c 0`), or empty. */
  pin: string[];
  /** SSE heartbeat / WebSocket ping interval in s (Specstream `heartbeat_s`, nchan's ping intervals). Default 30. */
  heartbeatS?: number;
  /** Specstream's WebSocket `status_s`. Default 5. */
  statusS?: number;
  /** Specstream's store: a SQLite file path or a store URL (required for Specstream). */
  store?: string;
  /** Specstream `--workers`. Default 1. */
  workers?: number;
  /** Scratch directory (nchan's config and logs go under it). */
  dir: string;
}

/** Whether nchan can run here: undefined when it can, else the one-line reason. */
export function nchanMissing(): string | undefined {
  const found = findNchan();
  return 'missing' in found ? found.missing : undefined;
}

/** Starts `name` with `setup`; resolves once it accepts connections. */
export async function startBenchServer(name: ServerName, setup: ServerSetup): Promise<BenchServer> {
  if (name === 'nchan') {
    const found = findNchan();
    if ('missing' in found) throw new Error(found.missing);
    const running = await startNchan(found.nginx, join(setup.dir, `nchan-${Date.now()}`), setup.pin, setup.heartbeatS ?? 30);
    return { name, url: running.url, pids: () => [running.workerPid], stop: () => stopNchan(running) };
  }
  if (name === 'baseline') {
    const { url, child } = await spawnScript('baseline-server.ts', [], setup.pin);
    return { name, url, pids: () => [child.pid!], stop: () => stop(child) };
  }
  if (setup.store === undefined) throw new TypeError('startBenchServer: Specstream needs a store');
  const overrides = {
    heartbeat_s: setup.heartbeatS ?? 30,
    status_s: setup.statusS ?? 5,
    workers: setup.workers ?? 1,
  };
  const { url, child } = await spawnScript('specstream-server.ts', [setup.store, JSON.stringify(overrides)], setup.pin);
  return { name, url, pids: () => [child.pid!, ...descendants(child.pid!)], stop: () => stop(child) };
}

/** Spawns a bench server script and resolves with its URL once it prints READY. */
function spawnScript(script: string, args: string[], pin: string[]): Promise<{ url: string; child: ChildProcess }> {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each server process there.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // BENCH_SERVER_FLAGS="--flag ...": extra node flags for the Specstream server process (e.g. the V8 heap flags of npm start).
  const flags = script === 'specstream-server.ts' ? (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean) : [];
  const command = [...pin, process.execPath, ...profile, ...flags, ...benchScript(script), ...args];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /READY (\S+)/.exec(output);
      if (match) resolve({ url: match[1]!, child });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before READY`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  if (child.exitCode === null && child.signalCode === null) {
    for (const pid of descendants(child.pid!)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    child.kill('SIGKILL');
    await exited;
  }
}

/** Every descendant of `pid` (Linux `/proc/PID/task/PID/children`); empty elsewhere. */
export function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}
