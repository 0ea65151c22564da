import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/query/cursor.js';
import { hasSubMillisecondDigits, lowerBoundMs } from '../../src/query/instant.js';
import { isEventId } from '../../src/store/event-id.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { openSse, openWs, publish, type TestEvent, type WsClient } from '../stream/clients.js';

// Issue 12 item 11: an id the server cannot have issued is refused with 400 on every endpoint that
// takes one; item 12 (second half): digits past the millisecond in `since` are honoured, not cut.
const IMPOSSIBLE = [
  ['a first character above 7', 'evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ'],
  ['a first character of 8', 'evt_80000000000000000000000000'],
  ['lower case', 'evt_01jf3k9y6q2w8e4r5t7y9v1j3p'],
  ['an excluded letter (U)', 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3U'],
  ['25 characters', 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3'],
] as const;
const LARGEST = 'evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ';
const VALID = 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P';

describe('ids the server cannot have issued (issue 12 item 11)', () => {
  let server: TestServer;
  const sockets: WsClient[] = [];
  beforeAll(async () => {
    server = await startTestServer();
    await publish(server, 3);
  });
  afterAll(async () => {
    for (const client of sockets) client.ws.terminate();
    await server.dispose();
  });

  const expectInvalidId = async (response: Response, path: string) => {
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; details: { path: string; code: string }[] };
    expect(body.code).toBe('INVALID_EVENT_ID');
    expect(body.details).toContainEqual(expect.objectContaining({ path, code: 'INVALID_EVENT_ID' }));
  };

  describe.each(IMPOSSIBLE)('an id with %s', (_name, id) => {
    it('is refused by GET /v1/events/{id} with 400 INVALID_EVENT_ID', async () => {
      await expectInvalidId(await fetch(`${server.url}/v1/events/${id}`, { headers: server.auth('reader') }), '/params/id');
    });

    it.each([
      ['since_id', `?since_id=${id}`, '/query/since_id'],
      ['until_id', `?since_id=${VALID}&until_id=${id}`, '/query/until_id'],
    ])('is refused as %s by the backfill', async (_param, query, path) => {
      await expectInvalidId(await fetch(`${server.url}/v1/events${query}`, { headers: server.auth('reader') }), path);
    });

    it.each([
      ['the Last-Event-ID header', '', { 'Last-Event-ID': id }],
      ['last_event_id', `?last_event_id=${id}`, {}],
      ['lastEventId', `?lastEventId=${id}`, {}],
      ['lastEventID', `?lastEventID=${id}`, {}],
      ['since_id', `?since_id=${id}`, {}],
      ['until_id', `?since_id=${VALID}&until_id=${id}`, {}],
    ])('is refused as %s by the SSE stream before any stream byte', async (_param, query, headers) => {
      const client = await openSse(server, `/v1/events/stream${query}`, { ...server.auth('reader'), ...headers });
      expect(client.status).toBe(400);
    });

    it.each([
      ['since_id', `?since_id=${id}`],
      ['until_id', `?since_id=${VALID}&until_id=${id}`],
    ])('is refused as %s by HEAD /v1/events/stream', async (_param, query) => {
      const response = await fetch(`${server.url}/v1/events/stream${query}`, { method: 'HEAD', headers: server.auth('reader') });
      expect(response.status).toBe(400);
    });

    it.each([
      ['the Last-Event-ID header', '', { 'Last-Event-ID': id }],
      ['last_event_id', `?last_event_id=${id}`, {}],
      ['since_id', `?since_id=${id}`, {}],
      ['until_id', `?since_id=${VALID}&until_id=${id}`, {}],
    ])('is refused as %s by the WebSocket before the upgrade', async (_param, query, headers) => {
      const client = await openWs(server, `/v1/events/ws${query}`, { ...server.auth('reader'), ...headers });
      sockets.push(client);
      expect(client.refused?.status).toBe(400);
      expect(client.refused?.body.code).toBe('INVALID_EVENT_ID');
    });

    it('is refused inside a cursor with 400 INVALID_CURSOR', async () => {
      const response = await fetch(`${server.url}/v1/events?cursor=${encodeCursor(id)}`, { headers: server.auth('reader') });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { code: string }).code).toBe('INVALID_CURSOR');
    });
  });

  it('accepts the largest id a server can issue', async () => {
    expect(isEventId(LARGEST)).toBe(true);
    const list = await fetch(`${server.url}/v1/events?since_id=${LARGEST}`, { headers: server.auth('reader') });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { data: unknown[] }).data).toEqual([]);
    const one = await fetch(`${server.url}/v1/events/${LARGEST}`, { headers: server.auth('reader') });
    expect(one.status).toBe(404);
  });
});

/** The id and time of a published event. */
const stamp = (event: TestEvent) => ({ id: event.id, time: String(event.envelope.time) });

describe('digits past the millisecond in since/until (issue 12 item 12)', () => {
  let server: TestServer;
  let first: { id: string; time: string };
  let second: { id: string; time: string };
  beforeAll(async () => {
    server = await startTestServer();
    first = stamp((await publish(server, 1))[0]!);
    // The second event in a later millisecond than the first.
    const deadline = Date.now() + 5000;
    while (Date.now() <= Date.parse(first.time) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
    second = stamp((await publish(server, 1))[0]!);
    expect(Date.parse(second.time)).toBeGreaterThan(Date.parse(first.time));
  });
  afterAll(async () => {
    await server.dispose();
  });

  /** The event's time with extra fraction digits: `…00.547Z` + `1` -> `…00.5471Z`. */
  const withDigits = (time: string, digits: string) => time.replace(/Z$/, `${digits}Z`);
  const ids = async (query: string) => {
    const response = await fetch(`${server.url}/v1/events${query}`, { headers: server.auth('reader') });
    expect(response.status).toBe(200);
    return ((await response.json()) as { data: { id: string }[] }).data.map((event) => event.id);
  };

  it('does not return an event logged before a sub-millisecond since', async () => {
    expect(await ids(`?since=${withDigits(first.time, '1')}`)).toEqual([second.id]);
    expect(await ids(`?since=${withDigits(first.time, '000001')}`)).toEqual([second.id]);
  });

  it('treats trailing zeros as the same instant', async () => {
    expect(await ids(`?since=${withDigits(first.time, '000')}`)).toEqual([first.id, second.id]);
  });

  it('keeps an event logged at or before a sub-millisecond until', async () => {
    expect(await ids(`?since=${first.time}&until=${withDigits(first.time, '9')}`)).toEqual([first.id]);
  });

  it('answers since and until inside one millisecond with nothing', async () => {
    expect(await ids(`?since=${withDigits(first.time, '1')}&until=${withDigits(first.time, '2')}`)).toEqual([]);
  });

  it('starts an SSE stream after an event logged before a sub-millisecond since', async () => {
    const client = await openSse(server, `/v1/events/stream?since=${withDigits(first.time, '1')}`, server.auth('reader'));
    expect(client.status).toBe(200);
    await client.waitForEvents(1);
    expect(client.events.map((event) => event.id)).toEqual([second.id]);
    client.close();
  });

  it.each([
    ['2026-01-01T00:00:00.5471Z', true],
    ['2026-01-01T00:00:00.5470Z', false],
    ['2026-01-01T00:00:00.547Z', false],
    ['2026-01-01T00:00:00Z', false],
    ['2026-01-01T00:00:00.000000001+02:00', true],
  ])('hasSubMillisecondDigits(%s) is %s', (value, expected) => {
    expect(hasSubMillisecondDigits(value)).toBe(expected);
    expect(lowerBoundMs(value)).toBe(Date.parse(value.replace(/(\.\d{3})\d+/, '$1')) + (expected ? 1 : 0));
  });
});
