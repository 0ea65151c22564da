/**
 * The forwarder: consumes a Specstream stream with the SDK and delivers it, in batches and in log
 * order, to every destination added, at least once. The checkpoint advances only to the last event
 * that every destination acknowledged (sent and flushed, or dead-lettered), so a crash re-delivers
 * at most what was not yet acknowledged and never skips an event.
 */
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { connect, type Subscription } from '../client/connect.js';
import type { BackoffOptions } from '../client/backoff.js';
import type { SpecstreamEvent } from '../generated/events.js';
import { FileCheckpoint, type Checkpoint } from './checkpoint.js';
import { PermanentError, resolveDestinationOptions, retryDelay, type Destination, type DestinationOptions, type ResolvedDestinationOptions } from './destination.js';

/** Options of {@link Forwarder}. */
export interface ForwarderOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API key secret with `events:read` (or `events:read:<type>`) scope. */
  token?: string;
  /** Types or globs to forward (`['grant.*']`); defaults to every type the token may read. */
  types?: readonly string[];
  /** Where the position is kept: a {@link Checkpoint}, or a file path for a {@link FileCheckpoint}. */
  checkpoint: Checkpoint | string;
  /**
   * Where to start when the checkpoint is empty: `{ sinceId }` (after that id), `{ since }` (from that
   * time), or `'live'`. Defaults to `'live'`. Ignored once a checkpoint exists.
   */
  from?: { sinceId: string } | { since: string | Date } | 'live';
  /** `sse` (default) or `ws`. */
  transport?: 'sse' | 'ws';
  /** The SDK's reconnect delays. */
  reconnect?: BackoffOptions;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
  /**
   * Most events held for one destination before the forwarder stops reading the stream until it
   * catches up. Defaults to 10 000. The stream is a cursor into the log, so waiting loses nothing.
   */
  highWaterMark?: number;
  /**
   * Called with an error the forwarder survived: a failed send that will be retried, a dead-letter or
   * checkpoint write (`'checkpoint'`), events the server dropped past retention (`'stream'`). Defaults to none.
   */
  onWarning?: (destination: string, error: unknown) => void;
}

/** Counters of one destination since `start()`. */
export interface DestinationMetrics {
  /** Events acknowledged by the destination. */
  sent: number;
  /** Failed attempts of `send`/`flush` (each retry that fails counts again). */
  failed: number;
  /** Retries scheduled. */
  retried: number;
  /** Events written to the dead-letter file (or dropped when it has none). */
  deadLettered: number;
  /** Batches acknowledged. */
  batches: number;
  /** Wall time of the last acknowledged batch, first attempt to acknowledgement, in ms. */
  lastBatchLatencyMs: number;
  /** Sum of the batch latencies, in ms (divide by `batches` for the mean). */
  totalBatchLatencyMs: number;
}

/** The forwarder's states; `stopped` is final. */
export type ForwarderState = 'idle' | 'running' | 'stopping' | 'stopped';

interface Entry {
  seq: number;
  event: SpecstreamEvent;
  at: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One destination's queue, batching and retry loop. */
class Lane {
  readonly queue: Entry[] = [];
  /** Sequence number of the last event this destination acknowledged (0: none). */
  ackedSeq = 0;
  readonly metrics: DestinationMetrics = { sent: 0, failed: 0, retried: 0, deadLettered: 0, batches: 0, lastBatchLatencyMs: 0, totalBatchLatencyMs: 0 };
  #wake: (() => void) | undefined;
  #draining = false;
  #closing = false;
  #done: Promise<void> | undefined;
  #drained: (() => void)[] = [];
  #ended = false;

  constructor(
    readonly destination: Destination,
    readonly options: ResolvedDestinationOptions,
    private readonly onAck: () => void,
    private readonly onWarning: (error: unknown) => void,
  ) {}

  start(): void {
    this.#done = this.#run().finally(() => {
      this.#ended = true;
      this.#notifyDrained();
    });
  }

  push(entry: Entry): void {
    this.queue.push(entry);
    // The first event starts the flush interval; a full batch goes at once.
    if (this.queue.length === 1 || this.queue.length >= this.options.batchSize) this.wake();
  }

  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Sends everything queued now, then ends the loop. */
  async close(): Promise<void> {
    this.#closing = true;
    this.wake();
    await this.#done;
  }

  /** Resolves when the queue is at most `n` long (woken each time a batch leaves it, or the lane ends). */
  async below(n: number): Promise<void> {
    while (this.queue.length > n && !this.#ended) await new Promise<void>((resolve) => this.#drained.push(resolve));
  }

  #notifyDrained(): void {
    const waiters = this.#drained.splice(0);
    for (const resolve of waiters) resolve();
  }

  #sleepUntilWoken(ms: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.wake(), ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        if (this.#closing) return;
        await this.#sleepUntilWoken(undefined);
        continue;
      }
      if (this.queue.length < this.options.batchSize && !this.#closing) {
        const waitMs = this.queue[0]!.at + this.options.flushIntervalMs - Date.now();
        if (waitMs > 0) {
          await this.#sleepUntilWoken(waitMs);
          continue;
        }
      }
      const batch = this.queue.splice(0, this.options.batchSize);
      this.#notifyDrained();
      const started = Date.now();
      await this.#deliver(batch);
      const latency = Date.now() - started;
      this.metrics.batches += 1;
      this.metrics.lastBatchLatencyMs = latency;
      this.metrics.totalBatchLatencyMs += latency;
      this.ackedSeq = batch[batch.length - 1]!.seq;
      this.onAck();
    }
  }

  /**
   * Sends a batch with retries. A permanent rejection of a batch of several events splits it in two
   * and sends each half, in order, so that only the events the destination rejects are dead-lettered.
   */
  async #deliver(batch: Entry[]): Promise<void> {
    const events = batch.map((entry) => entry.event);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.destination.send(events);
        await this.destination.flush();
        this.metrics.sent += events.length;
        return;
      } catch (error) {
        this.metrics.failed += 1;
        if (error instanceof PermanentError) {
          if (batch.length > 1) {
            const half = Math.ceil(batch.length / 2);
            await this.#deliver(batch.slice(0, half));
            await this.#deliver(batch.slice(half));
            return;
          }
          await this.#deadLetter(batch, `rejected: ${error.message}`);
          return;
        }
        if (attempt >= this.options.maxRetries) {
          await this.#deadLetter(batch, `retries exhausted (${attempt + 1} attempts): ${error instanceof Error ? error.message : String(error)}`);
          return;
        }
        this.onWarning(error);
        this.metrics.retried += 1;
        const retryAfterMs = (error as { retryAfterMs?: number }).retryAfterMs;
        await sleep(retryDelay(attempt, this.options.backoff, retryAfterMs));
      }
    }
  }

  /** Appends the events to the dead-letter file (fsynced before the events count as acknowledged). */
  async #deadLetter(batch: Entry[], reason: string): Promise<void> {
    this.metrics.deadLettered += batch.length;
    const path = this.options.deadLetterPath;
    if (path === undefined) {
      this.onWarning(new Error(`${batch.length} event(s) dropped, no dead-letter file: ${reason}`));
      return;
    }
    const at = new Date().toISOString();
    const lines = batch.map((entry) => JSON.stringify({ destination: this.destination.name, reason, deadLetteredAt: at, event: entry.event }) + '\n').join('');
    // A dead-letter file that cannot be written must not acknowledge the events: retry until it can.
    for (let attempt = 0; ; attempt++) {
      try {
        mkdirSync(dirname(path), { recursive: true });
        const file = await open(path, 'a');
        try {
          await file.appendFile(lines);
          await file.sync();
        } finally {
          await file.close();
        }
        return;
      } catch (error) {
        this.onWarning(error);
        await sleep(retryDelay(attempt, this.options.backoff));
      }
    }
  }
}

/**
 * Forwards a stream to destinations at least once.
 *
 * ```ts
 * const forwarder = new Forwarder({ url, token, types: ['grant.*'], checkpoint: './forward.checkpoint.json' });
 * forwarder.addDestination(new FileDestination({ path: './events.ndjson' }), { batchSize: 500 });
 * await forwarder.start();
 * process.on('SIGTERM', () => forwarder.stop());
 * ```
 */
export class Forwarder {
  readonly #options: ForwarderOptions;
  readonly #checkpoint: Checkpoint;
  readonly #lanes: Lane[] = [];
  /** `{seq, id}` of events read but not yet acknowledged by every destination, oldest first, from `#head`. */
  #positions: { seq: number; id: string }[] = [];
  #head = 0;
  #seq = 0;
  #savedId: string | undefined;
  #saving: Promise<void> = Promise.resolve();
  #saveError: unknown;
  #state: ForwarderState = 'idle';
  #subscription: Subscription | undefined;
  #consuming: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #fatal: unknown;

  /** @throws TypeError without `url` or `checkpoint` */
  constructor(options: ForwarderOptions) {
    if (typeof options.url !== 'string' || options.url === '') throw new TypeError('Forwarder: `url` is required');
    if (options.checkpoint === undefined) throw new TypeError('Forwarder: `checkpoint` is required');
    this.#options = options;
    this.#checkpoint = typeof options.checkpoint === 'string' ? new FileCheckpoint(options.checkpoint) : options.checkpoint;
    this.stopped = new Promise<void>((resolve, reject) => {
      this.#settleStopped = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.stopped.catch(() => {}); // observed through stop() or by the caller; never an unhandled rejection
  }

  /**
   * Settles once the forwarder has stopped: resolves after `stop()` completes, rejects with the error
   * that ended it on its own (the server refused the token or the query) or that `stop()` met.
   */
  readonly stopped: Promise<void>;
  #settleStopped!: (error?: unknown) => void;

  /** The current state. */
  get state(): ForwarderState {
    return this.#state;
  }

  /** The id of the last event every destination acknowledged (what the checkpoint holds, or is about to). */
  get position(): string | undefined {
    return this.#savedId;
  }

  /**
   * Adds a destination with its batching and retry options. Only before `start()`.
   * @throws TypeError after `start()` or on a duplicate name; RangeError on an option out of range
   */
  addDestination(destination: Destination, options: DestinationOptions = {}): this {
    if (this.#state !== 'idle') throw new TypeError('Forwarder: addDestination() after start()');
    if (this.#lanes.some((lane) => lane.destination.name === destination.name)) throw new TypeError(`Forwarder: duplicate destination name "${destination.name}"`);
    const lane = new Lane(
      destination,
      resolveDestinationOptions(options),
      () => this.#advance(),
      (error) => this.#options.onWarning?.(destination.name, error),
    );
    this.#lanes.push(lane);
    return this;
  }

  /** Counters per destination name. */
  metrics(): Record<string, DestinationMetrics> {
    return Object.fromEntries(this.#lanes.map((lane) => [lane.destination.name, { ...lane.metrics }]));
  }

  /**
   * Loads the checkpoint and starts consuming after it. Resolves once consuming started; a fatal
   * stream error (a refused token) stops the forwarder and is thrown by `stop()`.
   * @throws TypeError when called twice or without destinations
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new TypeError('Forwarder: start() called twice');
    if (this.#lanes.length === 0) throw new TypeError('Forwarder: no destination added');
    this.#state = 'running';
    this.#savedId = await this.#checkpoint.load();
    const from = this.#options.from ?? 'live';
    const position =
      this.#savedId !== undefined ? { lastEventId: this.#savedId } : from === 'live' ? {} : 'sinceId' in from ? { sinceId: from.sinceId } : { since: from.since };
    this.#subscription = connect({
      url: this.#options.url,
      token: this.#options.token,
      types: this.#options.types,
      transport: this.#options.transport,
      backoff: this.#options.reconnect,
      fetch: this.#options.fetch,
      ...position,
    });
    // The server's retention dropped events this forwarder never saw: they cannot be forwarded, say so.
    this.#subscription.on('dropped', (notice) =>
      this.#options.onWarning?.('stream', new Error(`the stream dropped ${notice.count} event(s) past retention (${notice.first_missing_id ?? '?'} to ${notice.last_missing_id ?? '?'})`)),
    );
    for (const lane of this.#lanes) lane.start();
    this.#consuming = this.#consume(this.#subscription);
  }

  async #consume(subscription: Subscription): Promise<void> {
    const highWaterMark = this.#options.highWaterMark ?? 10_000;
    try {
      for await (const event of subscription) {
        const seq = ++this.#seq;
        this.#positions.push({ seq, id: event.id });
        const entry = { seq, event, at: Date.now() };
        for (const lane of this.#lanes) lane.push(entry);
        for (const lane of this.#lanes) await lane.below(highWaterMark);
      }
    } catch (error) {
      if (this.#state === 'running') {
        this.#fatal = error;
        void this.stop().catch(() => {});
      }
    }
  }

  /** Moves the checkpoint to the last event every destination acknowledged. */
  #advance(): void {
    let acked = Infinity;
    for (const lane of this.#lanes) acked = Math.min(acked, lane.ackedSeq);
    let id: string | undefined;
    while (this.#head < this.#positions.length && this.#positions[this.#head]!.seq <= acked) id = this.#positions[this.#head++]!.id;
    if (this.#head > 4_096) {
      this.#positions = this.#positions.slice(this.#head);
      this.#head = 0;
    }
    if (id === undefined) return;
    this.#savedId = id;
    // Saves run one after another; each saves the newest position when its turn comes.
    this.#saving = this.#saving.then(async () => {
      if (this.#savedId !== id) return;
      try {
        await this.#checkpoint.save(id);
        this.#saveError = undefined;
      } catch (error) {
        this.#saveError = error;
        this.#options.onWarning?.('checkpoint', error);
      }
    });
  }

  /**
   * Stops reading, sends what is queued to every destination (with its retries), saves the
   * checkpoint and closes the destinations. Safe to call twice; rejects with the stream's fatal error
   * if that is what stopped the forwarder, or with the final checkpoint save's error.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop().then(
      () => this.#settleStopped(),
      (error: unknown) => {
        this.#settleStopped(error);
        throw error;
      },
    );
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    if (this.#state === 'idle') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    this.#subscription?.close();
    await this.#consuming;
    await Promise.all(this.#lanes.map((lane) => lane.close()));
    await this.#saving;
    const id = this.#savedId;
    if (id !== undefined) await this.#checkpoint.save(id);
    await Promise.all(this.#lanes.map((lane) => lane.destination.close()));
    this.#state = 'stopped';
    if (this.#fatal !== undefined) throw this.#fatal;
  }
}
