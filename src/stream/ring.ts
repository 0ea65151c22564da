/**
 * The in-memory ring of the newest events the tail read, each encoded at most once per wire
 * format (lazily, on first use) and shared by every subscriber. It always holds a contiguous run
 * of the log: every event with `baseId < id <= lastId`, numbered by `seq` (the ledger's numbering).
 * Older events are evicted when the ring holds `capacity` events or `maxBytes` of payload;
 * subscribers behind it read from the store instead.
 */
import type { WireEncoder } from './wire-encoder.js';

/** One tailed event. */
export class RingEntry {
  /** Frames by encoder slot, encoded on first use. */
  private frames: (Buffer | undefined)[] = [];

  constructor(
    readonly seq: number,
    readonly id: string,
    readonly type: string,
    /** The type's index (see ledger.ts `TypeIndex`), for filter masks. */
    readonly typeIndex: number,
    /** The envelope's JSON text. */
    readonly json: string,
  ) {}

  /** The event's frame from `encoder`, encoded on first use and shared afterwards. */
  bytes(encoder: WireEncoder): Buffer {
    return (this.frames[encoder.slot] ??= encoder.event(this));
  }

  /** Memory held by this entry, counting both encodings (approximate, for the byte budget). */
  get weight(): number {
    return 3 * this.json.length + 128;
  }
}

export class EventRing {
  private readonly entries: (RingEntry | undefined)[];
  private first = 1;
  private next = 1;
  private bytes = 0;
  private base: string;

  /**
   * @param capacity Most events held.
   * @param maxBytes Most payload bytes held (approximately); at least one event is always kept.
   * @param baseId The log's head when the ring starts empty (`''` for an empty log).
   */
  constructor(
    readonly capacity: number,
    readonly maxBytes: number,
    baseId: string,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`EventRing: capacity must be a positive integer, got ${capacity}`);
    this.entries = new Array<RingEntry | undefined>(capacity);
    this.base = baseId;
  }

  /** The id just before the ring's first entry: the ring holds every event after it. */
  get baseId(): string {
    return this.base;
  }

  /** Seq of the oldest entry held (equals `nextSeq` when empty). */
  get firstSeq(): number {
    return this.first;
  }

  /** Seq the next pushed entry must have. */
  get nextSeq(): number {
    return this.next;
  }

  /** Approximate memory held (see `RingEntry.weight`). */
  get weight(): number {
    return this.bytes;
  }

  /** Events held. */
  get length(): number {
    return this.next - this.first;
  }

  /** Appends the next event; `entry.seq` must be `nextSeq`. Evicts the oldest beyond the limits. */
  push(entry: RingEntry): void {
    if (entry.seq !== this.next) throw new RangeError(`EventRing.push: expected seq ${this.next}, got ${entry.seq}`);
    if (this.next - this.first === this.capacity) this.evict();
    this.entries[entry.seq % this.capacity] = entry;
    this.next++;
    this.bytes += entry.weight;
    while (this.bytes > this.maxBytes && this.next - this.first > 1) this.evict();
  }

  /** The entry with this seq, or undefined when it is not (or no longer) held. */
  at(seq: number): RingEntry | undefined {
    if (seq < this.first || seq >= this.next) return undefined;
    return this.entries[seq % this.capacity];
  }

  /**
   * The seq of the newest entry whose id is ≤ `id` (`firstSeq - 1` when `id` is before all of
   * them), or undefined when `id` is before `baseId`, i.e. some events after it were evicted.
   */
  seqAtOrBefore(id: string): number | undefined {
    if (id < this.base) return undefined;
    let lo = this.first;
    let hi = this.next;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.entries[mid % this.capacity]!.id <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /**
   * Evicts every entry below `bound` (`< bound.id`, or `<= bound.id` when inclusive): the events
   * the store's retention deleted, so that no subscriber is served from memory an event the log no
   * longer has. Returns how many entries went.
   */
  dropBelow(bound: { id: string; inclusive: boolean }): number {
    let dropped = 0;
    while (this.first < this.next) {
      const id = this.entries[this.first % this.capacity]!.id;
      if (bound.inclusive ? id > bound.id : id >= bound.id) break;
      this.evict();
      dropped++;
    }
    return dropped;
  }

  private evict(): void {
    const slot = this.first % this.capacity;
    const entry = this.entries[slot]!;
    this.entries[slot] = undefined;
    this.bytes -= entry.weight;
    this.base = entry.id;
    this.first++;
  }
}
