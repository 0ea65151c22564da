/**
 * The SDK against real servers serving the example bundles (examples/<name>): it publishes through
 * the bundle's publish operation, reads the bundle's frames back into its wire envelopes over SSE
 * and WebSocket, presents the bundle's credentials (bearer, Basic, anonymous), and resumes after the
 * server drops the connection (a proxy cut) with no loss and no duplicate: by `Last-Event-ID` from
 * the envelope's id or the SSE `id:` lines, from an `id:`-only resume point, or, on a stream that
 * cannot resume (the SIEM WebSocket), by reading the gap from the bundle's list operations.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { wireProfile } from '../../src/bundle/wire-profile.js';
import { createClient, connect, list, publish, ProfileError, UnauthorizedError, type Subscription, type WireEvent } from '../../src/client/index.js';
import { BUNDLE_KEYS, startBundleServer, until, type BundleServer } from './bundle-server.js';
import { reach } from './helpers.js';

/** Pulls `count` events, failing after `timeoutMs`. */
async function take<E>(subscription: AsyncIterator<E>, count: number, timeoutMs = 10_000): Promise<E[]> {
  const got: E[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms with ${got.length}/${count} events`)), timeoutMs);
  });
  try {
    while (got.length < count) {
      const next = await Promise.race([subscription.next(), deadline]);
      if (next.done) break;
      got.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return got;
}

const BACKOFF = { initialMs: 100, maxMs: 200 };

let running: BundleServer | undefined;
const open: Subscription<unknown, unknown>[] = [];
afterEach(async () => {
  for (const subscription of open.splice(0)) subscription.close();
  await running?.dispose();
  running = undefined;
});

function track<E, S>(subscription: Subscription<E, S>): Subscription<E, S> {
  open.push(subscription as Subscription<unknown, unknown>);
  return subscription;
}

/**
 * Drops every connection while a `next()` is pending (so the subscription notices at once), runs
 * `meanwhile` once it is reconnecting, and then takes `count` events (the pending one first).
 */
async function cutAndTake<E>(subscription: Subscription<E, unknown>, meanwhile: () => Promise<void>, count: number): Promise<E[]> {
  const reconnecting = reach(subscription as unknown as Subscription, 'reconnecting');
  const pending = subscription.next();
  running!.proxy.cut();
  await reconnecting;
  await meanwhile();
  const head = await pending;
  if (head.done) return [];
  return [head.value, ...(await take(subscription, count - 1))];
}

describe('examples/grant-events (bearer; {id, type, createdAt, data}; SSE named by type, WS bare envelopes)', () => {
  const publishOne = async (tag: string): Promise<WireEvent> =>
    publish({ url: running!.server.url, token: BUNDLE_KEYS.writer, specs: running!.dir }, { type: 'grant.created', subject: tag, data: running!.example('grant.created') });

  it('publishes to the bundle publish path and answers the bundle envelope', async () => {
    running = await startBundleServer('grant-events');
    const stored = await publishOne('one');
    expect(Object.keys(stored)).toEqual(['id', 'type', 'createdAt', 'data']);
    expect(stored).toMatchObject({ type: 'grant.created', data: running.example('grant.created') });
    expect(stored.id).toMatch(/^evt_[0-9A-Z]{26}$/);
  });

  describe.each(['sse', 'ws'] as const)('over %s', (transport) => {
    it('reads history then live events as the bundle envelopes', async () => {
      running = await startBundleServer('grant-events');
      const history = [await publishOne('h0'), await publishOne('h1'), await publishOne('h2')];
      const subscription = track(connect({ url: running.proxy.url, token: BUNDLE_KEYS.reader, specs: running.dir, transport, sinceId: history[0]!.id as string }));
      const got = await take(subscription, 2);
      expect(got).toEqual(history.slice(1));
      const live = await publishOne('live');
      expect(await take(subscription, 1)).toEqual([live]);
      expect(subscription.lastEventId).toBe(live.id);
      expect(subscription.lastEventType).toBe('grant.created');
    });

    it('resumes after the server drops the connection, with no loss and no duplicate', async () => {
      running = await startBundleServer('grant-events');
      const before = [await publishOne('b0'), await publishOne('b1'), await publishOne('b2')];
      const subscription = track(connect({ url: running.proxy.url, token: BUNDLE_KEYS.reader, specs: running.dir, transport, sinceId: before[0]!.id as string, backoff: BACKOFF }));
      const first = await take(subscription, 2);
      const after: WireEvent[] = [];
      const rest = await cutAndTake(subscription, async () => {
        for (const tag of ['a0', 'a1', 'a2']) after.push(await publishOne(tag));
      }, 3);
      expect([...first, ...rest].map((e) => e.id)).toEqual([...before.slice(1), ...after].map((e) => e.id));
    });
  });

  it('refuses a wrong token with the typed error and the bundle code (WebSocket: read from the refused upgrade)', async () => {
    running = await startBundleServer('grant-events');
    for (const transport of ['sse', 'ws'] as const) {
      const subscription = track(connect({ url: running.server.url, token: 'sk_wrong', specs: running.dir, transport }));
      const error = await subscription.next().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect((error as UnauthorizedError).code).toBe('AUTH_REQUIRED');
    }
  });
});

describe('examples/audit-log (unnamed SSE events; {type, data} without id: resume from id: lines)', () => {
  const client = () => createClient({ url: running!.server.url, token: BUNDLE_KEYS.writer, specs: running!.dir });
  const audit = (n: number) => ({ type: 'audit_log_created', data: { ...running!.example('audit_log_created'), auditLogId: n } });

  it('takes the id-only resume point before any event, and the id: lines after, across two cuts', async () => {
    running = await startBundleServer('audit-log');
    const old = [await client().publish(audit(1)), await client().publish(audit(2))];
    expect(Object.keys(old[0]!)).toEqual(['type', 'data']);
    const subscription = track(connect({ url: running.proxy.url, token: BUNDLE_KEYS.reader, specs: running.dir, backoff: BACKOFF }));
    // The live-only stream starts with `id: <newest id>` and no data: the SDK takes it as its
    // position while a next() waits for the first event.
    const reconnecting = reach(subscription as unknown as Subscription, 'reconnecting');
    const pending = subscription.next();
    await running.waitForStreams(1);
    const newest = (await running.server.store.lastIdOf(undefined))!;
    await until(() => subscription.lastEventId === newest, 'the id-only resume point');
    running.proxy.cut();
    await reconnecting;
    await client().publish(audit(3));
    await client().publish(audit(4));
    const got = [(await pending).value as WireEvent, ...(await take(subscription, 1))];
    expect(got.map((e) => (e.data as { auditLogId: number }).auditLogId)).toEqual([3, 4]);
    const fourthId = subscription.lastEventId!;
    expect(fourthId > newest).toBe(true);
    const [fifth] = await cutAndTake(subscription, () => client().publish(audit(5)).then(() => {}), 1);
    expect(fifth).toEqual(audit(5));
    expect(subscription.lastEventId! > fourthId).toBe(true);
    expect(subscription.lastEventType).toBe('audit_log_created');
  });

  it('has no WebSocket stream: connect() over ws fails with ProfileError NO_OPERATION', async () => {
    running = await startBundleServer('audit-log');
    const subscription = track(connect({ url: running.server.url, token: BUNDLE_KEYS.reader, specs: running.dir, transport: 'ws' }));
    const error = await subscription.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProfileError);
    expect((error as ProfileError).code).toBe('NO_OPERATION');
  });
});

describe('examples/admin-actions (Basic; {event_id, at, type, ...payload})', () => {
  const basic = () => ({ url: running!.server.url, keyId: 'writer', token: BUNDLE_KEYS.writer, specs: running!.dir });
  const cancel = (reason: string) => ({ type: 'TransactionCancel', data: { ...running!.example('TransactionCancel'), reason } });

  it('publishes, streams and resumes with Basic credentials (keyId + token)', async () => {
    running = await startBundleServer('admin-actions');
    const first = await publish(basic(), cancel('r0'));
    expect(first).toMatchObject({ type: 'TransactionCancel', reason: 'r0' });
    expect(first.event_id).toMatch(/^evt_/);
    const subscription = track(
      connect({ url: running.proxy.url, keyId: 'reader', token: BUNDLE_KEYS.reader, specs: running.dir, sinceId: first.event_id as string, backoff: BACKOFF }),
    );
    const second = await publish(basic(), cancel('r1'));
    expect(await take(subscription, 1)).toEqual([second]);
    const after: WireEvent[] = [];
    const got = await cutAndTake(subscription, async () => {
      after.push(await publish(basic(), cancel('r2')), await publish(basic(), cancel('r3')));
    }, 2);
    expect(got).toEqual(after);
    expect(subscription.lastEventId).toBe(after[1]!.event_id);
  });

  it('lists history with the token written as id:secret', async () => {
    running = await startBundleServer('admin-actions');
    const stored = [await publish(basic(), cancel('l0')), await publish(basic(), cancel('l1')), await publish(basic(), cancel('l2'))];
    const got: WireEvent[] = [];
    for await (const event of list({ url: running.server.url, token: `reader:${BUNDLE_KEYS.reader}`, specs: running.dir, sinceId: stored[0]!.event_id as string, pageSize: 1 })) got.push(event);
    expect(got).toEqual(stored.slice(1));
  });

  it('cannot present a bare token to a Basic-only bundle (ProfileError), and a wrong secret is a 401', async () => {
    running = await startBundleServer('admin-actions');
    const bare = await publish({ url: running.server.url, token: BUNDLE_KEYS.writer, specs: running.dir }, cancel('x')).catch((e: unknown) => e);
    expect(bare).toBeInstanceOf(ProfileError);
    expect((bare as ProfileError).code).toBe('NO_CREDENTIAL_SCHEME');
    const wrong = await publish({ ...basic(), token: 'sk_wrong' }, cancel('x')).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(UnauthorizedError);
  });
});

describe('examples/siem-live-tail (anonymous WebSocket; {type:event,event} and {type:alert,alert} frames; no replay)', () => {
  const writer = () => ({ url: running!.server.url, token: BUNDLE_KEYS.writer, specs: running!.dir });
  const record = (type: 'event' | 'alert', n: number) => ({ type, data: { ...running!.example(type), ...(type === 'event' ? { message: `m${n}` } : { title: `t${n}` }) } });

  it('reads history from the two lists merged in log order, then live frames, anonymously', async () => {
    running = await startBundleServer('siem-live-tail', { allow_anonymous: true, anonymous_scopes: ['events:read'] });
    const history = [];
    for (const [type, n] of [['event', 0], ['alert', 1], ['event', 2], ['alert', 3]] as const) history.push(await publish(writer(), record(type, n)));
    const subscription = track(connect({ url: running.proxy.url, specs: running.dir, sinceId: history[0]!.id as string }));
    const types: (string | undefined)[] = [];
    const got: WireEvent[] = [];
    for (let i = 0; i < 3; i++) {
      got.push(...(await take(subscription, 1)));
      types.push(subscription.lastEventType);
    }
    expect(got).toEqual(history.slice(1));
    expect(types).toEqual(['alert', 'event', 'alert']);
    await running.waitForStreams(1);
    const live = await publish(writer(), record('alert', 4));
    expect(await take(subscription, 1)).toEqual([live]);
    expect(subscription.lastEventType).toBe('alert');
  });

  it('fills the gap of a dropped connection from the lists, with no loss and no duplicate', async () => {
    running = await startBundleServer('siem-live-tail', { allow_anonymous: true, anonymous_scopes: ['events:read'] });
    const subscription = track(connect({ url: running.proxy.url, specs: running.dir, backoff: BACKOFF }));
    const pending = subscription.next();
    await running.waitForStreams(1);
    const first = await publish(writer(), record('event', 0));
    expect((await pending).value).toEqual(first);
    const missed: WireEvent[] = [];
    const got = await cutAndTake(subscription, async () => {
      for (const [type, n] of [['alert', 1], ['event', 2], ['alert', 3]] as const) missed.push(await publish(writer(), record(type, n)));
    }, 3);
    expect(got).toEqual(missed);
    await running.waitForStreams(1);
    const live = await publish(writer(), record('event', 4));
    expect(await take(subscription, 1)).toEqual([live]);
  });

  it('refuses options the stream cannot honour (no types or until parameter) with ProfileError', async () => {
    running = await startBundleServer('siem-live-tail', { allow_anonymous: true, anonymous_scopes: ['events:read'] });
    const subscription = track(connect({ url: running.server.url, specs: running.dir, types: ['alert'] }));
    const error = await subscription.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProfileError);
    expect((error as ProfileError).code).toBe('UNSUPPORTED_OPTION');
  });
});

describe('examples/global-events (events/read scopes; the payload itself with @type)', () => {
  it('streams and resumes by the envelope-less id: lines', async () => {
    running = await startBundleServer('global-events');
    const writer = { url: running.server.url, token: BUNDLE_KEYS.writer, specs: running.dir };
    const realm = (label: string) => ({ type: 'RealmCreated', data: { ...running!.example('RealmCreated'), _label: label } });
    const first = await publish(writer, realm('r0'));
    expect(first['@type']).toBe('RealmCreated');
    const subscription = track(connect({ url: running.proxy.url, token: BUNDLE_KEYS.reader, specs: running.dir, backoff: BACKOFF }));
    const pending = subscription.next();
    await running.waitForStreams(1);
    const second = await publish(writer, realm('r1'));
    expect((await pending).value).toEqual(second);
    const missed: WireEvent[] = [];
    const got = await cutAndTake(subscription, async () => {
      missed.push(await publish(writer, realm('r2')));
    }, 1);
    expect(got).toEqual(missed);
  });
});

describe('test/fixtures/bundles/partner (a types parameter without allowReserved, and an X-Partner-Key header)', () => {
  const PARTNER = fileURLToPath(new URL('../fixtures/bundles/partner', import.meta.url));

  // URLSearchParams leaves `*` raw, and a parameter without allowReserved must carry it encoded:
  // the server refused the glob with 400 until the SDK sent it as %2A.
  it.each(['sse', 'ws'] as const)('follows a type glob over %s, and lists history with it', async (transport) => {
    running = await startBundleServer(PARTNER);
    const publishOne = (type: string) => publish({ url: running!.server.url, token: BUNDLE_KEYS.writer, specs: PARTNER }, { type, data: running!.example(type) });
    const old = await publishOne('OrderPlaced');
    await publishOne('Refund.Issued');
    const subscription = track(connect({ url: running.proxy.url, token: BUNDLE_KEYS.reader, specs: PARTNER, transport, types: ['Order*'], sinceId: 'evt_00000000000000000000000000' }));
    const [first] = await take(subscription, 1);
    expect(first).toEqual(old);
    await publishOne('Refund.Issued');
    const live = await publishOne('OrderPlaced');
    expect(await take(subscription, 1)).toEqual([live]);
    const history: WireEvent[] = [];
    for await (const event of list({ url: running.server.url, token: BUNDLE_KEYS.reader, specs: PARTNER, types: ['Order*'] })) history.push(event);
    expect(history).toEqual([old, live]);
  });
});

describe('choosing the bundle', () => {
  it('reads it from the server (specsFromServer), or takes a plain wire profile', async () => {
    running = await startBundleServer('grant-events');
    const fromServer = createClient({ url: running.server.url, token: BUNDLE_KEYS.writer, specsFromServer: true });
    const stored = await fromServer.publish({ type: 'grant.created', data: running.example('grant.created') });
    expect(Object.keys(stored)).toEqual(['id', 'type', 'createdAt', 'data']);
    expect((await fromServer.profile()).paths.publish).toBe('/specstream/publish');
    const elsewhere = await createClient({ url: running.server.url, specsFromServer: '/nope/' }).profile().catch((e: unknown) => e);
    expect(elsewhere).toBeInstanceOf(ProfileError);
    expect((elsewhere as ProfileError).message).toContain('/nope/openapi.yaml answered 404');
    const profile = JSON.parse(JSON.stringify(wireProfile(running.bundle))) as ReturnType<typeof wireProfile>;
    for (const transport of ['sse', 'ws'] as const) {
      const subscription = track(connect({ url: running.server.url, token: BUNDLE_KEYS.reader, profile, transport, sinceId: 'evt_00000000000000000000000000' }));
      expect(await take(subscription, 1)).toEqual([stored]);
    }
  });

  it('says clearly when the bundle has no publish operation, and refuses two bundle choices', async () => {
    const profile = { ...wireProfile((await import('../../src/bundle/load-bundle.js')).loadBundle()), paths: { sse: '/v1/events/stream' } };
    const error = await publish({ url: 'http://127.0.0.1:1', profile }, { type: 'grant.created', data: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProfileError);
    expect((error as ProfileError).code).toBe('NO_OPERATION');
    expect((error as Error).message).toContain('read-only');
    expect(() => connect({ url: 'http://127.0.0.1:1', profile, specs: 'examples/audit-log' } as never)).toThrow(TypeError);
  });
});
