/**
 * `npm run bench -- --store=<postgres://… | nats://…> --nodes 2`: the scale-out benchmark. Runs the
 * same scenarios on one node and on N nodes over one shared log (each run in its own schema or
 * stream, dropped afterwards) and prints both with the ratios N/1:
 *
 * - **single**: single-event publishes, 16 requests in flight, round-robin over the nodes
 *   (accepted events/s, server CPU per publish summed over the nodes, request p50/p99).
 * - **batch**: arrays of 100 events, 4 publishers (events/s, server CPU per event).
 * - **fan-out**: 100 live SSE subscribers spread evenly over the nodes, single-event publishes
 *   paced at 1,000 ev/s; delivery latency is publish-send to receive over a sample of 10
 *   subscribers per node; every subscriber must receive every event, the samples in one order.
 * - **burst**: 50,000 events in batches of 100 as fast as they go; how long after the last
 *   acknowledgement a live subscriber on each node has them all (its tail's lag), and whether a
 *   live-only stream opened right after the burst starts at the log's head (it must receive only
 *   the one event published after it opened, none of the burst).
 *
 * Server CPU (user + system, from /proc) is the figure that does not depend on what else the
 * machine runs; rates and latencies do (the nodes, the backend and this harness share the CPUs).
 * The load average is printed before and after. Options: `--quick` (shorter phases),
 * `--only=single,batch,fanout,burst`, `--runs=N` (N rounds of one node then N nodes, each in a
 * fresh log; the comparison gives each figure's median).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { now, percentile } from './common.js';
import { benchStore, dropBenchStore, storeUrlFor } from './stores.js';
import { openSse, outOfOrder, type BenchSubscriber } from './subscribers.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** What one publisher run reports (see cluster-publisher.ts). */
interface PublishRun {
  accepted: number;
  failed: number;
  seconds: number;
  p50: number;
  p99: number;
  lastAckAt: number;
  statuses: Record<string, number>;
}

/** The figures of one run (one node count). */
interface ClusterFigures {
  single?: { eventsPerSecond: number; cpuUsPerPublish: number; p50: number; p99: number; failed: number };
  batch?: { eventsPerSecond: number; cpuUsPerEvent: number; p50: number; p99: number; failed: number };
  fanout?: { rate: number; p50: number; p99: number; max: number; publishP50: number; publishP99: number; complete: boolean; ordered: boolean; cpuUsPerEvent: number };
  burst?: { events: number; eventsPerSecond: number; maxLagMs: number; lagsMs: number[]; liveOnlyOldEvents: number };
}

interface Node {
  child: ChildProcess;
  url: string;
  pid: number;
}

/** Runs the scale-out benchmark; `args` are the command line's (`--nodes N`, `--quick`, `--only=`). */
export async function runCluster(args: readonly string[]): Promise<void> {
  const nodesAt = args.findIndex((arg) => arg === '--nodes' || arg.startsWith('--nodes='));
  const nodesArg = args[nodesAt]!.includes('=') ? args[nodesAt]!.slice('--nodes='.length) : args[nodesAt + 1];
  const nodes = Number(nodesArg);
  if (!Number.isSafeInteger(nodes) || nodes < 2 || nodes > 8) throw new RangeError(`--nodes: expected 2 to 8, got ${nodesArg}`);
  if (benchStore === undefined || !/^(postgres(ql)?|nats):/i.test(benchStore)) {
    throw new TypeError('--nodes needs a shared log: --store=postgres://HOST:5432/DB or --store=nats://HOST:4222');
  }
  // Like psql: a URL without a user name means the operating system user (the store does the same).
  if (!process.env.PGUSER && !process.env.USER) process.env.PGUSER = userInfo().username;
  const quick = args.includes('--quick');
  const only = args.find((arg) => arg.startsWith('--only='))?.slice('--only='.length).split(',');
  const runs = Math.max(1, Math.min(9, Number(args.find((arg) => arg.startsWith('--runs='))?.slice('--runs='.length) ?? 1) || 1));
  const want = (phase: string) => only === undefined || only.includes(phase);
  const phases = {
    singleSeconds: quick ? 4 : 8,
    warmupSeconds: quick ? 1 : 2,
    batchSeconds: quick ? 4 : 8,
    fanoutSeconds: quick ? 4 : 6,
    burstEvents: quick ? 20_000 : 50_000,
  };

  console.log(
    `Specstream scale-out benchmark (${quick ? 'quick' : 'full'}), Node ${process.version}, store ${benchStore.replace(/\/\/[^@/]*@/, '//')}, ` +
      `1 vs ${nodes} nodes, ${new Date().toISOString()}\nload average before: ${loadAverage()}`,
  );
  const one: ClusterFigures[] = [];
  const many: ClusterFigures[] = [];
  for (let run = 1; run <= runs; run++) {
    for (const count of [1, nodes]) {
      console.log(`\n${count} node${count > 1 ? 's' : ''}${runs > 1 ? ` (run ${run} of ${runs})` : ''}:`);
      (count === 1 ? one : many).push(await runWith(count, phases, want));
    }
  }
  console.log(`\nload average after: ${loadAverage()}`);
  printComparison(medianOf(one), medianOf(many), nodes, runs);
}

/** Each numeric figure's median over the runs (booleans: true only if true in every run). */
function medianOf(runs: readonly ClusterFigures[]): ClusterFigures {
  if (runs.length === 1) return runs[0]!;
  const merge = (values: unknown[]): unknown => {
    const present = values.filter((v) => v !== undefined);
    if (present.length === 0) return undefined;
    if (typeof present[0] === 'number') return percentile(present as number[], 50);
    if (typeof present[0] === 'boolean') return present.every(Boolean);
    if (Array.isArray(present[0])) return present.at(-1);
    const keys = new Set(present.flatMap((v) => Object.keys(v as object)));
    return Object.fromEntries([...keys].map((key) => [key, merge(present.map((v) => (v as Record<string, unknown>)[key]))]));
  };
  return merge(runs as unknown[]) as ClusterFigures;
}

async function runWith(
  count: number,
  phases: { singleSeconds: number; warmupSeconds: number; batchSeconds: number; fanoutSeconds: number; burstEvents: number },
  want: (phase: string) => boolean,
): Promise<ClusterFigures> {
  const store = storeUrlFor(`cluster${count}`, '');
  const nodes: Node[] = [];
  const figures: ClusterFigures = {};
  try {
    // The first node creates and migrates the log; the others join it.
    nodes.push(await startNode(store));
    nodes.push(...(await Promise.all(Array.from({ length: count - 1 }, () => startNode(store)))));
    const urls = nodes.map((node) => node.url);

    if (want('fanout')) {
      figures.fanout = await fanout(nodes, phases.fanoutSeconds);
      const f = figures.fanout;
      console.log(
        `  fan-out  100 SSE at ${fmt(f.rate)} ev/s: delivery p50 ${fmt(f.p50, 1)} ms, p99 ${fmt(f.p99, 1)} ms, max ${fmt(f.max, 1)} ms ` +
          `(publish p50 ${fmt(f.publishP50, 1)} ms, p99 ${fmt(f.publishP99, 1)} ms); ` +
          `${f.complete ? 'complete' : 'INCOMPLETE'}, ${f.ordered ? 'one order' : 'ORDER DIFFERS'}; server CPU ${fmt(f.cpuUsPerEvent)} µs/event`,
      );
    }
    if (want('single')) {
      await publish(urls, phases.warmupSeconds, 0, 16, 1);
      const cpu0 = cpuOf(nodes);
      const run = await publish(urls, phases.singleSeconds, 0, 16, 1);
      const cpu = cpuOf(nodes) - cpu0;
      figures.single = { eventsPerSecond: run.accepted / run.seconds, cpuUsPerPublish: (cpu * 1e6) / run.accepted, p50: run.p50, p99: run.p99, failed: run.failed };
      const s = figures.single;
      console.log(`  single   16 in flight: ${fmt(s.eventsPerSecond)} ev/s, server CPU ${fmt(s.cpuUsPerPublish)} µs/publish, p50 ${fmt(s.p50, 1)} ms, p99 ${fmt(s.p99, 1)} ms${failures(run)}`);
    }
    if (want('batch')) {
      const cpu0 = cpuOf(nodes);
      const run = await publish(urls, phases.batchSeconds, 0, 4, 100);
      const cpu = cpuOf(nodes) - cpu0;
      figures.batch = { eventsPerSecond: run.accepted / run.seconds, cpuUsPerEvent: (cpu * 1e6) / run.accepted, p50: run.p50, p99: run.p99, failed: run.failed };
      const b = figures.batch;
      console.log(`  batch    100 × 4: ${fmt(b.eventsPerSecond)} ev/s, server CPU ${fmt(b.cpuUsPerEvent, 1)} µs/event, request p50 ${fmt(b.p50, 1)} ms, p99 ${fmt(b.p99, 1)} ms${failures(run)}`);
    }
    if (want('burst')) {
      figures.burst = await burst(nodes, phases.burstEvents);
      const b = figures.burst;
      console.log(
        `  burst    ${fmt(b.events)} events at ${fmt(b.eventsPerSecond)} ev/s: tails had them all ${b.lagsMs.map((lag) => `${fmt(lag)} ms`).join(', ')} after the last acknowledgement; ` +
          `live-only streams opened after it received ${b.liveOnlyOldEvents} older events`,
      );
    }
    return figures;
  } finally {
    await Promise.all(nodes.map((node) => stop(node.child)));
    await dropBenchStore(store);
  }
}

/** 100 live SSE subscribers spread over the nodes, 1,000 single-event publishes/s. */
async function fanout(nodes: readonly Node[], seconds: number): Promise<NonNullable<ClusterFigures['fanout']>> {
  const rate = 1000;
  const warmupMs = 1000;
  const subscribers: BenchSubscriber[] = [];
  try {
    for (let i = 0; i < 100; i++) {
      const node = i % nodes.length;
      // The first 10 of each node record latency and order; the others count.
      subscribers.push(await openSse(nodes[node]!.url, i < 10 * nodes.length));
    }
    const cpu0 = cpuOf(nodes);
    const started = now();
    const run = await publish(nodes.map((node) => node.url), seconds + warmupMs / 1000, rate, 64, 1);
    await waitForAll(subscribers, run.accepted, 15_000);
    const cpu = cpuOf(nodes) - cpu0;
    const sampled = subscribers.filter((s) => s.latencies !== undefined);
    // Latencies of events sent after the warm-up second.
    const latencies = sampled.flatMap((s) => s.latencies!.filter((_, i) => s.order![i]! >= started + warmupMs));
    const complete = subscribers.every((s) => s.received === run.accepted) && run.failed === 0;
    return {
      rate: run.accepted / run.seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.length === 0 ? Number.NaN : latencies.reduce((most, latency) => (latency > most ? latency : most), -Infinity),
      publishP50: run.p50,
      publishP99: run.p99,
      complete,
      ordered: outOfOrder(sampled) === 0,
      cpuUsPerEvent: (cpu * 1e6) / run.accepted,
    };
  } finally {
    for (const subscriber of subscribers) subscriber.close();
  }
}

/** A burst of batches; each node's tail lag after it, and where a live-only stream opened after it starts. */
async function burst(nodes: readonly Node[], events: number): Promise<NonNullable<ClusterFigures['burst']>> {
  const watchers = await Promise.all(nodes.map((node) => openSse(node.url, false)));
  const opened: BenchSubscriber[] = [...watchers];
  try {
    const run = await publish(nodes.map((node) => node.url), 120, 0, 4, 100, events);
    // Opened as soon as the burst is acknowledged, while the tails may still be reading it.
    const liveOnly = await Promise.all(nodes.map((node) => openSse(node.url, false)));
    opened.push(...liveOnly);
    await waitForAll(watchers, run.accepted, 60_000);
    const lagsMs = watchers.map((w) => (w.received >= run.accepted ? w.lastAt - run.lastAckAt : Number.POSITIVE_INFINITY));
    // One event after the live-only streams opened: each must receive it, and nothing older.
    const marker = await publish([nodes[0]!.url], 10, 0, 1, 1, 1);
    await waitForAll(liveOnly, marker.accepted, 15_000);
    await waitForAll(watchers, run.accepted + marker.accepted, 15_000);
    return {
      events: run.accepted,
      eventsPerSecond: run.accepted / run.seconds,
      maxLagMs: Math.max(...lagsMs),
      lagsMs,
      liveOnlyOldEvents: liveOnly.reduce((sum, s) => sum + Math.max(0, s.received - marker.accepted), 0),
    };
  } finally {
    for (const subscriber of opened) subscriber.close();
  }
}

/** Resolves once every subscriber received `expected` events, or none progressed for `stallMs`. */
async function waitForAll(subscribers: readonly BenchSubscriber[], expected: number, stallMs: number): Promise<void> {
  let last = -1;
  let progressAt = now();
  for (;;) {
    const total = subscribers.reduce((sum, s) => sum + Math.min(s.received, expected), 0);
    if (total >= expected * subscribers.length) return;
    if (total !== last) {
      last = total;
      progressAt = now();
    } else if (now() - progressAt > stallMs) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function publish(urls: readonly string[], seconds: number, rate: number, concurrency: number, batch: number, maxEvents?: number): Promise<PublishRun> {
  const argv = [join(HERE, 'cluster-publisher.ts'), urls.join(','), String(seconds), String(rate), String(concurrency), String(batch)];
  if (maxEvents !== undefined) argv.push(String(maxEvents));
  const child = spawn(process.execPath, ['--import', 'tsx', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(output) as PublishRun) : reject(new Error(`cluster-publisher exited with ${code}`))));
  });
}

/** Starts a node (bench/specstream-server.ts) over `store`; resolves once it serves. */
function startNode(store: string): Promise<Node> {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each node there (as in run.ts).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(HERE, 'specstream-server.ts'), store, serverOverrides()], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('a node did not start within 60 s'));
    }, 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /READY (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, pid: child.pid! });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`a node exited with ${code} before it was ready`));
    });
  });
}

/** Option overrides for the nodes: BENCH_SERVER_LOG=<level> lets them log (they are silent by default). */
function serverOverrides(): string {
  return JSON.stringify(process.env.BENCH_SERVER_LOG ? { log_level: process.env.BENCH_SERVER_LOG } : {});
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** User + system CPU seconds the nodes have used so far (Linux /proc). */
function cpuOf(nodes: readonly Node[]): number {
  let total = 0;
  for (const node of nodes) {
    const fields = readFileSync(`/proc/${node.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    total += (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  }
  return total;
}

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

function failures(run: PublishRun): string {
  return run.failed > 0 ? ` (${run.failed} failed: ${JSON.stringify(run.statuses)})` : '';
}

function printComparison(one: ClusterFigures, many: ClusterFigures, nodes: number, runs: number): void {
  const rows: Array<[string, number | undefined, number | undefined, number]> = [
    ['single-event publishes/s', one.single?.eventsPerSecond, many.single?.eventsPerSecond, 0],
    ['  server CPU µs per publish', one.single?.cpuUsPerPublish, many.single?.cpuUsPerPublish, 0],
    ['  request p99 ms', one.single?.p99, many.single?.p99, 1],
    ['batched events/s (100 × 4)', one.batch?.eventsPerSecond, many.batch?.eventsPerSecond, 0],
    ['  server CPU µs per event', one.batch?.cpuUsPerEvent, many.batch?.cpuUsPerEvent, 1],
    ['fan-out 1,000 ev/s to 100 SSE: delivery p50 ms', one.fanout?.p50, many.fanout?.p50, 1],
    ['  delivery p99 ms', one.fanout?.p99, many.fanout?.p99, 1],
    ['  publish p99 ms (part of the delivery latency)', one.fanout?.publishP99, many.fanout?.publishP99, 1],
    ['burst: slowest tail, ms after the last ack', one.burst?.maxLagMs, many.burst?.maxLagMs, 0],
    ['  older events sent to live-only streams', one.burst?.liveOnlyOldEvents, many.burst?.liveOnlyOldEvents, 0],
  ];
  if (runs > 1) console.log(`\nmedians of ${runs} runs:`);
  console.log(`\n${'figure'.padEnd(48)} ${'1 node'.padStart(10)} ${`${nodes} nodes`.padStart(10)} ${`ratio ${nodes}/1`.padStart(10)}`);
  for (const [label, a, b, digits] of rows) {
    if (a === undefined && b === undefined) continue;
    const ratio = a !== undefined && b !== undefined && a !== 0 ? fmt(b / a, 2) : '';
    console.log(`${label.padEnd(48)} ${fmt(a ?? Number.NaN, digits).padStart(10)} ${fmt(b ?? Number.NaN, digits).padStart(10)} ${ratio.padStart(10)}`);
  }
  const checks = [one.fanout, many.fanout].filter((f) => f !== undefined);
  if (checks.length > 0) console.log(`fan-out complete and in one order on every run: ${checks.every((f) => f!.complete && f!.ordered) ? 'yes' : 'NO'}`);
}

function fmt(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';
}
