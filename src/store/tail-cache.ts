import type { EncodedEvent } from './store.js';

/** Bounds of a {@link TailCache}. */
export interface TailCacheLimits {
  /** Most events held; the oldest go first. Defaults to 20,000. */
  maxEvents?: number;
  /** Most bytes of envelope JSON held (UTF-16 code units, as JS counts them). Defaults to 16 MiB. */
  maxChars?: number;
}

const DEFAULT_MAX_EVENTS = 20_000;
const DEFAULT_MAX_CHARS = 16 * 1024 * 1024;

/**
 * The newest stretch of the log that this process already holds, so that its stream hub can tail
 * the log without a round trip per new commit (`TailRead`). Filled from the backend's own
 * deliveries: PostgreSQL's commit results and NOTIFY payloads, JetStream's ordered consumer, and
 * range reads that happen to continue it.
 *
 * Invariant: the cache holds **every** event of the log with an id in `(floorId, lastId]`, in log
 * order, and nothing else. It grows only by segments known to follow `lastId` directly, and gives
 * up (answers `undefined`, so the caller reads the log) for any position below `floorId` and
 * whenever it knows of a newer event than it holds (`noteHead`).
 */
export class TailCache<E extends EncodedEvent = EncodedEvent> {
  readonly #maxEvents: number;
  readonly #maxChars: number;
  #events: E[] = [];
  /** Index of the oldest live entry in `#events` (evicted entries before it are dropped in bulk). */
  #start = 0;
  #chars = 0;
  /** Exclusive lower bound of what is held; undefined until anchored. */
  #floorId: string | undefined;
  /** The newest id known to be in the log (from notifications, commits, polls). */
  #knownHeadId = '';

  constructor(limits: TailCacheLimits = {}) {
    this.#maxEvents = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    this.#maxChars = limits.maxChars ?? DEFAULT_MAX_CHARS;
  }

  /** The newest id held (the floor when nothing is held), or undefined before `anchor`. */
  get lastId(): string | undefined {
    return this.#start < this.#events.length ? this.#events[this.#events.length - 1]!.id : this.#floorId;
  }

  /** Events held. */
  get size(): number {
    return this.#events.length - this.#start;
  }

  /**
   * Starts (or restarts) holding the log from just after `id`: the caller knows that `id` is the
   * log's newest event at a moment from which it will see every later segment (`''` for an empty log).
   */
  anchor(id: string): void {
    this.#events = [];
    this.#start = 0;
    this.#chars = 0;
    this.#floorId = id;
    this.noteHead(id);
  }

  /** Forgets everything (e.g. after losing the backend's deliveries); `readTail` answers undefined until `anchor`. */
  clear(): void {
    this.#events = [];
    this.#start = 0;
    this.#chars = 0;
    this.#floorId = undefined;
  }

  /** Records that the log holds an event with id `id` (the cache is behind until it holds it too). */
  noteHead(id: string): void {
    if (id > this.#knownHeadId) this.#knownHeadId = id;
  }

  /**
   * Appends `events`, the log's events stored directly after `afterId`, in order. Taken only when
   * `afterId` is what the cache ends with; a segment it already holds (ending at or below its
   * last id) or one that would leave a gap is ignored. Returns whether it was taken.
   */
  extend(afterId: string, events: readonly E[]): boolean {
    const last = this.lastId;
    if (last === undefined || afterId !== last) return false;
    for (const event of events) {
      this.#events.push(event);
      this.#chars += event.json.length;
    }
    if (events.length > 0) this.noteHead(events[events.length - 1]!.id);
    this.#evict();
    return true;
  }

  /**
   * Appends the part of a complete range read that continues the cache: `events` are every event
   * of the log after `lower` (no type filter, no upper bound but the read's limit), oldest first.
   */
  extendFromRead(lower: string, events: readonly E[]): void {
    const last = this.lastId;
    if (last === undefined || lower > last || events.length === 0) return;
    let i = 0;
    while (i < events.length && events[i]!.id <= last) i++;
    // The read started at or below the cache's end, so what follows `last` in it is contiguous.
    if (i < events.length) this.extend(last, events.slice(i));
  }

  /** Drops the held events for which `gone` is true, from the oldest, stopping at the first kept. */
  dropWhile(gone: (event: E) => boolean): void {
    while (this.#start < this.#events.length && gone(this.#events[this.#start]!)) this.#dropOldest();
    this.#compact();
  }

  /**
   * The events after `afterId`, oldest first, at most `limit`; `[]` when the cache holds the whole
   * log after it; undefined when it cannot tell without reading the log (`afterId` below what it
   * holds, or it knows of a newer event than it holds).
   */
  read(afterId: string, limit: number): E[] | undefined {
    const floor = this.#floorId;
    const last = this.lastId;
    if (floor === undefined || last === undefined || afterId < floor || this.#knownHeadId > last) return undefined;
    if (afterId >= last) return [];
    // Binary search for the first held event above `afterId`.
    let lo = this.#start;
    let hi = this.#events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#events[mid]!.id <= afterId) lo = mid + 1;
      else hi = mid;
    }
    return this.#events.slice(lo, Math.min(lo + limit, this.#events.length));
  }

  #evict(): void {
    while (this.size > this.#maxEvents || (this.#chars > this.#maxChars && this.size > 1)) this.#dropOldest();
    this.#compact();
  }

  #dropOldest(): void {
    const event = this.#events[this.#start]!;
    this.#chars -= event.json.length;
    this.#floorId = event.id;
    this.#start++;
  }

  /** Reclaims the array's evicted head once it is the larger part. */
  #compact(): void {
    if (this.#start > 1024 && this.#start * 2 > this.#events.length) {
      this.#events = this.#events.slice(this.#start);
      this.#start = 0;
    }
  }
}
