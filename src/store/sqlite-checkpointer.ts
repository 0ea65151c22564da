/**
 * WAL checkpoints of a SQLite store, off the event loop. SQLite's automatic checkpoint runs inside
 * the commit that fills the WAL past 1000 pages: it copies the pages into the database file and,
 * with `synchronous = NORMAL` or `FULL`, fsyncs both files, which holds the committing thread (for
 * Node, the event loop: every publish and every stream of the process) for several to tens of
 * milliseconds, every few hundred commits: the tail of publish→receive latency.
 *
 * The store turns the automatic checkpoint off on its own connection and asks this checkpointer,
 * a worker thread with a second connection to the same file, for `PRAGMA wal_checkpoint(PASSIVE)`
 * (https://www.sqlite.org/pragma.html#pragma_wal_checkpoint): it copies what no reader still needs
 * and never blocks a writer, exactly what the automatic checkpoint does, only elsewhere. Durability
 * does not change: a commit is durable in the WAL (per `synchronous`) before it is acknowledged,
 * checkpointed or not. The thread starts at the first request (an idle server has none).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The worker's program: one connection, a PASSIVE checkpoint per request, `close` to finish. */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // A busy or failing checkpoint is retried at the next request; the WAL keeps everything meanwhile.
  }
  parentPort.postMessage('done');
});
`;

/** Commits between checkpoint requests (about 3 to 4 WAL pages each: ~1000 pages, SQLite's own interval). */
const COMMITS_PER_CHECKPOINT = 250;

export class SqliteCheckpointer {
  #worker: Worker | undefined;
  #pending = false;
  #commits = 0;
  #closed = false;

  constructor(
    private readonly path: string,
    private readonly busyTimeoutMs: number,
    /** Called once if the thread cannot run (the store then turns SQLite's own checkpoints back on). */
    private readonly onFailure: () => void,
  ) {}

  /** Counts a group commit; every COMMITS_PER_CHECKPOINT of them, asks for a checkpoint (one at a time). */
  committed(): void {
    if (++this.#commits < COMMITS_PER_CHECKPOINT || this.#pending || this.#closed) return;
    this.#commits = 0;
    this.#pending = true;
    this.worker().postMessage('checkpoint');
  }

  private worker(): Worker {
    if (this.#worker === undefined) {
      const module = createRequire(import.meta.url).resolve('better-sqlite3');
      const worker = new Worker(PROGRAM, { eval: true, workerData: { module, path: this.path, busyTimeoutMs: this.busyTimeoutMs } });
      worker.on('message', () => {
        this.#pending = false;
      });
      // A thread that cannot open the file or dies: checkpoints go back to SQLite's own, in the commits.
      worker.on('error', () => {
        this.#worker = undefined;
        this.#closed = true;
        this.onFailure();
      });
      worker.unref();
      this.#worker = worker;
    }
    return this.#worker;
  }

  /** Closes the thread's connection and waits for the thread to end. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    await exited;
  }
}
