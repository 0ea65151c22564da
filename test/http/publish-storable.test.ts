/**
 * What a publish stores is exactly what was validated and acknowledged, on every backend; input a
 * backend cannot store is refused before it reaches the store, and never fails anyone else's
 * publish (issue 12, items 1, 3 and 9).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalog } from '../../src/generated/catalog.js';
import { call } from '../helpers/openapi-responses.js';
import { storeBackends, type FreshLog } from '../helpers/store-backends.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

type Json = Record<string, unknown>;
interface ErrorJson {
  code: string;
  details?: { path: string; code: string; message: string }[];
}

const backends = await storeBackends();

const audit = (metadata: string) =>
  `{"type":"audit_log.created","data":{"entryId":"e1","actor":{"type":"user","id":"u1"},"action":"login","target":"t1","metadata":${metadata}}}`;

/** `{"a":{"a":...1...}}`, `levels` objects deep. */
function nested(levels: number): string {
  return '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
}

const grant = (overrides: Json = {}, data: Json = {}) => ({
  type: 'grant.created',
  ...overrides,
  data: { ...catalog['grant.created'].example, ...data },
});

describe.each(backends)('publish on $name: storable input', ({ name, service, fresh }) => {
  let server: TestServer;
  let log: FreshLog;

  beforeEach(async () => {
    if (service.skip) return;
    log = fresh();
    server = await startTestServer(log.store === undefined ? {} : { store: log.store });
  });
  afterEach(async () => {
    if (service.skip) return;
    await server.dispose();
    await log.cleanup();
  });

  const publish = (body: unknown, headers: Record<string, string> = server.auth('writer')) =>
    call('POST', `${server.url}/v1/events`, { headers, body });
  const publishRaw = (rawBody: string) =>
    call('POST', `${server.url}/v1/events`, { headers: { ...server.auth('writer'), 'content-type': 'application/json' }, rawBody });
  const stored = async () =>
    ((await call('GET', `${server.url}/v1/events?limit=1000`, { headers: server.auth('reader') })).body as { data: Json[] }).data;

  it.skipIf(service.skip).each([
    ['NUL in subject', grant({ subject: 'a\u0000b' }), '/subject'],
    ['NUL in source', grant({ source: '/grant\u0000' }), '/source'],
    ['NUL in a data string', grant({}, { userId: 'usr\u0000' }), '/data/userId'],
    ['NUL in an array item', grant({}, { scopes: ['calendar:read', 'x\u0000'] }), '/data/scopes/1'],
    ['a lone low surrogate in subject', grant({ subject: '\udfff' }), '/subject'],
    ['a lone high surrogate ending subject', grant({ subject: 'grnt_\ud83d' }), '/subject'],
    ['a lone surrogate in a data string', grant({}, { userId: 'u\ud800x' }), '/data/userId'],
    ['a lone surrogate in source', grant({ source: '/\udc00' }), '/source'],
  ])(`refuses %s with 400 naming the field, storing nothing (${name})`, async (_what, body, path) => {
    const { status, body: error } = await publish(body);

    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path, code: 'INVALID_CHARACTER' }] });
    expect(await stored()).toEqual([]);
  });

  it.skipIf(service.skip)(`refuses NUL and lone surrogates in a data key (${name})`, async () => {
    for (const key of ['k\\u0000', '\\udfffk']) {
      const { status, body } = await publishRaw(audit(`{"${key}":"v"}`));
      expect(status).toBe(400);
      expect((body as ErrorJson).details![0]).toMatchObject({ path: `/data/metadata/${key}`, code: 'INVALID_CHARACTER' });
    }
    expect(await stored()).toEqual([]);
  });

  it.skipIf(service.skip)(`names the batch item (${name})`, async () => {
    const { status, body } = await publish([grant(), grant({ subject: 'a\u0000' })]);

    expect(status).toBe(400);
    expect((body as ErrorJson).details).toEqual([expect.objectContaining({ path: '/1/subject', code: 'INVALID_CHARACTER' })]);
    expect(await stored()).toEqual([]);
  });

  it.skipIf(service.skip)(`refuses a __proto__ key wherever it is, like any invalid key (${name})`, async () => {
    for (const metadata of ['{"__proto__":{"nested":"1"}}', '{"__proto__":"1"}', '{"ok":"1","__proto__":{}}']) {
      const { status, body } = await publishRaw(audit(metadata));
      expect(status, metadata).toBe(400);
      expect(body, metadata).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: '/data/metadata/__proto__', code: 'RESERVED_KEY' }] });
    }
    // The same value under another key is refused by the schema (metadata values are strings).
    const other = await publishRaw(audit('{"other":{"nested":"1"}}'));
    expect(other.status).toBe(400);
    expect(other.body).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: '/data/metadata/other' }] });
    expect(await stored()).toEqual([]);
  });

  it.skipIf(service.skip)(`answers a 20,000-level nested body with a 400 JSON error, never a 500 (${name})`, async () => {
    for (const body of [
      audit(`{"__proto__":${nested(20_000)}}`),
      audit(`{"x":${nested(20_000)}}`),
      `{"type":"grant.created","data":${nested(20_000)}}`,
      `{"type":"grant.created","extra":${nested(20_000)},"data":{}}`,
      `[${nested(20_000)}]`,
    ]) {
      const { status, body: error } = await publishRaw(body);
      expect(status, body.slice(0, 60)).toBe(400);
      expect((error as ErrorJson).code).toBe('VALIDATION_FAILED');
    }
    // Still serving.
    expect((await publish(grant())).status).toBe(201);
  });

  it.skipIf(service.skip)(`refuses nesting beyond body_max_depth with TOO_DEEP at the first level too deep (${name})`, async () => {
    const { status, body } = await publishRaw(audit(`{"x":${nested(70)}}`));

    expect(status).toBe(400);
    const detail = (body as ErrorJson).details![0]!;
    expect(detail.code).toBe('TOO_DEEP');
    // The body is depth 1, data 2, metadata 3, x 4: the 65th level is the first refused.
    expect(detail.path).toBe(`/data/metadata/x${'/a'.repeat(61)}`);
  });

  it.skipIf(service.skip)(`stores a bad event's neighbours: one client's unstorable event fails nobody else (${name})`, async () => {
    const good = Array.from({ length: 40 }, (_, i) => publish(grant({ subject: `grnt_${i}` })));
    const bad = [publish(grant({ subject: 'a\u0000b' })), publish(grant({ subject: '\udfff' }))];
    const results = await Promise.all([...good, ...bad]);

    expect(results.slice(0, 40).map((r) => r.status)).toEqual(Array(40).fill(201));
    expect(results.slice(40).map((r) => r.status)).toEqual([400, 400]);
    expect((await stored()).map((e) => e.subject).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `grnt_${i}`).sort());
  });

  it.skipIf(service.skip)(`stores byte for byte what it acknowledged, as read by id and by backfill (${name})`, async () => {
    const tricky = 'é ü 😀 \u2028 \u001f "quoted" \\ back / slash \t tab \n line \u00ad \uffff \ud83d\ude00';
    const single = await publishRaw(
      // Members in another order than the schema's, escapes, and a pair of surrogates written as escapes.
      `{"data":{"scopes":["calendar:read","😀"],"userId":"usr_\\ud83d\\ude00${'\\u00e9'}","grantId":"grnt_1"},"subject":${JSON.stringify(tricky)},"type":"grant.created","source":"/grants/é"}`,
    );
    const batch = await publish([
      { type: 'audit_log.created', subject: tricky, data: { target: 't', action: 'a', actor: { id: 'u', type: 'user' }, entryId: 'e', metadata: { z: '1', a: tricky, '😀': '' } } },
      { type: 'budget.threshold', data: { ...catalog['budget.threshold'].example, thresholdPercent: 100 } },
    ]);
    expect(single.status).toBe(201);
    expect(batch.status).toBe(201);

    const acknowledged = [single.body as Json, ...(batch.body as { data: Json[] }).data];
    const backfill = await stored();
    expect(backfill.map((e) => JSON.stringify(e))).toEqual(acknowledged.map((e) => JSON.stringify(e)));
    for (const event of acknowledged) {
      const byId = await call('GET', `${server.url}/v1/events/${String(event.id)}`, { headers: server.auth('reader') });
      expect(JSON.stringify(byId.body)).toBe(JSON.stringify(event));
    }
    expect((single.body as Json).subject).toBe(tricky);
  });

  it.skipIf(service.skip)(`stores the validated value, not the raw body (${name})`, async () => {
    const { status, body } = await publishRaw(
      `{"type":"grant.created","data":{"scopes":["calendar:read"],"userId":"usr_1","grantId":"grnt_1"}}`,
    );

    expect(status).toBe(201);
    // The value the catalog's validator produced: its members in the schema's order.
    expect(Object.keys((body as { data: Json }).data)).toEqual(['grantId', 'userId', 'scopes']);
    expect(JSON.stringify((await stored())[0])).toBe(JSON.stringify(body));
  });

  it.skipIf(service.skip)(`stores an event just under body_limit_bytes, or refuses it with 413 if its stored form exceeds the backend's limit (${name})`, async () => {
    const limit = server.store.kind === 'jetstream' ? 'the NATS max_payload' : 'none';
    const wrapper = audit('{"k":""}');
    const body = audit(`{"k":"${'x'.repeat(1_048_576 - 100 - wrapper.length)}"}`);
    expect(body.length).toBe(1_048_576 - 100);
    // Good publishes racing the big one.
    const [big, ...good] = await Promise.all([publishRaw(body), ...Array.from({ length: 10 }, (_, i) => publish(grant({ subject: `s${i}` })))]);

    expect(good.map((r) => r.status)).toEqual(Array(10).fill(201));
    if (limit === 'none') {
      expect(big.status).toBe(201);
      const event = (await stored()).find((e) => e.type === 'audit_log.created');
      expect(JSON.stringify(event)).toBe(JSON.stringify(big.body));
    } else {
      expect(big.status).toBe(413);
      expect(big.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: [{ path: '', code: 'STORED_FORM_TOO_LARGE' }] });
      expect(await stored()).toHaveLength(10);
    }
  });

  it.skipIf(service.skip)(`refuses with 413 a batch whose stored form exceeds the backend's limit, or stores it (${name})`, async () => {
    const item = (i: number) => ({ type: 'security.alert', data: { alertId: `alr_${i}`, severity: 'low', rule: 'r', description: 'd'.repeat(850) } });
    const batch = Array.from({ length: 1000 }, (_, i) => item(i));
    expect(JSON.stringify(batch).length).toBeLessThan(1_048_576);
    const { status, body } = await publish(batch);

    if (server.store.kind === 'jetstream') {
      expect(status).toBe(413);
      expect(body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: [{ path: '', code: 'STORED_FORM_TOO_LARGE' }] });
    } else {
      expect(status).toBe(201);
      expect((body as { data: Json[] }).data).toHaveLength(1000);
    }
  });
});
