/**
 * `npm run bench`: fan-out and replay benchmarks of Specstream, each fan-out also run against a
 * plain `http`/`ws` broadcast server that stores nothing (baseline-server.ts), in the same run,
 * with Specstream's figure printed as a ratio of it.
 *
 * Processes: the server under test, the publisher (publisher.ts) and this one, which holds the
 * subscribers. The `at-rest` scenario (at-rest.ts) measures the memory of the compiled server with no
 * connection (`npm run build` first). Options: `--quick` (smaller runs), `--only=<scenario>[,<scenario>]`, `--store=<url>`
 * (PostgreSQL or NATS JetStream instead of a temporary SQLite file; see stores.ts), `--nodes N` (with
 * such a store: one node against N nodes over one log, bench/cluster.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../src/store/store-sqlite.js';
import { atRest, bareNode } from './at-rest.js';
import { benchStore, dropBenchStore, openBenchStore, storeUrlFor } from './stores.js';
import { now, percentile } from './common.js';
import { openSse, openWs, type BenchSubscriber } from './subscribers.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((arg) => arg.startsWith('--only='))?.slice('--only='.length).split(',');

interface FanoutScenario {
  name: string;
  sse: number;
  ws: number;
  /** Events to publish and measure. */
  events: number;
  /**
   * Events published first, at the same rate, and left out of the latency figures: the first
   * seconds of a fresh server and publisher run cold code (JIT, lazily built validators), and their
   * latencies describe start-up, not the steady state the target is about. Deliveries still count.
   */
  warmup: number;
  /** Events per second; 0 for flat out. */
  rate: number;
  /** Requests in flight for flat out. */
  concurrency: number;
}

interface FanoutResult {
  deliveriesPerSecond: number;
  completeness: number;
  p50: number;
  p99: number;
  publishRate: number;
  /** Server CPU (user + system) per delivered event, in µs: independent of what else the machine runs. */
  cpuPerDelivery: number;
}

const scenarios: FanoutScenario[] = [
  { name: 'rate-500eps-100subs', sse: 50, ws: 50, events: quick ? 1000 : 5000, warmup: quick ? 500 : 1000, rate: 500, concurrency: 16 },
  { name: 'flat-1000sse', sse: 1000, ws: 0, events: quick ? 500 : 3000, warmup: 0, rate: 0, concurrency: 16 },
  { name: 'flat-500sse-500ws', sse: 500, ws: 500, events: quick ? 500 : 3000, warmup: 0, rate: 0, concurrency: 16 },
];
const REPLAY_EVENTS = quick ? 200_000 : 1_000_000;

function selected(name: string): boolean {
  return only === undefined || only.some((prefix) => name.startsWith(prefix));
}

/** Spawns a bench server script and resolves with its URL once it prints READY. */
function spawnServer(script: string, scriptArgs: string[]): Promise<{ url: string; child: ChildProcess }> {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each server process there.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // BENCH_SERVER_FLAGS="--flag ...": extra node flags for the Specstream server process (e.g. the V8 heap flags of npm start).
  const flags = script === 'specstream-server.ts' ? (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean) : [];
  const child = spawn(process.execPath, [...profile, ...flags, '--import', 'tsx', join(HERE, script), ...scriptArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

function runPublisher(url: string, scenario: FanoutScenario): Promise<{ published: number; failed: number; startedAt: number; seconds: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(HERE, 'publisher.ts'), url, String(scenario.warmup + scenario.events), String(scenario.rate), String(scenario.concurrency)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`publisher exited with ${code}`))));
  });
}

async function fanout(url: string, scenario: FanoutScenario, pid: number): Promise<FanoutResult> {
  const subscribers: BenchSubscriber[] = [];
  // Latency from up to 20 subscribers of each kind; the others only count.
  for (let i = 0; i < scenario.sse; i++) subscribers.push(await openSse(url, i < 20));
  for (let i = 0; i < scenario.ws; i++) subscribers.push(await openWs(url, i < 20));
  const cpu0 = cpuSeconds(pid);
  const publisher = await runPublisher(url, scenario);
  const expected = publisher.published * subscribers.length;
  // Wait until every subscriber has every event, or no progress for 5 s.
  let total = 0;
  let lastTotal = -1;
  let lastProgress = now();
  for (;;) {
    total = subscribers.reduce((sum, s) => sum + s.received, 0);
    if (total >= expected) break;
    if (total !== lastTotal) {
      lastTotal = total;
      lastProgress = now();
    } else if (now() - lastProgress > 5000) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const serverCpu = cpuSeconds(pid) - cpu0;
  const lastAt = Math.max(...subscribers.map((s) => s.lastAt));
  // Each sampled subscriber receives the events in publish order: its first `warmup` latencies are the warm-up's.
  const latencies = subscribers.flatMap((s) => (s.latencies ?? []).slice(scenario.warmup));
  for (const subscriber of subscribers) subscriber.close();
  return {
    deliveriesPerSecond: total / ((lastAt - publisher.startedAt) / 1000),
    completeness: total / expected,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    publishRate: publisher.published / publisher.seconds,
    cpuPerDelivery: (serverCpu / total) * 1e6,
  };
}

async function withSpecstream<T>(dbPath: string, run: (url: string, pid: number) => Promise<T>): Promise<T> {
  const store = storeUrlFor(dbPath.replace(/^.*\//, '').replace(/\.db$/, ''), dbPath);
  const { url, child } = await spawnServer('specstream-server.ts', [store]);
  try {
    return await run(url, child.pid!);
  } finally {
    await stop(child);
    if (benchStore !== undefined) await dropBenchStore(store);
  }
}

async function withBaseline<T>(run: (url: string, pid: number) => Promise<T>): Promise<T> {
  const { url, child } = await spawnServer('baseline-server.ts', []);
  try {
    return await run(url, child.pid!);
  } finally {
    await stop(child);
  }
}

/** User + system CPU seconds a process has used so far (Linux /proc; NaN elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'specstream-bench-'));
  console.log(`Specstream benchmark (${quick ? 'quick' : 'full'}), Node ${process.version}, store ${benchStore?.replace(/\/\/[^@/]*@/, '//') ?? 'sqlite (temporary file)'}, ${new Date().toISOString()}`);
  try {
    for (const scenario of scenarios) {
      if (!selected(scenario.name)) continue;
      const subs = `${scenario.sse} SSE + ${scenario.ws} WS`;
      const rate = scenario.rate > 0 ? `${scenario.rate} ev/s` : `flat out (${scenario.concurrency} requests in flight)`;
      const warmup = scenario.warmup > 0 ? ` after ${scenario.warmup} warm-up events (not in the latencies)` : '';
      console.log(`\nfan-out ${scenario.name}: ${subs} subscribers, ${scenario.events} events${warmup}, ${rate}`);
      const ours = await withSpecstream(join(dir, `${scenario.name}.db`), (url, pid) => fanout(url, scenario, pid));
      const base = await withBaseline((url, pid) => fanout(url, scenario, pid));
      for (const [label, r] of [['specstream', ours], ['baseline  ', base]] as const) {
        console.log(
          `  ${label}  deliveries/s ${fmt(r.deliveriesPerSecond).padStart(10)}  completeness ${fmt(r.completeness * 100, 2)}%  ` +
            `p50 ${fmt(r.p50, 2)} ms  p99 ${fmt(r.p99, 2)} ms  publish ${fmt(r.publishRate)} ev/s  server CPU ${fmt(r.cpuPerDelivery, 2)} µs/delivery`,
        );
      }
      console.log(`  ratio (specstream / baseline deliveries/s): ${fmt(ours.deliveriesPerSecond / base.deliveriesPerSecond, 2)}`);
    }

    if (selected('replay')) {
      console.log(`\nreplay: one client catching up through ${REPLAY_EVENTS.toLocaleString('en-US')} stored events`);
      const dbPath = join(dir, 'replay.db');
      // With --store the history is preloaded there, and the replay server keeps the store (dropped after).
      const store = benchStore === undefined ? SqliteStore.open(dbPath) : await openBenchStore(storeUrlFor('replay', dbPath));
      const started = now();
      const batch = Array.from({ length: 5000 }, (_, i) => ({
        type: 'audit_log.created',
        source: '/bench',
        data: { entryId: `e${i}`, actor: { type: 'service', id: 'bench' }, action: 'bench.replay', target: 'bench', metadata: { t: '0' } },
      }));
      for (let i = 0; i < REPLAY_EVENTS; i += batch.length) await store.append(batch);
      await store.close();
      console.log(`  stored in ${fmt((now() - started) / 1000, 1)} s`);
      await withSpecstream(dbPath, async (url, pid) => {
        for (const kind of ['sse', 'ws'] as const) {
          const t0 = now();
          const cpu0 = cpuSeconds(pid);
          const subscriber = kind === 'sse' ? await openSse(url, false, '?since=1970-01-01T00:00:00Z') : await openWsReplay(url);
          while (subscriber.received < REPLAY_EVENTS) {
            if (now() - t0 > 120_000) throw new Error(`replay over ${kind} stalled at ${subscriber.received} events`);
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          const seconds = (subscriber.lastAt - t0) / 1000;
          subscriber.close();
          // Server CPU per event does not depend on what else the machine is running; events/s does.
          const cpu = cpuSeconds(pid) - cpu0;
          console.log(`  ${kind.padEnd(3)} ${fmt(REPLAY_EVENTS / seconds)} events/s (${fmt(seconds, 2)} s; server CPU ${fmt((cpu / REPLAY_EVENTS) * 1e6, 2)} µs/event)`);
        }
      });
    }

    if (selected('at-rest')) {
      const settleMs = quick ? 5000 : 15_000;
      console.log(`\nat-rest: node bin/specstream.js serve (compiled dist/), SQLite store, no connection, RSS after ${settleMs / 1000} s`);
      const bare = await bareNode();
      console.log(`  bare node (reference)             RSS ${fmt(bare.total, 1)} MiB (anon ${fmt(bare.anon, 1)}, file ${fmt(bare.file, 1)})`);
      for (const flags of AT_REST_VARIANTS) {
        const { last, max } = await atRest(join(dir, `at-rest-${AT_REST_VARIANTS.indexOf(flags)}.db`), flags, settleMs);
        const label = flags.length > 0 ? `node ${flags.join(' ')}` : 'node (as npm start)';
        console.log(`  ${label.padEnd(32)}  RSS ${fmt(last.total, 1)} MiB (anon ${fmt(last.anon, 1)}, file ${fmt(last.file, 1)}; largest ${fmt(max, 1)})`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Node flags of the at-rest variants: as `npm start` runs, and with a 1 MiB V8 semi-space (young generation). */
const AT_REST_VARIANTS: string[][] = [[], ['--max-semi-space-size=1']];

async function openWsReplay(url: string): Promise<BenchSubscriber> {
  const { WebSocket } = await import('ws');
  const { AUTH } = await import('./common.js');
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/events/ws?since=1970-01-01T00:00:00Z`, { headers: { Authorization: AUTH } });
  const subscriber: BenchSubscriber = { kind: 'ws', received: 0, lastAt: 0, latencies: undefined, close: () => ws.terminate() };
  ws.on('message', (data: Buffer) => {
    if (data[10] !== 0x76) return;
    subscriber.received++;
    subscriber.lastAt = now();
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return subscriber;
}

// `--nodes N` (with --store=postgres://… or nats://…): the scale-out benchmark instead (bench/cluster.ts).
if (args.some((arg) => arg === '--nodes' || arg.startsWith('--nodes='))) await (await import('./cluster.js')).runCluster(args);
else await main();
