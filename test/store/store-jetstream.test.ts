import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { JetStreamStore, type JetStreamStoreOptions } from '../../src/store/store-jetstream.js';
import type { NewEvent } from '../../src/store/store.js';
import { checkNats, NATS_URL, uniqueName } from '../helpers/services.js';
import { describeStorableContract } from './storable.contract.js';
import { describeStoreContract } from './store.contract.js';
import { waitFor } from './wait-for.js';

const service = await checkNats();

async function deleteStream(name: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '').split(',') });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}

async function withManager<T>(use: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '').split(',') });
  try {
    return await use(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

function event(type: string, n: number): NewEvent {
  return { type, source: '/jetstream', data: { n } };
}

describe.skipIf(service.skip)(`NATS JetStream backend${service.skip ? ` (skipped: ${service.reason})` : ''}`, () => {
  describeStoreContract('JetStreamStore', async () => {
    const stream = uniqueName('SS_CONTRACT');
    const store = await JetStreamStore.open(NATS_URL, { stream, pollIntervalMs: 50 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await deleteStream(stream);
      },
    };
  });

  describeStorableContract('JetStreamStore', async () => {
    const stream = uniqueName('SS_CONTRACT');
    const store = await JetStreamStore.open(NATS_URL, { stream, pollIntervalMs: 50 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await deleteStream(stream);
      },
    };
  });

  describe('JetStreamStore', () => {
    let stream = uniqueName('SS_JS');
    const opened: JetStreamStore[] = [];

    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
      await deleteStream(stream);
      stream = uniqueName('SS_JS');
    });

    async function open(options: JetStreamStoreOptions = {}): Promise<JetStreamStore> {
      const store = await JetStreamStore.open(NATS_URL, { stream, pollIntervalMs: 50, ...options });
      opened.push(store);
      return store;
    }

    it('takes the stream from the URL', async () => {
      const store = await openStore(`${NATS_URL}?stream=${stream}`);
      opened.push(store as JetStreamStore);

      expect(store.kind).toBe('jetstream');
      const { events } = await store.append([event('a', 1)]);
      expect(await (await open()).read({ limit: 10 })).toEqual(events);
    });

    it('opens a new stream from several nodes at the same moment', async () => {
      for (let round = 0; round < 3; round++) {
        const stores = await Promise.all(Array.from({ length: 4 }, () => open()));
        const { events } = await stores[0]!.append([event('a', round)]);
        for (const store of stores) expect((await store.read({ limit: 10 })).at(-1)).toEqual(events[0]);
        for (const store of opened.splice(0)) await store.close();
        await deleteStream(stream);
        stream = uniqueName('SS_JS');
      }
    });

    it('rejects with STORE_UNAVAILABLE when NATS cannot be reached', async () => {
      await expect(JetStreamStore.open('nats://127.0.0.1:1', { stream, requestTimeoutMs: 1000 })).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
      });
    });

    it('keeps ids increasing across nodes whatever their clocks', async () => {
      const ahead = await open({ clock: () => Date.now() + 60_000 });
      const behind = await open({ clock: () => Date.now() - 60_000 });

      const first = (await ahead.append([event('a', 1)])).events;
      const second = (await behind.append([event('a', 2)])).events;
      const third = (await ahead.append([event('a', 3)])).events;

      const stored = (await behind.read({ limit: 10 })).map((e) => e.id);
      expect(stored).toEqual([first[0]!.id, second[0]!.id, third[0]!.id]);
      expect([...stored].sort()).toEqual(stored);
    });

    it('wakes a watcher on another node', async () => {
      const writer = await open();
      const reader = await open({ pollIntervalMs: 60_000 });
      let calls = 0;
      const controller = new AbortController();
      await reader.watch(() => calls++, controller.signal);

      const { events } = await writer.append([event('a', 1)]);
      await waitFor(() => calls > 0, 'the consumer to deliver the other node\'s append');

      expect(await reader.read({ limit: 10 })).toEqual(events);
      controller.abort();
    });

    it('never lets a reader see an id below one it has already read (concurrent writers on several nodes)', async () => {
      const writers = await Promise.all(Array.from({ length: 4 }, (_, i) => open({ clock: () => Date.now() + (i - 2) * 50 })));
      const reader = await open();
      let stop = false;
      let cursor = '';
      const seen: string[] = [];
      const tailing = (async () => {
        while (!stop || seen.length < 4 * 25 * 5) {
          const page = await reader.read({ afterId: cursor, limit: 500 });
          for (const e of page) seen.push(e.id);
          if (page.length > 0) cursor = page.at(-1)!.id;
          else await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })();
      await Promise.all(
        writers.map(async (writer, w) => {
          for (let round = 0; round < 25; round++) {
            await Promise.all(Array.from({ length: 5 }, (_, i) => writer.append([event('a', w * 1000 + round * 10 + i)])));
          }
        }),
      );
      stop = true;
      await tailing;

      const all = (await reader.read({ limit: 10_000 })).map((e) => e.id);
      expect(all).toHaveLength(500);
      expect(seen).toEqual(all);
      // Log order is id order.
      expect([...all].sort()).toEqual(all);
    });

    it('refuses with its own error a message the server refuses, and stores the rest of its group', async () => {
      const store = await open();
      await store.append([event('a', 0)]);
      // The operator limits message size on the stream after this node opened it.
      await withManager((jsm) => jsm.streams.update(stream, { max_msg_size: 2048 }));

      const calls = [1, 2, 3, 4].map((n) => store.append([n === 2 ? { ...event('a', n), data: { big: 'x'.repeat(4096) } } : event('a', n)]));

      await expect(calls[1]).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413, details: [{ path: '', code: 'STORED_FORM_TOO_LARGE' }] });
      for (const i of [0, 2, 3]) await expect(calls[i]).resolves.toMatchObject({ replayed: false });
      expect((await store.read({ limit: 10 })).map((e) => e.data)).toEqual([{ n: 0 }, { n: 1 }, { n: 3 }, { n: 4 }]);

      // A node that opens the stream afterwards knows the limit and refuses before publishing.
      const later = await open();
      await expect(later.append([{ ...event('a', 5), data: { big: 'x'.repeat(4096) } }])).rejects.toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
        details: [{ path: '/0', code: 'STORED_FORM_TOO_LARGE' }],
      });
    });

    it('stores an unkeyed call once when a repeated key goes before it in the same group', async () => {
      const store = await open();
      await store.append([event('a', 0)], { idempotencyKey: 'k0', fingerprint: 'f0' });

      // One turn, one group: the repeat is answered from the stored copy and stores nothing; the
      // call after it must be stored exactly once.
      const [repeat, after] = await Promise.all([
        store.append([event('a', 0)], { idempotencyKey: 'k0', fingerprint: 'f0' }),
        store.append([event('a', 1)]),
      ]);

      expect(repeat.replayed).toBe(true);
      const stored = await store.read({ limit: 10 });
      expect(stored.map((e) => e.data)).toEqual([{ n: 0 }, { n: 1 }]);
      expect(stored[1]).toEqual(after.events[0]);
    });

    it('publishes a turn of unkeyed calls as one message, and a keyed call as a message of its own', async () => {
      const store = await open();
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => store.append([event('a', i)])),
        store.append([event('a', 10)], { idempotencyKey: 'k', fingerprint: 'f' }),
      ]);

      const info = await withManager((jsm) => jsm.streams.info(stream));
      expect(info.state.messages).toBe(2);
      expect((await store.read({ limit: 20 })).map((e) => e.data)).toEqual(Array.from({ length: 11 }, (_, n) => ({ n })));
    });

    it('#readTail serves what the consumer delivered, as a read of the log would, without a read', async () => {
      const writer = await open();
      const reader = await open({ pollIntervalMs: 60_000 });
      const controller = new AbortController();
      await reader.watch(() => {}, controller.signal);
      const start = (await reader.bounds()).lastId ?? '';

      const first = (await writer.append([event('a', 1), event('b', 2)])).events;
      const second = (await writer.append([event('a', 3)], { idempotencyKey: 'k', fingerprint: 'f' })).events;
      await waitFor(() => (reader.readTail(start, 10)?.length ?? 0) === 3, 'the consumer to deliver both messages');

      expect(reader.readTail(start, 10)).toEqual(await reader.readEncoded({ afterId: start, limit: 10 }));
      expect(reader.readTail(first[0]!.id, 10)!.map((e) => e.id)).toEqual([first[1]!.id, second[0]!.id]);
      controller.abort();
    });

    describe('one writer per stream', () => {
      /** Resolves once `store` sees `role`. */
      async function roleOf(store: JetStreamStore, role: 'self' | 'other'): Promise<void> {
        await waitFor(async () => {
          await store.election!.callRoll();
          return store.election!.role === role;
        }, `the node to see itself as ${role}`);
      }

      it('elects the oldest node; the others forward their appends to it and get their events back', async () => {
        const older = await open();
        const younger = await open();
        await roleOf(older, 'self');
        await roleOf(younger, 'other');
        // A copy of every forwarded group, as NATS delivers it to the writer.
        const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '').split(',') });
        const forwarded: string[] = [];
        const watch = nc.subscribe(`_specstream.${stream}.append.>`, { callback: (_error, message) => void forwarded.push(message.string()) });
        await nc.flush();
        try {
          const results = await Promise.all([1, 2, 3].map((n) => younger.append([event('a', n)])));

          expect(forwarded).toHaveLength(1);
          const stored = await older.read({ limit: 10 });
          expect(stored).toEqual(results.flatMap((r) => r.events));
          expect(stored.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
        } finally {
          watch.unsubscribe();
          await nc.close();
        }
      });

      it('answers a forwarded repeat of a key, and a conflict, as the writer would', async () => {
        const older = await open();
        const younger = await open();
        await roleOf(younger, 'other');

        const first = await older.append([event('a', 1)], { idempotencyKey: 'k', fingerprint: 'f' });
        const again = await younger.append([event('a', 1)], { idempotencyKey: 'k', fingerprint: 'f' });
        expect(again).toEqual({ events: first.events, replayed: true });
        await expect(younger.append([event('a', 2)], { idempotencyKey: 'k', fingerprint: 'other' })).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', status: 409 });
        expect(await younger.read({ limit: 10 })).toEqual(first.events);
      });

      it('publishes itself, losing and duplicating nothing, once the writer is gone', async () => {
        const older = await open();
        const younger = await open();
        await roleOf(younger, 'other');
        const before = await younger.append([event('a', 1)]);

        await older.close();
        const after = await younger.append([event('a', 2)]);

        expect((await younger.read({ limit: 10 })).map((e) => e.id)).toEqual([...before.events, ...after.events].map((e) => e.id));
        await roleOf(younger, 'self');
      });
    });

    it('filters types through subjects, with mixed-type batches included', async () => {
      const store = await open();
      const mixed = (await store.append([event('x.one', 1), event('y.two', 2)])).events;
      const single = (await store.append([event('x.one', 3)])).events;

      expect((await store.read({ types: ['x.one'], limit: 10 })).map((e) => e.data)).toEqual([{ n: 1 }, { n: 3 }]);
      expect(await store.read({ types: ['y.two'], limit: 10 })).toEqual([mixed[1]]);
      expect(await store.get(single[0]!.id)).toEqual(single[0]);
    });
  });
});
