/**
 * The primary of `serve --workers N` (node:cluster): N server processes share one port (the
 * primary accepts connections and hands them to the workers in turn) and one log. The primary
 * serves nothing itself: it announces the development key and the address once, relays each
 * worker's "appended" to the others (so that their hubs read the shared SQLite log at once; see
 * worker.ts), forwards SIGHUP, restarts a worker that dies (after 1 s, doubling to 30 s while they
 * keep dying), and on `stop()` asks every worker to close (SIGTERM) and waits for them.
 *
 * What the workers share and what they do not (README "Workers"): ids strictly increase across
 * all of them (each group commit takes SQLite's write lock, `BEGIN IMMEDIATE`, and starts above the
 * newest id in the file), so every subscriber keeps its guarantees whichever worker serves it;
 * connection limits, rate limits, metrics and the hub's memory are per worker.
 */
import cluster, { type Worker } from 'node:cluster';
import { resolve } from 'node:path';
import { generateDevelopmentKey } from '../auth/key-ring.js';
import type { KeySpec } from '../auth/key-spec.js';
import { loadBundle, NATIVE_BUNDLE_DIR } from '../bundle/load-bundle.js';
import { ConfigError, type Config } from '../config/load-config.js';
import { httpServerOptions } from '../http/request-limits.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { coalescingSender, isMessage, type InitMessage } from './messages.js';

/** How long `stop()` waits for the workers to close before killing them. */
const STOP_WAIT_MS = 15_000;
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
/** A worker up this long has recovered: the restart delay goes back to its minimum. */
const HEALTHY_MS = 60_000;

/** The running primary. */
export interface Primary {
  /** `http://HOST:PORT`, the port the workers share. */
  url: string;
  /** The workers' process ids, now. */
  pids(): number[];
  /** Asks every worker to reload its keys and JWT settings (SIGHUP). */
  reload(): void;
  /** Closes every worker (SIGTERM; SIGKILL after 15 s); resolves with 0, or 1 when one did not exit cleanly. Safe to call twice. */
  stop(): Promise<number>;
}

export interface PrimaryOptions {
  logger?: Logger;
  /** Where the development key and the address are announced; defaults to stderr. */
  announce?: (line: string) => void;
}

/**
 * Starts `count` workers running this same program (`cluster.fork()`: the same script and
 * arguments; its `serve` command runs `runWorker` in a worker) and resolves once every one
 * listens. Throws ConfigError for a store the processes cannot share (`sqlite::memory:`), and
 * rejects when a worker exits before it listens (its own error is on stderr).
 */
export async function runPrimary(config: Config, count: number, options: PrimaryOptions = {}): Promise<Primary> {
  if (!cluster.isPrimary) throw new TypeError('runPrimary: not the cluster primary');
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`runPrimary: count must be a positive integer, got ${count}`);
  if (/^sqlite::memory:$/i.test(config.store.trim())) {
    throw new ConfigError('workers: the processes must share the log: use a SQLite file, PostgreSQL or NATS, not sqlite::memory:');
  }
  // The same start-up checks a single server makes, once, before anything is forked.
  httpServerOptions(config);
  const logger = options.logger ?? createLogger(config.log_level);
  const announce = options.announce ?? ((line: string) => process.stderr.write(`${line}\n`));

  let developmentKey: KeySpec | undefined;
  if (config.keys.length === 0 && !config.allow_anonymous) {
    const bundle = loadBundle(config.specs ? resolve(config.specs) : NATIVE_BUNDLE_DIR);
    developmentKey = generateDevelopmentKey(bundle.scopes);
    announce(
      `No API keys configured: generated a development key for this run, accepted by all ${count} workers (scopes ${developmentKey.scopes.join(',')}):\n` +
        `  Authorization: Bearer ${developmentKey.secret}\n` +
        `Configure keys with --key id:secret:scopes, SPECSTREAM_KEYS or specstream.yaml.`,
    );
  }
  const init: InitMessage = { specstream: 'init', ...(developmentKey ? { developmentKey } : {}) };

  const workers = new Set<Worker>();
  /** Per worker: sends it "appended" with at most one message in flight. */
  const wake = new Map<Worker, () => void>();
  let stopping: Promise<number> | undefined;
  let restartMs = RESTART_MIN_MS;
  let started = false;
  let url = '';
  let store = '';

  const listening = new Promise<void>((resolveAll, rejectAll) => {
    let ready = 0;
    const fork = (): void => {
      const worker = cluster.fork();
      const forkedAt = Date.now();
      let listened = false;
      workers.add(worker);
      wake.set(worker, coalescingSender((message, callback) => worker.send(message, undefined, {}, callback)));
      worker.on('message', (message: unknown) => {
        if (isMessage(message, 'hello')) {
          worker.send(init);
        } else if (isMessage(message, 'appended')) {
          for (const other of workers) if (other !== worker && other.isConnected()) wake.get(other)!();
        } else if (isMessage(message, 'listening')) {
          listened = true;
          url = message.url;
          store = message.store;
          if (!started && ++ready === count) {
            started = true;
            resolveAll();
          }
        }
      });
      worker.on('error', (error) => logger.warn({ err: error, pid: worker.process.pid }, 'worker channel error'));
      worker.once('exit', (code, signal) => {
        workers.delete(worker);
        wake.delete(worker);
        if (stopping) return;
        if (!started && !listened) {
          rejectAll(new Error(`worker ${worker.id} exited (${signal ?? `code ${code}`}) before it listened`));
          return;
        }
        if (Date.now() - forkedAt > HEALTHY_MS) restartMs = RESTART_MIN_MS;
        logger.error({ worker: worker.id, pid: worker.process.pid, code, signal, restartInMs: restartMs }, 'worker exited; starting another');
        setTimeout(() => {
          if (!stopping) fork();
        }, restartMs).unref();
        restartMs = Math.min(restartMs * 2, RESTART_MAX_MS);
      });
    };
    for (let i = 0; i < count; i++) fork();
  });

  const stop = (): Promise<number> =>
    (stopping ??= (async () => {
      const exits = [...workers].map(
        (worker) =>
          new Promise<boolean>((done) => {
            if (worker.isDead()) return done(worker.process.exitCode === 0);
            worker.once('exit', (code) => done(code === 0));
          }),
      );
      for (const worker of workers) worker.process.kill('SIGTERM');
      const deadline = setTimeout(() => {
        for (const worker of workers) worker.process.kill('SIGKILL');
      }, STOP_WAIT_MS);
      const clean = await Promise.all(exits);
      clearTimeout(deadline);
      return clean.every(Boolean) ? 0 : 1;
    })());

  try {
    await listening;
  } catch (error) {
    await stop();
    throw error;
  }
  // Scripts and tests wait for this line, so it is printed whatever the log level.
  if (logger.isLevelEnabled('info')) logger.info({ store, workers: count }, `listening on ${url}`);
  else announce(`specstream listening on ${url} (store: ${store}, ${count} workers)`);
  return {
    url,
    pids: () => [...workers].map((worker) => worker.process.pid!).filter((pid) => pid !== undefined),
    reload: () => {
      for (const worker of workers) worker.process.kill('SIGHUP');
    },
    stop,
  };
}
