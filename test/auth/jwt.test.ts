import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { answer, claims, JwksServer, SECRET, sign, SilentServer, startAuthServer, testKey, unsigned, type AuthServer, type TestKey } from './helpers.js';

const AUDIENCE = 'specstream-tests';
const ISSUER = 'https://issuer.test';

/** Claims with the audience and issuer the servers below require. */
const good = (extra: Record<string, unknown> = {}, ttlS?: number) => claims({ aud: AUDIENCE, iss: ISSUER, ...extra }, ttlS);

describe('JWT bearer tokens (issue 15)', () => {
  let jwks: JwksServer;
  let rsa: TestKey;
  let ps: TestKey;
  let ec: TestKey;
  let ed: TestKey;
  let server: AuthServer;

  beforeAll(async () => {
    [rsa, ps, ec, ed] = await Promise.all([testKey('RS256', 'rsa'), testKey('PS256', 'ps'), testKey('ES256', 'ec'), testKey('EdDSA', 'ed')]);
    jwks = await new JwksServer([rsa.jwk, ps.jwk, ec.jwk, ed.jwk]).start();
    server = await startAuthServer({
      jwt_secret: SECRET,
      jwks_url: jwks.url,
      jwt_audience: AUDIENCE,
      jwt_issuer: ISSUER,
      jwt_clock_tolerance_s: 5,
      jwt_cookie: 'specstream_token',
    });
  });
  afterAll(async () => {
    await server?.dispose();
    await jwks?.stop();
  });

  const list = (token: string, path = '/v1/events') => fetch(`${server.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });

  describe('accepts a valid token of every algorithm family', () => {
    it.each([
      ['HS256 (jwt_secret)', () => sign(SECRET, good())],
      ['RS256 (JWKS, by kid)', () => sign(rsa, good())],
      ['PS256 (JWKS, by kid)', () => sign(ps, good())],
      ['ES256 (JWKS, by kid)', () => sign(ec, good())],
      ['EdDSA Ed25519 (JWKS, by kid)', () => sign(ed, good())],
    ])('%s', async (_name, make) => {
      const response = await list(await make());
      expect(response.status).toBe(200);
      await response.body?.cancel();
    });
  });

  describe('refuses each failed check with its status and code', () => {
    const now = () => Math.floor(Date.now() / 1000);
    it.each<[string, () => Promise<string>, number, string]>([
      ['expired (past the clock tolerance)', () => sign(SECRET, good({ exp: now() - 60 })), 401, 'TOKEN_EXPIRED'],
      ['not yet valid (nbf)', () => sign(rsa, good({ nbf: now() + 120 })), 401, 'TOKEN_NOT_YET_VALID'],
      ['issued in the future (iat)', () => sign(ec, good({ iat: now() + 120 })), 401, 'TOKEN_NOT_YET_VALID'],
      ['wrong audience', () => sign(SECRET, good({ aud: 'another-api' })), 401, 'TOKEN_WRONG_AUDIENCE'],
      ['wrong issuer', () => sign(ed, good({ iss: 'https://evil.test' })), 401, 'TOKEN_WRONG_ISSUER'],
      ['alg: none', async () => unsigned(good()), 401, 'TOKEN_ALGORITHM_REFUSED'],
      ['an algorithm outside the allow-list (HS256 with an unknown kid is still the secret; RS1 is not an algorithm)', async () => {
        const token = await sign(SECRET, good());
        const [, payload, signature] = token.split('.');
        return `${Buffer.from(JSON.stringify({ alg: 'RS1', kid: 'rsa' })).toString('base64url')}.${payload}.${signature}`;
      }, 401, 'TOKEN_ALGORITHM_REFUSED'],
      ['HS256 signed with another secret', () => sign('another-secret-of-at-least-thirty-two-bytes', good()), 401, 'TOKEN_BAD_SIGNATURE'],
      ['HS256 signed with the RSA public key as the secret (HS/RS confusion)', async () => sign(rsa.pem, good(), { kid: 'rsa' }), 401, 'TOKEN_BAD_SIGNATURE'],
      ['RS256 signed by another key under a known kid', async () => sign({ ...(await testKey('RS256', 'rsa')) }, good()), 401, 'TOKEN_BAD_SIGNATURE'],
      ['an unknown kid', async () => sign(await testKey('ES256', 'rotated-away'), good()), 401, 'TOKEN_UNKNOWN_KEY'],
      ['not a JWS (three parts that are not base64url JSON)', async () => 'abc.def.ghi', 401, 'TOKEN_MALFORMED'],
      ['no exp', () => sign(SECRET, { aud: AUDIENCE, iss: ISSUER, scope: 'events:read' }), 401, 'TOKEN_MALFORMED'],
    ])('%s', async (_name, make, status, code) => {
      const response = await list(await make());
      expect(await answer(response)).toEqual({ status, code });
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="specstream"');
    });

    it('accepts a token expired less than jwt_clock_tolerance_s ago', async () => {
      const response = await list(await sign(SECRET, good({ exp: Math.floor(Date.now() / 1000) - 2 })));
      expect(response.status).toBe(200);
      await response.body?.cancel();
    });
  });

  it('takes scopes from scp (an array) and applies them per type', async () => {
    const token = await sign(rsa, good({ scope: undefined, scp: ['events:read:grant.*'] }));
    expect((await list(token, '/v1/events?types=grant.*')).status).toBe(200);
    expect(await answer(await list(token, '/v1/events?types=security.alert'))).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('gives a token without a read scope no read access (403), and never write access', async () => {
    const token = await sign(SECRET, good({ scope: 'events:read' }));
    const response = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'grant.created', data: { grantId: 'grnt_1', userId: 'u', scopes: ['a:b'] } }),
    });
    expect(await answer(response)).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('accepts a token as ?token= and as the jwt_cookie cookie on read operations, not the cookie on publish', async () => {
    const token = await sign(SECRET, good({ scope: 'events:read events:write' }));
    const query = await fetch(`${server.url}/v1/events?token=${token}`);
    expect(query.status).toBe(200);
    const cookie = await fetch(`${server.url}/v1/events`, { headers: { Cookie: `other=1; specstream_token=${token}` } });
    expect(cookie.status).toBe(200);
    const publish = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { Cookie: `specstream_token=${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'grant.created', data: { grantId: 'grnt_1', userId: 'u', scopes: ['a:b'] } }),
    });
    expect(await answer(publish)).toEqual({ status: 401, code: 'AUTH_REQUIRED' });
  });

  it('opens a WebSocket with a JWT, and refuses an expired one before upgrading', async () => {
    const wsUrl = server.url.replace(/^http/, 'ws');
    const open = new WebSocket(`${wsUrl}/v1/events/ws`, { headers: { Authorization: `Bearer ${await sign(ec, good())}` } });
    await new Promise<void>((resolve, reject) => {
      open.once('open', () => resolve());
      open.once('error', reject);
    });
    open.close();
    const expired = new WebSocket(`${wsUrl}/v1/events/ws?token=${await sign(SECRET, good({ exp: Math.floor(Date.now() / 1000) - 60 }))}`);
    const refused = await new Promise<{ status: number; body: string }>((resolve) => {
      expired.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
    });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'TOKEN_EXPIRED' });
  });

  it('counts every refusal by reason in specstream_auth_failures_total', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: 'Bearer sk_test_admin' } })).text();
    for (const reason of ['expired', 'not_yet_valid', 'wrong_audience', 'wrong_issuer', 'bad_algorithm', 'bad_signature', 'unknown_key', 'malformed']) {
      expect(metrics).toMatch(new RegExp(`specstream_auth_failures_total\\{reason="${reason}"\\} [1-9]`));
    }
  });

  it('never logs a token: not in URLs, cookies, or error lines', async () => {
    const token = await sign(SECRET, good({ exp: Math.floor(Date.now() / 1000) - 60 }));
    await (await fetch(`${server.url}/v1/events?token=${token}`)).text();
    await (await fetch(`${server.url}/v1/events/${token}`, { headers: { Authorization: `Bearer ${token}` } })).text();
    await (await fetch(`${server.url}/v1/events`, { headers: { Cookie: `specstream_token=${token}` } })).text();
    const log = server.lines.join('');
    expect(log).toContain('"status":401');
    const [header, payload, signature] = token.split('.');
    for (const part of [token, `${header}.${payload}`, signature!]) expect(log).not.toContain(part);
  });
});

describe('JWT keys: algorithm allow-lists (HS/RS confusion)', () => {
  let rsa: TestKey;
  let pemOnly: AuthServer;
  let secretOnly: AuthServer;

  let dir: string;

  beforeAll(async () => {
    rsa = await testKey('RS256', 'rsa');
    dir = mkdtempSync(join(tmpdir(), 'specstream-pem-'));
    writeFileSync(join(dir, 'rsa.pem'), rsa.pem);
    pemOnly = await startAuthServer({ jwt_public_key: join(dir, 'rsa.pem') });
    secretOnly = await startAuthServer({ jwt_secret: SECRET, jwt_query_token: false });
  });
  afterAll(async () => {
    await pemOnly?.dispose();
    await secretOnly?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (server: AuthServer, token: string) => fetch(`${server.url}/v1/events`, { headers: { Authorization: `Bearer ${token}` } });

  it('verifies RS256 with the PEM public key (no kid needed)', async () => {
    const response = await get(pemOnly, await sign({ ...rsa, kid: 'whatever' }, claims()));
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it('never uses the RSA public key as an HMAC secret: an HS256 token signed with it is refused', async () => {
    expect(await answer(await get(pemOnly, await sign(rsa.pem, claims())))).toEqual({ status: 401, code: 'TOKEN_ALGORITHM_REFUSED' });
  });

  it('refuses an RS256 token where only an HS secret is configured', async () => {
    expect(await answer(await get(secretOnly, await sign(rsa, claims())))).toEqual({ status: 401, code: 'TOKEN_ALGORITHM_REFUSED' });
  });

  it('refuses a JWT as ?token= with jwt_query_token: false (403 QUERY_TOKEN_DISABLED), the same token in the header works', async () => {
    const token = await sign(SECRET, claims());
    expect(await answer(await fetch(`${secretOnly.url}/v1/events?token=${token}`))).toEqual({ status: 403, code: 'QUERY_TOKEN_DISABLED' });
    expect((await get(secretOnly, token)).status).toBe(200);
  });
});

describe('JWKS deadlines', () => {
  let silent: SilentServer;
  let hanging: AuthServer;
  let refused: AuthServer;

  beforeAll(async () => {
    silent = await new SilentServer().start();
    hanging = await startAuthServer({ jwks_url: silent.url, jwks_timeout_ms: 300 });
    // A port nothing listens on: the silent server's, once closed, is not guaranteed free; use port 1.
    refused = await startAuthServer({ jwks_url: 'http://127.0.0.1:1/jwks.json', jwks_timeout_ms: 300 });
  });
  afterAll(async () => {
    await hanging?.dispose();
    await refused?.dispose();
    await silent?.stop();
  });

  it.each([
    ['a JWKS host that accepts and never answers', () => hanging],
    ['a JWKS host that refuses connections', () => refused],
  ])('answers 503 JWKS_UNAVAILABLE for %s, within the deadline', async (_name, server) => {
    const key = await testKey('ES256', 'ec');
    const started = Date.now();
    const response = await fetch(`${server().url}/v1/events`, { headers: { Authorization: `Bearer ${await sign(key, claims())}` } });
    expect(await answer(response)).toEqual({ status: 503, code: 'JWKS_UNAVAILABLE' });
    // jwks_timeout_ms is 300: without a deadline the request would hang for as long as the host does.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('still accepts static keys while the key set is unreachable', async () => {
    const response = await fetch(`${hanging.url}/v1/events`, { headers: { Authorization: 'Bearer sk_test_reader' } });
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });
});
