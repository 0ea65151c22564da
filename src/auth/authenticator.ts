/**
 * Who is calling: static API keys (key-ring.ts) and JWTs (jwt-verifier.ts) behind one
 * `authenticate`, with the settings swapped atomically by a reload (key-reloader.ts).
 *
 * Which credential is read, in order: the `Authorization` header (a Bearer token is a key when one
 * has that secret, else a JWT when it looks like one: three base64url parts), then the query
 * credential (`?token=`: a key, subject to its `query_token`, or a JWT, subject to
 * `jwt_query_token`), then the `jwt_cookie` cookie (JWTs only, on operations that declare a cookie
 * scheme), then anonymous access when it is on. Every failure is counted in
 * `specstream_auth_failures_total{reason}`; no credential is ever logged.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/load-config.js';
import { errors } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import { authFailure, failureReason } from './auth-failure.js';
import { JwtVerifier, type JwtSettings } from './jwt-verifier.js';
import { KeyRing, type Credentials } from './key-ring.js';
import type { KeySpec } from './key-spec.js';
import { Principal, type CredentialSource, type PublishRate, type ScopeGrammar } from './principal.js';
import { TokenIssuer } from './token-issuer.js';

/** JWS compact serialization: three base64url parts (RFC 7515 section 7.1), the signature possibly empty. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** True when `value` has the shape of a JWT (it may still be a key's secret). */
export function looksLikeJwt(value: string): boolean {
  return JWT_SHAPE.test(value);
}

/** One configuration of keys and JWT settings; replaced whole by a reload. */
export interface AuthState {
  ring: KeyRing;
  verifier: JwtVerifier;
  issuer: TokenIssuer;
  jwtQueryToken: boolean;
  /** The cookie carrying a JWT; empty: none. */
  jwtCookie: string;
  /** `publish_rate_per_s` / `publish_burst`: the publish limit of callers that set none of their own. */
  publishRate: PublishRate;
}

/** What a request adds to its credentials. */
export interface RequestContext {
  /** The `Origin` header, checked against a token bound to an origin. */
  origin?: string | undefined;
  /** False: no anonymous access for this operation even when it is on (src/bundle/credentials.ts `admitsAnonymous`). */
  anonymous?: boolean;
}

/**
 * Builds the auth state of `config` (with `keys`, which may hold a generated development key),
 * keeping `previous`'s random token key when `jwt_secret` is still empty. Throws TypeError naming
 * the option for a mistake (an unreadable `jwt_public_key`, a short `jwt_secret`, a bad JWKS file).
 */
export function buildAuthState(config: Config, grammar: ScopeGrammar, keys: readonly KeySpec[], previous?: AuthState): AuthState {
  let publicKeyPem = '';
  if (config.jwt_public_key !== '') {
    try {
      publicKeyPem = readFileSync(config.jwt_public_key, 'utf8');
    } catch (error) {
      throw new TypeError(`jwt_public_key: cannot read ${config.jwt_public_key}: ${(error as Error).message}`);
    }
  }
  const list = (text: string) => text.split(',').map((item) => item.trim()).filter(Boolean);
  const settings: JwtSettings = {
    secret: config.jwt_secret,
    publicKeyPem,
    jwksUrl: config.jwks_url,
    jwksTimeoutMs: config.jwks_timeout_ms,
    audience: list(config.jwt_audience),
    issuer: list(config.jwt_issuer),
    scopeClaim: config.jwt_scope_claim,
    clockToleranceS: config.jwt_clock_tolerance_s,
  };
  const issuer = new TokenIssuer(config.jwt_secret, settings.issuer[0], settings.audience[0], previous?.issuer);
  return {
    ring: new KeyRing(keys, { grammar, ...(config.allow_anonymous ? { anonymousScopes: config.anonymous_scopes } : {}) }),
    verifier: new JwtVerifier(settings, issuer.selfKey),
    issuer,
    jwtQueryToken: config.jwt_query_token,
    jwtCookie: config.jwt_cookie,
    publishRate: { ratePerS: config.publish_rate_per_s, burst: config.publish_burst },
  };
}

export class Authenticator {
  #state: AuthState;
  readonly #grammar: ScopeGrammar;
  readonly #metrics: Metrics | undefined;

  constructor(state: AuthState, grammar: ScopeGrammar, metrics?: Metrics) {
    this.#state = state;
    this.#grammar = grammar;
    this.#metrics = metrics;
  }

  /** The current configuration. */
  get state(): AuthState {
    return this.#state;
  }

  /** Swaps in a new configuration; requests already past authentication keep their principal. */
  replace(state: AuthState): void {
    this.#state = state;
  }

  /**
   * The principal for these credentials. Rejects with AUTH_REQUIRED (401: none given and anonymous
   * access off, or an unknown key), QUERY_TOKEN_DISABLED (403), a TOKEN_* error (401),
   * TOKEN_ORIGIN_MISMATCH (403) or JWKS_UNAVAILABLE (503); each is counted by reason.
   */
  async authenticate(credentials: Credentials, context: RequestContext = {}): Promise<Principal> {
    try {
      const principal = await this.#authenticate(this.#state, credentials, context.anonymous !== false);
      const bound = principal.options.origin;
      if (bound !== undefined && context.origin !== undefined && context.origin !== bound) {
        throw authFailure('origin_mismatch', errors.tokenOriginMismatch());
      }
      return principal;
    } catch (error) {
      const reason = failureReason(error);
      if (reason !== undefined) this.#metrics?.authFailures.inc({ reason });
      throw error;
    }
  }

  /** The publish limit of `principal`: its key's own `publish_rate_per_s` / `publish_burst`, else the server's. */
  publishRateOf(principal: Principal): PublishRate {
    const own = principal.options.rate;
    const fallback = this.#state.publishRate;
    return { ratePerS: own?.ratePerS ?? fallback.ratePerS, burst: own?.burst ?? fallback.burst };
  }

  /**
   * True when `principal` would still be admitted by the current configuration (the same key with
   * the same secret, scopes and `query_token`; a JWT that still verifies and may still come from
   * where it came). A JWT whose key set is unreachable right now is given the benefit of the doubt.
   */
  async stillValid(principal: Principal): Promise<boolean> {
    const state = this.#state;
    const record = principal.options.credential;
    if (record === undefined) return true;
    if (record.kind !== 'jwt') return state.ring.holds(record);
    if (principal.source === 'query' && !state.jwtQueryToken) return false;
    if (principal.source === 'cookie' && state.jwtCookie === '') return false;
    try {
      await state.verifier.verify(record.token());
      return true;
    } catch (error) {
      return failureReason(error) === 'jwks_unavailable';
    }
  }

  async #authenticate(state: AuthState, credentials: Credentials, anonymous: boolean): Promise<Principal> {
    const header = credentials.authorization?.trim();
    if (header) {
      const key = state.ring.fromHeader(header);
      if (key) return key;
      const space = header.indexOf(' ');
      const value = header.slice(space + 1).trim();
      if (space > 0 && header.slice(0, space).toLowerCase() === 'bearer' && looksLikeJwt(value)) return this.#fromJwt(state, value, 'bearer');
      throw authFailure('invalid_key', errors.authRequired('Invalid credentials'));
    }
    const token = credentials.token;
    if (token !== undefined && token !== '') {
      const key = state.ring.fromQuery(token);
      if (key) return key;
      if (looksLikeJwt(token)) {
        if (!state.jwtQueryToken) throw authFailure('query_token_disabled', errors.queryTokenDisabled('JWTs may not be passed as ?token= on this server (jwt_query_token: false)'));
        return this.#fromJwt(state, token, 'query');
      }
      throw authFailure('invalid_key', errors.authRequired('Invalid credentials'));
    }
    const cookie = state.jwtCookie === '' ? undefined : credentials.cookies?.[state.jwtCookie];
    if (cookie !== undefined && cookie !== '') return this.#fromJwt(state, cookie, 'cookie');
    if (state.ring.anonymous && anonymous) return state.ring.anonymous;
    throw authFailure('missing', errors.authRequired());
  }

  async #fromJwt(state: AuthState, token: string, source: CredentialSource): Promise<Principal> {
    if (!looksLikeJwt(token)) throw authFailure('malformed', errors.tokenMalformed());
    const verified = await state.verifier.verify(token);
    return new Principal(verified.subject === undefined ? 'jwt' : `jwt:${verified.subject}`, verified.scopes, source, this.#grammar, {
      expiresAt: verified.expiresAt,
      ...(verified.origin !== undefined ? { origin: verified.origin } : {}),
      credential: { kind: 'jwt', token: () => token },
    });
  }
}
