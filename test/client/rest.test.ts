/** The SDK's `publish()`, `list()` and backoff. */
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, BadRequestError, createClient, ForbiddenError, list, publish, UnauthorizedError } from '../../src/client/index.js';
import { catalog } from '../../src/generated/catalog.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe('publish() and list()', () => {
  let server: TestServer;
  afterEach(async () => server?.dispose());

  it('publishes one event and answers with its typed envelope', async () => {
    server = await startTestServer();
    const event = await publish({ url: server.url, token: 'sk_test_writer' }, { type: 'grant.created', data: catalog['grant.created'].example as never });
    expect(event.type).toBe('grant.created');
    expect(event.id).toMatch(/^evt_[0-9A-Z]{26}$/);
    expect(typeof event.data.grantId).toBe('string');
  });

  it('publishes a batch once under an Idempotency-Key', async () => {
    server = await startTestServer();
    const client = createClient({ url: server.url, token: 'sk_test_admin' });
    const body = [1, 2, 3].map((i) => ({ type: 'grant.created' as const, subject: `s${i}`, data: catalog['grant.created'].example as never }));
    const first = await client.publish(body, { idempotencyKey: 'k1' });
    const again = await client.publish(body, { idempotencyKey: 'k1' });
    expect(again.map((e) => e.id)).toEqual(first.map((e) => e.id));
    const all = [];
    for await (const event of client.list()) all.push(event.id);
    expect(all).toEqual(first.map((e) => e.id));
  });

  it('lists every page in order, one request per page', async () => {
    server = await startTestServer();
    const client = createClient({ url: server.url, token: 'sk_test_admin' });
    const stored = await client.publish(Array.from({ length: 25 }, () => ({ type: 'grant.created' as const, data: catalog['grant.created'].example as never })));
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    const got = [];
    for await (const event of list({ url: server.url, token: 'sk_test_reader', pageSize: 10, sinceId: stored[2]!.id, fetch: counting })) got.push(event.id);
    expect(got).toEqual(stored.slice(3).map((e) => e.id));
    expect(requests).toBe(3);
  });

  it.each([
    ['an unknown token', 'sk_nope', { type: 'grant.created' }, UnauthorizedError, 'AUTH_REQUIRED'],
    ['a reader token', 'sk_test_reader', { type: 'grant.created' }, ForbiddenError, 'FORBIDDEN'],
    ['an unknown type', 'sk_test_writer', { type: 'nope.nope' }, BadRequestError, 'UNKNOWN_EVENT_TYPE'],
  ] as const)('rejects %s with a typed error', async (_name, token, partial, Kind, code) => {
    server = await startTestServer();
    const error = await publish({ url: server.url, token }, { ...partial, data: catalog['grant.created'].example } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Kind);
    expect((error as BadRequestError).code).toBe(code);
  });
});

describe('backoffDelay', () => {
  it.each([
    [0, 125, 250],
    [1, 250, 500],
    [4, 2000, 4000],
    [5, 4000, 8000],
    [12, 4000, 8000],
  ])('attempt %i waits between %i and %i ms', (attempt, low, high) => {
    expect(backoffDelay(attempt, { random: () => 0 })).toBe(low);
    expect(backoffDelay(attempt, { random: () => 0.999999 })).toBe(high);
  });
});
