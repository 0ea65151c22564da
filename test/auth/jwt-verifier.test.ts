import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtVerifier, type JwtSettings } from '../../src/auth/jwt-verifier.js';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { failureReason } from '../../src/auth/auth-failure.js';
import { claims, JwksServer, SECRET, sign, testKey } from './helpers.js';

const BASE: JwtSettings = {
  secret: '',
  publicKeyPem: '',
  jwksUrl: '',
  jwksTimeoutMs: 1000,
  audience: [],
  issuer: [],
  scopeClaim: '',
  clockToleranceS: 0,
};

/** The registry code and reason of a rejection. */
async function refusal(promise: Promise<unknown>): Promise<{ code: string; reason: string | undefined }> {
  try {
    await promise;
  } catch (error) {
    return { code: (error as { code: string }).code, reason: failureReason(error) };
  }
  throw new Error('expected a rejection');
}

describe('JwtVerifier', () => {
  describe('a PEM public key verifies the algorithms of its key type only', () => {
    it.each([
      ['RSA', 'RS256', ['RS384', 'PS256'], 'ES256'],
      ['RSA (PSS signatures)', 'PS256', ['RS256'], 'EdDSA'],
      ['EC P-256', 'ES256', [], 'RS256'],
      ['EC P-384', 'ES384', [], 'ES256'],
      ['Ed25519', 'EdDSA', [], 'ES256'],
    ])('%s: %s', async (_name, alg, _also, other) => {
      const key = await testKey(alg, 'k');
      const verifier = new JwtVerifier({ ...BASE, publicKeyPem: key.pem });
      const verified = await verifier.verify(await sign(key, claims({ scope: 'events:read:grant.* events:write' })));
      expect(verified.scopes).toEqual(['events:read:grant.*', 'events:write']);
      expect(verified.subject).toBe('partner');
      const foreign = await testKey(other, 'k');
      expect((await refusal(verifier.verify(await sign(foreign, claims())))).reason).toMatch(/^(bad_algorithm|bad_signature)$/);
    });
  });

  it('refuses a configuration mistake with a sentence naming the option', () => {
    expect(() => new JwtVerifier({ ...BASE, secret: 'short' })).toThrow(/jwt_secret must be at least 32 bytes/);
    expect(() => new JwtVerifier({ ...BASE, publicKeyPem: 'not a key' })).toThrow(/jwt_public_key is not a PEM public key/);
    expect(() => new JwtVerifier({ ...BASE, jwksUrl: '/nonexistent/jwks.json' })).toThrow(/jwks_url: cannot read a JWKS/);
  });

  it('reads scopes from jwt_scope_claim (a string or an array), ignoring other claims', async () => {
    const verifier = new JwtVerifier({ ...BASE, secret: SECRET, scopeClaim: 'permissions' });
    expect((await verifier.verify(await sign(SECRET, claims({ permissions: ['events:read'], scope: 'admin' })))).scopes).toEqual(['events:read']);
    expect((await verifier.verify(await sign(SECRET, claims({ permissions: 'a b' })))).scopes).toEqual(['a', 'b']);
  });

  it('accepts several audiences and issuers (any of them)', async () => {
    const verifier = new JwtVerifier({ ...BASE, secret: SECRET, audience: ['a', 'b'], issuer: ['x', 'y'] });
    await expect(verifier.verify(await sign(SECRET, claims({ aud: 'b', iss: 'y' })))).resolves.toBeDefined();
    expect((await refusal(verifier.verify(await sign(SECRET, claims({ aud: 'c', iss: 'y' }))))).code).toBe('TOKEN_WRONG_AUDIENCE');
    expect((await refusal(verifier.verify(await sign(SECRET, claims({ aud: 'a' }))))).code).toBe('TOKEN_WRONG_ISSUER');
  });

  describe('JWKS', () => {
    let jwks: JwksServer;
    let dir: string;
    beforeAll(async () => {
      jwks = await new JwksServer([]).start();
      dir = mkdtempSync(join(tmpdir(), 'specstream-jwks-'));
    });
    afterAll(async () => {
      await jwks.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('fetches the set again for an unknown kid (a rotated key works at once), and not for a known one', async () => {
      const first = await testKey('ES256', 'first');
      jwks.keys = [first.jwk];
      const verifier = new JwtVerifier({ ...BASE, jwksUrl: jwks.url, jwksCooldownMs: 0 });
      await verifier.verify(await sign(first, claims()));
      await verifier.verify(await sign(first, claims()));
      expect(jwks.requests).toBe(1);
      const second = await testKey('EdDSA', 'second');
      jwks.keys = [first.jwk, second.jwk];
      await verifier.verify(await sign(second, claims()));
      expect(jwks.requests).toBe(2);
      expect(await refusal(verifier.verify(await sign(await testKey('ES256', 'third'), claims())))).toEqual({ code: 'TOKEN_UNKNOWN_KEY', reason: 'unknown_key' });
    });

    it('never takes an HMAC key from a key set', async () => {
      jwks.keys = [{ kty: 'oct', kid: 'hmac', k: Buffer.from(SECRET).toString('base64url'), alg: 'HS256' }];
      const verifier = new JwtVerifier({ ...BASE, jwksUrl: jwks.url, jwksCooldownMs: 0 });
      expect((await refusal(verifier.verify(await sign(SECRET, claims(), { kid: 'hmac' })))).reason).toBe('bad_algorithm');
    });

    it('reads a JWKS file, again when a token names a kid it lacks and the file changed', async () => {
      const path = join(dir, 'jwks.json');
      const first = await testKey('RS256', 'first');
      writeFileSync(path, JSON.stringify({ keys: [first.jwk] }));
      const verifier = new JwtVerifier({ ...BASE, jwksUrl: path, jwksCooldownMs: 0 });
      await verifier.verify(await sign(first, claims()));
      const second = await testKey('ES256', 'second');
      expect((await refusal(verifier.verify(await sign(second, claims())))).code).toBe('TOKEN_UNKNOWN_KEY');
      // A different mtime: written a moment later (the file system's clock decides, not the test's).
      const mtime = (await import('node:fs')).statSync(path).mtimeMs;
      do writeFileSync(path, JSON.stringify({ keys: [first.jwk, second.jwk] }));
      while ((await import('node:fs')).statSync(path).mtimeMs === mtime);
      await expect(verifier.verify(await sign(second, claims()))).resolves.toBeDefined();
    });
  });

  it('accepts the token issuer’s own tokens by kid when no jwt_secret is set, and no forged ones', async () => {
    const issuer = new TokenIssuer('', undefined, undefined);
    const verifier = new JwtVerifier(BASE, issuer.selfKey);
    const minted = await issuer.mint({ subject: 'reader', scopes: ['events:read:grant.*'], ttlS: 60, origin: 'https://app.example' });
    const verified = await verifier.verify(minted.token);
    expect(verified).toMatchObject({ subject: 'reader', scopes: ['events:read:grant.*'], origin: 'https://app.example', expiresAt: minted.expiresAt });
    const forged = await sign(SECRET, claims(), { kid: issuer.selfKey!.kid });
    expect((await refusal(verifier.verify(forged))).code).toBe('TOKEN_BAD_SIGNATURE');
    // A reload that keeps jwt_secret empty keeps the key, so tokens minted before it still verify.
    const reloaded = new TokenIssuer('', undefined, undefined, issuer);
    await expect(new JwtVerifier(BASE, reloaded.selfKey).verify(minted.token)).resolves.toBeDefined();
  });
});
