/**
 * The SSE stream operation (natively `GET /v1/events/stream`) of each test bundle
 * (test/helpers/bundles.ts): connect, refusals, positions, resume, filters, until, frames, limits
 * and faults.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/bundle/yaml-document.js';
import { BUNDLE_CASES, type RoleQuery } from '../helpers/bundles.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { eventually, ids, openSse, publish, type SseClient, failReads } from './clients.js';

describe.each(BUNDLE_CASES)('the SSE stream operation (%s bundle)', (_name, b) => {
  let server: TestServer;
  const open: SseClient[] = [];
  const sse = async (path: string, headers: Record<string, string>) => {
    const client = await openSse(server, path, headers);
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startTestServer({ heartbeat_s: 1, retry_ms: 1500 }, b);
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });
  afterAll(async () => {
    await server.dispose();
  });

  describe('connect', () => {
    it('answers 200 with the SSE headers and sends retry: first', async () => {
      const client = await sse(b.path('sse'), server.auth('reader'));
      expect(client.status).toBe(200);
      expect(client.headers['content-type']).toBe('text/event-stream');
      expect(client.headers['cache-control']).toBe('no-cache');
      expect(client.headers.connection).toBe('keep-alive');
      expect(client.headers['x-accel-buffering']).toBe('no');
      await client.waitFor((c) => c.received.length >= 1, 'the first frame');
      expect(client.received[0]).toEqual({ role: 'retry', retry: 1500 });
    });

    it('sends a heartbeat comment every heartbeat_s', async () => {
      const client = await sse(b.path('sse'), server.auth('reader'));
      const started = Date.now();
      await client.waitFor((c) => c.roles.filter((role) => role === 'heartbeat').length >= 2, 'two heartbeats', 15_000);
      // Two heartbeats at 1 s intervals: about 2 s, never much sooner.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    });

    it('accepts the key as a query token for browsers', async () => {
      const client = await sse(b.path('sse', {}, server.queryAuth('reader')), {});
      expect(client.status).toBe(200);
    });
  });

  describe('refusals before the stream', () => {
    const [grant] = b.types.family;
    it.each([
      ['no credentials', {}, {}, 401, 'AUTH_REQUIRED'],
      ['a type the key may not read', { types: b.types.alert }, { key: 'grants' }, 403, 'FORBIDDEN'],
      ['until without since', { until: '2026-01-01T00:00:00Z' }, {}, 400, 'UNTIL_REQUIRES_SINCE'],
      ['a malformed since_id', { since_id: 'evt_nope' }, {}, 400, 'INVALID_EVENT_ID'],
      ['a malformed Last-Event-ID', {}, { lastEventId: 'nope' }, 400, 'INVALID_EVENT_ID'],
      ['an unknown type', { types: 'nope.nothing' }, {}, 400, 'UNKNOWN_EVENT_TYPE'],
      // Beyond either bundle's maxLength (1024 natively, 2048 in partner).
      ['types longer than the spec allows', { types: `${`${b.types.familyGlob},`.repeat(400)}${grant}` }, {}, 400, 'VALIDATION_FAILED'],
    ] as const)('answers %s with the JSON error', async (_name, query: RoleQuery, options: { key?: 'grants'; lastEventId?: string }, status, code) => {
      const headers: Record<string, string> = Object.keys(query).length === 0 && !('key' in options) && !('lastEventId' in options) ? {} : server.auth(options.key ?? 'reader');
      if (options.lastEventId !== undefined) headers['Last-Event-ID'] = options.lastEventId;
      const client = await sse(b.path('sse', query), headers);
      await client.waitForEnd();
      expect(client.status).toBe(status);
      expect(client.headers['content-type']).toMatch(/^application\/json/);
      expect(client.json()[b.wire.codeField]).toBe(b.wire.code(code));
      expect(server.hub.subscriberCount).toBe(0);
    });
  });

  describe('positions', () => {
    it('is live only without a starting point', async () => {
      await publish(server, 5);
      const client = await sse(b.path('sse'), server.auth('reader'));
      await client.waitFor((c) => c.received.length >= 1, 'retry');
      await eventually(() => server.hub.subscriberCount >= 1, 2000, 'the subscription');
      const live = await publish(server, 3);
      await client.waitForEvents(3);
      expect(ids(client.events)).toEqual(ids(live));
    });

    it('sends history from since_id, then live, without gap or duplicate', async () => {
      const history = await publish(server, 30);
      const client = await sse(b.path('sse', { since_id: history[9]!.id }), server.auth('reader'));
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
      const client = await sse(b.path('sse', { since }), server.auth('reader'));
      await client.waitForEvents(4);
      expect(ids(client.events)).toEqual(ids(after));
      expect(ids(client.events)).not.toContain(before[2]!.id);
    });

    // The header, then every query alias of the resume point the bundle declares (natively last_event_id, lastEventId and lastEventID).
    const resumes: [string, (id: string) => { query: Record<string, string>; headers: Record<string, string> }][] = [
      ['the Last-Event-ID header', (id) => ({ query: {}, headers: { 'Last-Event-ID': id } })],
      ...b.aliases('sse', 'last_event_id').map((alias): [string, (id: string) => { query: Record<string, string>; headers: Record<string, string> }] => [alias, (id) => ({ query: { [alias]: id }, headers: {} })]),
    ];
    it.each(resumes)('resumes after %s, which takes precedence over since_id', async (_name, make) => {
      const history = await publish(server, 10);
      const { query, headers } = make(history[6]!.id);
      const client = await sse(b.path('sse', { since_id: history[1]!.id }, query), { ...server.auth('reader'), ...headers });
      await client.waitForEvents(3);
      expect(ids(client.events.slice(0, 3))).toEqual(ids(history.slice(7)));
    });

    it('filters by types, globs included, in history and live', async () => {
      const history = await publish(server, 20);
      const client = await sse(b.path('sse', { types: b.types.filter.value, since_id: history[0]!.id }), server.auth('reader'));
      const live = await publish(server, 20);
      const wanted = [...history.slice(1), ...live].filter((e) => b.types.filter.selects(e.type));
      expect(wanted.length).toBeLessThan(history.length - 1 + live.length);
      await client.waitForEvents(wanted.length);
      expect(ids(client.events)).toEqual(ids(wanted));
    });
  });

  describe('until', () => {
    it('ends with 200 once until_id is delivered', async () => {
      const history = await publish(server, 10);
      const client = await sse(b.path('sse', { since_id: history[1]!.id, until_id: history[5]!.id }), server.auth('reader'));
      await client.waitForEnd();
      expect(client.status).toBe(200);
      expect(ids(client.events)).toEqual(ids(history.slice(2, 6)));
    });

    // Needs a type that no other test of this server publishes (history since a minute ago would hold them): the partner catalog's three types are all in the publish cycle.
    it.skipIf(b.types.quiet === undefined)('ends with 200 after until (a time) even when no later event arrives', async () => {
      const quiet = b.types.quiet!;
      const since = new Date(Date.now() - 60_000).toISOString();
      const until = new Date(Date.now() + 300).toISOString();
      const client = await sse(b.path('sse', { since, until, types: quiet }), server.auth('reader'));
      const live = await publish(server, 2, { types: [quiet] });
      await client.waitForEnd(5000);
      expect(client.status).toBe(200);
      expect(ids(client.events)).toEqual(ids(live));
    });

    it('answers 204 to a resume point already at or past until_id', async () => {
      const history = await publish(server, 5);
      const client = await sse(b.path('sse', { since_id: history[0]!.id, until_id: history[3]!.id }), {
        ...server.auth('reader'),
        'Last-Event-ID': history[3]!.id,
      });
      await client.waitForEnd();
      expect(client.status).toBe(204);
      expect(client.body).toBe('');
    });
  });

  describe('frames', () => {
    // A payload string full of SSE syntax, in a field of each bundle's catalog.
    const forged = 'x\n\nevent: forged\ndata: {}\r\n';
    const event = {
      native: { type: 'audit_log.created', data: { entryId: 'e1', actor: { type: 'user', id: 'u' }, action: forged, target: 't\u2028' }, field: 'action' },
      partner: { type: 'OrderPlaced', data: { orderId: `${forged}\u2028`, total: 1 }, field: 'orderId' },
    }[b.name];

    it('keeps data on one line whatever the payload holds', async () => {
      const response = await fetch(`${server.url}${b.path('publish')}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...server.auth('writer') },
        body: JSON.stringify({ type: event.type, data: event.data }),
      });
      const stored = b.event((await response.json()) as JsonObject);
      const client = await sse(b.path('sse', { last_event_id: idBefore(stored.id) }), server.auth('reader'));
      await client.waitForEvents(1);
      expect(client.events[0]!.id).toBe(stored.id);
      const data = client.events[0]!.envelope[b.profile.envelope.data!] as Record<string, unknown>;
      expect(data[event.field]).toBe((event.data as Record<string, unknown>)[event.field]);
    });
  });
});

describe.each(BUNDLE_CASES)('SSE limits and faults (%s bundle)', (_name, b) => {
  let server: TestServer;
  afterEach(async () => {
    await server.dispose();
  });

  it('answers 429 TOO_MANY_CONNECTIONS beyond max_connections_per_key and max_connections', async () => {
    server = await startTestServer({ max_connections: 3, max_connections_per_key: 2 }, b);
    const stream = b.path('sse');
    const clients = [await openSse(server, stream, server.auth('reader')), await openSse(server, stream, server.auth('reader'))];
    const perKey = await openSse(server, stream, server.auth('reader'));
    await perKey.waitForEnd();
    expect(perKey.status).toBe(429);
    expect(perKey.json()[b.wire.codeField]).toBe('TOO_MANY_CONNECTIONS');
    clients.push(await openSse(server, stream, server.auth('admin')));
    const total = await openSse(server, stream, server.auth('grants'));
    await total.waitForEnd();
    expect(total.status).toBe(429);
    // A slot comes back when a stream closes.
    clients.shift()!.close();
    await eventually(() => server.hub.subscriberCount === 2, 2000, 'the closed stream to be forgotten');
    const again = await openSse(server, stream, server.auth('reader'));
    expect(again.status).toBe(200);
    for (const client of [...clients, again]) client.close();
  });

  it('ends a stream idle for idle_timeout_s', async () => {
    server = await startTestServer({ idle_timeout_s: 1, heartbeat_s: 1 }, b);
    const client = await openSse(server, b.path('sse'), server.auth('reader'));
    const started = Date.now();
    await client.waitForEnd(5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(client.roles).not.toContain('error');
  });

  it('sends the error comment and closes when the store fails mid-stream', async () => {
    // A small ring, so that the history is read from the store; heartbeat_s at the native default (the partner bundle implies 1 s), so that no heartbeat joins the frames compared.
    server = await startTestServer({ ring_size: 16, heartbeat_s: 30 }, b);
    const history = await publish(server, 40);
    // Only stream reads with a type filter fail; the hub's tail keeps working.
    failReads(server, (query) => query.types !== undefined);
    const client = await openSse(server, b.path('sse', { types: b.types.familyGlob, since_id: history[0]!.id }), server.auth('reader'));
    await client.waitForEnd();
    expect(client.status).toBe(200);
    expect(client.roles).toEqual(['retry', 'error']);
    expect(server.hub.subscriberCount).toBe(0);
  });

  it('ends streams cleanly on close, and a client resumes on another server with Last-Event-ID', async () => {
    server = await startTestServer({}, b);
    const first = await publish(server, 20);
    const client = await openSse(server, b.path('sse', { since_id: first[0]!.id }), server.auth('reader'));
    await client.waitForEvents(19);
    await server.close();
    await client.waitForEnd();
    expect(client.roles).not.toContain('error');
    const last = client.events.at(-1)!.id;

    const other = await startTestServer({ store: `sqlite:${server.dbPath}` }, b);
    try {
      const more = await publish(other, 7);
      const resumed = await openSse(other, b.path('sse'), { ...other.auth('reader'), 'Last-Event-ID': last });
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
