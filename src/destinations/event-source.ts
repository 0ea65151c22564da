/**
 * `EventSource`, the class of `@grantex/destinations` (the Grantex "Event Streaming" page, the
 * document of examples/grant-events): connect to a server's SSE stream and dispatch each event to
 * the destinations added, until `stop()`. It is the {@link Forwarder} underneath, so delivery is at
 * least once, in log order, with a checkpoint per destination: a restart resumes where each
 * destination stopped.
 *
 * ```ts
 * import { EventSource, DatadogDestination } from 'specstream/destinations';
 * const source = new EventSource({ url: 'http://127.0.0.1:8080', apiKey: process.env.GRANTEX_API_KEY!, types: ['grant.created'] });
 * source.addDestination(new DatadogDestination({ apiKey: process.env.DD_API_KEY! }));
 * process.on('SIGTERM', async () => { await source.stop(); process.exit(0); });
 * await source.start(); // runs until stop()
 * ```
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { BackoffOptions } from '../client/backoff.js';
import type { ClientProfile } from '../client/profile.js';
import { MemoryCheckpoint, type Checkpoint } from './checkpoint.js';
import type { AnyDestination, DestinationOptions } from './destination.js';
import { Forwarder, type DestinationMetrics, type ForwarderOptions, type ForwarderState } from './forwarder.js';
import { serverProfile } from './server-profile.js';

/** Options of {@link EventSource}: those of `@grantex/destinations` (`url`, `apiKey`, `types`), then Specstream's. */
export interface EventSourceOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The API key, presented as the server's bundle asks (a Bearer token for examples/grant-events). */
  apiKey?: string;
  /** The key id, for a bundle whose stream accepts only Basic; or write `apiKey` as `id:secret`. */
  keyId?: string;
  /** Event types (or globs such as `grant.*`) to receive; defaults to every type the key may read. */
  types?: readonly string[];
  /**
   * Where each destination's position is kept: a file path, a {@link Checkpoint}, or `false` for
   * memory only (every start is then a new start, see `from`). Defaults to the file
   * {@link defaultCheckpointPath}: `./.specstream/checkpoint-<16 hex digits>.json` under the working
   * directory at construction, the digits a SHA-256 of the URL and the sorted types, so a restart
   * with the same URL and types resumes. Two event sources with the same URL and types in the same
   * directory must be given distinct paths: a save replaces the whole file.
   */
  checkpoint?: string | Checkpoint | false;
  /**
   * The profile of the server's bundle (the SDK's `ClientProfile`, e.g. from `loadProfile` of
   * `specstream/client`). Defaults to `specs`' when given, else to the server's own, read at
   * `start()` from `GET <url>/specs/openapi.yaml` and `asyncapi.yaml` ({@link serverProfile}; the
   * native protocol when the server serves none: 404).
   */
  profile?: ClientProfile;
  /** A bundle folder (e.g. `examples/grant-events`) whose wire profile to use instead of the server's. */
  specs?: string;
  /** Where a destination without a saved position starts: see {@link ForwarderOptions.from}. Defaults to `'live'`. */
  from?: ForwarderOptions['from'];
  /** The SDK's reconnect delays. */
  reconnect?: BackoffOptions;
  /** Most events read ahead per destination: see {@link ForwarderOptions.highWaterMark}. Defaults to 10 000. */
  highWaterMark?: number;
  /**
   * How long `stop()` waits for queued events to be delivered (with their retries). Events not
   * acknowledged by then are sent again on the next start. Defaults to 30 000 ms.
   */
  stopTimeoutMs?: number;
  /** Called with an error the source survived (a retried send, a dead letter, a checkpoint write). Defaults to none. */
  onWarning?: (destination: string, error: unknown) => void;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
}

/**
 * The default checkpoint file of an event source reading `url` for `types`:
 * `<cwd>/.specstream/checkpoint-<first 16 hex digits of SHA-256 of {url, sorted types}>.json`.
 */
export function defaultCheckpointPath(url: string, types: readonly string[] | undefined, cwd: string = process.cwd()): string {
  const normalized = URL.canParse(url) ? new URL(url).href : url;
  const digest = createHash('sha256')
    .update(JSON.stringify({ url: normalized, types: types === undefined ? null : [...new Set(types)].sort() }))
    .digest('hex')
    .slice(0, 16);
  return join(resolve(cwd), '.specstream', `checkpoint-${digest}.json`);
}

/**
 * Reads a server's stream and dispatches each event to every destination added, in batches, at
 * least once and in log order, until {@link EventSource.stop}. Destinations receive the events as
 * the stream sends them (`GrantexEvent`s, `{id, type, createdAt, data}`, from examples/grant-events).
 */
export class EventSource {
  readonly #options: EventSourceOptions;
  readonly #added: { destination: AnyDestination; options: DestinationOptions }[] = [];
  readonly #checkpoint: string | Checkpoint;
  #forwarder: Forwarder | undefined;
  /** Settles once `start()` has the forwarder running, or gave up (undefined before `start()`). */
  #ready: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #stopRequested = false;
  #failure: { error: unknown } | undefined;

  /** @throws TypeError without `url`, or with `types` that is not an array of strings */
  constructor(options: EventSourceOptions) {
    if (typeof options !== 'object' || options === null || typeof options.url !== 'string' || !URL.canParse(options.url)) {
      throw new TypeError(`EventSource: \`url\` must be the server's base URL, got ${JSON.stringify(options?.url)}`);
    }
    if (options.types !== undefined && (!Array.isArray(options.types) || !options.types.every((type) => typeof type === 'string' && type !== ''))) {
      throw new TypeError('EventSource: `types` must be an array of event types');
    }
    if (options.apiKey !== undefined && typeof options.apiKey !== 'string') throw new TypeError('EventSource: `apiKey` must be a string');
    this.#options = options;
    const checkpoint = options.checkpoint;
    this.#checkpoint = checkpoint === false ? new MemoryCheckpoint() : (checkpoint ?? defaultCheckpointPath(options.url, options.types));
  }

  /** The checkpoint file, or undefined when the positions are kept by a {@link Checkpoint} object (or in memory). */
  get checkpointPath(): string | undefined {
    return typeof this.#checkpoint === 'string' ? this.#checkpoint : undefined;
  }

  /** `idle` before `start()`, then the underlying forwarder's state. */
  get state(): ForwarderState {
    return this.#forwarder?.state ?? (this.#stopRequested ? 'stopped' : 'idle');
  }

  /**
   * Adds a destination: any object with `name`, `send(events)`, `flush()` and `close()` (an
   * `EventDestination`, or a built-in destination). `options` (retries, dead letters, batching)
   * override what the destination's constructor took. Only before `start()`.
   * @throws TypeError after `start()`, on a duplicate name or on an object that is not a destination; RangeError on an option out of range
   */
  addDestination(destination: AnyDestination, options: DestinationOptions = {}): this {
    if (this.#ready !== undefined || this.#stopRequested) throw new TypeError('EventSource: addDestination() after start()');
    // A throwaway forwarder checks the destination and the options now, as start() would.
    new Forwarder({ url: this.#options.url, checkpoint: new MemoryCheckpoint() }).addDestination(destination, options);
    if (this.#added.some((added) => added.destination.name === destination.name)) throw new TypeError(`EventSource: duplicate destination name "${destination.name}"`);
    this.#added.push({ destination, options });
    return this;
  }

  /**
   * Starts streaming and resolves only once {@link EventSource.stop} has stopped it (flushed and
   * closed). Rejects when the source cannot start (the server refuses the key or the types, cannot
   * be reached, serves specs this version cannot read) or dies later of an error it cannot recover
   * from (the key revoked); network faults and 5xx are retried forever by the SDK.
   * @throws TypeError when called twice or without destinations
   */
  start(): Promise<void> {
    if (this.#ready !== undefined) return Promise.reject(new TypeError('EventSource: start() called twice'));
    if (this.#added.length === 0) return Promise.reject(new TypeError('EventSource: no destination added'));
    let ready!: () => void;
    this.#ready = new Promise<void>((resolve) => (ready = resolve));
    return this.#run(ready);
  }

  /** Starts the forwarder (calling `ready` once it runs or gave up), then waits until it stopped. */
  async #run(ready: () => void): Promise<void> {
    let forwarder: Forwarder | undefined;
    try {
      forwarder = await this.#startForwarder();
    } catch (error) {
      this.#failure = { error };
      throw error;
    } finally {
      ready();
    }
    if (!forwarder) return; // stop() came first
    try {
      await forwarder.stopped;
    } catch (error) {
      this.#failure ??= { error };
      throw error;
    }
  }

  /** The running forwarder; undefined when `stop()` was called before it could start. */
  async #startForwarder(): Promise<Forwarder | undefined> {
    if (this.#stopRequested) return undefined;
    const profile = await this.#profile();
    if (this.#stopRequested) return undefined;
    const forwarder = new Forwarder({
      url: this.#options.url,
      token: this.#options.apiKey,
      keyId: this.#options.keyId,
      types: this.#options.types,
      checkpoint: this.#checkpoint,
      from: this.#options.from,
      reconnect: this.#options.reconnect,
      highWaterMark: this.#options.highWaterMark,
      onWarning: this.#options.onWarning,
      fetch: this.#options.fetch,
      profile,
    });
    for (const { destination, options } of this.#added) forwarder.addDestination(destination, options);
    this.#forwarder = forwarder;
    await forwarder.start();
    return forwarder;
  }

  /** The profile: given, from `specs`, or the server's. */
  async #profile(): Promise<ClientProfile | undefined> {
    if (this.#options.profile) return this.#options.profile;
    if (this.#options.specs !== undefined) return (await import('../client/bundle-profile.js')).loadClientProfile(this.#options.specs);
    return serverProfile(this.#options.url, { fetch: this.#options.fetch });
  }

  /**
   * Stops reading, delivers what is queued to every destination (with retries, for at most
   * `stopTimeoutMs`), saves the checkpoint and closes the destinations; `start()` then resolves.
   * Safe to call twice, and before `start()` (which then resolves at once). Rejects only when the
   * stop itself fails (the final checkpoint save); an error that had already ended the source is
   * `start()`'s to report.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopRequested = true;
      await this.#ready; // a stop never races the start: the forwarder is running, or start() gave up
      const forwarder = this.#forwarder;
      if (!forwarder) return;
      const endedBefore = this.#failure !== undefined;
      try {
        await forwarder.stop({ timeoutMs: this.#options.stopTimeoutMs ?? 30_000 });
      } catch (error) {
        if (endedBefore || this.#failure?.error === error) return;
        throw error;
      }
    })();
    return this.#stopping;
  }

  /** Counters and position per destination name (empty before `start()`). */
  metrics(): Record<string, DestinationMetrics> {
    return this.#forwarder?.metrics() ?? {};
  }
}

