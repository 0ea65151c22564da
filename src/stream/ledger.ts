/**
 * A compact record of every event the hub's tail has seen: its id and type, 27 bytes per event,
 * no payload. The hub numbers tailed events 1, 2, 3, … (`seq`, shared with the ring), and the
 * ledger answers two questions the store cannot once retention has deleted events:
 *
 * - **What did a subscriber miss?** A subscriber reading from the store asks for events after its
 *   cursor; if the ledger lists events of its types between the cursor and the first event the
 *   store returned, those were deleted before it read them. That is the `dropped` count, and the
 *   first and last missing ids, exactly, with no guessing from timestamps.
 * - **How far behind is a subscriber?** `seq(head) - seq(cursor)`, for the lag metric and the WS
 *   `status` frame's `queue_depth`.
 *
 * The ledger knows the events after `coverageStartId`: the head of the log when the hub started,
 * or the last id it forgot when it outgrew `capacity` (oldest events are forgotten first, in
 * chunks). Memory is bounded by `capacity` × 27 bytes (27 MB for a million events).
 */

const ID_PREFIX = 'evt_';
const ID_BYTES = 26;
/** Entries per chunk; a chunk is forgotten as a whole. */
const CHUNK = 4096;

interface Chunk {
  /** Seq of the chunk's first entry. */
  firstSeq: number;
  length: number;
  /** `length` × 26 ASCII bytes: the ULID part of each id. */
  ids: Buffer;
  /** The type index of each entry (see `TypeIndex`). */
  types: Uint8Array;
  /** How many entries of each type index the chunk holds, to count whole chunks without scanning them. */
  counts: Uint32Array;
}

/** What a range of the ledger holds for one type filter. */
export interface LedgerSpan {
  count: number;
  firstId?: string;
  lastId?: string;
  /**
   * True when the range starts before the ledger's coverage, so events older than
   * `coverageStartId` may have matched too and `count` is a lower bound.
   */
  partial: boolean;
}

/** The index shared by every type past the 255th (see `TypeIndex`). */
export const OVERFLOW_INDEX = 255;

/**
 * Small integer indexes for event types, so the ledger stores one byte per event and a filter is
 * a 256-entry mask. At most 255 distinct types have their own index; later ones share
 * `OVERFLOW_INDEX`, which no mask selects: a filtered subscriber's drop counts and lag never
 * include them (an undercount, never another type's id), and ring delivery matches them by name
 * (`Subscriber.wants`).
 */
export class TypeIndex {
  private readonly indexes = new Map<string, number>();

  /** The type's index, assigned on first use. */
  of(type: string): number {
    let index = this.indexes.get(type);
    if (index === undefined) {
      index = Math.min(this.indexes.size, OVERFLOW_INDEX);
      this.indexes.set(type, index);
    }
    return index;
  }

  /** A mask for `types` (`mask[index] === 1` when selected), or undefined for every type. */
  mask(types: readonly string[] | undefined): Uint8Array | undefined {
    if (types === undefined) return undefined;
    const mask = new Uint8Array(256);
    for (const type of types) {
      const index = this.of(type);
      if (index !== OVERFLOW_INDEX) mask[index] = 1;
    }
    return mask;
  }
}

export class EventLedger {
  private readonly chunks: Chunk[] = [];
  private size = 0;
  private nextSeq = 1;
  private coverageStart: string;
  private readonly probe = Buffer.alloc(ID_BYTES);

  /**
   * @param capacity Events remembered; older ones are forgotten a chunk (4096) at a time. At least one chunk.
   * @param startId The log's head when tailing starts (events after it will be appended); `''` for an empty log.
   */
  constructor(
    readonly capacity: number,
    startId: string,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`EventLedger: capacity must be a positive integer, got ${capacity}`);
    this.coverageStart = startId;
  }

  /** The ledger knows every event with an id greater than this (exclusive bound). */
  get coverageStartId(): string {
    return this.coverageStart;
  }

  /** Events remembered. */
  get length(): number {
    return this.size;
  }

  /** Seq of the newest entry (0 before any). */
  get headSeq(): number {
    return this.nextSeq - 1;
  }

  /** Records the next tailed event; ids must increase. Returns its seq. */
  append(id: string, typeIndex: number): number {
    let chunk = this.chunks.at(-1);
    if (chunk === undefined || chunk.length === CHUNK) {
      chunk = {
        firstSeq: this.nextSeq,
        length: 0,
        ids: Buffer.allocUnsafe(CHUNK * ID_BYTES),
        types: new Uint8Array(CHUNK),
        counts: new Uint32Array(256),
      };
      this.chunks.push(chunk);
    }
    chunk.ids.write(id.slice(ID_PREFIX.length), chunk.length * ID_BYTES, ID_BYTES, 'latin1');
    chunk.types[chunk.length] = typeIndex;
    chunk.counts[typeIndex]!++;
    chunk.length++;
    this.size++;
    while (this.size - (this.chunks[0]?.length ?? 0) >= this.capacity && this.chunks.length > 1) {
      const dropped = this.chunks.shift()!;
      this.size -= dropped.length;
      this.coverageStart = idAt(dropped, dropped.length - 1);
    }
    return this.nextSeq++;
  }

  /**
   * The seq of the newest entry whose id is ≤ `id`, which is the number of events up to `id` the
   * hub has tailed; the first entry's seq minus one when `id` is before every entry. Undefined
   * when `id` is older than the ledger's coverage (it cannot tell).
   */
  seqAtOrBefore(id: string): number | undefined {
    if (id < this.coverageStart) return undefined;
    const firstSeq = this.chunks[0]?.firstSeq ?? this.nextSeq;
    const position = this.countAtOrBefore(id);
    return firstSeq - 1 + position;
  }

  /**
   * The entries matching `mask` with `afterId < id` and id below `upper` (`< upper.id`, or
   * `<= upper.id` when `upper.inclusive`).
   */
  span(afterId: string, upper: { id: string; inclusive: boolean }, mask: Uint8Array | undefined): LedgerSpan {
    const partial = afterId < this.coverageStart;
    const start = partial ? 0 : this.countAtOrBefore(afterId);
    const end = upper.inclusive ? this.countAtOrBefore(upper.id) : this.countBefore(upper.id);
    const span: LedgerSpan = { count: 0, partial };
    let lastChunk: Chunk | undefined;
    let lastIndex = 0;
    let position = 0;
    for (const chunk of this.chunks) {
      if (position >= end) break;
      const from = Math.max(start - position, 0);
      const to = Math.min(end - position, chunk.length);
      for (let i = from; i < to; i++) {
        if (mask !== undefined && mask[chunk.types[i]!] !== 1) continue;
        if (span.count === 0) span.firstId = idAt(chunk, i);
        span.count++;
        lastChunk = chunk;
        lastIndex = i;
      }
      position += chunk.length;
    }
    if (lastChunk !== undefined) span.lastId = idAt(lastChunk, lastIndex);
    return span;
  }

  /**
   * How many entries matching `mask` (every type when undefined) have `afterId < id <= throughId`.
   * Whole chunks are counted from their per-type totals, so this costs O(chunks × 256), not
   * O(entries). A lower bound when `afterId` is older than the coverage.
   */
  count(afterId: string, throughId: string, mask: Uint8Array | undefined): number {
    const start = afterId < this.coverageStart ? 0 : this.countAtOrBefore(afterId);
    const end = this.countAtOrBefore(throughId);
    if (end <= start) return 0;
    if (mask === undefined) return end - start;
    const indexes: number[] = [];
    for (let i = 0; i < 256; i++) if (mask[i] === 1) indexes.push(i);
    let total = 0;
    let position = 0;
    for (const chunk of this.chunks) {
      const chunkEnd = position + chunk.length;
      if (chunkEnd <= start) {
        position = chunkEnd;
        continue;
      }
      if (position >= end) break;
      if (position >= start && chunkEnd <= end) {
        for (const index of indexes) total += chunk.counts[index]!;
      } else {
        const from = Math.max(start - position, 0);
        const to = Math.min(end - position, chunk.length);
        for (let i = from; i < to; i++) if (mask[chunk.types[i]!] === 1) total++;
      }
      position = chunkEnd;
    }
    return total;
  }

  /** How many entries have an id ≤ `id`. */
  private countAtOrBefore(id: string): number {
    return this.search(id, true);
  }

  /** How many entries have an id < `id`. */
  private countBefore(id: string): number {
    return this.search(id, false);
  }

  private search(id: string, inclusive: boolean): number {
    if (this.size === 0) return 0;
    // Ids outside `evt_<26>` compare by their string value; '' is before everything.
    if (!id.startsWith(ID_PREFIX)) return id < ID_PREFIX ? 0 : this.size;
    const probe = this.probe;
    probe.fill(0);
    probe.write(id.slice(ID_PREFIX.length, ID_PREFIX.length + ID_BYTES), 0, 'latin1');
    const longer = id.length > ID_PREFIX.length + ID_BYTES;
    // Binary search over chunks by their last entry, then within the chunk.
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (this.before(chunk, chunk.length - 1, inclusive, longer)) lo = mid + 1;
      else hi = mid;
    }
    let position = 0;
    for (let c = 0; c < lo; c++) position += this.chunks[c]!.length;
    const chunk = this.chunks[lo];
    if (chunk === undefined) return position;
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (this.before(chunk, mid, inclusive, longer)) a = mid + 1;
      else b = mid;
    }
    return position + a;
  }

  /** True when entry `i` of `chunk` counts (id < probe, or ≤ probe when inclusive). */
  private before(chunk: Chunk, i: number, inclusive: boolean, probeLonger: boolean): boolean {
    const order = chunk.ids.compare(this.probe, 0, ID_BYTES, i * ID_BYTES, (i + 1) * ID_BYTES);
    if (order !== 0) return order < 0;
    // Equal 26 bytes: the entry equals the probe unless the probe id has trailing characters.
    return inclusive || probeLonger;
  }
}

function idAt(chunk: Chunk, i: number): string {
  return ID_PREFIX + chunk.ids.toString('latin1', i * ID_BYTES, (i + 1) * ID_BYTES);
}
