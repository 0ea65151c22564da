/**
 * The destination contract of the forwarder (`specstream/destinations`): what a sink implements,
 * how the forwarder batches and retries for it, and how a failure is classified.
 */
import type { SpecstreamEvent } from '../generated/events.js';
import type { EnvelopeKeys, WireEvent } from './wire-event.js';

/**
 * A sink the forwarder delivers batches to. The forwarder calls `send` with one batch at a time, in
 * log order, and never concurrently for the same destination; a batch is acknowledged when `send`
 * resolves. `send` may be called again with the same events after a crash or a retryable failure
 * (at-least-once), so a destination that can should de-duplicate by event id.
 */
export interface Destination {
  /** A name unique within one forwarder; used in metrics, logs and the dead-letter file. */
  readonly name: string;
  /**
   * Delivers one batch (1 to `batchSize` events, oldest first). Resolves once the sink has the
   * events (for a file: written, made durable by `flush`). Rejects with a {@link RetryableError}
   * to be retried, a {@link PermanentError} to dead-letter the batch; any other error is retried.
   */
  send(events: readonly SpecstreamEvent[]): Promise<void>;
  /** Makes everything `send` resolved for durable at the sink (fsync, broker flush). */
  flush(): Promise<void>;
  /** Flushes and releases resources. Safe to call twice. */
  close(): Promise<void>;
  /**
   * Called once by the forwarder before the first `send` with where the stream's envelope keeps the
   * event's id, type, time and data (the bundle's `x-specstream-envelope`): the built-in destinations
   * read an event's time and data through these keys, so they work on any bundle's events (e.g.
   * `createdAt` for examples/grant-events). Not called: the native keys (`time`, `data`) apply.
   */
  useEnvelope?(keys: EnvelopeKeys): void;
  /** The batch size this destination asks for (see {@link BatchingOptions}); `addDestination`'s options win. */
  readonly batchSize?: number;
  /** The flush interval this destination asks for (see {@link BatchingOptions}); `addDestination`'s options win. */
  readonly flushIntervalMs?: number;
}

/**
 * The "Shared Configuration" every built-in destination takes in its constructor (as
 * `@grantex/destinations` does): how the forwarder batches for it. `addDestination(destination,
 * options)` overrides them; unset, the {@link DestinationOptions} defaults apply.
 */
export interface BatchingOptions {
  /** Number of events to buffer before a batch is sent. Defaults to 100. */
  batchSize?: number;
  /** Longest time (ms) an incomplete batch waits for more events before it is sent anyway. Defaults to 1 000. */
  flushIntervalMs?: number;
}

/**
 * The destination interface of `@grantex/destinations`: `name`, `send(events)`, `flush()`,
 * `close()`, with events as the stream sends them (a {@link WireEvent}; `GrantexEvent` for
 * examples/grant-events). The forwarder calls it exactly as a {@link Destination}: `send` with one
 * batch at a time in log order, then `flush`; the batch is acknowledged (checkpointed) once both
 * resolved; a rejection retries it (`PermanentError`: dead-letters it). `send` gets its own array,
 * which it may modify.
 */
export interface EventDestination<E extends object = WireEvent> {
  readonly name: string;
  send(events: E[]): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Optional: see {@link Destination.useEnvelope}. */
  useEnvelope?(keys: EnvelopeKeys): void;
  /** Optional: the batch size it asks for. */
  readonly batchSize?: number;
  /** Optional: the flush interval it asks for, in ms. */
  readonly flushIntervalMs?: number;
}

/** What the forwarder accepts: a {@link Destination} (typed by the native catalog) or an {@link EventDestination}. */
export type AnyDestination = Destination | EventDestination;

/**
 * Reads the {@link BatchingOptions} of a built-in destination's constructor options, checked now
 * (a `RangeError` at construction rather than at `start()`).
 */
export function batchingOf(options: BatchingOptions, what: string): BatchingOptions {
  const batching: BatchingOptions = {};
  if (options.batchSize !== undefined) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError(`${what}: batchSize must be an integer >= 1, got ${options.batchSize}`);
    batching.batchSize = options.batchSize;
  }
  if (options.flushIntervalMs !== undefined) {
    if (!(options.flushIntervalMs >= 0)) throw new RangeError(`${what}: flushIntervalMs must be >= 0, got ${options.flushIntervalMs}`);
    batching.flushIntervalMs = options.flushIntervalMs;
  }
  return batching;
}

/** How the forwarder batches and retries for one destination. */
export interface DestinationOptions {
  /** Most events per `send`. Defaults to 100. */
  batchSize?: number;
  /** Longest time an incomplete batch waits for more events before it is sent. Defaults to 1 000 ms. */
  flushIntervalMs?: number;
  /**
   * Retries of a batch after its first attempt before it is dead-lettered. Defaults to 10; `Infinity`
   * retries forever (the stream then waits for the destination, which is at-least-once without loss).
   */
  maxRetries?: number;
  /** Retry delays. */
  backoff?: RetryBackoffOptions;
  /** NDJSON file that receives events this destination rejected for good, one `{reason, destination, event}` per line. Defaults to none: such events are counted and logged only. */
  deadLetterPath?: string;
}

/** Retry delays: exponential from `initialMs` to `maxMs` with equal jitter; `Retry-After` wins when given. */
export interface RetryBackoffOptions {
  /** First delay. Defaults to 200 ms. */
  initialMs?: number;
  /** Longest delay, also the cap of a server's `Retry-After`. Defaults to 30 000 ms. */
  maxMs?: number;
  /** Random source in [0, 1); defaults to `Math.random` (tests pass a fixed one). */
  random?: () => number;
}

/** {@link DestinationOptions} with every default applied. */
export type ResolvedDestinationOptions = Required<Omit<DestinationOptions, 'deadLetterPath' | 'backoff'>> & {
  deadLetterPath: string | undefined;
  backoff: Required<RetryBackoffOptions>;
};

/** Applies the defaults of {@link DestinationOptions}; throws `RangeError` on a value out of range. */
export function resolveDestinationOptions(options: DestinationOptions = {}): ResolvedDestinationOptions {
  const resolved: ResolvedDestinationOptions = {
    batchSize: options.batchSize ?? 100,
    flushIntervalMs: options.flushIntervalMs ?? 1_000,
    maxRetries: options.maxRetries ?? 10,
    deadLetterPath: options.deadLetterPath,
    backoff: { initialMs: 200, maxMs: 30_000, random: Math.random, ...options.backoff },
  };
  if (!Number.isInteger(resolved.batchSize) || resolved.batchSize < 1) throw new RangeError(`batchSize must be an integer >= 1, got ${resolved.batchSize}`);
  if (!(resolved.flushIntervalMs >= 0)) throw new RangeError(`flushIntervalMs must be >= 0, got ${resolved.flushIntervalMs}`);
  if (!(resolved.maxRetries >= 0)) throw new RangeError(`maxRetries must be >= 0, got ${resolved.maxRetries}`);
  return resolved;
}

/** A failure that retrying the same batch may cure (network, 5xx, 408, 429). */
export class RetryableError extends Error {
  override name = 'RetryableError';
  /** Delay the sink asked for (`Retry-After`), in ms, if any. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A failure that retrying cannot cure (a 4xx other than 408 and 429): the batch is dead-lettered. */
export class PermanentError extends Error {
  override name = 'PermanentError';
  /** The HTTP status, when the sink is HTTP. */
  readonly status: number | undefined;
  constructor(message: string, options: { cause?: unknown; status?: number } = {}) {
    super(message, { cause: options.cause });
    this.status = options.status;
  }
}

/** Whether an HTTP status is retryable: 408, 429 and 5xx are; other 4xx are permanent. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Parses `Retry-After` (delay-seconds or an HTTP date) into ms from `now`; undefined when absent or
 * unparseable. A date in the past gives 0.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The error for a non-2xx HTTP response: {@link RetryableError} (with `Retry-After`) for
 * 408/429/5xx, {@link PermanentError} otherwise.
 */
export function errorForStatus(status: number, headers: { get(name: string): string | null }, what: string): RetryableError | PermanentError {
  const message = `${what} answered ${status}`;
  if (isRetryableStatus(status)) return new RetryableError(message, { retryAfterMs: parseRetryAfter(headers.get('retry-after')) });
  return new PermanentError(message, { status });
}

/**
 * The delay before retry `attempt` (0 for the first retry): `min(maxMs, initialMs * 2^attempt)` with
 * equal jitter (uniform between half and all of it). A `retryAfterMs` from the sink replaces it,
 * capped at `maxMs`.
 */
export function retryDelay(attempt: number, backoff: Required<RetryBackoffOptions>, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(backoff.maxMs, retryAfterMs);
  const step = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + backoff.random() * (step / 2));
}
