/**
 * Runs a Specstream server for the benchmark, in its own process: `node --import tsx
 * bench/specstream-server.ts <sqlite file | store URL> [JSON of option overrides]`, e.g.
 * `{"heartbeat_s":2}`. Prints `READY <url>`; SIGTERM closes it. With `{"workers":N}` (N > 1) it
 * runs as `serve --workers N` does: this process is the primary and forks N workers running this
 * same script (src/workers/).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../src/config/load-config.js';
import { startServer } from '../src/server.js';
import { isWorker, runPrimary, runWorker } from '../src/workers/index.js';
import { announce, BENCH_KEY } from './common.js';

const [dbPath, overridesText] = process.argv.slice(2);
if (!dbPath) throw new TypeError('usage: specstream-server.ts <sqlite file | store URL> [JSON of option overrides]');
const overrides = JSON.parse(overridesText ?? '{}') as Record<string, unknown>;
const config = {
  ...loadConfig({ argv: [], env: {} }),
  host: '127.0.0.1',
  port: 0,
  store: /^(sqlite|postgres|postgresql|nats):/i.test(dbPath) ? dbPath : `sqlite:${dbPath}`,
  log_level: 'silent',
  keys: [{ id: BENCH_KEY.id, secret: BENCH_KEY.secret, scopes: [...BENCH_KEY.scopes], queryToken: true }],
  max_connections: 20_000,
  max_connections_per_key: 20_000,
  retention_max_age_s: 0,
  ...overrides,
};
const workers = typeof overrides.workers === 'number' ? overrides.workers : 1;
if (workers > 1 && !isWorker()) {
  const primary = await runPrimary(config, workers, { announce: () => {} });
  announce(primary.url);
  process.once('SIGTERM', () => void primary.stop().then((code) => process.exit(code)));
} else {
  const running = isWorker() ? await runWorker(config, { announce: () => {} }) : await startServer(config, { announce: () => {} });
  // BENCH_LOOP_DELAY=1: report the server's event-loop stalls on exit (where latency tails come from).
  const loop = process.env.BENCH_LOOP_DELAY ? monitorEventLoopDelay({ resolution: 1 }) : undefined;
  loop?.enable();
  if (!isWorker()) announce(running.url);
  process.once('SIGTERM', () => {
    if (loop) process.stderr.write(`specstream server event-loop delay: p50 ${(loop.percentile(50) / 1e6).toFixed(2)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(2)} ms, max ${(loop.max / 1e6).toFixed(2)} ms\n`);
    void running.close().then(() => process.exit(0));
  });
}
