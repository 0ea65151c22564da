/**
 * `npm run bench`: Specstream measured side by side with nchan (nginx + `libnginx-mod-nchan`, when
 * installed; skipped with a one-line reason otherwise) and with a plain Node broadcast server that
 * stores nothing (baseline-server.ts), in the same run.
 *
 * Every scenario runs all servers back to back, each started fresh; with two or more cores the
 * servers are pinned to core 0 and the harness (this process, the publisher and the subscribers)
 * to the others. Each line gives, per server: publishes/s or deliveries/s, server CPU per event
 * (read from /proc: the figure that stays stable on a busy machine), p50/p99, RSS, and the ratio
 * to nchan. A summary table (markdown) with the issue's targets closes the run.
 *
 * Options: `--quick` (smaller runs), `--only=<scenario prefix>[,...]`, `--runs=N` (repeat each
 * scenario N times, servers alternating, and report medians; default 1), `--servers=a,b` (a subset
 * of nchan, specstream, baseline), `--store=<url>` (PostgreSQL or NATS JetStream instead of a
 * temporary SQLite file; see stores.ts). Scenarios: publish, rate-*, flat-*, idle-*, workers,
 * replay, at-rest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/store-sqlite.js';
import { atRest, bareNode } from './at-rest.js';
import { now } from './common.js';
import { compileForBench } from './compile.js';
import { NCHAN_INSTALL } from './nchan.js';
import { median, pinCores, raiseFileLimit, type Pinning } from './procs.js';
import { fanout, idleConnections, publishFlatOut, replay, type FanoutResult, type FanoutScenario, type IdleResult, type PublishResult } from './scenarios.js';
import { nchanMissing, runCompiledFrom, startBenchServer, type BenchServer, type ServerName } from './servers.js';
import { benchStore, dropBenchStore, openBenchStore, storeUrlFor } from './stores.js';
import type { BenchSubscriber } from './subscribers.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const option = (name: string) => args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = option('only')?.split(',');
const runs = Math.max(1, Number(option('runs') ?? 1));
const wantedServers = (option('servers')?.split(',') ?? ['nchan', 'specstream', 'baseline']) as ServerName[];

function selected(name: string): boolean {
  return only === undefined || only.some((prefix) => name.startsWith(prefix));
}

/** The single-event publish scenario (issue 14 target 1). */
const PUBLISH = { name: 'publish', events: quick ? 5000 : 20_000, warmup: quick ? 1000 : 2000, concurrency: 16 };

const FANOUT: FanoutScenario[] = [
  // Issue 14 target 2: paced delivery to 100 SSE subscribers.
  { name: 'rate-500eps-100sse', sse: 100, ws: 0, events: quick ? 1000 : 5000, warmup: quick ? 500 : 1000, rate: 500, concurrency: 16 },
  { name: 'rate-500eps-100subs', sse: 50, ws: 50, events: quick ? 1000 : 5000, warmup: quick ? 500 : 1000, rate: 500, concurrency: 16 },
  // Issue 14 target 6: flat-out fan-out.
  { name: 'flat-1000sse', sse: 1000, ws: 0, events: quick ? 500 : 3000, warmup: 0, rate: 0, concurrency: 16 },
  { name: 'flat-1000ws', sse: 0, ws: 1000, events: quick ? 500 : 3000, warmup: 0, rate: 0, concurrency: 16 },
  { name: 'flat-500sse-500ws', sse: 500, ws: 500, events: quick ? 500 : 3000, warmup: 0, rate: 0, concurrency: 16 },
  { name: 'flat-10000sse', sse: 10_000, ws: 0, events: quick ? 100 : 200, warmup: 0, rate: 0, concurrency: 16 },
];

/** Issue 14 target 3: idle connections, heartbeats and status frames every HEARTBEAT_S. */
const IDLE = [
  { name: 'idle-sse-1000', kind: 'sse' as const, count: 1000 },
  { name: 'idle-sse-10000', kind: 'sse' as const, count: quick ? 5000 : 10_000 },
  { name: 'idle-ws-1000', kind: 'ws' as const, count: 1000 },
  { name: 'idle-ws-10000', kind: 'ws' as const, count: quick ? 5000 : 10_000 },
];
const IDLE_HEARTBEAT_S = 2;
const IDLE_HOLD_MS = 5000;

const REPLAY_EVENTS = quick ? 200_000 : 1_000_000;

const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const pad = (name: string) => name.padEnd(10);

/** One line of the closing summary table. */
interface SummaryRow {
  scenario: string;
  nchan: string;
  specstream: string;
  baseline: string;
  ratio: string;
  target: string;
  met: string;
}
const summary: SummaryRow[] = [];

let pinning: Pinning;
let dir: string;
let servers: ServerName[];
let scenarioCount = 0;

/** The servers of one repetition, rotated so that no server always goes first. */
function order(run: number): ServerName[] {
  return servers.map((_, i) => servers[(i + run) % servers.length]!);
}

async function withServer<T>(name: ServerName, setup: { heartbeatS?: number; statusS?: number; workers?: number; pin?: boolean }, body: (server: BenchServer) => Promise<T>): Promise<T> {
  const scenario = `s${++scenarioCount}`;
  const store = name === 'specstream' ? storeUrlFor(scenario, join(dir, `${scenario}.db`)) : undefined;
  const server = await startBenchServer(name, {
    pin: setup.pin === false ? [] : pinning.server,
    dir,
    ...(store !== undefined ? { store } : {}),
    ...(setup.heartbeatS !== undefined ? { heartbeatS: setup.heartbeatS } : {}),
    ...(setup.statusS !== undefined ? { statusS: setup.statusS } : {}),
    ...(setup.workers !== undefined ? { workers: setup.workers } : {}),
  });
  try {
    return await body(server);
  } finally {
    await server.stop();
    if (store !== undefined && benchStore !== undefined) await dropBenchStore(store);
  }
}

/** Runs `measure` `runs` times per server (servers alternating) and returns each server's results. */
async function repeat<T>(measure: (name: ServerName) => Promise<T>): Promise<Map<ServerName, T[]>> {
  const results = new Map<ServerName, T[]>(servers.map((name) => [name, []]));
  for (let run = 0; run < runs; run++) {
    for (const name of order(run)) results.get(name)!.push(await measure(name));
  }
  return results;
}

/** The median of one field over a server's repetitions. */
function med<T>(results: Map<ServerName, T[]>, name: ServerName, field: (result: T) => number): number {
  return median((results.get(name) ?? []).map(field));
}

function cell<T>(results: Map<ServerName, T[]>, name: ServerName, field: (result: T) => number, digits = 0, unit = ''): string {
  if (!results.has(name)) return '–';
  return `${fmt(med(results, name, field), digits)}${unit}`;
}

function ratioToNchan<T>(results: Map<ServerName, T[]>, field: (result: T) => number): number {
  return med(results, 'specstream', field) / med(results, 'nchan', field);
}

// ---- scenarios ----------------------------------------------------------------------------------

async function publishScenario(): Promise<void> {
  console.log(`\n${PUBLISH.name}: single-event POST /v1/events, ${PUBLISH.concurrency} in flight, ${fmt(PUBLISH.events)} events after ${fmt(PUBLISH.warmup)} warm-up events, no subscriber`);
  const results = await repeat((name) => withServer(name, {}, (server) => publishFlatOut(server, PUBLISH.events, PUBLISH.concurrency, PUBLISH.warmup)));
  for (const name of servers) {
    const m = (field: (r: PublishResult) => number) => med(results, name, field);
    console.log(
      `  ${pad(name)} publishes/s ${fmt(m((r) => r.publishesPerSecond)).padStart(8)}  server CPU ${fmt(m((r) => r.cpuPerPublish), 1)} µs/publish  ` +
        `p50 ${fmt(m((r) => r.p50), 2)} ms  p99 ${fmt(m((r) => r.p99), 2)} ms  RSS ${fmt(m((r) => r.rssMiB), 1)} MiB  failed ${fmt(m((r) => r.failed))}`,
    );
  }
  const ratio = ratioToNchan(results, (r) => r.publishesPerSecond);
  const cpu = med(results, 'specstream', (r) => r.cpuPerPublish);
  if (results.has('nchan')) console.log(`  specstream / nchan: publishes/s ${fmt(ratio, 2)}, CPU per publish ${fmt(cpu / med(results, 'nchan', (r) => r.cpuPerPublish), 2)}`);
  summary.push({
    scenario: `single-event POSTs, ${PUBLISH.concurrency} in flight: accepted events/s`,
    nchan: cell(results, 'nchan', (r) => r.publishesPerSecond),
    specstream: cell(results, 'specstream', (r) => r.publishesPerSecond),
    baseline: cell(results, 'baseline', (r) => r.publishesPerSecond),
    ratio: fmt(ratio, 2),
    target: '≥ 1.0',
    met: verdict(ratio >= 1),
  });
  summary.push({
    scenario: '… server CPU per publish',
    nchan: cell(results, 'nchan', (r) => r.cpuPerPublish, 1, ' µs'),
    specstream: cell(results, 'specstream', (r) => r.cpuPerPublish, 1, ' µs'),
    baseline: cell(results, 'baseline', (r) => r.cpuPerPublish, 1, ' µs'),
    ratio: fmt(cpu / med(results, 'nchan', (r) => r.cpuPerPublish), 2),
    target: '≤ 60 µs',
    met: verdict(cpu <= 60),
  });
}

async function fanoutScenario(scenario: FanoutScenario): Promise<void> {
  const subs = [scenario.sse > 0 ? `${fmt(scenario.sse)} SSE` : '', scenario.ws > 0 ? `${fmt(scenario.ws)} WS` : ''].filter(Boolean).join(' + ');
  const rate = scenario.rate > 0 ? `${scenario.rate} ev/s` : `flat out (${scenario.concurrency} requests in flight)`;
  const warmup = scenario.warmup > 0 ? ` after ${scenario.warmup} warm-up events (not in the latencies)` : '';
  console.log(`\n${scenario.name}: ${subs} subscribers, ${fmt(scenario.events)} events${warmup}, ${rate}`);
  const results = await repeat((name) => withServer(name, {}, (server) => fanout(server, scenario)));
  printFanout(results);
  const field = (r: FanoutResult) => r.deliveriesPerSecond;
  const ratio = ratioToNchan(results, field);
  if (scenario.rate > 0) {
    const cpuRatio = ratioToNchan(results, (r) => r.cpuPerDelivery);
    const p99Ratio = ratioToNchan(results, (r) => r.p99);
    summary.push({
      scenario: `${scenario.rate} ev/s to ${subs} subscribers: server CPU per delivery`,
      nchan: cell(results, 'nchan', (r) => r.cpuPerDelivery, 2, ' µs'),
      specstream: cell(results, 'specstream', (r) => r.cpuPerDelivery, 2, ' µs'),
      baseline: cell(results, 'baseline', (r) => r.cpuPerDelivery, 2, ' µs'),
      ratio: fmt(cpuRatio, 2),
      target: scenario.ws === 0 ? '≤ 1.0' : '',
      met: scenario.ws === 0 ? verdict(cpuRatio <= 1) : '',
    });
    summary.push({
      scenario: '… p99 publish→receive',
      nchan: cell(results, 'nchan', (r) => r.p99, 1, ' ms'),
      specstream: cell(results, 'specstream', (r) => r.p99, 1, ' ms'),
      baseline: cell(results, 'baseline', (r) => r.p99, 1, ' ms'),
      ratio: fmt(p99Ratio, 2),
      target: scenario.ws === 0 ? '≤ 1.0' : '',
      met: scenario.ws === 0 ? verdict(p99Ratio <= 1) : '',
    });
  } else {
    const targeted = scenario.ws === 0;
    summary.push({
      scenario: `flat out to ${subs}: deliveries/s (server CPU per delivery)`,
      nchan: `${cell(results, 'nchan', field)} (${cell(results, 'nchan', (r) => r.cpuPerDelivery, 2, ' µs')})`,
      specstream: `${cell(results, 'specstream', field)} (${cell(results, 'specstream', (r) => r.cpuPerDelivery, 2, ' µs')})`,
      baseline: `${cell(results, 'baseline', field)} (${cell(results, 'baseline', (r) => r.cpuPerDelivery, 2, ' µs')})`,
      ratio: fmt(ratio, 2),
      target: targeted ? '≥ 2.0' : '',
      met: targeted ? verdict(ratio >= 2) : '',
    });
  }
}

function printFanout(results: Map<ServerName, FanoutResult[]>): void {
  for (const name of results.keys()) {
    const m = (field: (r: FanoutResult) => number) => med(results, name, field);
    const disordered = Math.max(...results.get(name)!.map((r) => r.outOfOrder));
    console.log(
      `  ${pad(name)} deliveries/s ${fmt(m((r) => r.deliveriesPerSecond)).padStart(9)}  completeness ${fmt(Math.min(...results.get(name)!.map((r) => r.completeness)) * 100, 2)}%` +
        `${disordered > 0 ? ` OUT OF ORDER (${disordered})` : ''}  p50 ${fmt(m((r) => r.p50), 2)} ms  p99 ${fmt(m((r) => r.p99), 2)} ms  ` +
        `publish ${fmt(m((r) => r.publishRate))} ev/s  server CPU ${fmt(m((r) => r.cpuPerDelivery), 2)} µs/delivery  RSS ${fmt(m((r) => r.rssMiB), 1)} MiB`,
    );
  }
  if (results.has('nchan') && results.has('specstream')) {
    console.log(
      `  specstream / nchan: deliveries/s ${fmt(ratioToNchan(results, (r) => r.deliveriesPerSecond), 2)}, CPU per delivery ${fmt(ratioToNchan(results, (r) => r.cpuPerDelivery), 2)}, p99 ${fmt(ratioToNchan(results, (r) => r.p99), 2)}`,
    );
  }
}

async function idleScenario(scenario: (typeof IDLE)[number]): Promise<void> {
  console.log(`\n${scenario.name}: ${fmt(scenario.count)} idle ${scenario.kind.toUpperCase()} streams held ${IDLE_HOLD_MS / 1000} s, heartbeats/pings and status frames every ${IDLE_HEARTBEAT_S} s`);
  const results = await repeat((name) =>
    withServer(name, { heartbeatS: IDLE_HEARTBEAT_S, statusS: IDLE_HEARTBEAT_S }, (server) => idleConnections(server, scenario.kind, scenario.count, IDLE_HOLD_MS)),
  );
  for (const name of results.keys()) {
    const m = (field: (r: IdleResult) => number) => med(results, name, field);
    console.log(
      `  ${pad(name)} RSS per connection ${fmt(m((r) => r.perConnectionKiB), 1).padStart(6)} KiB  RSS before any connection ${fmt(m((r) => r.rssBeforeMiB), 1)} MiB  ` +
        `streams that got a heartbeat while held ${fmt(m((r) => r.heartbeatShare) * 100, 1)}%`,
    );
  }
  const targeted = scenario.count >= 10_000;
  summary.push({
    scenario: `extra RSS per idle ${scenario.kind.toUpperCase()} connection, ${fmt(scenario.count)} connections`,
    nchan: cell(results, 'nchan', (r) => r.perConnectionKiB, 1, ' KiB'),
    specstream: cell(results, 'specstream', (r) => r.perConnectionKiB, 1, ' KiB'),
    baseline: cell(results, 'baseline', (r) => r.perConnectionKiB, 1, ' KiB'),
    ratio: fmt(ratioToNchan(results, (r) => r.perConnectionKiB), 2),
    target: targeted ? '≤ 10 KiB' : '',
    met: targeted ? verdict(med(results, 'specstream', (r) => r.perConnectionKiB) <= 10) : '',
  });
  if (scenario.name === 'idle-sse-1000') {
    summary.push({
      scenario: 'RSS before any connection',
      nchan: cell(results, 'nchan', (r) => r.rssBeforeMiB, 1, ' MiB'),
      specstream: cell(results, 'specstream', (r) => r.rssBeforeMiB, 1, ' MiB'),
      baseline: cell(results, 'baseline', (r) => r.rssBeforeMiB, 1, ' MiB'),
      ratio: fmt(ratioToNchan(results, (r) => r.rssBeforeMiB), 2),
      target: '',
      met: '',
    });
  }
}

/** Issue 14 target 4: `serve --workers N` at 1 and 2 workers (Specstream only, not pinned: the workers need every core). */
async function workersScenario(): Promise<void> {
  if (!servers.includes('specstream')) return;
  const deliveries: FanoutScenario = { name: 'workers', sse: 1000, ws: 0, events: quick ? 500 : 3000, warmup: 0, rate: 0, concurrency: 32 };
  console.log(
    `\nworkers: Specstream serve --workers N, not pinned (${cpus().length} cores shared with the harness): single-event POSTs flat out (32 in flight, ` +
      `${fmt(PUBLISH.events)} events), then flat out to 1,000 SSE subscribers (${fmt(deliveries.events)} events)`,
  );
  for (const workers of [1, 2]) {
    const publishes: PublishResult[] = [];
    const fanouts: FanoutResult[] = [];
    for (let run = 0; run < runs; run++) {
      publishes.push(await withServer('specstream', { workers, pin: false }, (server) => publishFlatOut(server, PUBLISH.events, 32, PUBLISH.warmup)));
      fanouts.push(await withServer('specstream', { workers, pin: false }, (server) => fanout(server, deliveries)));
    }
    const p = (field: (r: PublishResult) => number) => median(publishes.map(field));
    const f = (field: (r: FanoutResult) => number) => median(fanouts.map(field));
    const disordered = Math.max(...fanouts.map((r) => r.outOfOrder));
    console.log(
      `  ${workers} worker${workers > 1 ? 's' : ' '}  publishes/s ${fmt(p((r) => r.publishesPerSecond)).padStart(7)} (${fmt(p((r) => r.cpuPerPublish), 1)} µs CPU each, p99 ${fmt(p((r) => r.p99), 2)} ms, failed ${fmt(p((r) => r.failed))})  ` +
        `deliveries/s ${fmt(f((r) => r.deliveriesPerSecond)).padStart(9)} (${fmt(f((r) => r.cpuPerDelivery), 2)} µs CPU each, completeness ${fmt(Math.min(...fanouts.map((r) => r.completeness)) * 100, 2)}%${disordered > 0 ? `, OUT OF ORDER (${disordered})` : ''})`,
    );
    summary.push({
      scenario: `serve --workers ${workers}: publishes/s; deliveries/s to 1,000 SSE`,
      nchan: '',
      specstream: `${fmt(p((r) => r.publishesPerSecond))}; ${fmt(f((r) => r.deliveriesPerSecond))}`,
      baseline: '',
      ratio: '',
      target: '',
      met: '',
    });
  }
}

async function replayScenario(): Promise<void> {
  if (!servers.includes('specstream')) return;
  console.log(`\nreplay: one client catching up through ${fmt(REPLAY_EVENTS)} stored events (Specstream only)`);
  const dbPath = join(dir, 'replay.db');
  const url = storeUrlFor('replay', dbPath);
  // With --store the history is preloaded there, and the replay server keeps the store (dropped after).
  const store = benchStore === undefined ? SqliteStore.open(dbPath) : await openBenchStore(url);
  const started = now();
  const batch = Array.from({ length: 5000 }, (_, i) => ({
    type: 'audit_log.created',
    source: '/bench',
    data: { entryId: `e${i}`, actor: { type: 'service', id: 'bench' }, action: 'bench.replay', target: 'bench', metadata: { t: '0' } },
  }));
  for (let i = 0; i < REPLAY_EVENTS; i += batch.length) await store.append(batch);
  await store.close();
  console.log(`  stored in ${fmt((now() - started) / 1000, 1)} s`);
  const server = await startBenchServer('specstream', { pin: pinning.server, dir, store: url });
  try {
    for (const kind of ['sse', 'ws'] as const) {
      const results = [];
      for (let run = 0; run < runs; run++) results.push(await replay(server, kind, REPLAY_EVENTS, openWsReplay));
      const eps = median(results.map((r) => r.eventsPerSecond));
      const cpu = median(results.map((r) => r.cpuPerEvent));
      console.log(`  ${kind.padEnd(3)} ${fmt(eps)} events/s (server CPU ${fmt(cpu, 2)} µs/event)`);
      summary.push({
        scenario: `replay of ${fmt(REPLAY_EVENTS)} stored events to one ${kind.toUpperCase()} client: events/s (server CPU per event)`,
        nchan: '',
        specstream: `${fmt(eps)} (${fmt(cpu, 2)} µs)`,
        baseline: '',
        ratio: '',
        target: '≥ 1,000,000',
        met: verdict(eps >= 1_000_000),
      });
    }
  } finally {
    await server.stop();
    if (benchStore !== undefined) await dropBenchStore(url);
  }
}

/** The at-rest variants: as `npm start` runs it, the same after a first publish and stream, and with a 1 MiB V8 semi-space. */
const AT_REST_VARIANTS: Array<{ label: string; flags: string[]; used: boolean }> = [
  { label: 'node (as npm start)', flags: [], used: false },
  { label: 'after a first publish and stream', flags: [], used: true },
  { label: 'node --max-semi-space-size=1', flags: ['--max-semi-space-size=1'], used: false },
];

async function atRestScenario(): Promise<void> {
  const settleMs = quick ? 5000 : 15_000;
  // After a first use, the server gives the young generation back within two or three idle intervals of 6 s.
  const usedSettleMs = quick ? 20_000 : 30_000;
  console.log(
    `\nat-rest: node bin/specstream.js serve (compiled dist/), SQLite store, no connection, RSS after ${settleMs / 1000} s (after a first use: ${usedSettleMs / 1000} s)`,
  );
  const bare = await bareNode();
  console.log(`  bare node (reference)             RSS ${fmt(bare.total, 1)} MiB (anon ${fmt(bare.anon, 1)}, file ${fmt(bare.file, 1)})`);
  for (const [index, { label, flags, used }] of AT_REST_VARIANTS.entries()) {
    const { last, max } = await atRest(join(dir, `at-rest-${index}.db`), flags, used ? usedSettleMs : settleMs, used);
    console.log(`  ${label.padEnd(32)}  RSS ${fmt(last.total, 1)} MiB (anon ${fmt(last.anon, 1)}, file ${fmt(last.file, 1)}; largest ${fmt(max, 1)})`);
  }
}

async function openWsReplay(url: string): Promise<BenchSubscriber> {
  const { openWs } = await import('./subscribers.js');
  return openWs(url, false, '?since=1970-01-01T00:00:00Z');
}

function verdict(met: boolean): string {
  return met ? 'yes' : '**no**';
}

function printSummary(): void {
  if (summary.length === 0) return;
  console.log(`\nSummary (medians of ${runs} run${runs > 1 ? 's' : ''}; ratio = Specstream / nchan):\n`);
  console.log('| scenario | nchan | Specstream | baseline | ratio | target | met |');
  console.log('|---|---|---|---|---|---|---|');
  for (const row of summary) console.log(`| ${row.scenario} | ${row.nchan} | ${row.specstream} | ${row.baseline} | ${row.ratio} | ${row.target} | ${row.met} |`);
}

async function main(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'specstream-bench-'));
  pinning = pinCores();
  const files = raiseFileLimit(65_536);
  const missing = nchanMissing();
  servers = wantedServers.filter((name) => name !== 'nchan' || missing === undefined);
  console.log(
    `Specstream benchmark (${quick ? 'quick' : 'full'}, ${runs} run${runs > 1 ? 's' : ''} per scenario), Node ${process.version}, ${cpus().length} cores, ` +
      `store ${benchStore?.replace(/\/\/[^@/]*@/, '//') ?? 'sqlite (temporary file)'}, ${new Date().toISOString()}`,
  );
  const build = process.env.BENCH_TSX === '1' ? undefined : await compileForBench();
  runCompiledFrom(build?.dir);
  console.log(`  ${pinning.description}; open files limit ${fmt(files)}; Node servers ${build ? 'compiled to JavaScript (esbuild, as npm start runs)' : 'through tsx (BENCH_TSX=1)'}`);
  if (wantedServers.includes('nchan') && missing !== undefined) console.log(`  nchan skipped: ${missing}`);
  else if (wantedServers.includes('nchan')) console.log(`  nchan: nginx + libnginx-mod-nchan, 1 worker (${NCHAN_INSTALL})`);
  try {
    if (selected('publish')) await publishScenario();
    for (const scenario of FANOUT) if (selected(scenario.name)) await fanoutScenario(scenario);
    for (const scenario of IDLE) if (selected(scenario.name)) await idleScenario(scenario);
    if (selected('workers')) await workersScenario();
    if (selected('replay')) await replayScenario();
    if (selected('at-rest') && servers.includes('specstream')) await atRestScenario();
    printSummary();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `--nodes N` (with --store=postgres://… or nats://…): the scale-out benchmark instead (bench/cluster.ts).
if (args.some((arg) => arg === '--nodes' || arg.startsWith('--nodes='))) await (await import('./cluster.js')).runCluster(args);
else await main();
