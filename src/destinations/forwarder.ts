/**
 * The forwarder: consumes a Specstream stream with the SDK and delivers it, in batches and in log
 * order, to every destination added, at least once. Each destination reads the stream through its
 * own cursor and has its own position in the checkpoint, which advances only once that destination
 * acknowledged (sent and flushed, or dead-lettered) a batch: a crash re-delivers at most what was
 * not yet acknowledged, never skips an event, and a slow or failing destination never stalls the
 * others. The overall position ({@link Forwarder.position}) is the slowest destination's.
 */
import type { BackoffOptions } from '../client/backoff.js';
import { subscribe, type ConnectOptions, type DroppedNotice } from '../client/connect.js';
import { errorFor, SpecstreamError } from '../client/errors.js';
import { credentialsFor, operationsOf, type ClientProfile } from '../client/profile.js';
import { NATIVE_PROFILE } from '../generated/wire-profile.js';
import { FileCheckpoint, oldestPosition, type Checkpoint, type Positions } from './checkpoint.js';
import { resolveDestinationOptions, type AnyDestination, type DestinationOptions } from './destination.js';
import { Lane, type DestinationMetrics, type EventStream } from './lane.js';
import { NATIVE_ENVELOPE_KEYS, type EnvelopeKeys } from './wire-event.js';

export type { DestinationMetrics } from './lane.js';

/** What the forwarder uses of an SDK subscription. */
type ForwardedStream = EventStream & { on(name: 'dropped', listener: (notice: DroppedNotice) => void): () => void };

/** Options of {@link Forwarder}. */
export interface ForwarderOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API key secret with `events:read` (or `events:read:<type>`) scope. */
  token?: string;
  /** The key id, for a bundle whose stream accepts only Basic (`base64(keyId:token)`); or write the token as `id:secret`. */
  keyId?: string;
  /** Types or globs to forward (`['grant.*']`); defaults to every type the token may read. */
  types?: readonly string[];
  /** Where the positions are kept: a {@link Checkpoint}, or a file path for a {@link FileCheckpoint}. */
  checkpoint: Checkpoint | string;
  /**
   * Where a destination without a saved position starts: `{ sinceId }` (after that id), `{ since }`
   * (from that time), or `'live'` (the default: from the server's current time, taken once from its
   * `Date` header so that every new destination starts at the same point). Destinations with a saved
   * position resume from it.
   */
  from?: { sinceId: string } | { since: string | Date } | 'live';
  /**
   * `sse`, the only transport a forwarder reads (and the default): it is read only as fast as the
   * destinations take events, which bounds the forwarder's memory by `highWaterMark`. `ws` is
   * refused: a WebSocket's frames arrive whether or not they are taken (the browser API cannot
   * pause one, and the server closes a peer that stops reading), so its events would queue up.
   */
  transport?: 'sse';
  /** The SDK's reconnect delays. */
  reconnect?: BackoffOptions;
  /**
   * The profile of the bundle the server serves when it is not the native one (the SDK's
   * `ClientProfile`, or a plain wire profile: paths, credentials, parameter names, framing, envelope
   * keys), e.g. `loadProfile({ specs: 'examples/grant-events' })` of `specstream/client`. The SDK
   * reads the stream with it; its operations pick the `HEAD` that finds the live start (or a `GET`
   * of the SSE stream when the bundle has no `HEAD`); its envelope keys tell the built-in
   * destinations where an event's time and data are (`Destination.useEnvelope`). Defaults to the
   * native bundle's.
   */
  profile?: ClientProfile;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
  /**
   * Most events read ahead for one destination before its cursor pauses until the destination catches
   * up. Defaults to 10 000. The stream is a cursor into the log, so pausing loses nothing.
   */
  highWaterMark?: number;
  /**
   * Called with an error the forwarder survived: a failed send that will be retried, a dead-letter or
   * checkpoint write (`'checkpoint'`), events the server dropped past retention. Defaults to none.
   */
  onWarning?: (destination: string, error: unknown) => void;
}

/** Options of {@link Forwarder.stop}. */
export interface StopOptions {
  /**
   * How long to wait for queued events to be delivered (with their retries) before giving up on
   * them. Events not acknowledged by then are not checkpointed: the next start sends them again.
   * Defaults to waiting as long as it takes.
   */
  timeoutMs?: number;
}

/** What `on('batch')` listeners receive each time a destination acknowledges a batch. */
export interface BatchReport {
  destination: string;
  events: number;
  latencyMs: number;
}

/** The forwarder's states; `stopped` is final. */
export type ForwarderState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Forwards a stream to destinations at least once.
 *
 * ```ts
 * const forwarder = new Forwarder({ url, token, types: ['grant.*'], checkpoint: './forward.checkpoint.json' });
 * forwarder.addDestination(new FileDestination({ path: './events.ndjson' }), { batchSize: 500 });
 * await forwarder.start();
 * process.on('SIGTERM', () => forwarder.stop({ timeoutMs: 30_000 }));
 * ```
 */
export class Forwarder {
  readonly #options: ForwarderOptions;
  readonly #checkpoint: Checkpoint;
  readonly #added: { destination: AnyDestination; options: DestinationOptions }[] = [];
  #lanes: Lane[] = [];
  #saving: Promise<void> = Promise.resolve();
  #saveWanted = false;
  #state: ForwarderState = 'idle';
  #stopping: Promise<void> | undefined;
  #fatal: unknown;
  readonly #abandon = new AbortController();
  readonly #batchListeners = new Set<(report: BatchReport) => void>();

  /** @throws TypeError without `url` or `checkpoint`, or with a `transport` other than `sse` */
  constructor(options: ForwarderOptions) {
    if (typeof options.url !== 'string' || options.url === '') throw new TypeError('Forwarder: `url` is required');
    if (options.checkpoint === undefined) throw new TypeError('Forwarder: `checkpoint` is required');
    if (options.transport !== undefined && options.transport !== 'sse') throw new TypeError(transportRefused(String(options.transport)));
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

  /**
   * The overall position: the id of the last event every destination acknowledged (the slowest
   * destination's position); undefined while some destination has acknowledged nothing.
   */
  get position(): string | undefined {
    const positions = this.positions();
    return this.#lanes.length > 0 && this.#lanes.every((lane) => positions[lane.destination.name] !== undefined) ? oldestPosition(positions) : undefined;
  }

  /** Each destination's position: the id of the last event it acknowledged (as checkpointed, or about to be). */
  positions(): Positions {
    const positions: Record<string, string> = {};
    for (const lane of this.#lanes) if (lane.metrics.position !== undefined) positions[lane.destination.name] = lane.metrics.position;
    return positions;
  }

  /**
   * Adds a destination (a `Destination` or an `EventDestination`) with its batching and retry
   * options. `batchSize` and `flushIntervalMs` default to the destination's own (the ones its
   * constructor took), then to the {@link DestinationOptions} defaults. Only before `start()`.
   * @throws TypeError after `start()`, on a duplicate name or on a destination without `name`,
   *   `send`, `flush` and `close`; RangeError on an option out of range
   */
  addDestination(destination: AnyDestination, options: DestinationOptions = {}): this {
    if (this.#state !== 'idle') throw new TypeError('Forwarder: addDestination() after start()');
    const shape = destination as Partial<Record<'name' | 'send' | 'flush' | 'close', unknown>> | null;
    if (typeof shape !== 'object' || shape === null || typeof shape.name !== 'string' || shape.name === '' || !['send', 'flush', 'close'].every((method) => typeof (shape as Record<string, unknown>)[method] === 'function')) {
      throw new TypeError('Forwarder: a destination needs a non-empty `name` and `send`, `flush` and `close` methods');
    }
    if (this.#added.some((added) => added.destination.name === destination.name)) throw new TypeError(`Forwarder: duplicate destination name "${destination.name}"`);
    const own: DestinationOptions = {};
    if (destination.batchSize !== undefined) own.batchSize = destination.batchSize;
    if (destination.flushIntervalMs !== undefined) own.flushIntervalMs = destination.flushIntervalMs;
    const merged = { ...own, ...definedOnly(options) };
    resolveDestinationOptions(merged); // throws now rather than at start()
    this.#added.push({ destination, options: merged });
    return this;
  }

  /** Calls `listener` each time a destination acknowledges a batch; returns a function that removes it. */
  on(name: 'batch', listener: (report: BatchReport) => void): () => void {
    if (name !== 'batch') throw new TypeError(`Forwarder: unknown event "${String(name)}"`);
    this.#batchListeners.add(listener);
    return () => this.#batchListeners.delete(listener);
  }

  /** Counters and position per destination name. */
  metrics(): Record<string, DestinationMetrics> {
    return Object.fromEntries(this.#lanes.map((lane) => [lane.destination.name, { ...lane.metrics }]));
  }

  /**
   * Loads the checkpoint and starts every destination's cursor after its position. Resolves once
   * consuming started; a fatal stream error later (a refused token) stops the forwarder and is
   * thrown by `stop()` and `stopped`.
   * @throws TypeError when called twice or without destinations; the server's error when a new
   *   destination starts `'live'` and the server refuses the token or the types (or cannot be reached)
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new TypeError('Forwarder: start() called twice');
    if (this.#added.length === 0) throw new TypeError('Forwarder: no destination added');
    this.#state = 'running';
    try {
      const saved = await this.#checkpoint.load();
      const from = this.#options.from ?? 'live';
      const needsStart = this.#added.some(({ destination }) => saved[destination.name] === undefined);
      const start = !needsStart ? {} : from === 'live' ? { since: await this.#serverNow() } : 'sinceId' in from ? { sinceId: from.sinceId } : { since: from.since };
      const profile = this.#options.profile;
      const envelope: EnvelopeKeys = profile?.envelope ?? NATIVE_ENVELOPE_KEYS;
      for (const { destination } of this.#added) destination.useEnvelope?.(envelope);
      const hooks = {
        onAck: (lane: Lane, batch: { events: number; latencyMs: number }) => {
          this.#scheduleSave();
          for (const listener of this.#batchListeners) listener({ destination: lane.destination.name, ...batch });
        },
      };
      this.#lanes = this.#added.map(
        ({ destination, options }) =>
          new Lane(
            destination,
            resolveDestinationOptions(options),
            saved[destination.name],
            { ...hooks, onWarning: (error) => this.#options.onWarning?.(destination.name, error) },
            this.#abandon.signal,
            envelope,
          ),
      );
      for (const lane of this.#lanes) {
        const options: ConnectOptions = {
          url: this.#options.url,
          token: this.#options.token,
          keyId: this.#options.keyId,
          types: this.#options.types,
          transport: this.#options.transport,
          backoff: this.#options.reconnect,
          fetch: this.#options.fetch,
          ...(profile !== undefined ? { profile } : {}),
          ...(lane.startPosition !== undefined ? { lastEventId: lane.startPosition } : start),
        };
        // Events are passed on as the wire sent them, whichever bundle the options choose.
        const subscription = subscribe(options) as ForwardedStream;
        // The server's retention dropped events this destination never saw: they cannot be forwarded, say so.
        subscription.on('dropped', (notice) =>
          this.#options.onWarning?.(
            lane.destination.name,
            new Error(`the stream dropped ${notice.count} event(s) past retention (${notice.first_missing_id ?? '?'} to ${notice.last_missing_id ?? '?'})`),
          ),
        );
        lane.start(subscription, this.#options.highWaterMark ?? 10_000, (error) => this.#fail(error));
      }
    } catch (error) {
      this.#state = 'stopped';
      this.#settleStopped(error);
      throw error;
    }
  }

  /**
   * The server's clock (its `Date` header, whole seconds), asked with the forwarder's token and
   * types, which it also checks: a `HEAD` of the stream, or, for a bundle that declares no `HEAD`
   * (examples/grant-events), a `GET` of the SSE stream whose body is cancelled once the headers
   * arrived. Deadline: {@link START_TIMEOUT_MS}.
   */
  async #serverNow(): Promise<string> {
    const profile = this.#options.profile ?? NATIVE_PROFILE;
    const operations = operationsOf(profile);
    const operation = operations.head ?? operations.sse;
    if (!operation) throw new TypeError(`Forwarder: the bundle "${profile.name}" has no SSE stream, the only one a forwarder reads`);
    const method = operations.head ? 'HEAD' : 'GET';
    const url = new URL(operation.path, this.#options.url);
    if (this.#options.types?.length) url.searchParams.set(operation.query.types ?? 'types', this.#options.types.join(','));
    const credentials = credentialsFor(operation.auth, { token: this.#options.token, keyId: this.#options.keyId }, `${method} ${operation.path}`);
    for (const [name, value] of Object.entries(credentials.query)) url.searchParams.set(name, value);
    const fetchImpl = this.#options.fetch ?? globalThis.fetch.bind(globalThis);
    let response: Response;
    try {
      response = await fetchImpl(url, {
        method,
        headers: { ...(method === 'GET' ? { Accept: 'text/event-stream' } : {}), ...credentials.headers },
        signal: AbortSignal.timeout(START_TIMEOUT_MS),
      });
    } catch (error) {
      throw new SpecstreamError(0, 'NETWORK', `cannot reach ${this.#options.url} to find the live start: ${error instanceof Error ? error.message : String(error)}`, undefined, {
        cause: error,
      });
    }
    let body: unknown;
    if (method === 'GET' && !response.ok) body = await response.json().catch(() => undefined);
    await response.body?.cancel().catch(() => {});
    if (!response.ok) throw errorFor(response.status, body as never, `${method} ${operation.path} answered ${response.status}`);
    const date = Date.parse(response.headers.get('date') ?? '');
    return new Date(Number.isNaN(date) ? Date.now() : date).toISOString();
  }

  #fail(error: unknown): void {
    if (this.#state !== 'running') return;
    this.#fatal = error;
    void this.stop().catch(() => {});
  }

  /** Saves every position; saves run one after another, each saving the newest positions when its turn comes. */
  #scheduleSave(): void {
    if (this.#saveWanted) return;
    this.#saveWanted = true;
    this.#saving = this.#saving.then(async () => {
      this.#saveWanted = false;
      try {
        await this.#checkpoint.save(this.positions());
      } catch (error) {
        this.#options.onWarning?.('checkpoint', error);
      }
    });
  }

  /**
   * Stops reading, sends what is queued to every destination (with its retries, up to `timeoutMs`),
   * saves the checkpoint and closes the destinations. Safe to call twice; rejects with the stream's
   * fatal error if that is what stopped the forwarder, or with the final checkpoint save's error.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(options).then(
      () => this.#settleStopped(),
      (error: unknown) => {
        this.#settleStopped(error);
        throw error;
      },
    );
    return this.#stopping;
  }

  async #stop({ timeoutMs }: StopOptions): Promise<void> {
    if (this.#state === 'idle' || this.#state === 'stopped') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.#abandon.abort(), timeoutMs);
    const abandoned = new Promise<void>((resolve) => this.#abandon.signal.addEventListener('abort', () => resolve(), { once: true }));
    try {
      await Promise.all(this.#lanes.map((lane) => lane.stopReading()));
      // A send still in flight when the timeout passes is not waited for: its events are not checkpointed.
      await Promise.race([Promise.all(this.#lanes.map((lane) => lane.close())), abandoned]);
    } finally {
      clearTimeout(timer);
    }
    await this.#saving;
    await this.#checkpoint.save(this.positions());
    await Promise.race([Promise.all(this.#lanes.map((lane) => lane.destination.close())), abandoned.then(() => sleepMs(1_000))]);
    this.#state = 'stopped';
    if (this.#fatal !== undefined) throw this.#fatal;
  }
}

/** The message refusing `transport` (anything but `sse`): why a forwarder reads only SSE. */
export const transportRefused = (transport: string) =>
  `Forwarder: transport "${transport}" is not supported: a forwarder reads SSE only, because SSE is read only as fast as the destinations take events (memory bounded by highWaterMark), while a WebSocket's events would queue without bound; use transport: sse (the default)`;

/** How long finding the live start (the `HEAD` or `GET` of {@link Forwarder.start}) may take: 30 000 ms. */
export const START_TIMEOUT_MS = 30_000;

/** `options` without its undefined members (so they do not override a destination's own). */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
