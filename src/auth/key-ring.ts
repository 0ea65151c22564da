import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { errors } from '../errors.js';
import { authFailure } from './auth-failure.js';
import type { KeySpec } from './key-spec.js';
import { NATIVE_SCOPE_GRAMMAR, Principal, type CredentialRecord, type ScopeGrammar } from './principal.js';

interface StoredKey {
  id: string;
  /** SHA-256 of the secret; the secret itself is not kept. */
  hash: Buffer;
  queryToken: boolean;
  principal: Principal;
}

/**
 * What a request presented, as the operation's security schemes let it (src/bundle/credentials.ts):
 * the raw `Authorization` header, the query credential (`?token=`), and the request's cookies when
 * the operation accepts a cookie scheme.
 */
export interface Credentials {
  authorization?: string;
  token?: string;
  /** Cookies by name (RFC 6265 section 5.4), present only for operations that accept a cookie scheme. */
  cookies?: Record<string, string>;
}

/**
 * The configured API keys. Secrets are hashed (SHA-256) on load and compared in constant time;
 * a lookup compares against every key, so timing does not reveal which key (if any) came close.
 * Immutable: a key reload (src/auth/authenticator.ts) builds a new ring.
 */
export class KeyRing {
  readonly #keys: StoredKey[];
  readonly #anonymous: Principal | undefined;

  constructor(specs: readonly KeySpec[], options: { anonymousScopes?: readonly string[]; grammar?: ScopeGrammar } = {}) {
    const grammar = options.grammar ?? NATIVE_SCOPE_GRAMMAR;
    const seen = new Set<string>();
    this.#keys = specs.map((spec) => {
      if (seen.has(spec.id)) throw new TypeError(`duplicate API key id "${spec.id}"`);
      seen.add(spec.id);
      const hash = spec.secretSha256 ? Buffer.from(spec.secretSha256, 'hex') : sha256(spec.secret ?? '');
      if (hash.length !== 32) throw new TypeError(`API key "${spec.id}": secret_sha256 must be 64 hex characters`);
      const rate = {
        ...(spec.publishRatePerS !== undefined ? { ratePerS: spec.publishRatePerS } : {}),
        ...(spec.publishBurst !== undefined ? { burst: spec.publishBurst } : {}),
      };
      const credential: CredentialRecord = { kind: 'key', id: spec.id, fingerprint: fingerprintOf(hash, spec) };
      const principal = new Principal(spec.id, spec.scopes, 'bearer', grammar, { rate, credential });
      return { id: spec.id, hash, queryToken: spec.queryToken, principal };
    });
    if (options.anonymousScopes) {
      const scopes = [...options.anonymousScopes];
      this.#anonymous = new Principal('anonymous', scopes, 'anonymous', grammar, { credential: { kind: 'anonymous', scopes: scopes.join(',') } });
    }
  }

  /** How many keys are configured. */
  get size(): number {
    return this.#keys.length;
  }

  /** The anonymous principal, when anonymous access is on. */
  get anonymous(): Principal | undefined {
    return this.#anonymous;
  }

  /**
   * The principal for these credentials (static keys only; JWTs are the authenticator's). Header
   * credentials win over `?token=`. Throws AUTH_REQUIRED when none is given (and anonymous access
   * is off) or none matches, and QUERY_TOKEN_DISABLED when the key may not be used as a query
   * parameter.
   */
  authenticate(credentials: Credentials, options: { anonymous?: boolean } = {}): Principal {
    const header = credentials.authorization?.trim();
    if (header) {
      const principal = this.fromHeader(header);
      if (principal) return principal;
      throw authFailure('invalid_key', errors.authRequired('Invalid credentials'));
    }
    if (credentials.token !== undefined && credentials.token !== '') {
      const principal = this.fromQuery(credentials.token);
      if (principal) return principal;
      throw authFailure('invalid_key', errors.authRequired('Invalid credentials'));
    }
    if (this.#anonymous && options.anonymous !== false) return this.#anonymous;
    throw authFailure('missing', errors.authRequired());
  }

  /** The key whose secret is `secret` presented as a Bearer token, or undefined. */
  fromBearer(secret: string): Principal | undefined {
    return this.#findBySecret(secret)?.principal;
  }

  /**
   * The key whose secret is `secret` presented as `?token=`, or undefined. Throws
   * QUERY_TOKEN_DISABLED for a key configured with `query_token: false`.
   */
  fromQuery(secret: string): Principal | undefined {
    const key = this.#findBySecret(secret);
    if (!key) return undefined;
    if (!key.queryToken) throw authFailure('query_token_disabled', errors.queryTokenDisabled());
    return key.principal.via('query');
  }

  /** The key of an `Authorization` header value (`Bearer <secret>` or `Basic base64(id:secret)`), or undefined. */
  fromHeader(header: string): Principal | undefined {
    const space = header.indexOf(' ');
    const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
    const value = space === -1 ? '' : header.slice(space + 1).trim();
    if (scheme === 'bearer' && value) return this.fromBearer(value);
    if (scheme === 'basic' && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        const id = decoded.slice(0, colon);
        const key = this.#findBySecret(decoded.slice(colon + 1));
        if (key && key.id === id) return key.principal.via('basic');
      }
    }
    return undefined;
  }

  /**
   * True when a principal built from `record` would be built the same way by this ring: the key
   * still exists with the same secret, scopes and `query_token`, or anonymous access still has the
   * same scopes. Used to end the streams of revoked or changed keys after a reload.
   */
  holds(record: CredentialRecord): boolean {
    if (record.kind === 'key') return this.#keys.some((key) => key.id === record.id && fingerprintMatches(key, record.fingerprint));
    if (record.kind === 'anonymous') return this.#anonymous !== undefined && this.#anonymous.scopes.join(',') === record.scopes;
    return false;
  }

  #findBySecret(secret: string): StoredKey | undefined {
    const presented = sha256(secret);
    let found: StoredKey | undefined;
    for (const key of this.#keys) {
      // No early exit: every key is compared, whatever matches.
      if (timingSafeEqual(presented, key.hash)) found = key;
    }
    return found;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** What identifies a key's grant: its secret's hash, its scopes and whether `?token=` is allowed. */
function fingerprintOf(hash: Buffer, spec: KeySpec): string {
  return createHash('sha256').update(hash).update(`|${spec.scopes.join(',')}|${spec.queryToken}`).digest('hex');
}

function fingerprintMatches(key: StoredKey, fingerprint: string): boolean {
  const record = key.principal.options.credential;
  return record?.kind === 'key' && record.fingerprint === fingerprint;
}

/** A development key for a server started with no keys: printed once at start-up. */
export function generateDevelopmentKey(grammar: ScopeGrammar = NATIVE_SCOPE_GRAMMAR): KeySpec {
  return {
    id: 'dev',
    secret: `sk_dev_${randomBytes(18).toString('base64url')}`,
    scopes: [grammar.read, grammar.write],
    queryToken: true,
  };
}
