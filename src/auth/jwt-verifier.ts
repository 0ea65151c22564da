/**
 * Verifies JWT bearer tokens (RFC 7519) with `jose`: the signature (RFC 7515) with a key chosen by
 * the token's `alg` and `kid`, then `exp`, `nbf` and `iat` (with a clock tolerance), `aud` and `iss`.
 *
 * Keys and their algorithms (an allow-list per key, so that an HS key never accepts an RS-signed
 * token and an RSA public key is never used as an HMAC secret, RFC 8725 section 3.1):
 * - `jwt_secret`: HS256/HS384/HS512;
 * - `jwt_public_key` (PEM): the algorithms of its key type only (RSA: RS* and PS*; EC: the ES of
 *   its curve; Ed25519: EdDSA);
 * - `jwks_url` (RFC 7517, a URL or a file): asymmetric algorithms only, the key chosen by `kid`;
 * - the token issuer's own key (`POST /v1/tokens`), by its `kid`, HS256.
 * `alg: none` is refused before anything else. Every failure is a registry error marked with its
 * reason (auth-failure.ts); a key set that cannot be fetched within `jwks_timeout_ms` is a 503.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { JWTPayload, JWTVerifyGetKey, createLocalJWKSet } from 'jose';
import { asSpecstreamError, errors, type SpecstreamError } from '../errors.js';
import { authFailure, type AuthFailureReason } from './auth-failure.js';
import { jose } from './jose.js';

/** HMAC algorithms a shared secret accepts. */
const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
/** Asymmetric algorithms a JWKS may use. */
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
/** A file JWKS is read again for an unknown `kid` at most this often (as jose's remote cooldown). */
const JWKS_COOLDOWN_MS = 30_000;
/** Shortest `jwt_secret` (RFC 7518 section 3.2: a key at least as long as the hash output). */
export const MIN_SECRET_BYTES = 32;

/** The JWT settings of the configuration (option names as in src/config/options.ts). */
export interface JwtSettings {
  /** HS shared secret; empty: none. */
  secret: string;
  /** PEM text of a public key (already read from `jwt_public_key`); empty: none. */
  publicKeyPem: string;
  /** `jwks_url`: an http(s) URL or a file path; empty: none. */
  jwksUrl: string;
  jwksTimeoutMs: number;
  /** Accepted `aud` values; empty: not checked. */
  audience: readonly string[];
  /** Accepted `iss` values; empty: not checked. */
  issuer: readonly string[];
  /** The scopes claim; empty: `scope`, else `scp`. */
  scopeClaim: string;
  clockToleranceS: number;
  /** How often a key set may be fetched (or a JWKS file read) again for an unknown `kid`; defaults to 30 s. */
  jwksCooldownMs?: number;
}

/** The issuer's own key (token-issuer.ts): tokens whose header names its `kid`. */
export interface SelfKey {
  kid: string;
  secret: Uint8Array;
}

/** A verified token: what a principal is built from. */
export interface VerifiedToken {
  /** `sub`, if any. */
  subject: string | undefined;
  scopes: string[];
  /** `exp` in ms since the epoch. */
  expiresAt: number;
  /** The `origin` claim (a minted browser token), if any. */
  origin: string | undefined;
}

interface KeySource {
  /** For messages and configuration errors. */
  name: string;
  algorithms: readonly string[];
  key: Uint8Array | KeyObject | JWTVerifyGetKey;
}

/**
 * The configured JWT keys. Built once per configuration (a reload builds a new one); the
 * constructor throws TypeError with a sentence naming the option for a configuration mistake.
 */
export class JwtVerifier {
  readonly #settings: JwtSettings;
  readonly #secret: KeySource | undefined;
  readonly #pem: KeySource | undefined;
  readonly #jwks: KeySource | undefined;
  readonly #self: SelfKey | undefined;

  constructor(settings: JwtSettings, self?: SelfKey) {
    this.#settings = settings;
    this.#self = self;
    if (settings.secret !== '') {
      if (Buffer.byteLength(settings.secret) < MIN_SECRET_BYTES) throw new TypeError(`jwt_secret must be at least ${MIN_SECRET_BYTES} bytes long`);
      this.#secret = { name: 'jwt_secret', algorithms: HMAC_ALGORITHMS, key: new TextEncoder().encode(settings.secret) };
    }
    if (settings.publicKeyPem !== '') {
      let key: KeyObject;
      try {
        key = createPublicKey(settings.publicKeyPem);
      } catch (error) {
        throw new TypeError(`jwt_public_key is not a PEM public key: ${(error as Error).message}`);
      }
      this.#pem = { name: 'jwt_public_key', algorithms: algorithmsOf(key), key };
    }
    if (settings.jwksUrl !== '') {
      const key = jwksOf(settings.jwksUrl, settings.jwksTimeoutMs, settings.jwksCooldownMs ?? JWKS_COOLDOWN_MS);
      this.#jwks = { name: 'jwks_url', algorithms: ASYMMETRIC_ALGORITHMS, key };
    }
  }

  /** True when some key besides the issuer's own is configured. */
  get configured(): boolean {
    return this.#secret !== undefined || this.#pem !== undefined || this.#jwks !== undefined;
  }

  /**
   * Verifies `token` and reads its claims. Rejects with a registry error marked with its reason:
   * TOKEN_MALFORMED, TOKEN_ALGORITHM_REFUSED, TOKEN_UNKNOWN_KEY, TOKEN_BAD_SIGNATURE,
   * TOKEN_EXPIRED, TOKEN_NOT_YET_VALID, TOKEN_WRONG_AUDIENCE, TOKEN_WRONG_ISSUER (401) or
   * JWKS_UNAVAILABLE (503).
   */
  async verify(token: string): Promise<VerifiedToken> {
    let header: { alg?: unknown; kid?: unknown };
    try {
      header = jose().decodeProtectedHeader(token);
    } catch {
      throw fail('malformed', errors.tokenMalformed('The token is not a JWS compact serialization (RFC 7515 section 7.1)'));
    }
    const alg = typeof header.alg === 'string' ? header.alg : undefined;
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    if (alg === undefined || alg.toLowerCase() === 'none') throw fail('bad_algorithm', errors.tokenAlgorithmRefused('Unsigned tokens (alg: none) are never accepted'));
    const source = this.#select(alg, kid);
    const settings = this.#settings;
    let payload: JWTPayload;
    try {
      ({ payload } = await jose().jwtVerify(token, source.key as Uint8Array, {
        algorithms: [...source.algorithms],
        clockTolerance: settings.clockToleranceS,
        requiredClaims: ['exp'],
        ...(settings.audience.length > 0 ? { audience: [...settings.audience] } : {}),
        ...(settings.issuer.length > 0 ? { issuer: [...settings.issuer] } : {}),
      }));
    } catch (error) {
      throw mapJoseError(error);
    }
    const now = Date.now() / 1000;
    if (typeof payload.iat === 'number' && payload.iat > now + settings.clockToleranceS) {
      throw fail('not_yet_valid', errors.tokenNotYetValid('The token was issued in the future (iat)'));
    }
    const origin = (payload as { origin?: unknown }).origin;
    return {
      subject: typeof payload.sub === 'string' ? payload.sub : undefined,
      scopes: scopesOf(payload, settings.scopeClaim),
      expiresAt: (payload.exp as number) * 1000,
      origin: typeof origin === 'string' ? origin : undefined,
    };
  }

  /** The key that may verify a token with this `alg` and `kid`; throws TOKEN_ALGORITHM_REFUSED or TOKEN_UNKNOWN_KEY. */
  #select(alg: string, kid: string | undefined): KeySource {
    if ((HMAC_ALGORITHMS as readonly string[]).includes(alg)) {
      if (this.#self !== undefined && kid === this.#self.kid) return { name: 'issuer', algorithms: ['HS256'], key: this.#self.secret };
      if (this.#secret) return this.#secret;
      if (this.#self !== undefined && kid !== undefined && !this.configured) throw fail('unknown_key', errors.tokenUnknownKey());
      throw fail('bad_algorithm', errors.tokenAlgorithmRefused(`No configured key accepts ${alg} (HMAC) tokens`));
    }
    if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) throw fail('bad_algorithm', errors.tokenAlgorithmRefused(`Algorithm ${alg} is not accepted`));
    if (this.#jwks && (kid !== undefined || !this.#pem)) return this.#jwks;
    if (this.#pem?.algorithms.includes(alg)) return this.#pem;
    if (this.#jwks) return this.#jwks;
    throw fail('bad_algorithm', errors.tokenAlgorithmRefused(`No configured key accepts ${alg} tokens`));
  }
}

/** The algorithms a public key may verify, by its type and curve. */
function algorithmsOf(key: KeyObject): readonly string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const alg = curve === 'prime256v1' ? 'ES256' : curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : undefined;
      if (alg === undefined) throw new TypeError(`jwt_public_key: EC curve ${curve ?? '?'} is not one JWS uses (P-256, P-384, P-521)`);
      return [alg];
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      throw new TypeError(`jwt_public_key: a ${key.asymmetricKeyType ?? 'non-asymmetric'} key cannot verify JWTs (RSA, EC or Ed25519 expected)`);
  }
}

/** A JWKS from a URL (jose's remote set: cached, fetched again on an unknown `kid`) or a file. */
function jwksOf(location: string, timeoutMs: number, cooldownMs: number): JWTVerifyGetKey {
  let getKey: JWTVerifyGetKey;
  if (/^https?:\/\//i.test(location)) {
    getKey = jose().createRemoteJWKSet(new URL(location), { timeoutDuration: timeoutMs, cooldownDuration: cooldownMs, cacheMaxAge: 10 * 60_000 });
  } else {
    getKey = fileJwks(location, cooldownMs);
  }
  // Any failure to obtain keys that is not "no such key" is the key set's, not the token's.
  return async (header, token) => {
    try {
      return await getKey(header, token);
    } catch (error) {
      const failed = jose().errors;
      if (error instanceof failed.JWKSNoMatchingKey || error instanceof failed.JWKSMultipleMatchingKeys) throw error;
      if (error instanceof failed.JOSEAlgNotAllowed || error instanceof failed.JOSENotSupported) throw error;
      throw fail('jwks_unavailable', errors.jwksUnavailable(undefined, undefined, { cause: error }));
    }
  };
}

/** A JWKS file, read at start and again (at most every 30 s) when a token names an unknown `kid`. */
function fileJwks(path: string, cooldownMs: number): JWTVerifyGetKey {
  const read = (): JWTVerifyGetKey => {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new TypeError(`jwks_url: cannot read a JWKS from ${path}: ${(error as Error).message}`);
    }
    try {
      return jose().createLocalJWKSet(json as Parameters<typeof createLocalJWKSet>[0]);
    } catch (error) {
      throw new TypeError(`jwks_url: ${path} is not a JWKS: ${(error as Error).message}`);
    }
  };
  let current = read();
  let readAt = Date.now();
  let mtime = statSync(path).mtimeMs;
  return async (header, token) => {
    try {
      return await current(header, token);
    } catch (error) {
      if (!(error instanceof jose().errors.JWKSNoMatchingKey) || Date.now() - readAt < cooldownMs) throw error;
      readAt = Date.now();
      const changed = statSync(path).mtimeMs;
      if (changed === mtime) throw error;
      mtime = changed;
      current = read();
      return current(header, token);
    }
  };
}

/** The scopes of a claim set: the configured claim, else `scope` (space-separated, RFC 8693 section 4.2), else `scp`. */
function scopesOf(payload: JWTPayload, claim: string): string[] {
  const names = claim !== '' ? [claim] : ['scope', 'scp'];
  for (const name of names) {
    const value = payload[name];
    if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
    if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string' && item !== '');
  }
  return [];
}

function fail(reason: AuthFailureReason, error: SpecstreamError): SpecstreamError {
  return authFailure(reason, error);
}

/** A jose error as the registry error (and reason) a client gets. */
function mapJoseError(error: unknown): SpecstreamError {
  const failed = jose().errors;
  if (error instanceof failed.JWTExpired) return fail('expired', errors.tokenExpired());
  if (error instanceof failed.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' || error.claim === 'iat') return fail('not_yet_valid', errors.tokenNotYetValid());
    if (error.claim === 'aud') return fail('wrong_audience', errors.tokenWrongAudience());
    if (error.claim === 'iss') return fail('wrong_issuer', errors.tokenWrongIssuer());
    return fail('malformed', errors.tokenMalformed(`The token's "${error.claim}" claim is ${error.reason === 'missing' ? 'missing' : 'not valid'}`));
  }
  if (error instanceof failed.JWSSignatureVerificationFailed) return fail('bad_signature', errors.tokenBadSignature());
  if (error instanceof failed.JOSEAlgNotAllowed) return fail('bad_algorithm', errors.tokenAlgorithmRefused());
  if (error instanceof failed.JWKSNoMatchingKey) return fail('unknown_key', errors.tokenUnknownKey());
  if (error instanceof failed.JWKSMultipleMatchingKeys) return fail('unknown_key', errors.tokenUnknownKey('The token matches several keys of the key set: it needs a kid'));
  if (error instanceof failed.JOSEError) return fail('malformed', errors.tokenMalformed());
  // Already a registry error (the key set's, see jwksOf), or a bug (then a 500, logged in full).
  return asSpecstreamError(error);
}
