import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { idUpperBoundAt, isEventId, timeOfId } from '../../src/store/event-id.js';
import type { NewEvent, Store, StoredEvent } from '../../src/store/store.js';
import { waitFor, waitUntilClockPasses } from './wait-for.js';

/** What a backend's test file hands to the contract: a fresh, empty store and how to dispose of it. */
export interface StoreFixture {
  store: Store;
  /** Closes the store (if the test did not) and removes whatever `open` created. */
  cleanup: () => Promise<void>;
}

const ENVELOPE_KEYS = ['specversion', 'id', 'type', 'source', 'time', 'datacontenttype', 'data'];
const ENVELOPE_KEYS_WITH_SUBJECT = ['specversion', 'id', 'type', 'source', 'subject', 'time', 'datacontenttype', 'data'];

/** A small event; `n` makes each one distinguishable. */
function event(type: string, n: number, subject?: string): NewEvent {
  return subject === undefined
    ? { type, source: '/contract', data: { n } }
    : { type, source: '/contract', subject, data: { n, nested: { list: [1, 'two', null] } } };
}

function ids(events: readonly StoredEvent[]): string[] {
  return events.map((e) => e.id);
}

function expectStrictlyIncreasing(values: readonly string[]): void {
  for (let i = 1; i < values.length; i++) {
    if (!(values[i]! > values[i - 1]!)) {
      throw new Error(`ids not strictly increasing at ${i}: ${values[i - 1]} then ${values[i]}`);
    }
  }
}

/** Resolves with the whole log (tests keep it small). */
async function readAll(store: Store): Promise<StoredEvent[]> {
  return store.read({ limit: 10_000 });
}

/**
 * The behaviour every Store backend promises (see src/store/store.ts). Each backend's test file
 * calls this with a factory for a fresh, empty store; every test gets its own.
 */
export function describeStoreContract(name: string, open: () => Promise<StoreFixture>): void {
  describe(name, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });

    afterEach(async () => {
      await cleanup();
    });

    /**
     * Two batches of six events of types a, b, c (twice each), the second batch logged in a later
     * millisecond than the first, so that time bounds can split them.
     */
    async function seedTwoBatches(): Promise<{ first: StoredEvent[]; second: StoredEvent[]; all: StoredEvent[] }> {
      const types = ['a', 'b', 'c', 'a', 'b', 'c'];
      const first = (await store.append(types.map((t, i) => event(t, i)))).events;
      await waitUntilClockPasses(timeOfId(first.at(-1)!.id));
      const second = (await store.append(types.map((t, i) => event(t, 10 + i)))).events;
      return { first, second, all: [...first, ...second] };
    }

    describe('#append', () => {
      it('resolves with CloudEvents envelopes in the order given', async () => {
        const given = [event('a', 1), event('b', 2, 'sub_1'), event('c', 3)];
        const result = await store.append(given);

        expect(result.replayed).toBe(false);
        expect(result.events).toHaveLength(3);
        result.events.forEach((stored, i) => {
          const input = given[i]!;
          expect(Object.keys(stored)).toEqual(input.subject === undefined ? ENVELOPE_KEYS : ENVELOPE_KEYS_WITH_SUBJECT);
          expect(stored).toEqual({
            specversion: '1.0',
            id: stored.id,
            type: input.type,
            source: input.source,
            ...(input.subject === undefined ? {} : { subject: input.subject }),
            time: stored.time,
            datacontenttype: 'application/json',
            data: input.data,
          });
        });
      });

      it('assigns valid, strictly increasing ids whose timestamp is the time', async () => {
        const first = (await store.append([event('a', 1), event('a', 2)])).events;
        const second = (await store.append([event('a', 3)])).events;
        const all = [...first, ...second];

        for (const stored of all) {
          expect(isEventId(stored.id)).toBe(true);
          expect(stored.time).toBe(new Date(timeOfId(stored.id)).toISOString());
        }
        expectStrictlyIncreasing(ids(all));
        expect(ids(await readAll(store))).toEqual(ids(all));
      });

      it('gives concurrent calls unique ids, increasing in resolution order and in read order', async () => {
        const resolved: string[] = [];
        const calls = Array.from({ length: 200 }, (_, i) =>
          store.append(i % 3 === 0 ? [event('a', i), event('b', i)] : [event('c', i)]).then((result) => {
            resolved.push(...ids(result.events));
            return result;
          }),
        );
        const results = await Promise.all(calls);

        expect(new Set(resolved).size).toBe(resolved.length);
        expectStrictlyIncreasing(resolved);
        expect(ids(await readAll(store))).toEqual(resolved);
        // Call order is id order.
        expectStrictlyIncreasing(results.map((r) => r.events[0]!.id));
      });

      it('makes a batch visible all at once', async () => {
        const batchSize = 5;
        const seenLengths: number[] = [];
        const controller = new AbortController();
        await store.watch(() => {
          void readAll(store).then((events) => seenLengths.push(events.length));
        }, controller.signal);

        const appends: Promise<unknown>[] = [];
        for (let round = 0; round < 10; round++) {
          for (let call = 0; call < 3; call++) {
            appends.push(store.append(Array.from({ length: batchSize }, (_, i) => event('a', round * 100 + call * 10 + i))));
            seenLengths.push((await readAll(store)).length);
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
        await Promise.all(appends);
        await waitFor(() => seenLengths.includes(30 * batchSize), 'a read that sees every batch');
        controller.abort();

        expect(seenLengths.filter((n) => n % batchSize !== 0)).toEqual([]);
      });

      it('stores nothing of a call that fails, and the other calls of the same turn in full', async () => {
        const accepted = store.append([event('a', 1)], { idempotencyKey: 'k1', fingerprint: 'f1' });
        const conflicting = store.append([event('b', 2), event('b', 3), event('b', 4)], {
          idempotencyKey: 'k1',
          fingerprint: 'f2',
        });
        const other = store.append([event('c', 5), event('c', 6)]);

        await expect(conflicting).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
        const stored = [...(await accepted).events, ...(await other).events];
        expect(ids(await readAll(store))).toEqual(ids(stored));
      });

      it('rejects after close with STORE_CLOSED', async () => {
        await store.close();

        await expect(store.append([event('a', 1)])).rejects.toMatchObject({ code: 'STORE_CLOSED' });
      });
    });

    describe('#append with an idempotency key', () => {
      it('returns the first result with replayed: true and stores the events once', async () => {
        const options = { idempotencyKey: 'key-1', fingerprint: 'digest-1' };
        const first = await store.append([event('a', 1), event('b', 2, 'sub')], options);
        const again = await store.append([event('a', 1), event('b', 2, 'sub')], options);

        expect(first.replayed).toBe(false);
        expect(again).toEqual({ events: first.events, replayed: true });
        expect(await readAll(store)).toEqual(first.events);
      });

      it('rejects with IDEMPOTENCY_CONFLICT when the fingerprint differs, storing nothing', async () => {
        const first = await store.append([event('a', 1)], { idempotencyKey: 'key-1', fingerprint: 'digest-1' });

        await expect(
          store.append([event('a', 2)], { idempotencyKey: 'key-1', fingerprint: 'digest-2' }),
        ).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', status: 409 });
        expect(await readAll(store)).toEqual(first.events);
      });

      it('treats the same key twice in one turn as two calls in sequence', async () => {
        const options = { idempotencyKey: 'key-1', fingerprint: 'digest-1' };
        const [first, second] = await Promise.all([
          store.append([event('a', 1), event('a', 2)], options),
          store.append([event('a', 1), event('a', 2)], options),
        ]);

        expect(first.replayed).toBe(false);
        expect(second).toEqual({ events: first.events, replayed: true });
        expect(await readAll(store)).toEqual(first.events);
      });

      it('keeps keys apart', async () => {
        const first = await store.append([event('a', 1)], { idempotencyKey: 'key-1', fingerprint: 'same' });
        const second = await store.append([event('a', 1)], { idempotencyKey: 'key-2', fingerprint: 'same' });

        expect(second.replayed).toBe(false);
        expect(ids(await readAll(store))).toEqual([...ids(first.events), ...ids(second.events)]);
      });
    });

    describe('#read', () => {
      it('returns events oldest first, at most limit', async () => {
        const { all } = await seedTwoBatches();

        expect(await store.read({ limit: 100 })).toEqual(all);
        expect(await store.read({ limit: 4 })).toEqual(all.slice(0, 4));
      });

      it('starts after afterId, exclusive', async () => {
        const { all } = await seedTwoBatches();

        expect(ids(await store.read({ afterId: all[2]!.id, limit: 100 }))).toEqual(ids(all.slice(3)));
        expect(await store.read({ afterId: all.at(-1)!.id, limit: 100 })).toEqual([]);
      });

      it('starts at since, inclusive', async () => {
        const { all, second } = await seedTwoBatches();
        const since = new Date(second[0]!.time);
        const expected = all.filter((e) => Date.parse(e.time) >= since.getTime());

        expect(expected).toEqual(second);
        expect(ids(await store.read({ since, limit: 100 }))).toEqual(ids(expected));
      });

      it('ends at untilId, inclusive', async () => {
        const { all } = await seedTwoBatches();

        expect(ids(await store.read({ untilId: all[4]!.id, limit: 100 }))).toEqual(ids(all.slice(0, 5)));
      });

      it('ends at until, inclusive', async () => {
        const { all, first } = await seedTwoBatches();
        const until = new Date(first.at(-1)!.time);
        const expected = all.filter((e) => Date.parse(e.time) <= until.getTime());

        expect(expected).toEqual(first);
        expect(ids(await store.read({ until, limit: 100 }))).toEqual(ids(expected));
      });

      it('applies the later of afterId and since, and the earlier of untilId and until', async () => {
        const { all, first, second } = await seedTwoBatches();

        expect(ids(await store.read({ afterId: all[2]!.id, since: new Date(0), limit: 100 }))).toEqual(
          ids(all.slice(3)),
        );
        expect(ids(await store.read({ afterId: all[0]!.id, since: new Date(second[0]!.time), limit: 100 }))).toEqual(
          ids(second),
        );
        expect(
          ids(await store.read({ untilId: all.at(-2)!.id, until: new Date(first.at(-1)!.time), limit: 100 })),
        ).toEqual(ids(first));
        expect(
          ids(await store.read({ untilId: all[1]!.id, until: new Date(second.at(-1)!.time), limit: 100 })),
        ).toEqual(ids(all.slice(0, 2)));
      });

      it('filters by types', async () => {
        const { all } = await seedTwoBatches();

        expect(ids(await store.read({ types: ['a'], limit: 100 }))).toEqual(ids(all.filter((e) => e.type === 'a')));
        expect(ids(await store.read({ types: ['c', 'a'], limit: 100 }))).toEqual(
          ids(all.filter((e) => e.type !== 'b')),
        );
        expect(await store.read({ types: ['not.stored'], limit: 100 })).toEqual([]);
      });

      it('returns [] for an empty types array', async () => {
        await seedTwoBatches();

        expect(await store.read({ types: [], limit: 100 })).toEqual([]);
      });

      it('combines types, bounds and limit', async () => {
        const { all } = await seedTwoBatches();
        const afterId = all[1]!.id;
        const untilId = all[10]!.id;
        const expected = all.filter((e) => e.id > afterId && e.id <= untilId && e.type !== 'c').slice(0, 4);

        expect(expected).toHaveLength(4);
        expect(ids(await store.read({ afterId, untilId, types: ['a', 'b'], limit: 4 }))).toEqual(ids(expected));
      });

      it('returns [] for a range that holds no event', async () => {
        const { all } = await seedTwoBatches();

        expect(await store.read({ afterId: all[3]!.id, untilId: all[3]!.id, limit: 100 })).toEqual([]);
        expect(await store.read({ since: new Date(Date.now() + 60_000), limit: 100 })).toEqual([]);
        expect(await store.read({ until: new Date(timeOfId(all[0]!.id) - 1), limit: 100 })).toEqual([]);
      });

      it('rejects a limit that is not a positive integer with a RangeError', async () => {
        await expect(store.read({ limit: 0 })).rejects.toBeInstanceOf(RangeError);
        await expect(store.read({ limit: 1.5 })).rejects.toBeInstanceOf(RangeError);
      });

      it('rejects after close with STORE_CLOSED', async () => {
        await store.close();

        await expect(store.read({ limit: 1 })).rejects.toMatchObject({ code: 'STORE_CLOSED' });
      });
    });

    describe('#get', () => {
      it('returns the stored event by id', async () => {
        const { events } = await store.append([event('a', 1), event('b', 2, 'sub')]);

        expect(await store.get(events[1]!.id)).toEqual(events[1]);
      });

      it('returns undefined for an id not in the log', async () => {
        await store.append([event('a', 1)]);

        expect(await store.get(idUpperBoundAt(Date.now() + 60_000))).toBeUndefined();
      });

      it('rejects after close with STORE_CLOSED', async () => {
        await store.close();

        await expect(store.get(idUpperBoundAt(0))).rejects.toMatchObject({ code: 'STORE_CLOSED' });
      });
    });

    describe('#bounds', () => {
      it('has neither bound when the log is empty', async () => {
        const bounds = await store.bounds();

        expect(bounds.firstId).toBeUndefined();
        expect(bounds.lastId).toBeUndefined();
      });

      it('returns the oldest and newest ids', async () => {
        const { all } = await seedTwoBatches();

        expect(await store.bounds()).toEqual({ firstId: all[0]!.id, lastId: all.at(-1)!.id });
      });

      it('rejects after close with STORE_CLOSED', async () => {
        await store.close();

        await expect(store.bounds()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
      });
    });

    describe('#lastIdOf', () => {
      it('returns the newest retained id among the types, of no other type', async () => {
        // Single-type batches and mixed ones: backends may store them differently.
        await store.append([event('a', 1)]);
        const mixed = (await store.append([event('b', 2), event('a', 3), event('c', 4)])).events;
        const b5 = (await store.append([event('b', 5), event('b', 6)])).events;
        const c7 = (await store.append([event('c', 7)])).events;

        expect(await store.lastIdOf(['a'])).toBe(mixed[1]!.id);
        expect(await store.lastIdOf(['b'])).toBe(b5[1]!.id);
        expect(await store.lastIdOf(['a', 'c'])).toBe(c7[0]!.id);
        expect(await store.lastIdOf(['a', 'a'])).toBe(mixed[1]!.id);
        expect(await store.lastIdOf(undefined)).toBe(c7[0]!.id);
        expect(await store.lastIdOf(['d'])).toBeUndefined();
        expect(await store.lastIdOf([])).toBeUndefined();
      });

      it('forgets what retention deleted', async () => {
        await store.append([event('a', 1)]);
        await store.append([event('b', 2), event('a', 3)]);
        const kept = (await store.append([event('b', 4)])).events;
        await store.applyRetention({ maxCount: 1 });

        expect(await store.lastIdOf(['a'])).toBeUndefined();
        expect(await store.lastIdOf(['b'])).toBe(kept[0]!.id);
      });

      it('is undefined for an empty log', async () => {
        expect(await store.lastIdOf(['a'])).toBeUndefined();
        expect(await store.lastIdOf(undefined)).toBeUndefined();
      });

      it('rejects after close with STORE_CLOSED', async () => {
        await store.close();

        await expect(store.lastIdOf(['a'])).rejects.toMatchObject({ code: 'STORE_CLOSED' });
      });
    });

    describe('#watch', () => {
      it('calls onAppend after an append', async () => {
        let calls = 0;
        const controller = new AbortController();
        await store.watch(() => calls++, controller.signal);

        await store.append([event('a', 1)]);
        await waitFor(() => calls > 0, 'onAppend');
        controller.abort();
      });

      it.each([
        ['an append made just before it', 'before'],
        ['an append made just after it', 'after'],
      ] as const)('misses nothing: a read after it resolves sees %s, or it wakes for it', async (_, order) => {
        let calls = 0;
        const controller = new AbortController();
        let appended: Promise<{ events: StoredEvent[] }> | undefined;
        if (order === 'before') appended = store.append([event('a', 1)]);
        const watching = store.watch(() => calls++, controller.signal);
        if (order === 'after') appended = store.append([event('a', 1)]);
        await watching;
        const seen = await readAll(store);
        const { events } = await appended!;

        if (seen.length === 0) await waitFor(() => calls > 0, 'onAppend for the append not yet seen');
        else expect(seen).toEqual(events);
        expect(await readAll(store)).toEqual(events);
        controller.abort();
      });

      it('stops calling onAppend once the signal aborts', async () => {
        let stoppedCalls = 0;
        let liveCalls = 0;
        const stopped = new AbortController();
        const live = new AbortController();
        await store.watch(() => stoppedCalls++, stopped.signal);
        await store.watch(() => liveCalls++, live.signal);

        stopped.abort();
        await store.append([event('a', 1)]);
        await waitFor(() => liveCalls > 0, 'the live watcher');
        await new Promise((resolve) => setImmediate(resolve));

        expect(stoppedCalls).toBe(0);
        live.abort();
      });

      it('resolves without watching when the signal is already aborted', async () => {
        let calls = 0;
        const controller = new AbortController();
        const other = new AbortController();
        let otherCalls = 0;
        controller.abort();
        await store.watch(() => calls++, controller.signal);
        await store.watch(() => otherCalls++, other.signal);

        await store.append([event('a', 1)]);
        await waitFor(() => otherCalls > 0, 'the other watcher');

        expect(calls).toBe(0);
        other.abort();
      });

      it('rejects after close with STORE_CLOSED', async () => {
        await store.close();

        await expect(store.watch(() => {}, new AbortController().signal)).rejects.toMatchObject({
          code: 'STORE_CLOSED',
        });
      });
    });

    describe('#applyRetention', () => {
      it('keeps the newest maxCount events and resolves with how many went', async () => {
        const { all } = await seedTwoBatches();

        expect(await store.applyRetention({ maxCount: 4 })).toBe(all.length - 4);
        expect(await readAll(store)).toEqual(all.slice(-4));
        expect(await store.bounds()).toEqual({ firstId: all.at(-4)!.id, lastId: all.at(-1)!.id });
        expect(await store.applyRetention({ maxCount: 4 })).toBe(0);
      });

      it('deletes events older than maxAgeMs', async () => {
        const old = (await store.append([event('a', 1), event('b', 2)])).events;
        const oldTime = timeOfId(old.at(-1)!.id);
        await waitUntilClockPasses(oldTime + 60);
        const recent = (await store.append([event('a', 3)])).events;
        // The cut-off (now - maxAgeMs) lands about 30 ms after the old events, well before the recent one.
        const maxAgeMs = Date.now() - oldTime - 30;

        expect(await store.applyRetention({ maxAgeMs })).toBe(2);
        expect(await readAll(store)).toEqual(recent);
      });

      it('applies both limits together', async () => {
        const old = (await store.append([event('a', 1), event('b', 2)])).events;
        const oldTime = timeOfId(old.at(-1)!.id);
        await waitUntilClockPasses(oldTime + 60);
        const recent = (await store.append([event('a', 3), event('a', 4), event('a', 5)])).events;
        const maxAgeMs = Date.now() - oldTime - 30;

        expect(await store.applyRetention({ maxAgeMs, maxCount: 2 })).toBe(3);
        expect(await readAll(store)).toEqual(recent.slice(1));
      });

      it('deletes nothing when no limit is set', async () => {
        const { all } = await seedTwoBatches();

        expect(await store.applyRetention({})).toBe(0);
        expect(await store.applyRetention({ maxAgeMs: 0, maxCount: 0 })).toBe(0);
        expect(await readAll(store)).toEqual(all);
      });

      it('keeps ids increasing after it empties the log', async () => {
        const before = (await store.append([event('a', 1)])).events;
        await waitUntilClockPasses(timeOfId(before[0]!.id) + 2);

        expect(await store.applyRetention({ maxAgeMs: 1 })).toBe(1);
        expect(await store.bounds()).toEqual({});
        const after = (await store.append([event('a', 2)])).events;
        expect(after[0]!.id > before[0]!.id).toBe(true);
      });

      it('rejects after close with STORE_CLOSED', async () => {
        await store.close();

        await expect(store.applyRetention({ maxCount: 1 })).rejects.toMatchObject({ code: 'STORE_CLOSED' });
      });
    });

    describe('#ping', () => {
      it('resolves while the store is open', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('rejects after close with STORE_CLOSED', async () => {
        await store.close();

        await expect(store.ping()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
      });
    });

    describe('#close', () => {
      it('does not throw if called multiple times', async () => {
        await store.close();
        await expect(store.close()).resolves.toBeUndefined();
      });

      it('commits appends made before it, before it resolves', async () => {
        const pending = store.append([event('a', 1), event('a', 2)]);
        await store.close();

        const { events } = await pending;
        expect(events).toHaveLength(2);
        expectStrictlyIncreasing(ids(events));
      });

      it('makes every method reject with STORE_CLOSED', async () => {
        await store.close();
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['append', () => store.append([event('a', 1)])],
          ['read', () => store.read({ limit: 1 })],
          ['get', () => store.get(idUpperBoundAt(0))],
          ['bounds', () => store.bounds()],
          ['lastIdOf', () => store.lastIdOf(['a'])],
          ['watch', () => store.watch(() => {}, new AbortController().signal)],
          ['applyRetention', () => store.applyRetention({})],
          ['ping', () => store.ping()],
        ];

        for (const [method, call] of calls) {
          await expect(call(), method).rejects.toMatchObject({ code: 'STORE_CLOSED' });
        }
      });
    });
  });
}
