import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantedScopes } from '../../src/handlers/issue-token.js';
import { Principal } from '../../src/auth/principal.js';
import { EVENT_TYPES } from '../../src/generated/catalog.js';
import { TEST_KEYS } from '../helpers/test-server.js';
import { answer, SECRET, startAuthServer, type AuthServer } from './helpers.js';

const KEYS = [
  ...Object.values(TEST_KEYS).map((key) => ({ id: key.id, secret: key.secret, scopes: [...key.scopes], queryToken: true })),
  { id: 'partner', secret: 'sk_test_partner', scopes: ['events:read:grant.*', 'events:read:token.issued', 'tokens:issue'], queryToken: false },
  { id: 'backend', secret: 'sk_test_backend', scopes: ['events:read', 'events:write', 'tokens:issue'], queryToken: false },
];

interface TokenAnswer {
  access_token: string;
  token_type: string;
  expires_in: number;
  expires_at: string;
  scope: string;
  origin?: string;
}

describe('POST /v1/tokens (issue 15)', () => {
  let server: AuthServer;
  let signed: AuthServer;

  beforeAll(async () => {
    server = await startAuthServer({ keys: KEYS, cors_origins: ['https://dashboard.example'] });
    signed = await startAuthServer({ keys: KEYS, jwt_secret: SECRET, jwt_issuer: 'https://events.example', jwt_audience: 'events', token_ttl_s: 120, token_max_ttl_s: 600 });
  });
  afterAll(async () => {
    await server?.dispose();
    await signed?.dispose();
  });

  const mint = (target: AuthServer, key: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${target.url}/v1/tokens`, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('mints a token with the caller’s read scopes, 15 minutes by default, never cached', async () => {
    const response = await mint(server, 'sk_test_partner', {});
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as TokenAnswer;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'events:read:grant.* events:read:token.issued' });
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({ sub: 'partner', iss: 'specstream', scope: 'events:read:grant.* events:read:token.issued' });
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(Date.parse(body.expires_at)).toBe(claims.exp! * 1000);
  });

  it('signs with jwt_secret (iss jwt_issuer, aud jwt_audience, token_ttl_s) when it is set, verifiable by any node sharing it', async () => {
    const body = (await (await mint(signed, 'sk_test_backend', { subject: 'usr_42' })).json()) as TokenAnswer;
    const { payload, protectedHeader } = await jwtVerify(body.access_token, new TextEncoder().encode(SECRET), { issuer: 'https://events.example', audience: 'events' });
    expect(protectedHeader).toMatchObject({ alg: 'HS256', typ: 'JWT' });
    expect(protectedHeader.kid).toBeUndefined();
    expect(payload).toMatchObject({ sub: 'backend:usr_42', scope: 'events:read' });
    expect(body.expires_in).toBe(120);
  });

  it('signs with a per-process key, named by its kid, when jwt_secret is empty', async () => {
    const body = (await (await mint(server, 'sk_test_backend', {})).json()) as TokenAnswer;
    expect(decodeProtectedHeader(body.access_token).kid).toMatch(/^specstream-[0-9a-f]{12}$/);
  });

  it('narrows a requested glob to the catalog types the caller may read, and keeps the caller’s own scopes as written', async () => {
    const narrowed = (await (await mint(server, 'sk_test_partner', { scopes: ['events:read:grant.created', 'events:read:token.*'] })).json()) as TokenAnswer;
    expect(narrowed.scope).toBe('events:read:grant.created events:read:token.issued');
    const own = (await (await mint(server, 'sk_test_partner', { scopes: ['events:read:grant.*'] })).json()) as TokenAnswer;
    expect(own.scope).toBe('events:read:grant.*');
  });

  it.each<[string, string, unknown, number, string]>([
    ['no credentials', '', {}, 401, 'AUTH_REQUIRED'],
    ['a key without tokens:issue', 'sk_test_reader', {}, 403, 'FORBIDDEN'],
    ['a write scope', 'sk_test_backend', { scopes: ['events:write'] }, 403, 'SCOPE_NOT_GRANTED'],
    ['admin', 'sk_test_backend', { scopes: ['admin'] }, 403, 'SCOPE_NOT_GRANTED'],
    ['tokens:issue itself', 'sk_test_backend', { scopes: ['tokens:issue'] }, 403, 'SCOPE_NOT_GRANTED'],
    ['a type the caller may not read', 'sk_test_partner', { scopes: ['events:read:security.alert'] }, 403, 'SCOPE_NOT_GRANTED'],
    ['every type, from a caller limited to some', 'sk_test_partner', { scopes: ['events:read'] }, 403, 'SCOPE_NOT_GRANTED'],
    ['a glob wider than the caller’s', 'sk_test_partner', { scopes: ['events:read:*'] }, 403, 'SCOPE_NOT_GRANTED'],
    ['a glob matching nothing', 'sk_test_partner', { scopes: ['events:read:grant.nothing*'] }, 403, 'SCOPE_NOT_GRANTED'],
    ['ttl_s above token_max_ttl_s', 'sk_test_backend', { ttl_s: 3601 }, 400, 'VALIDATION_FAILED'],
    ['ttl_s of 0', 'sk_test_backend', { ttl_s: 0 }, 400, 'VALIDATION_FAILED'],
    ['an origin with a path', 'sk_test_backend', { origin: 'https://dashboard.example/app' }, 400, 'VALIDATION_FAILED'],
    ['an unknown member', 'sk_test_backend', { scope: 'events:read' }, 400, 'VALIDATION_FAILED'],
    ['a body that is not an object', 'sk_test_backend', ['events:read'], 400, 'VALIDATION_FAILED'],
  ])('refuses %s', async (_name, key, body, status, code) => {
    const response = key === '' ? await fetch(`${server.url}/v1/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }) : await mint(server, key, body);
    expect(await answer(response)).toEqual({ status, code });
  });

  it('gives a minted token read access only, to what it carries', async () => {
    const { access_token: token } = (await (await mint(server, 'sk_test_backend', { scopes: ['events:read:grant.*'] })).json()) as TokenAnswer;
    const auth = { Authorization: `Bearer ${token}` };
    expect((await fetch(`${server.url}/v1/events?types=grant.created`, { headers: auth })).status).toBe(200);
    expect(await answer(await fetch(`${server.url}/v1/events?types=security.alert`, { headers: auth }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    const publish = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'grant.created', data: { grantId: 'grnt_1', userId: 'u', scopes: ['a:b'] } }),
    });
    expect(await answer(publish)).toEqual({ status: 403, code: 'FORBIDDEN' });
    // A minted token cannot mint: it carries no tokens:issue.
    expect(await answer(await mint(server, token, {}))).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('binds a token to an origin: another Origin is 403 TOKEN_ORIGIN_MISMATCH, the same or none is served', async () => {
    const body = (await (await mint(server, 'sk_test_backend', { origin: 'https://dashboard.example' })).json()) as TokenAnswer;
    expect(body.origin).toBe('https://dashboard.example');
    const url = `${server.url}/v1/events?token=${body.access_token}`;
    expect(await answer(await fetch(url, { headers: { Origin: 'https://evil.example' } }))).toEqual({ status: 403, code: 'TOKEN_ORIGIN_MISMATCH' });
    expect((await fetch(url, { headers: { Origin: 'https://dashboard.example' } })).status).toBe(200);
    expect((await fetch(url)).status).toBe(200);
  });

  it('gives each subject its own connection limit (sub is <caller>:<subject>)', async () => {
    const body = (await (await mint(server, 'sk_test_backend', { subject: 'usr_7' })).json()) as TokenAnswer;
    expect(decodeJwt(body.access_token).sub).toBe('backend:usr_7');
  });
});

describe('grantedScopes', () => {
  const catalog = [...EVENT_TYPES];
  it.each<[string, string[], string[] | undefined, string[]]>([
    ['an admin gets events:read by default', ['admin'], undefined, ['events:read']],
    ['a full reader keeps any read glob as written', ['events:read', 'tokens:issue'], ['events:read:*.created'], ['events:read:*.created']],
    ['a limited reader gets its own read scopes by default', ['events:read:grant.*', 'events:write', 'tokens:issue'], undefined, ['events:read:grant.*']],
    ['duplicates are granted once', ['events:read:grant.*'], ['events:read:grant.created', 'events:read:grant.created'], ['events:read:grant.created']],
  ])('%s', (_name, scopes, requested, granted) => {
    expect(grantedScopes(new Principal('k', scopes, 'bearer'), requested, catalog)).toEqual(granted);
  });
});
