/**
 * One destination's share of a forwarder: its own cursor into the stream, its queue, batching,
 * retries and dead letters. Lanes do not wait for each other, so a slow or failing destination
 * never stalls the others; each has its own position in the checkpoint.
 */
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PermanentError, retryDelay, type AnyDestination, type ResolvedDestinationOptions } from './destination.js';
import { eventTime, type EnvelopeKeys, type WireEvent } from './wire-event.js';

/** Counters of one destination since `start()`, and where it stands. */
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
  /** Events read from the stream and not yet acknowledged. */
  queued: number;
  /** The id of the last event acknowledged (this destination's checkpoint position), if any. */
  position: string | undefined;
  /** The time of that event (the envelope's time key): how far behind the log's head this destination is. */
  positionTime: string | undefined;
}

/** What a lane reports to its forwarder. */
export interface LaneHooks {
  /** A batch was acknowledged (sent and flushed, or dead-lettered); the lane's position moved. */
  onAck(lane: Lane, batch: { events: number; latencyMs: number }): void;
  /** An error the lane survived (a failed attempt, an unwritable dead-letter file). */
  onWarning(error: unknown): void;
}

/**
 * What a lane needs of the SDK's subscription, whatever its event type: its events, the id of the
 * last one (the envelope's id, or the SSE `id:` line of an envelope without one), and `close`.
 */
export interface EventStream extends AsyncIterable<unknown> {
  readonly lastEventId: string | undefined;
  close(): void;
}

interface Entry {
  event: WireEvent;
  /** The event's id as the stream gave it (its SSE `id:`, which every envelope has even without an id member). */
  id: string;
  at: number;
}

/** Thrown inside a lane when its forwarder gave up waiting (the stop timeout passed). */
class Abandoned extends Error {}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Abandoned());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Abandoned());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class Lane {
  readonly queue: Entry[] = [];
  readonly metrics: DestinationMetrics;
  /** Where this lane's subscription started (its checkpointed position), if anywhere. */
  readonly startPosition: string | undefined;
  #subscription: EventStream | undefined;
  #consuming: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;
  #closing = false;
  #done: Promise<void> = Promise.resolve();
  #drained: (() => void)[] = [];
  #ended = false;
  readonly #abandon: AbortSignal;
  readonly #envelope: EnvelopeKeys;

  /**
   * @param position the checkpointed position (where the lane resumes)
   * @param abandon aborted when the forwarder stops waiting for this lane: retries end, nothing more is acknowledged
   * @param envelope where the events' envelope keeps the time (for `positionTime`)
   */
  constructor(
    readonly destination: AnyDestination,
    readonly options: ResolvedDestinationOptions,
    position: string | undefined,
    private readonly hooks: LaneHooks,
    abandon: AbortSignal,
    envelope: EnvelopeKeys,
  ) {
    this.startPosition = position;
    this.#abandon = abandon;
    this.#envelope = envelope;
    this.metrics = { sent: 0, failed: 0, retried: 0, deadLettered: 0, batches: 0, lastBatchLatencyMs: 0, totalBatchLatencyMs: 0, queued: 0, position, positionTime: undefined };
  }

  /**
   * Starts delivering, and reads `subscription` into the queue, pausing while more than
   * `highWaterMark` events wait (the stream is a cursor into the log, so pausing loses nothing).
   * Resolves `consumed` when the subscription ends; a subscription error is passed to `onFatal`.
   */
  start(subscription: EventStream, highWaterMark: number, onFatal: (error: unknown) => void): void {
    this.#subscription = subscription;
    this.#done = this.#run().finally(() => {
      this.#ended = true;
      this.#notifyDrained();
    });
    this.#consuming = (async () => {
      try {
        for await (const event of subscription) {
          // The SDK moves `lastEventId` to an event's id before handing it over.
          const wire = event as unknown as WireEvent;
          const id = subscription.lastEventId ?? (typeof wire.id === 'string' ? wire.id : undefined);
          if (id === undefined) throw new Error('the stream sent an event without an id (no id member, no SSE id: line): it cannot be checkpointed');
          this.#push({ event: wire, id, at: Date.now() });
          await this.#below(highWaterMark);
        }
      } catch (error) {
        onFatal(error);
      }
    })();
  }

  /** Stops reading the stream; resolves once the reading loop has ended. */
  async stopReading(): Promise<void> {
    this.#subscription?.close();
    await this.#consuming;
  }

  /** Sends everything queued now (with retries, until abandoned), then ends the delivery loop. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#wakeUp();
    await this.#done;
  }

  #push(entry: Entry): void {
    this.queue.push(entry);
    this.metrics.queued += 1;
    // The first event starts the flush interval; a full batch goes at once.
    if (this.queue.length === 1 || this.queue.length >= this.options.batchSize) this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves when the queue is at most `n` long (woken each time a batch leaves it, or the lane ends). */
  async #below(n: number): Promise<void> {
    while (this.queue.length > n && !this.#ended) await new Promise<void>((resolve) => this.#drained.push(resolve));
  }

  #notifyDrained(): void {
    const waiters = this.#drained.splice(0);
    for (const resolve of waiters) resolve();
  }

  #sleepUntilWoken(ms: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.#wakeUp(), ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    const onAbandon = () => this.#wakeUp();
    this.#abandon.addEventListener('abort', onAbandon, { once: true });
    try {
      for (;;) {
        if (this.#abandon.aborted) return;
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
        const batch = this.queue.slice(0, this.options.batchSize);
        const started = Date.now();
        await this.#deliver(batch);
        if (this.#abandon.aborted) return; // acknowledged too late to be checkpointed: it will be sent again
        this.queue.splice(0, batch.length);
        this.#notifyDrained();
        const latencyMs = Date.now() - started;
        const last = batch[batch.length - 1]!;
        Object.assign(this.metrics, {
          batches: this.metrics.batches + 1,
          lastBatchLatencyMs: latencyMs,
          totalBatchLatencyMs: this.metrics.totalBatchLatencyMs + latencyMs,
          queued: this.queue.length,
          position: last.id,
          positionTime: eventTime(last.event, this.#envelope),
        });
        this.hooks.onAck(this, { events: batch.length, latencyMs });
      }
    } catch (error) {
      if (!(error instanceof Abandoned)) throw error;
    } finally {
      this.#abandon.removeEventListener('abort', onAbandon);
    }
  }

  /**
   * Sends a batch with retries. A permanent rejection of a batch of several events splits it in two
   * and sends each half, in order, so that only the events the destination rejects are dead-lettered.
   */
  async #deliver(batch: Entry[]): Promise<void> {
    const events = batch.map((entry) => entry.event);
    for (let attempt = 0; ; attempt++) {
      if (this.#abandon.aborted) throw new Abandoned();
      try {
        // Each destination gets its own array (an EventDestination may modify it). A Destination is typed
        // by the native catalog and an EventDestination by the wire envelope: both receive the stream's events.
        await (this.destination as { send(events: WireEvent[]): Promise<void> }).send(events);
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
        this.hooks.onWarning(error);
        this.metrics.retried += 1;
        const retryAfterMs = (error as { retryAfterMs?: number }).retryAfterMs;
        await sleep(retryDelay(attempt, this.options.backoff, retryAfterMs), this.#abandon);
      }
    }
  }

  /** Appends the events to the dead-letter file (fsynced before the events count as acknowledged). */
  async #deadLetter(batch: Entry[], reason: string): Promise<void> {
    this.metrics.deadLettered += batch.length;
    const path = this.options.deadLetterPath;
    if (path === undefined) {
      this.hooks.onWarning(new Error(`${batch.length} event(s) dropped, no dead-letter file: ${reason}`));
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
        this.hooks.onWarning(error);
        await sleep(retryDelay(attempt, this.options.backoff), this.#abandon);
      }
    }
  }
}
