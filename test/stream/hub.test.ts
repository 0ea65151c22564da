import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { NewEvent, Store } from '../../src/store/store.js';
import { SqliteStore } from '../../src/store/store-sqlite.js';
import { Hub, planStream } from '../../src/stream/hub.js';
import type { SubscriberTransport } from '../../src/stream/subscriber.js';
import { nativeBundle, nativeEncoder } from '../helpers/encoders.js';
import { SseFrameReader } from '../helpers/frames.js';
import { eventually } from './clients.js';

const events: NewEvent[] = [
  { type: 'grant.created', source: '/grants', subject: 'grnt_1', data: { grantId: 'grnt_1', userId: 'u', scopes: ['a:b'] } },
  { type: 'token.issued', source: '/tokens', data: { tokenId: 't', grantId: 'grnt_1', expiresAt: '2026-03-01T13:00:00.000Z' } },
];

/** An SSE transport feeding a frame reader; `write` answers what `writable()` says, `drain` is delivered by `drain(listener)`. */
function readerTransport(options: { writable?: () => boolean; drain?: (listener: () => void) => void } = {}) {
  const reader = new SseFrameReader();
  const transport: SubscriberTransport = {
    format: 'sse',
    encoder: nativeEncoder('sse'),
    bufferedBytes: 0,
    write: (bytes) => {
      reader.feed(bytes);
      return options.writable?.() ?? true;
    },
    onceDrain: (listener) => (options.drain ?? ((l) => setImmediate(l)))(listener),
    writeDropped: () => true,
    end: () => {},
    fault: (code) => {
      throw new Error(code);
    },
    expire: (code) => {
      throw new Error(code);
    },
  };
  return { reader, transport };
}

function hubOn(store: Store, overrides: Partial<Config> = {}): Hub {
  const config = { ...loadConfig({ argv: [], env: {} }), ...overrides };
  return new Hub({ store, config, metrics: new Metrics(), logger: createLogger('silent'), served: { bundle: nativeBundle() } });
}

describe('Hub', () => {
  it('streams through read + JSON.stringify when the store lacks readEncoded', async () => {
    const sqlite = SqliteStore.open(':memory:');
    // A store with only the Store interface (no EncodedRead capability).
    const store: Store = {
      kind: 'plain',
      append: (e, o) => sqlite.append(e, o),
      read: (q) => sqlite.read(q),
      get: (id) => sqlite.get(id),
      bounds: () => sqlite.bounds(),
      lastIdOf: (types) => sqlite.lastIdOf(types),
      watch: (f, s) => sqlite.watch(f, s),
      applyRetention: (p) => sqlite.applyRetention(p),
      ping: () => sqlite.ping(),
      close: () => sqlite.close(),
    };
    const hub = hubOn(store, { ring_size: 16 });
    await hub.start();
    const history = (await store.append(Array.from({ length: 40 }, (_, i) => events[i % 2]!))).events;
    const { reader, transport } = readerTransport();
    hub.admit('k');
    hub.subscribe(transport, 'k', planStream({ types: [], allTypes: true, hasStart: true, afterId: history[4]!.id }));
    const live = (await store.append([events[0]!, events[1]!])).events;
    await eventually(() => reader.events.length === 37, 5000, '37 events');
    expect(reader.events.map((e) => JSON.stringify(e))).toEqual([...history.slice(5), ...live].map((e) => JSON.stringify(e)));
    await hub.close();
    await store.close();
  });

  it('resumes a subscriber whose socket drains at once, while it reads the next batch ahead', async () => {
    const store = SqliteStore.open(':memory:');
    const hub = hubOn(store, { ring_size: 16 });
    await hub.start();
    const history = (await store.append(Array.from({ length: 7000 }, (_, i) => events[i % 2]!))).events;
    // Every write fills the socket, and the drain comes on the next tick (a write the kernel took whole).
    const { reader, transport } = readerTransport({ writable: () => false, drain: (listener) => process.nextTick(listener) });
    hub.admit('k');
    hub.subscribe(transport, 'k', planStream({ types: [], allTypes: true, hasStart: true, afterId: '' }));
    await eventually(() => reader.events.length === history.length, 10_000, `${history.length} events (have ${reader.events.length})`);
    expect(reader.events.at(-1)!.id).toBe(history.at(-1)!.id);
    await hub.close();
    await store.close();
  });
});
