import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { eventually, ids, openSse, publish, type SseClient, failReads } from './clients.js';

const STREAM = '/v1/events/stream';

describe('GET /v1/events/stream (SSE)', () => {
  let server: TestServer;
  const open: SseClient[] = [];
  const sse = async (path: string, headers: Record<string, string>) => {
    const client = await openSse(server, path, headers);
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startTestServer({ heartbeat_s: 1, retry_ms: 1500 });
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });
  afterAll(async () => {
    await server.dispose();
  });

  describe('connect', () => {
    it('answers 200 with the SSE headers and sends retry: first', async () => {
      const client = await sse(STREAM, server.auth('reader'));
      expect(client.status).toBe(200);
      expect(client.headers['content-type']).toBe('text/event-stream');
      expect(client.headers['cache-control']).toBe('no-cache');
      expect(client.headers.connection).toBe('keep-alive');
      expect(client.headers['x-accel-buffering']).toBe('no');
      await client.waitFor((c) => c.frames.length >= 1, 'the first frame');
      expect(client.frames[0]).toEqual({ message: 'sseRetry', retry: 1500 });
    });

    it('sends : heartbeat every heartbeat_s', async () => {
      const client = await sse(STREAM, server.auth('reader'));
      const started = Date.now();
      await client.waitFor((c) => c.frames.filter((f) => f.message === 'sseHeartbeat').length >= 2, 'two heartbeats', 15_000);
      // Two heartbeats at 1 s intervals: about 2 s, never much sooner.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    });

    it('accepts the key as ?token= for browsers', async () => {
      const client = await sse(`${STREAM}?token=sk_test_reader`, {});
      expect(client.status).toBe(200);
    });
  });

  describe('refusals before the stream', () => {
    it.each([
      ['no credentials', '', {}, 401, 'AUTH_REQUIRED'],
      ['a type the key may not read', '?types=token.issued', { key: 'grants' }, 403, 'FORBIDDEN'],
      ['until without since', '?until=2026-01-01T00:00:00Z', {}, 400, 'UNTIL_REQUIRES_SINCE'],
      ['a malformed since_id', '?since_id=evt_nope', {}, 400, 'INVALID_EVENT_ID'],
      ['a malformed Last-Event-ID', '', { lastEventId: 'nope' }, 400, 'INVALID_EVENT_ID'],
      ['an unknown type', '?types=nope.nothing', {}, 400, 'UNKNOWN_EVENT_TYPE'],
      ['types longer than the spec allows', `?types=${'grant.*,'.repeat(200)}grant.created`, {}, 400, 'VALIDATION_FAILED'],
    ] as const)('answers %s with the JSON error', async (_name, query, options: { key?: 'grants'; lastEventId?: string }, status, code) => {
      const headers: Record<string, string> = query === '' && !('key' in options) && !('lastEventId' in options) ? {} : server.auth(options.key ?? 'reader');
      if (options.lastEventId !== undefined) headers['Last-Event-ID'] = options.lastEventId;
      const client = await sse(`${STREAM}${query}`, headers);
      await client.waitForEnd();
      expect(client.status).toBe(status);
      expect(client.headers['content-type']).toMatch(/^application\/json/);
      expect(client.json().code).toBe(code);
      expect(server.hub.subscriberCount).toBe(0);
    });
  });

  describe('positions', () => {
    it('is live only without a starting point', async () => {
      await publish(server, 5);
      const client = await sse(STREAM, server.auth('reader'));
      await client.waitFor((c) => c.frames.length >= 1, 'retry');
      await eventually(() => server.hub.subscriberCount >= 1, 2000, 'the subscription');
      const live = await publish(server, 3);
      await client.waitForEvents(3);
      expect(ids(client.events)).toEqual(ids(live));
    });

    it('sends history from since_id, then live, without gap or duplicate', async () => {
      const history = await publish(server, 30);
      const client = await sse(`${STREAM}?since_id=${history[9]!.id}`, server.auth('reader'));
      await client.waitForEvents(20);
      const live = await publish(server, 5);
      await client.waitForEvents(25);
      expect(ids(client.events)).toEqual(ids([...history.slice(10), ...live]));
    });

    it('sends history from since (a time, inclusive)', async () => {
      const before = await publish(server, 3);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const since = new Date().toISOString();
      await new Promise((resolve) => setTimeout(resolve, 5));
      const after = await publish(server, 4);
      const client = await sse(`${STREAM}?since=${since}`, server.auth('reader'));
      await client.waitForEvents(4);
      expect(ids(client.events)).toEqual(ids(after));
      expect(ids(client.events)).not.toContain(before[2]!.id);
    });

    it.each([
      ['the Last-Event-ID header', (id: string) => ['', { 'Last-Event-ID': id }] as const],
      ['last_event_id', (id: string) => [`?last_event_id=${id}`, {}] as const],
      ['lastEventId', (id: string) => [`?lastEventId=${id}`, {}] as const],
      ['lastEventID', (id: string) => [`?lastEventID=${id}`, {}] as const],
    ])('resumes after %s, which takes precedence over since_id', async (_name, make) => {
      const history = await publish(server, 10);
      const [query, headers] = make(history[6]!.id);
      const separator = query === '' ? '?' : '&';
      const client = await sse(`${STREAM}${query}${separator}since_id=${history[1]!.id}`, { ...server.auth('reader'), ...headers });
      await client.waitForEvents(3);
      expect(ids(client.events.slice(0, 3))).toEqual(ids(history.slice(7)));
    });

    it('filters by types, globs included, in history and live', async () => {
      const history = await publish(server, 20);
      const client = await sse(`${STREAM}?types=grant.*,security.alert&since_id=${history[0]!.id}`, server.auth('reader'));
      const live = await publish(server, 20);
      const wanted = [...history.slice(1), ...live].filter((e) => e.type.startsWith('grant.') || e.type === 'security.alert');
      await client.waitForEvents(wanted.length);
      expect(ids(client.events)).toEqual(ids(wanted));
    });
  });

  describe('until', () => {
    it('ends with 200 once until_id is delivered', async () => {
      const history = await publish(server, 10);
      const client = await sse(`${STREAM}?since_id=${history[1]!.id}&until_id=${history[5]!.id}`, server.auth('reader'));
      await client.waitForEnd();
      expect(client.status).toBe(200);
      expect(ids(client.events)).toEqual(ids(history.slice(2, 6)));
    });

    it('ends with 200 after until (a time) even when no later event arrives', async () => {
      const since = new Date(Date.now() - 60_000).toISOString();
      const until = new Date(Date.now() + 300).toISOString();
      const client = await sse(`${STREAM}?since=${since}&until=${until}&types=budget.exhausted`, server.auth('reader'));
      const live = await publish(server, 2, { types: ['budget.exhausted'] });
      await client.waitForEnd(5000);
      expect(client.status).toBe(200);
      expect(ids(client.events)).toEqual(ids(live));
    });

    it('answers 204 to a resume point already at or past until_id', async () => {
      const history = await publish(server, 5);
      const client = await sse(`${STREAM}?since_id=${history[0]!.id}&until_id=${history[3]!.id}`, {
        ...server.auth('reader'),
        'Last-Event-ID': history[3]!.id,
      });
      await client.waitForEnd();
      expect(client.status).toBe(204);
      expect(client.body).toBe('');
    });
  });

  describe('frames', () => {
    it('keeps data on one line whatever the payload holds', async () => {
      const response = await fetch(`${server.url}/v1/events`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...server.auth('writer') },
        body: JSON.stringify({
          type: 'audit_log.created',
          data: { entryId: 'e1', actor: { type: 'user', id: 'u' }, action: 'x\n\nevent: forged\ndata: {}\r\n', target: 't\u2028' },
        }),
      });
      const stored = (await response.json()) as { id: string };
      const client = await sse(`${STREAM}?last_event_id=${idBefore(stored.id)}`, server.auth('reader'));
      await client.waitForEvents(1);
      expect(client.events[0]!.id).toBe(stored.id);
      expect((client.events[0]!.data as { action: string }).action).toBe('x\n\nevent: forged\ndata: {}\r\n');
    });
  });
});

describe('SSE limits and faults', () => {
  let server: TestServer;
  afterEach(async () => {
    await server.dispose();
  });

  it('answers 429 TOO_MANY_CONNECTIONS beyond max_connections_per_key and max_connections', async () => {
    server = await startTestServer({ max_connections: 3, max_connections_per_key: 2 });
    const clients = [
      await openSse(server, STREAM, server.auth('reader')),
      await openSse(server, STREAM, server.auth('reader')),
    ];
    const perKey = await openSse(server, STREAM, server.auth('reader'));
    await perKey.waitForEnd();
    expect(perKey.status).toBe(429);
    expect(perKey.json().code).toBe('TOO_MANY_CONNECTIONS');
    clients.push(await openSse(server, STREAM, server.auth('admin')));
    const total = await openSse(server, STREAM, server.auth('grants'));
    await total.waitForEnd();
    expect(total.status).toBe(429);
    // A slot comes back when a stream closes.
    clients.shift()!.close();
    await eventually(() => server.hub.subscriberCount === 2, 2000, 'the closed stream to be forgotten');
    const again = await openSse(server, STREAM, server.auth('reader'));
    expect(again.status).toBe(200);
    for (const client of [...clients, again]) client.close();
  });

  it('ends a stream idle for idle_timeout_s', async () => {
    server = await startTestServer({ idle_timeout_s: 1, heartbeat_s: 1 });
    const client = await openSse(server, STREAM, server.auth('reader'));
    const started = Date.now();
    await client.waitForEnd(5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(client.frames.some((f) => f.message === 'sseInternalError')).toBe(false);
  });

  it('sends : internal server error and closes when the store fails mid-stream', async () => {
    // A small ring, so that the history is read from the store.
    server = await startTestServer({ ring_size: 16 });
    const history = await publish(server, 40);
    // Only stream reads with a type filter fail; the hub's tail keeps working.
    failReads(server, (query) => query.types !== undefined);
    const client = await openSse(server, `${STREAM}?types=grant.*&since_id=${history[0]!.id}`, server.auth('reader'));
    await client.waitForEnd();
    expect(client.status).toBe(200);
    expect(client.frames.map((f) => f.message)).toEqual(['sseRetry', 'sseInternalError']);
    expect(server.hub.subscriberCount).toBe(0);
  });

  it('ends streams cleanly on close, and a client resumes on another server with Last-Event-ID', async () => {
    server = await startTestServer();
    const first = await publish(server, 20);
    const client = await openSse(server, `${STREAM}?since_id=${first[0]!.id}`, server.auth('reader'));
    await client.waitForEvents(19);
    await server.close();
    await client.waitForEnd();
    expect(client.frames.some((f) => f.message === 'sseInternalError')).toBe(false);
    const last = client.events.at(-1)!.id;

    const other = await startTestServer({ store: `sqlite:${server.dbPath}` });
    try {
      const more = await publish(other, 7);
      const resumed = await openSse(other, STREAM, { ...other.auth('reader'), 'Last-Event-ID': last });
      await resumed.waitForEvents(7);
      expect(ids([...client.events, ...resumed.events])).toEqual(ids([...first.slice(1), ...more]));
      resumed.close();
    } finally {
      await other.close();
    }
  });
});

/** An id just below `id` (same time, random part minus one), for "resume right before this event". */
function idBefore(id: string): string {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const chars = id.split('');
  for (let i = chars.length - 1; i >= 4; i--) {
    const index = alphabet.indexOf(chars[i]!);
    if (index > 0) {
      chars[i] = alphabet[index - 1]!;
      return chars.join('');
    }
    chars[i] = 'Z';
  }
  throw new Error(`no id before ${id}`);
}
