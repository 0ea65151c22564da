import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/store-postgres.js';
import type { NewEvent } from '../../src/store/store.js';
import { idLowerBoundAt, isEventId, timeOfId } from '../../src/store/event-id.js';
import { checkPostgres, POSTGRES_URL, uniqueName } from '../helpers/services.js';
import { describeStorableContract } from './storable.contract.js';
import { describeStoreContract } from './store.contract.js';
import { waitFor } from './wait-for.js';

const service = await checkPostgres();

/** A raw connection for looking under the hood and dropping schemas. */
async function admin(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  return client;
}

async function dropSchema(schema: string): Promise<void> {
  const client = await admin();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

function event(type: string, n: number): NewEvent {
  return { type, source: '/postgres', data: { n } };
}

describe.skipIf(service.skip)(`PostgreSQL backend${service.skip ? ` (skipped: ${service.reason})` : ''}`, () => {
  describeStoreContract('PostgresStore', async () => {
    const schema = uniqueName('ss_contract');
    const store = await PostgresStore.open(POSTGRES_URL, { schema, pollIntervalMs: 50 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropSchema(schema);
      },
    };
  });

  describeStorableContract('PostgresStore', async () => {
    const schema = uniqueName('ss_contract');
    const store = await PostgresStore.open(POSTGRES_URL, { schema, pollIntervalMs: 50 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropSchema(schema);
      },
    };
  });

  describe('PostgresStore', () => {
    let schema: string;
    const opened: PostgresStore[] = [];

    beforeAll(() => {
      schema = uniqueName('ss_pg');
    });

    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
      await dropSchema(schema);
      schema = uniqueName('ss_pg');
    });

    afterAll(async () => {
      await dropSchema(schema);
    });

    async function open(options: PostgresStoreOptions = {}): Promise<PostgresStore> {
      const store = await PostgresStore.open(POSTGRES_URL, { schema, pollIntervalMs: 50, ...options });
      opened.push(store);
      return store;
    }

    describe('.open', () => {
      it('migrates once when several nodes open a new schema at the same moment', async () => {
        const stores = await Promise.all(Array.from({ length: 4 }, () => open()));
        await stores[0]!.append([event('a', 1)]);

        for (const store of stores) expect(await store.read({ limit: 10 })).toHaveLength(1);
        const client = await admin();
        try {
          const { rows } = await client.query(`SELECT version FROM "${schema}".schema_version`);
          expect(rows).toEqual([{ version: 2 }]);
        } finally {
          await client.end();
        }
      });

      it('refuses a schema newer than it knows', async () => {
        await (await open()).close();
        const client = await admin();
        try {
          await client.query(`UPDATE "${schema}".schema_version SET version = 99`);
        } finally {
          await client.end();
        }

        await expect(open()).rejects.toThrow('schema version 99');
      });

      it('rejects with STORE_UNAVAILABLE when the server cannot be reached', async () => {
        await expect(
          PostgresStore.open('postgres://postgres@127.0.0.1:1/test', { schema, connectTimeoutMs: 1000 }),
        ).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      });

      it('upgrades a version-1 schema in place and continues its ids above the stored head', async () => {
        const first = (await (await open()).append([event('a', 1)])).events[0]!;
        // As version 1 left it: no group-commit function.
        const client = await admin();
        try {
          await client.query(`DROP FUNCTION "${schema}".append_group; DROP FUNCTION "${schema}".ss_b32_8; DROP FUNCTION "${schema}".ss_b32_decode`);
          await client.query(`UPDATE "${schema}".schema_version SET version = 1`);
        } finally {
          await client.end();
        }

        const store = await open();
        const second = (await store.append([event('a', 2)])).events[0]!;
        expect(second.id > first.id).toBe(true);
        expect((await store.read({ limit: 10 })).map((e) => e.id)).toEqual([first.id, second.id]);
      });

      it('takes the schema from the URL', async () => {
        const store = await openStore(`${POSTGRES_URL}?schema=${schema}`, { pollIntervalMs: 50 });
        opened.push(store as PostgresStore);

        expect(store.kind).toBe('postgres');
        await store.append([event('a', 1)]);
        const client = await admin();
        try {
          const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".events`);
          expect(rows).toEqual([{ n: 1 }]);
        } finally {
          await client.end();
        }
      });
    });

    describe('two instances on one schema (two nodes)', () => {
      it('keep ids increasing across nodes whatever their clocks', async () => {
        const ahead = await open({ clock: () => Date.now() + 60_000 });
        const behind = await open({ clock: () => Date.now() - 60_000 });

        const first = (await ahead.append([event('a', 1)])).events;
        const second = (await behind.append([event('a', 2)])).events;
        const third = (await ahead.append([event('a', 3)])).events;

        const stored = (await behind.read({ limit: 10 })).map((e) => e.id);
        expect(stored).toEqual([first[0]!.id, second[0]!.id, third[0]!.id]);
        expect([...stored].sort()).toEqual(stored);
      });

      it('wake each other through LISTEN/NOTIFY', async () => {
        const writer = await open();
        const reader = await open({ pollIntervalMs: 60_000 });
        let calls = 0;
        const controller = new AbortController();
        await reader.watch(() => calls++, controller.signal);

        const { events } = await writer.append([event('a', 1)]);
        await waitFor(() => calls > 0, 'the notification from the other node');

        expect(await reader.read({ limit: 10 })).toEqual(events);
        controller.abort();
      });

      it('never let a reader see an id below one it has already read (concurrent writers)', async () => {
        const writers = await Promise.all(Array.from({ length: 4 }, (_, i) => open({ clock: () => Date.now() + (i - 2) * 50 })));
        const reader = await open();
        let stop = false;
        let cursor = '';
        const seen: string[] = [];
        const tailing = (async () => {
          while (!stop || seen.length < 4 * 50 * 5) {
            const page = await reader.read({ afterId: cursor, limit: 500 });
            for (const e of page) seen.push(e.id);
            if (page.length > 0) cursor = page.at(-1)!.id;
            else await new Promise((resolve) => setTimeout(resolve, 1));
          }
        })();
        await Promise.all(
          writers.map(async (writer, w) => {
            for (let round = 0; round < 50; round++) {
              await Promise.all(Array.from({ length: 5 }, (_, i) => writer.append([event('a', w * 1000 + round * 10 + i)])));
            }
          }),
        );
        stop = true;
        await tailing;

        // Reading with a cursor (afterId) would silently skip an id committed below it: the tail
        // must have seen every stored event, in id order.
        const all = (await reader.read({ limit: 10_000 })).map((e) => e.id);
        expect(all).toHaveLength(1000);
        expect(seen).toEqual(all);
      // Log order is id order.
      expect([...all].sort()).toEqual(all);
      });
    });

    describe('ids assigned by the commit', () => {
      /** Stores `lastId` as the log's head, as another node's commit would have. */
      async function setHead(lastId: string): Promise<void> {
        const client = await admin();
        try {
          await client.query(`UPDATE "${schema}".log_head SET last_id = $1`, [lastId]);
        } finally {
          await client.end();
        }
      }

      it('continue the head in its millisecond when this node\'s clock is behind it', async () => {
        const store = await open();
        // Stored by a node whose clock is a minute ahead.
        const head = `${idLowerBoundAt(Date.now() + 60_000).slice(0, 14)}00000000ZZZZZZZX`;
        await setHead(head);

        const { events } = await store.append([event('a', 1), event('a', 2), event('a', 3)]);
        // The random part counts on from the head's, carrying into its upper half.
        expect(events.map((e) => e.id.slice(14))).toEqual(['00000000ZZZZZZZY', '00000000ZZZZZZZZ', '0000000100000000']);
        for (const stored of events) {
          expect(isEventId(stored.id)).toBe(true);
          expect(timeOfId(stored.id)).toBe(timeOfId(head));
          expect(stored.time).toBe(new Date(timeOfId(head)).toISOString());
        }
      });

      it('move to the next millisecond when the head\'s has no room left', async () => {
        const store = await open();
        const head = `${idLowerBoundAt(Date.now() + 60_000).slice(0, 14)}ZZZZZZZZZZZZZZZY`;
        await setHead(head);

        const { events } = await store.append([event('a', 1), event('a', 2)]);
        expect(timeOfId(events[0]!.id)).toBe(timeOfId(head) + 1);
        expect(events[0]!.id > head && events[1]!.id > events[0]!.id).toBe(true);
        expect(events.every((e) => isEventId(e.id))).toBe(true);
      });

      it('start from the node\'s clock with a fresh random part once the clock passes the head', async () => {
        const store = await open();
        const before = Date.now();
        const { events } = await store.append([event('a', 1), event('a', 2)]);

        expect(timeOfId(events[0]!.id)).toBeGreaterThanOrEqual(before);
        expect(events[1]!.id > events[0]!.id).toBe(true);
      });
    });

    describe('#readTail', () => {
      it('serves another node\'s commits from their notifications, as a read of the log would', async () => {
        const writer = await open();
        const reader = await open({ pollIntervalMs: 60_000 });
        const controller = new AbortController();
        let wakes = 0;
        await reader.watch(() => wakes++, controller.signal);
        const start = (await reader.bounds()).lastId ?? '';

        const { events } = await writer.append([event('a', 1), event('b', 2)]);
        await waitFor(() => wakes > 0 && (reader.readTail(start, 10)?.length ?? 0) === 2, 'the notification to carry the events');

        expect(reader.readTail(start, 10)).toEqual(await reader.readEncoded({ afterId: start, limit: 10 }));
        expect(reader.readTail(start, 10)!.map((e) => e.id)).toEqual(events.map((e) => e.id));
        controller.abort();
      });

      it('follows another node\'s commit too large to notify by reading exactly its events', async () => {
        const writer = await open();
        const reader = await open({ pollIntervalMs: 60_000 });
        const controller = new AbortController();
        await reader.watch(() => {}, controller.signal);
        const start = (await reader.bounds()).lastId ?? '';

        const { events } = await writer.append([{ type: 'a', source: '/postgres', data: { big: 'x'.repeat(9000) } }, event('b', 2)]);
        await waitFor(() => reader.readTail(start, 10)?.length === 2, 'the reader to follow the commit');

        expect(reader.readTail(start, 10)).toEqual(await reader.readEncoded({ afterId: start, limit: 10 }));
        expect(reader.readTail(start, 10)!.map((e) => e.id)).toEqual(events.map((e) => e.id));
        controller.abort();
      });

      it('puts its own commit in after another node\'s that came first', async () => {
        const a = await open({ pollIntervalMs: 60_000 });
        const b = await open({ pollIntervalMs: 60_000 });
        const controller = new AbortController();
        await a.watch(() => {}, controller.signal);
        await b.watch(() => {}, controller.signal);
        const start = (await a.bounds()).lastId ?? '';

        // Concurrent groups on both nodes, several times, small and too large to notify.
        const big = { type: 'a', source: '/postgres', data: { big: 'x'.repeat(9000) } };
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).append(i % 3 === 0 ? [big] : [event('a', i), event('b', i)])),
        );
        const ids = results.flatMap((r) => r.events.map((e) => e.id)).sort();
        for (const node of [a, b]) {
          await waitFor(() => node.readTail(start, 100)?.at(-1)?.id === ids.at(-1), 'the cache to hold every commit');
          expect(node.readTail(start, 100)).toEqual(await node.readEncoded({ afterId: start, limit: 100 }));
        }
        controller.abort();
      });

      it('serves a node\'s own commits without a read', async () => {
        const store = await open({ pollIntervalMs: 60_000 });
        const controller = new AbortController();
        await store.watch(() => {}, controller.signal);

        const first = (await store.append([event('a', 1)])).events;
        const second = (await store.append([{ type: 'a', source: '/postgres', data: { big: 'x'.repeat(9000) } }])).events;
        expect(store.readTail('', 10)?.map((e) => e.id)).toEqual([...first, ...second].map((e) => e.id));
        controller.abort();
      });
    });

    describe('#append', () => {
      it('refuses with its own error a call the database refuses, and stores the rest of its group', async () => {
        const store = await open();
        await store.append([event('a', 0)]);
        const client = await admin();
        try {
          await client.query(`CREATE FUNCTION "${schema}".poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.subject = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$`);
          await client.query(`CREATE TRIGGER poison BEFORE INSERT ON "${schema}".events FOR EACH ROW EXECUTE FUNCTION "${schema}".poison()`);
        } finally {
          await client.end();
        }

        // One turn of the event loop: one group commit, one transaction.
        const calls = [1, 2, 3, 4].map((n) => store.append([{ ...event('a', n), subject: n === 2 ? 'poison' : `s${n}` }]));

        await expect(calls[1]).rejects.toMatchObject({ code: 'VALIDATION_FAILED', status: 400, details: [{ path: '', code: 'REFUSED_BY_STORE' }] });
        for (const i of [0, 2, 3]) await expect(calls[i]).resolves.toMatchObject({ replayed: false });
        const stored = await store.read({ limit: 10 });
        expect(stored.map((e) => e.subject ?? null)).toEqual([null, 's1', 's3', 's4']);
        expect(stored.map((e) => e.id)).toEqual([...stored.map((e) => e.id)].sort());
      });

      it('rejects with STORE_UNAVAILABLE, storing nothing, when its connections are cut', async () => {
        const store = await open();
        await store.append([event('a', 1)]);
        const client = await admin();
        try {
          await client.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND pid <> pg_backend_pid()`,
            [`specstream ${schema}`],
          );
        } finally {
          await client.end();
        }
        // Idle pooled connections were cut: the pool drops them and reconnects.
        const { events } = await store.append([event('a', 2)]);
        expect((await store.read({ limit: 10 })).map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
        expect(events).toHaveLength(1);
      });
    });
  });
});
