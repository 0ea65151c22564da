/**
 * The `eventsource` npm package (a WHATWG-compliant EventSource) as an independent client: typed
 * events through addEventListener, reconnection with Last-Event-ID after the server goes away,
 * and the 204 that stops it after `until_id`. Every event it dispatches is validated.
 */
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/generated/catalog.js';
import { validateEventSourceEvent } from '../helpers/frames.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { eventually, ids, publish } from './clients.js';

/** Listens for every catalog type (the documented way to get every event with one handler). */
function listen(source: EventSource) {
  const received: { id: string; type: string }[] = [];
  let onmessage = 0;
  let failure: Error | undefined;
  const handler = (event: MessageEvent<string>) => {
    try {
      const frame = validateEventSourceEvent(event);
      if (frame.message === 'sseEvent') received.push({ id: frame.id, type: frame.event });
    } catch (error) {
      failure ??= error as Error;
    }
  };
  for (const type of EVENT_TYPES) source.addEventListener(type, handler);
  source.onmessage = () => onmessage++;
  return {
    received,
    onmessageCalls: () => onmessage,
    check: () => {
      if (failure) throw failure;
    },
  };
}

describe('eventsource (npm) client', () => {
  const servers: TestServer[] = [];
  const sources: EventSource[] = [];
  afterEach(async () => {
    for (const source of sources.splice(0)) source.close();
    for (const server of servers.splice(0).reverse()) await server.dispose();
  });

  it('receives typed events through addEventListener, none through onmessage', async () => {
    const server = await startTestServer();
    servers.push(server);
    const history = await publish(server, 10);
    const source = new EventSource(`${server.url}/v1/events/stream?token=sk_test_reader&since_id=${history[2]!.id}`);
    sources.push(source);
    const listener = listen(source);
    const live = await publish(server, 10);
    await eventually(() => (listener.check(), listener.received.length >= 17), 10_000, '17 events');
    expect(listener.received.map((e) => e.id)).toEqual(ids([...history.slice(3), ...live]));
    expect(listener.received.map((e) => e.type)).toEqual([...history.slice(3), ...live].map((e) => e.type));
    // Events are named by type, so onmessage (events named "message") never fires.
    expect(listener.onmessageCalls()).toBe(0);
  });

  it('reconnects after a restart and resumes with Last-Event-ID, missing nothing and repeating nothing', async () => {
    const first = await startTestServer({ retry_ms: 100 });
    servers.push(first);
    const before = await publish(first, 20);
    const source = new EventSource(`${first.url}/v1/events/stream?token=sk_test_reader&since_id=${before[0]!.id}`);
    sources.push(source);
    const listener = listen(source);
    await eventually(() => (listener.check(), listener.received.length >= 19), 10_000, '19 events');
    const opened: number[] = [];
    source.addEventListener('open', () => opened.push(Date.now()));

    await first.close();
    const second = await startTestServer({ port: first.port, store: `sqlite:${first.dbPath}`, retry_ms: 100 });
    servers.push(second);
    const after = await publish(second, 15);
    await eventually(() => (listener.check(), listener.received.length >= 34), 10_000, '34 events');
    expect(opened.length).toBeGreaterThanOrEqual(1);
    expect(listener.received.map((e) => e.id)).toEqual(ids([...before.slice(1), ...after]));
  });

  it('stops reconnecting after until_id: the stream ends with 200, the resume gets 204', async () => {
    const server = await startTestServer({ retry_ms: 50 });
    servers.push(server);
    const history = await publish(server, 8);
    const source = new EventSource(`${server.url}/v1/events/stream?token=sk_test_reader&since_id=${history[0]!.id}&until_id=${history[4]!.id}`);
    sources.push(source);
    const listener = listen(source);
    await eventually(() => source.readyState === EventSource.CLOSED, 10_000, 'the EventSource to stop');
    listener.check();
    expect(listener.received.map((e) => e.id)).toEqual(ids(history.slice(1, 5)));
  });
});
