/**
 * Gives V8's young generation back to the operating system while the server is idle.
 *
 * V8 grows the young generation (the semi-spaces, up to 16 MiB each on 64-bit Node 20–24) while a
 * process allocates, and shrinks it only at a garbage collection that sees a low allocation rate. A
 * server that goes quiet after start-up or after a burst runs no collection at all, so the grown
 * semi-spaces stay committed: 30 MiB or more of resident memory doing nothing (measured with
 * `npm run bench -- --only=at-rest`, README "Benchmarks"). While the event loop is idle, this asks
 * for one young-generation collection (a scavenge, a few hundred microseconds on an empty young
 * generation), after which V8 uncommits the space it no longer needs; when the heap grew by some
 * MiB since the last full collection (start-up, the app built at the first request), a full
 * collection first compacts what that left behind. An idle server with a small young generation
 * and a steady heap is left alone.
 *
 * `gc` is taken from a throwaway `vm` context after `v8.setFlagsFromString('--expose-gc')`, so it is
 * not a global of the server's own context. When that is refused (a runtime without the flag), the
 * watcher does nothing.
 */
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's `gc()` with the options of `--expose-gc` (V8 `GCExtension`: `type` is `'major'` or `'minor'`). */
type GcFunction = (options?: { type: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

export interface IdleHeapOptions {
  /** How often the event loop's use is looked at, in ms. Default 6000. */
  intervalMs?: number;
  /**
   * The largest event-loop utilisation (0–1, Node's `performance.eventLoopUtilization()`) over the
   * last interval that still counts as idle. Default 0.01 (1 % busy).
   */
  idleUtilization?: number;
}

/** A running watcher; `stop()` is safe to call twice. */
export interface IdleHeap {
  /** Collections asked for so far (young and full), for tests and metrics. */
  readonly collections: number;
  stop(): void;
}

let exposedGc: GcFunction | null | undefined;

/** V8's `gc`, exposed once per process without making it a global; null when the runtime refuses. */
function v8Gc(): GcFunction | null {
  if (exposedGc !== undefined) return exposedGc;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    exposedGc = typeof gc === 'function' ? (gc as GcFunction) : null;
  } catch {
    exposedGc = null;
  }
  return exposedGc;
}

/** Growth of the heap in use since the last full collection (bytes) that makes the next idle collection a full one. */
const FULL_COLLECTION_GROWTH = 4 * 1024 * 1024;

/**
 * The young generation's size (bytes) above which it counts as grown. V8 starts it at, and shrinks
 * it back to, 1 MiB (`--min-semi-space-size`) on 64-bit Node 20 and 24.
 */
const GROWN_YOUNG_GENERATION = 2 * 1024 * 1024;

function youngGenerationSize(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * Starts watching the event loop: every `intervalMs`, when its use over the interval was at most
 * `idleUtilization`, runs a full collection if the heap in use grew by 4 MiB since the last full one
 * (the first look; after the app is built at the first request; after a burst), and a
 * young-generation collection if the young generation is grown. V8 shrinks the young generation at
 * a young-generation collection that sees a low allocation rate, so after activity it takes one or
 * two idle intervals. The timer is unref'd, so it never keeps the process alive.
 */
export function watchIdleHeap(options: IdleHeapOptions = {}): IdleHeap {
  const intervalMs = options.intervalMs ?? 6000;
  const idleUtilization = options.idleUtilization ?? 0.01;
  const gc = v8Gc();
  let collections = 0;
  // The heap in use after the last full collection; -Infinity makes the first look run one.
  let afterFull = Number.NEGATIVE_INFINITY;
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    if (!gc || busy > idleUtilization) return;
    if (process.memoryUsage().heapUsed > afterFull + FULL_COLLECTION_GROWTH) {
      gc({ type: 'major' });
      collections += 1;
      afterFull = process.memoryUsage().heapUsed;
    }
    if (youngGenerationSize() > GROWN_YOUNG_GENERATION) {
      gc({ type: 'minor' });
      collections += 1;
    }
  }, intervalMs);
  timer.unref();
  return {
    get collections() {
      return collections;
    },
    stop: () => clearInterval(timer),
  };
}
