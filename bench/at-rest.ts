/**
 * The `at-rest` scenario of `npm run bench`: the memory of a started server with the SQLite store
 * and no connection, run as `npm start` runs it (`node bin/specstream.js serve`, the compiled
 * `dist/`, so `npm run build` first). RSS is read from `/proc/PID/status` once a second for
 * `settleMs` after the server says it is listening; the figure is the last reading (the largest is
 * printed too). Each variant is a set of extra node flags, e.g. a smaller V8 young generation, and
 * whether the server is first used (one publish and one SSE stream that reads it, then closed)
 * before the readings, which loads the app the server builds at its first request.
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

/** One publish, then an SSE stream from the start of the log read until its first event, then closed. */
async function firstUse(url: string): Promise<void> {
  const auth = { authorization: 'Bearer sk_bench' };
  const published = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'grant.created', data: { grantId: 'grnt_1', userId: 'u1', scopes: ['read'] } }),
  });
  if (published.status !== 201) throw new Error(`first publish: ${published.status} ${await published.text()}`);
  const stream = new AbortController();
  const response = await fetch(`${url}/v1/events/stream?since=1970-01-01T00:00:00Z`, { headers: auth, signal: stream.signal });
  const reader = response.body!.getReader();
  let text = '';
  while (!text.includes('\nevent:') && !text.startsWith('event:')) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the stream ended before its first event');
    text += Buffer.from(value).toString();
  }
  stream.abort();
}

/**
 * Starts `node [flags] bin/specstream.js serve` on a free port (first used when `used`) and resolves
 * with its RSS after `settleMs`.
 */
export async function atRest(dbPath: string, flags: string[], settleMs: number, used = false): Promise<{ last: Rss; max: number }> {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('at-rest measures the compiled server: run `npm run build` first');
  const child = spawn(process.execPath, [...flags, join(ROOT, 'bin', 'specstream.js'), 'serve', '--port', '0', '--store', `sqlite:${dbPath}`, '--key', 'bench:sk_bench:admin'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const listening = /listening on (http:\/\/[^\s"]+)/.exec(output);
        if (listening?.[1]) resolve(listening[1]);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void exited.then(() => reject(new Error(`server exited before listening:\n${output}`)));
    });
    if (used) await firstUse(url);
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
