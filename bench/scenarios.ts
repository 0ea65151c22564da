/**
 * One measurement of each kind `npm run bench` makes, against one running server: single-event
 * publishing, fan-out (paced or flat out), idle connections, and replay. Each returns plain numbers;
 * run.ts repeats them, takes medians and prints them.
 */
import { spawn } from 'node:child_process';
import { now, percentile } from './common.js';
import { cpuSeconds, rssKiB } from './procs.js';
import { benchScript, type BenchServer } from './servers.js';
import { openSse, openWs, outOfOrder, type BenchSubscriber } from './subscribers.js';

/** What the publisher process reports. */
export interface PublisherResult {
  published: number;
  failed: number;
  startedAt: number;
  seconds: number;
  /** Request round trip, ms. */
  p50: number;
  p99: number;
}

/** Runs bench/publisher.ts against `url`: `count` single-event POSTs at `rate` per second (0: flat out with `concurrency` in flight). */
export function runPublisher(url: string, count: number, rate: number, concurrency: number): Promise<PublisherResult> {
  const child = spawn(process.execPath, [...benchScript('publisher.ts'), url, String(count), String(rate), String(concurrency)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(output) as PublisherResult) : reject(new Error(`publisher exited with ${code}`))));
  });
}

/** CPU seconds of every process of `server` so far. */
function serverCpu(server: BenchServer): number {
  return server.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

/** Resident memory of `server`, KiB (every process of it). */
export function serverRss(server: BenchServer): number {
  return server.pids().reduce((sum, pid) => sum + rssKiB(pid), 0);
}

// ---- single-event publishing ------------------------------------------------------------------

export interface PublishResult {
  publishesPerSecond: number;
  /** Server CPU per accepted publish, µs. */
  cpuPerPublish: number;
  p50: number;
  p99: number;
  failed: number;
  rssMiB: number;
}

/**
 * `events` single-event POSTs flat out with `concurrency` in flight, no subscriber, after
 * `warmup` more (not measured: the first requests of a fresh process run cold code and build what
 * is built on first use).
 */
export async function publishFlatOut(server: BenchServer, events: number, concurrency: number, warmup: number): Promise<PublishResult> {
  if (warmup > 0) await runPublisher(server.url, warmup, 0, concurrency);
  const cpu0 = serverCpu(server);
  const result = await runPublisher(server.url, events, 0, concurrency);
  const cpu = serverCpu(server) - cpu0;
  return {
    publishesPerSecond: result.published / result.seconds,
    cpuPerPublish: (cpu / result.published) * 1e6,
    p50: result.p50,
    p99: result.p99,
    failed: result.failed,
    rssMiB: serverRss(server) / 1024,
  };
}

// ---- fan-out ----------------------------------------------------------------------------------

export interface FanoutScenario {
  name: string;
  sse: number;
  ws: number;
  /** Events to publish and measure. */
  events: number;
  /**
   * Events published first, at the same rate, and left out of the latency figures: the first
   * seconds of a fresh server and publisher run cold code (JIT, lazily built validators), and their
   * latencies describe start-up, not the steady state. Deliveries and CPU still count them.
   */
  warmup: number;
  /** Events per second; 0 for flat out. */
  rate: number;
  /** Requests in flight. */
  concurrency: number;
}

export interface FanoutResult {
  deliveriesPerSecond: number;
  /** Deliveries received / expected (every subscriber every accepted event); 1 is complete. */
  completeness: number;
  /** Sampled subscribers that received the events in another order than the others (see subscribers.ts). */
  outOfOrder: number;
  p50: number;
  p99: number;
  publishRate: number;
  /** Server CPU (user + system) per delivered event, in µs: independent of what else the machine runs. */
  cpuPerDelivery: number;
  rssMiB: number;
}

/** Opens `count` subscribers of `kind`, `parallel` at a time; the first `sampled` record latencies. */
export async function openMany(url: string, kind: 'sse' | 'ws', count: number, sampled: number, parallel = 100): Promise<BenchSubscriber[]> {
  const subscribers: BenchSubscriber[] = [];
  for (let start = 0; start < count; start += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - start) }, (_, i) =>
      kind === 'sse' ? openSse(url, start + i < sampled) : openWs(url, start + i < sampled),
    );
    subscribers.push(...(await Promise.all(batch)));
  }
  return subscribers;
}

/** Publishes while the subscribers count; waits until every subscriber has every event (or 5 s without progress). */
export async function fanout(server: BenchServer, scenario: FanoutScenario): Promise<FanoutResult> {
  // Latency from up to 20 subscribers of each kind; the others only count.
  const subscribers = [...(await openMany(server.url, 'sse', scenario.sse, 20)), ...(await openMany(server.url, 'ws', scenario.ws, 20))];
  // Let the live streams settle (resume points written) before the clock starts.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const cpu0 = serverCpu(server);
  const publisher = await runPublisher(server.url, scenario.warmup + scenario.events, scenario.rate, scenario.concurrency);
  const expected = publisher.published * subscribers.length;
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
  const cpu = serverCpu(server) - cpu0;
  const rss = serverRss(server);
  const lastAt = Math.max(...subscribers.map((s) => s.lastAt));
  // Each sampled subscriber receives the events in publish order: its first `warmup` latencies are the warm-up's.
  const latencies = subscribers.flatMap((s) => (s.latencies ?? []).slice(scenario.warmup));
  const disordered = outOfOrder(subscribers);
  for (const subscriber of subscribers) subscriber.close();
  return {
    deliveriesPerSecond: total / ((lastAt - publisher.startedAt) / 1000),
    completeness: total / expected,
    outOfOrder: disordered,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    publishRate: publisher.published / publisher.seconds,
    cpuPerDelivery: (cpu / total) * 1e6,
    rssMiB: rss / 1024,
  };
}

// ---- idle connections -------------------------------------------------------------------------

export interface IdleResult {
  /** RSS before any connection, MiB. */
  rssBeforeMiB: number;
  /** Extra RSS per open connection, KiB. */
  perConnectionKiB: number;
  /** Share of connections that received a heartbeat, ping or status frame while held open. */
  heartbeatShare: number;
}

/**
 * Opens `count` idle streams of `kind` and holds them `holdMs` (several heartbeat intervals), then
 * reads the server's RSS: (after - before) / count. Nothing is published.
 */
export async function idleConnections(server: BenchServer, kind: 'sse' | 'ws', count: number, holdMs: number): Promise<IdleResult> {
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const before = serverRss(server);
  const subscribers = await openMany(server.url, kind, count, 0, 250);
  const marks = subscribers.map((s) => s.heartbeats);
  await new Promise((resolve) => setTimeout(resolve, holdMs));
  const after = serverRss(server);
  const beating = subscribers.filter((s, i) => s.heartbeats > marks[i]!).length;
  for (const subscriber of subscribers) subscriber.close();
  return { rssBeforeMiB: before / 1024, perConnectionKiB: (after - before) / count, heartbeatShare: beating / count };
}

// ---- replay -----------------------------------------------------------------------------------

export interface ReplayResult {
  eventsPerSecond: number;
  cpuPerEvent: number;
}

/** One client reads `events` stored events over `kind` from the start of the log. */
export async function replay(server: BenchServer, kind: 'sse' | 'ws', events: number, openWsReplay: (url: string) => Promise<BenchSubscriber>): Promise<ReplayResult> {
  const t0 = now();
  const cpu0 = serverCpu(server);
  const subscriber = kind === 'sse' ? await openSse(server.url, false, '?since=1970-01-01T00:00:00Z') : await openWsReplay(server.url);
  while (subscriber.received < events) {
    if (now() - t0 > 120_000) throw new Error(`replay over ${kind} stalled at ${subscriber.received} events`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const seconds = (subscriber.lastAt - t0) / 1000;
  subscriber.close();
  const cpu = serverCpu(server) - cpu0;
  return { eventsPerSecond: events / seconds, cpuPerEvent: (cpu / events) * 1e6 };
}
