/**
 * The `at-rest` scenario of `npm run bench`: the memory of a started server with the SQLite store
 * and no connection, run as `npm start` runs it (`node bin/specstream.js serve`, the compiled
 * `dist/`, so `npm run build` first). RSS is read from `/proc/PID/status` once a second for
 * `settleMs` after the server says it is listening; the figure is the last reading (the largest is
 * printed too). Each variant is a set of extra node flags, e.g. a smaller V8 young generation.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Resident memory of a process, in MiB (Linux `/proc/PID/status`). */
export interface Rss {
  /** VmRSS: everything resident. */
  total: number;
  /** RssAnon: heap, stacks, malloc. */
  anon: number;
  /** RssFile: mapped files (the node binary's code, native addons). */
  file: number;
}

/** Reads the resident memory of `pid`; undefined when the process is gone or not on Linux. */
export function readRss(pid: number): Rss | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
    return { total: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile') };
  } catch {
    return undefined;
  }
}

/** Starts `node [flags] bin/specstream.js serve` on a free port and resolves with its RSS after `settleMs`. */
export async function atRest(dbPath: string, flags: string[], settleMs: number): Promise<{ last: Rss; max: number }> {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('at-rest measures the compiled server: run `npm run build` first');
  const child = spawn(process.execPath, [...flags, join(ROOT, 'bin', 'specstream.js'), 'serve', '--port', '0', '--store', `sqlite:${dbPath}`, '--key', 'bench:sk_bench:admin'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('listening on http')) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void exited.then(() => reject(new Error(`server exited before listening:\n${output}`)));
    });
    let last: Rss | undefined;
    let max = 0;
    for (let waited = 0; waited < settleMs; waited += 1000) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      last = readRss(child.pid!);
      if (!last) throw new Error('cannot read /proc/PID/status (Linux only)');
      max = Math.max(max, last.total);
    }
    return { last: last!, max };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** RSS of a bare `node` process that does nothing, for reference. */
export async function bareNode(): Promise<Rss> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return readRss(child.pid!)!;
  } finally {
    child.kill('SIGTERM');
  }
}
