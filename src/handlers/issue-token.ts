import type { Handler } from '../app.js';
import type { Principal } from '../auth/principal.js';
import { compileTypeGlob } from '../catalog/type-glob.js';
import { errors } from '../errors.js';

/** The scope that lets a key mint browser tokens (as `admin` does). */
export const TOKENS_SCOPE = 'tokens:issue';

/** The request body, as validated against `TokenRequest` by the OpenAPI validator. */
interface TokenRequest {
  scopes?: string[];
  ttl_s?: number;
  origin?: string;
  subject?: string;
}

/**
 * `POST /v1/tokens` (role `issue-token`): mints a short-lived JWT for a browser (an `EventSource`
 * or a WebSocket that cannot hold a long-lived secret). Needs `tokens:issue` or `admin`. The token
 * carries read scopes only, each covered by the caller's own: by default all the caller's read
 * scopes; a requested scope the caller holds as written is kept, a narrower glob is expanded into
 * the catalog types it matches now (so that a type added later is never readable through it).
 * `ttl_s` defaults to `token_ttl_s` (15 min), at most `token_max_ttl_s` and, for a caller that is
 * itself a token, at most what is left of its own lifetime. `origin` binds the token to one
 * browser origin (a request from another `Origin` is a 403 TOKEN_ORIGIN_MISMATCH). `subject`
 * names the end user: the token's `sub` is `<caller>:<subject>` (its own connection and rate
 * limits), else the caller's id. Answers as an OAuth 2.0 token response (RFC 6749 section 5.1):
 * `{access_token, token_type, expires_in, scope}` plus `expires_at` and `origin`, with
 * `Cache-Control: no-store`.
 * @throws FORBIDDEN (403) without `tokens:issue`; SCOPE_NOT_GRANTED (403) for a scope that is not a
 *   read scope of the caller; VALIDATION_FAILED (400) for a `ttl_s` above the cap or an `origin`
 *   that is not one
 */
export const issueToken: Handler = async (req, res, { deps, principal }) => {
  if (!principal) throw errors.authRequired();
  if (!principal.hasScope(TOKENS_SCOPE)) throw errors.forbidden(`Minting tokens needs the ${TOKENS_SCOPE} scope`);
  const body = (req.body ?? {}) as TokenRequest;
  const { config } = deps;

  let ttlS = body.ttl_s ?? config.token_ttl_s;
  if (ttlS > config.token_max_ttl_s) {
    throw errors.validationFailed(undefined, [{ path: '/ttl_s', code: 'TOO_LONG', message: `must be at most ${config.token_max_ttl_s} (token_max_ttl_s)` }]);
  }
  const expiresAt = principal.expiresAt;
  if (expiresAt !== undefined) ttlS = Math.max(1, Math.min(ttlS, Math.floor((expiresAt - Date.now()) / 1000)));

  let origin: string | undefined;
  if (body.origin !== undefined) {
    origin = originOf(body.origin);
    if (origin === undefined) {
      throw errors.validationFailed(undefined, [{ path: '/origin', code: 'NOT_AN_ORIGIN', message: 'must be an origin: scheme://host[:port], no path' }]);
    }
  }

  const scopes = grantedScopes(principal, body.scopes, deps.served.bundle.catalog.map((entry) => entry.type));
  const subject = body.subject === undefined ? principal.keyId : `${principal.keyId}:${body.subject}`;
  const minted = await deps.auth.state.issuer.mint({ subject, scopes, ttlS, ...(origin !== undefined ? { origin } : {}) });
  res.setHeader('Cache-Control', 'no-store');
  res.status(200).json({
    access_token: minted.token,
    token_type: 'Bearer',
    expires_in: ttlS,
    expires_at: new Date(minted.expiresAt).toISOString(),
    scope: scopes.join(' '),
    ...(origin !== undefined ? { origin } : {}),
  });
};

/** `text` when it is an origin as browsers send it in `Origin` (RFC 6454 section 6.2), else undefined. */
function originOf(text: string): string | undefined {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === text ? text : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The read scopes a token may carry for `requested` (default: all the caller's read scopes),
 * each covered by the caller's; throws SCOPE_NOT_GRANTED naming the first that is not.
 */
export function grantedScopes(principal: Principal, requested: readonly string[] | undefined, catalog: readonly string[]): string[] {
  const { read, separator } = principal.grammar;
  const prefix = read + separator;
  const readsAll = catalog.every((type) => principal.canRead(type));
  if (requested === undefined) {
    if (readsAll) return [read];
    const own = principal.scopes.filter((scope) => scope.startsWith(prefix));
    if (own.length === 0) throw errors.scopeNotGranted('This key holds no read scope to grant');
    return own;
  }
  const granted = new Set<string>();
  for (const scope of requested) {
    if (scope !== read && !scope.startsWith(prefix)) throw errors.scopeNotGranted(`Only read scopes (${read}, ${prefix}<type glob>) can be granted: ${scope}`);
    if (readsAll || principal.scopes.includes(scope)) {
      granted.add(scope);
      continue;
    }
    if (scope === read) throw errors.scopeNotGranted(`This key may not read every type: ${scope} cannot be granted`);
    const matches = catalog.filter(compileTypeGlob(scope.slice(prefix.length)));
    const denied = matches.filter((type) => !principal.canRead(type));
    if (matches.length === 0 || denied.length > 0) throw errors.scopeNotGranted(`This key may not grant ${scope}`);
    for (const type of matches) granted.add(prefix + type);
  }
  return [...granted];
}
