import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { errors } from '../errors.js';
import type { KeySpec } from './key-spec.js';
import { NATIVE_SCOPE_GRAMMAR, Principal, type CredentialSource, type ScopeGrammar } from './principal.js';

interface StoredKey {
  id: string;
  /** SHA-256 of the secret; the secret itself is not kept. */
  hash: Buffer;
  queryToken: boolean;
  principal: Principal;
}

/** What a request presented: the raw `Authorization` header and the `token` query parameter. */
export interface Credentials {
  authorization?: string;
  token?: string;
}

/**
 * The configured API keys. Secrets are hashed (SHA-256) on load and compared in constant time;
 * a lookup compares against every key, so timing does not reveal which key (if any) came close.
 */
export class KeyRing {
  private readonly keys: StoredKey[];
  private readonly anonymous?: Principal;

  constructor(specs: readonly KeySpec[], options: { anonymousScopes?: readonly string[]; grammar?: ScopeGrammar } = {}) {
    const grammar = options.grammar ?? NATIVE_SCOPE_GRAMMAR;
    const seen = new Set<string>();
    this.keys = specs.map((spec) => {
      if (seen.has(spec.id)) throw new TypeError(`duplicate API key id "${spec.id}"`);
      seen.add(spec.id);
      const hash = spec.secretSha256 ? Buffer.from(spec.secretSha256, 'hex') : sha256(spec.secret ?? '');
      if (hash.length !== 32) throw new TypeError(`API key "${spec.id}": secret_sha256 must be 64 hex characters`);
      return { id: spec.id, hash, queryToken: spec.queryToken, principal: new Principal(spec.id, spec.scopes, 'bearer', grammar) };
    });
    if (options.anonymousScopes) this.anonymous = new Principal('anonymous', options.anonymousScopes, 'anonymous', grammar);
  }

  /** How many keys are configured. */
  get size(): number {
    return this.keys.length;
  }

  /**
   * The principal for these credentials. Header credentials win over `?token=`. Throws
   * AUTH_REQUIRED when none is given (and anonymous access is off) or none matches, and
   * QUERY_TOKEN_DISABLED when the key may not be used as a query parameter.
   */
  authenticate(credentials: Credentials): Principal {
    const header = credentials.authorization?.trim();
    if (header) return this.fromHeader(header);
    if (credentials.token !== undefined && credentials.token !== '') {
      const key = this.findBySecret(credentials.token);
      if (!key) throw errors.authRequired('Invalid credentials');
      if (!key.queryToken) throw errors.queryTokenDisabled();
      return key.principal.via('query');
    }
    if (this.anonymous) return this.anonymous;
    throw errors.authRequired();
  }

  private fromHeader(header: string): Principal {
    const space = header.indexOf(' ');
    const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
    const value = space === -1 ? '' : header.slice(space + 1).trim();
    if (scheme === 'bearer' && value) {
      const key = this.findBySecret(value);
      if (key) return key.principal;
    } else if (scheme === 'basic' && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        const id = decoded.slice(0, colon);
        const key = this.findBySecret(decoded.slice(colon + 1));
        if (key && key.id === id) return key.principal.via('basic');
      }
    }
    throw errors.authRequired('Invalid credentials');
  }

  private findBySecret(secret: string): StoredKey | undefined {
    const presented = sha256(secret);
    let found: StoredKey | undefined;
    for (const key of this.keys) {
      // No early exit: every key is compared, whatever matches.
      if (timingSafeEqual(presented, key.hash)) found = key;
    }
    return found;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
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
