/**
 * The SDK's `connect()` against a real server (in-process, port 0): typed events over SSE and
 * WebSocket, state events, typed errors without retry, the end of a bounded stream, silence as a
 * dead connection, and `close()`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BadRequestError,
  connect,
  ForbiddenError,
  UnauthorizedError,
  type Subscription,
} from '../../src/client/index.js';
import { reach, take } from './helpers.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { ids, publish } from '../stream/clients.js';

const transports = ['sse', 'ws'] as const;

describe.each(transports)('connect() over %s', (transport) => {
  let server: TestServer;
  const open: Subscription[] = [];
  afterEach(async () => {
    for (const subscription of open.splice(0)) subscription.close();
    await server?.dispose();
  });
  const sub = (options: Omit<Parameters<typeof connect>[0], 'url' | 'transport'>) => {
    const subscription = connect({ url: server.url, transport, ...options });
    open.push(subscription);
    return subscription;
  };

  it('delivers history then live events, typed by the catalog, with state events', async () => {
    server = await startTestServer();
    const history = await publish(server, 5);
    const subscription = sub({ token: 'sk_test_reader', sinceId: history[0]!.id });
    const states: string[] = [];
    subscription.on('state', (change) => states.push(change.state));
    const first = await take(subscription, 4);
    const live = await publish(server, 3);
    const rest = await take(subscription, 3);
    expect(ids([...first, ...rest])).toEqual(ids([...history.slice(1), ...live]));
    const event = first[0]!;
    if (event.type === 'token.issued') expect(typeof event.data.tokenId).toBe('string');
    expect(subscription.lastEventId).toBe(live[2]!.id);
    expect(states).toEqual(['connecting', 'open']);
    subscription.close();
    expect(states).toEqual(['connecting', 'open', 'closed']);
    expect(await subscription.next()).toEqual({ value: undefined, done: true });
  });

  it('filters by type globs', async () => {
    server = await startTestServer();
    const history = await publish(server, 10);
    const subscription = sub({ token: 'sk_test_reader', types: ['grant.*'], sinceId: history[0]!.id });
    const got = await take(subscription, 3);
    const want = history.slice(1).filter((e) => e.type.startsWith('grant.'));
    expect(ids(got)).toEqual(ids(want).slice(0, 3));
  });

  it('ends when until_id is reached', async () => {
    server = await startTestServer();
    const history = await publish(server, 6);
    const subscription = sub({ token: 'sk_test_reader', sinceId: history[0]!.id, untilId: history[3]!.id });
    const closed = reach(subscription, 'closed');
    const got = await take(subscription, 100);
    expect(ids(got)).toEqual(ids(history.slice(1, 4)));
    expect((await closed).error).toBeUndefined();
  });

  it.each([
    ['401 as UnauthorizedError', { token: 'sk_wrong' }, UnauthorizedError, 'AUTH_REQUIRED'],
    ['403 as ForbiddenError', { token: 'sk_test_grants', types: ['token.*'] }, ForbiddenError, 'FORBIDDEN'],
    ['400 as BadRequestError', { token: 'sk_test_reader', until: '2026-01-01T00:00:00Z' }, BadRequestError, 'UNTIL_REQUIRES_SINCE'],
  ] as const)('surfaces %s without retrying', async (_name, options, Kind, code) => {
    server = await startTestServer();
    const subscription = sub(options);
    const states: string[] = [];
    subscription.on('state', (change) => states.push(change.state));
    const error = await subscription.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Kind);
    if (code && transport === 'sse') expect((error as UnauthorizedError).code).toBe(code);
    expect(states).toEqual(['connecting', 'closed']);
    expect(subscription.state).toBe('closed');
  });
});

describe('connect() over ws with a resume point', () => {
  let server: TestServer;
  afterEach(async () => server?.dispose());

  it('classifies a refused upgrade without sending the resume point to HEAD (which does not take one)', async () => {
    server = await startTestServer();
    const [event] = await publish(server, 1);
    const subscription = connect({ url: server.url, transport: 'ws', token: 'sk_wrong', lastEventId: event!.id });
    await expect(subscription.next()).rejects.toBeInstanceOf(UnauthorizedError);
  });
});

describe('connect() liveness', () => {
  let fake: Server | undefined;
  afterEach(() => fake?.close());

  it('treats silence past heartbeatTimeoutMs as a dead connection and reconnects with Last-Event-ID', async () => {
    const requests: (string | undefined)[] = [];
    fake = createServer((req, res) => {
      requests.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.flushHeaders();
      const event = { specversion: '1.0', id: 'evt_01JF3K9Y6Q2W8E4R5T7Y9U1I3O', type: 'grant.created', source: '/g', time: '2026-01-01T00:00:00Z', datacontenttype: 'application/json', data: {} };
      if (requests.length === 1) res.write(`id: ${event.id}\nevent: grant.created\ndata: ${JSON.stringify(event)}\n\n`);
      // then silence
    });
    fake.listen(0, '127.0.0.1');
    await new Promise((resolve) => fake!.once('listening', resolve));
    const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    const subscription = connect({ url, heartbeatTimeoutMs: 200, backoff: { initialMs: 10, maxMs: 20 } });
    const reconnecting = reach(subscription, 'reconnecting');
    expect(ids(await take(subscription, 1))).toEqual(['evt_01JF3K9Y6Q2W8E4R5T7Y9U1I3O']);
    const pending = subscription.next();
    const change = await reconnecting;
    expect((change.error as { code: string }).code).toBe('STALE_CONNECTION');
    await reach(subscription, 'open');
    expect(requests).toEqual([undefined, 'evt_01JF3K9Y6Q2W8E4R5T7Y9U1I3O']);
    subscription.close();
    expect(await pending).toEqual({ value: undefined, done: true });
  });
});
