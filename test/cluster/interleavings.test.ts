/**
 * Property: however writers on two nodes interleave (concurrent calls on either node, batches of
 * any size, idempotency keys repeated within and across nodes, calls left in flight while the
 * next ones start), the shared log has one global order and a reader tailing it on either node
 * sees that order: both readers see the identical sequence, ids strictly increasing, every
 * acknowledged event once (no gap, no duplicate), byte for byte what a fresh read returns.
 *
 * The nodes are two store instances over one log (as two server processes would hold them); each
 * reader tails like the stream hub: woken by `watch`, it takes what the store already holds
 * (`readTail`) or else reads the log after its position.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import type { AppendResult, EncodedEvent, EncodedRead, NewEvent, Store, StoredEvent, TailRead } from '../../src/store/store.js';
import { storeBackends } from '../helpers/store-backends.js';
import { waitFor } from '../store/wait-for.js';

const backends = (await storeBackends()).filter((backend) => backend.name !== 'sqlite');

type Node = Store & EncodedRead & Partial<TailRead>;

/** A tail like the hub's: coalesced wake-ups, `readTail` first, reads of the log otherwise. */
class Reader {
  readonly events: EncodedEvent[] = [];
  private head = '';
  private reading = false;
  private again = false;
  private readonly controller = new AbortController();
  failure: unknown;

  constructor(private readonly store: Node) {}

  async start(): Promise<void> {
    await this.store.watch(() => this.wake(), this.controller.signal);
    this.wake();
  }

  stop(): void {
    this.controller.abort();
  }

  get lastId(): string {
    return this.head;
  }

  private wake(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    void this.run();
  }

  private async run(): Promise<void> {
    try {
      do {
        this.again = false;
        let read: EncodedEvent[];
        do {
          read = this.store.readTail?.(this.head, 50) ?? (await this.store.readEncoded({ afterId: this.head, limit: 50 }));
          this.events.push(...read);
          if (read.length > 0) this.head = read.at(-1)!.id;
        } while (read.length === 50);
      } while (this.again);
    } catch (error) {
      this.failure = error;
    } finally {
      this.reading = false;
    }
  }
}

/** One step: `calls` appends made in one turn on `node`, each of `size` events; awaited or left in flight. */
interface Step {
  node: 0 | 1;
  calls: Array<{ size: number; key: number | undefined }>;
  wait: boolean;
}

const step: fc.Arbitrary<Step> = fc.record({
  node: fc.constantFrom(0 as const, 1 as const),
  calls: fc.array(fc.record({ size: fc.integer({ min: 1, max: 4 }), key: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }) }), {
    minLength: 1,
    maxLength: 6,
  }),
  wait: fc.boolean(),
});

/** The events of a call: a keyed call always sends the same events (so a repeat replays it). */
function eventsOf(size: number, key: number | undefined, n: number): NewEvent[] {
  return Array.from({ length: size }, (_, i) => ({
    type: i % 2 === 0 ? 'a.one' : 'b.two',
    source: '/interleavings',
    ...(i === 1 ? { subject: `s "${n}" é` } : {}),
    data: key === undefined ? { n, i } : { key, i },
  }));
}

describe.each(backends)('random interleavings of writers on two nodes ($name)', ({ service, fresh }) => {
  it.skipIf(service.skip)('keep one global order with no gap and no duplicate for readers on both nodes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps) => {
        const log = fresh();
        const nodes = (await Promise.all([openStore(log.store!), openStore(log.store!)])) as Node[];
        const readers = nodes.map((node) => new Reader(node));
        try {
          await Promise.all(readers.map((reader) => reader.start()));
          const inFlight: Array<Promise<{ result: AppendResult; key: number | undefined; size: number }>> = [];
          let n = 0;
          for (const { node, calls, wait } of steps) {
            const made = calls.map(({ size, key }) => {
              const events = key === undefined ? eventsOf(size, key, n++) : eventsOf(key + 1, key, 0);
              const options = key === undefined ? {} : { idempotencyKey: `k${key}`, fingerprint: `f${key}` };
              return nodes[node]!.append(events, options).then((result) => ({ result, key, size: events.length }));
            });
            inFlight.push(...made);
            if (wait) await Promise.all(made);
          }
          const outcomes = await Promise.all(inFlight);

          // Each key stored once; every repeat replays exactly what the first stored.
          const stored: StoredEvent[] = [];
          const byKey = new Map<number, StoredEvent[]>();
          for (const { result, key } of outcomes) {
            if (!result.replayed) stored.push(...result.events);
            if (key === undefined) continue;
            const first = byKey.get(key);
            if (first === undefined) byKey.set(key, result.events);
            else expect(result.events).toEqual(first);
          }
          expect(outcomes.filter((o) => o.key !== undefined && !o.result.replayed).length).toBe(byKey.size);

          const last = stored.map((e) => e.id).sort().at(-1)!;
          await waitFor(() => readers.every((reader) => reader.failure !== undefined || reader.lastId >= last), 'both readers to reach the newest event', 30_000);
          for (const reader of readers) expect(reader.failure).toBeUndefined();

          const whole = await nodes[0]!.readEncoded({ limit: 100_000 });
          const ids = whole.map((e) => e.id);
          for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
          expect(new Set(ids)).toEqual(new Set(stored.map((e) => e.id)));
          expect(ids).toHaveLength(stored.length);
          // Both readers: the same events, in the same order, as the log holds them.
          expect(readers[0]!.events).toEqual(whole);
          expect(readers[1]!.events).toEqual(whole);
          // What each append answered is what the log holds.
          const json = new Map(whole.map((e) => [e.id, e.json]));
          for (const event of stored) expect(json.get(event.id)).toBe(JSON.stringify(event));
        } finally {
          for (const reader of readers) reader.stop();
          await Promise.all(nodes.map((node) => node.close()));
          await log.cleanup();
        }
      }),
      { numRuns: 15, endOnFailure: false },
    );
  }, 300_000);
});
