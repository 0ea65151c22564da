/**
 * What a bundle changes around the engine, checked through the native bundle and
 * test/fixtures/bundles/partner, which differs from it in every dimension a bundle can change
 * (paths, auth, scope names, parameter names, error bodies, envelope, SSE naming, WebSocket
 * wrappers, type names): the 401 body and challenge, the list and get-event envelopes, the HEAD
 * permission check and the docs portal. Every request is built from the bundle's wire profile.
 *
 * The engine's stream, resume, filter, permission and frame-contract tests run over the same two
 * bundles in their own files (test/stream/guarantees, position, visibility, sse and ws tests, over
 * test/helpers/bundles.ts), with every frame checked against the bundle's AsyncAPI document.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '../../src/bundle/bundle.js';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { wireProfile, type WireProfile } from '../../src/bundle/wire-profile.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

interface Case {
  name: string;
  dir: string | undefined;
  /** Two catalog types, `a` and `b`; their data is the catalog's first example. */
  a: string;
  b: string;
}

const cases: Case[] = [
  {
    name: 'native',
    dir: undefined,
    a: 'grant.created',
    b: 'grant.revoked',
  },
  {
    name: 'partner',
    dir: fileURLToPath(new URL('../fixtures/bundles/partner', import.meta.url)),
    a: 'OrderPlaced',
    b: 'Refund.Issued',
  },
];

/** The first example of `type` in the bundle's catalog. */
function exampleOf(dir: string | undefined, type: string): Record<string, unknown> {
  const example = loadBundle(dir).catalog.find((entry) => entry.type === type)?.example;
  if (!example) throw new Error(`${type} has no example`);
  return example;
}

interface Key {
  id: string;
  secret: string;
}

describe.each(cases)('the engine through the $name bundle', (names) => {
  const c = {
    ...names,
    a: { type: names.a, data: exampleOf(names.dir, names.a) },
    b: { type: names.b, data: exampleOf(names.dir, names.b) },
  };
  let server: TestServer;
  let bundle: Bundle;
  let profile: WireProfile;
  let scopes: Bundle['scopes'];
  const keys = { admin: { id: 'root1', secret: 'sk_bundle_admin' }, onlyA: { id: 'only-a', secret: 'sk_bundle_only_a' }, writer: { id: 'w', secret: 'sk_bundle_writer' } };

  beforeAll(async () => {
    bundle = loadBundle(c.dir);
    profile = wireProfile(bundle);
    scopes = bundle.scopes;
    server = await startTestServer({
      ...(c.dir ? { specs: c.dir } : {}),
      keys: [
        { id: keys.admin.id, secret: keys.admin.secret, scopes: [scopes.admin], queryToken: true },
        { id: keys.onlyA.id, secret: keys.onlyA.secret, scopes: [`${scopes.read}${scopes.separator}${c.a.type}`], queryToken: true },
        { id: keys.writer.id, secret: keys.writer.secret, scopes: [scopes.write], queryToken: true },
      ],
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  /** Headers and query for `key` using the profile's preferred credential. */
  function credential(key: Key): { headers: Record<string, string>; query: Record<string, string> } {
    const auth = profile.auth[0]!;
    switch (auth.kind) {
      case 'bearer':
        return { headers: { Authorization: `Bearer ${key.secret}` }, query: {} };
      case 'basic':
        return { headers: { Authorization: `Basic ${Buffer.from(`${key.id}:${key.secret}`).toString('base64')}` }, query: {} };
      case 'header':
        return { headers: { [auth.header]: key.secret }, query: {} };
      case 'query':
        return { headers: {}, query: { [auth.param]: key.secret } };
      default:
        return { headers: {}, query: {} };
    }
  }

  function url(path: string, params: Record<string, string | undefined> = {}): string {
    const target = new URL(path, server.url);
    for (const [name, value] of Object.entries(params)) if (value !== undefined) target.searchParams.set(name, value);
    return target.toString();
  }

  /** Query parameters by role, renamed to the bundle's names. */
  function byRole(params: Partial<Record<keyof WireProfile['params'], string>>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [role, value] of Object.entries(params)) {
      const name = profile.params[role as keyof WireProfile['params']];
      if (!name) throw new Error(`${c.name} has no ${role} parameter`);
      out[name] = value!;
    }
    return out;
  }

  async function publish(event: { type: string; data: Record<string, unknown> }): Promise<Record<string, unknown>> {
    const { headers, query } = credential(keys.admin);
    const response = await fetch(url(profile.paths.publish!, query), {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify(event),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as Record<string, unknown>;
  }

  function idOf(envelope: Record<string, unknown>): string {
    return String(envelope[profile.envelope.id!]);
  }

  it('answers 401 with the bundle error body and the challenge of its scheme', async () => {
    const response = await fetch(url(profile.paths.sse!));
    expect(response.status).toBe(401);
    const body = (await response.json()) as Record<string, unknown>;
    const style = bundle.errors.codes.get('AUTH_REQUIRED')?.body ?? bundle.errors.body;
    if (style) expect(Object.keys(body)).toEqual([...style.fields.map((f) => (f.kind === 'value' ? f.key : '')).filter((k) => k && body[k] !== undefined)]);
    else expect(body).toMatchObject({ code: 'AUTH_REQUIRED' });
    const http = bundle.operations.find((op) => op.role === 'stream-sse')!.schemes.find((s) => s.kind === 'basic' || s.kind === 'bearer');
    expect(response.headers.get('www-authenticate')).toBe(`${http?.kind === 'basic' ? 'Basic' : 'Bearer'} realm="specstream"`);
  });

  it('lists history and gets one event in the bundle envelope', async () => {
    const stored = await publish(c.a);
    const { headers, query } = credential(keys.admin);
    const list = await fetch(url(profile.paths.list!, { ...query, ...byRole({ since_id: 'evt_00000000000000000000000000', limit: '1000' }) }), { headers });
    expect(list.status).toBe(200);
    const page = (await list.json()) as { data: Record<string, unknown>[] };
    expect(page.data.map(idOf)).toContain(idOf(stored));
    expect(page.data.find((e) => idOf(e) === idOf(stored))).toEqual(stored);
    const getOp = bundle.operations.find((op) => op.role === 'get-event')!;
    const one = await fetch(url(getOp.path.replace(/\{[^}]+\}/, idOf(stored)), query), { headers });
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual(stored);
  });

  it('answers the permission check with 200, 403 and 401 and opens no stream', async () => {
    const check = (key: Key | undefined, params: Record<string, string> = {}) => {
      const { headers, query } = key ? credential(key) : { headers: {}, query: {} };
      return fetch(url(profile.paths.head!, { ...query, ...params }), { method: 'HEAD', headers }).then((r) => r.status);
    };
    expect(await check(keys.admin)).toBe(200);
    expect(await check(keys.writer)).toBe(403);
    expect(await check(keys.onlyA, byRole({ types: c.b.type }))).toBe(403);
    expect(await check(undefined)).toBe(401);
    expect(server.hub.subscriberCount).toBe(0);
  });

  it('serves a docs portal rendered from its own documents', async () => {
    const docs = bundle.operations.find((op) => op.role === 'docs')!;
    const page = bundle.operations.find((op) => op.role === 'docs-page')!;
    const index = await fetch(url(docs.path));
    expect(index.status).toBe(200);
    const catalog = await (await fetch(url(page.path.replace(/\{[^}]+\}/, 'catalog.html')))).text();
    for (const entry of bundle.catalog) expect(catalog).toContain(`id="${entry.type}"`);
    const api = await fetch(url(page.path.replace(/\{[^}]+\}/, 'api.html')));
    expect(api.status).toBe(200);
    expect(await api.text()).toContain(bundle.title);
  }, 120_000);
});
