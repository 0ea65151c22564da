/**
 * Which credentials an operation accepts, from its `security` (OpenAPI 3.1 section 4.8.30):
 * an `Authorization` header is only read when the operation accepts its scheme (bearer or basic),
 * an `apiKey` only from the query parameter or header the scheme names, cookies only for an
 * operation with an `apiKey` scheme `in: cookie`.
 */
import type { Credentials } from '../auth/key-ring.js';
import type { Bundle, BundleOperation } from './bundle.js';

/** The credentials `op` accepts from a request's headers and parsed query. */
export function credentialsFor(
  op: BundleOperation,
  headers: Record<string, string | string[] | undefined>,
  query: Record<string, unknown>,
): Credentials {
  const credentials: Credentials = {};
  const authorization = typeof headers.authorization === 'string' ? headers.authorization : undefined;
  if (authorization) {
    const scheme = authorization.trim().split(/\s+/, 1)[0]!.toLowerCase();
    if (op.schemes.some((s) => s.kind === scheme)) credentials.authorization = authorization;
  }
  for (const scheme of op.schemes) {
    if (scheme.kind !== 'apiKey') continue;
    if (scheme.in === 'cookie') {
      // Every cookie: the authenticator reads the one named by `jwt_cookie` (off by default).
      credentials.cookies ??= parseCookies(headers.cookie);
    } else if (scheme.in === 'query') {
      const value = query[scheme.param];
      if (typeof value === 'string' && credentials.token === undefined) credentials.token = value;
    } else if (credentials.authorization === undefined) {
      const value = headers[scheme.param.toLowerCase()];
      if (typeof value === 'string' && value !== '') credentials.authorization = `Bearer ${value}`;
    }
  }
  return credentials;
}

/**
 * Whether `op` admits callers without credentials (when `allow_anonymous` is on): an operation
 * whose `security` lists `{}` (credentials optional) or is empty does; when no operation of the
 * bundle lists `{}` beside other requirements (the native bundle), `allow_anonymous` applies to
 * every operation, as it always has.
 */
export function admitsAnonymous(bundle: Bundle, op: BundleOperation): boolean {
  return op.anonymous || !bundle.operations.some((other) => other.optionalAuth);
}

/** Cookies of a `Cookie` header (RFC 6265 section 5.4): `name=value` pairs split at `;`, first occurrence wins, quotes removed. */
export function parseCookies(header: string | string[] | undefined): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of Array.isArray(header) ? header : header === undefined ? [] : [header]) {
    for (const pair of line.split(';')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      let value = pair.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (name !== '' && !(name in cookies)) cookies[name] = value;
    }
  }
  return cookies;
}

/** The `WWW-Authenticate` challenge of a 401 for `op` (RFC 9110 section 11.6.1), or undefined. */
export function challengeFor(op: BundleOperation | undefined): string | undefined {
  if (!op) return 'Bearer realm="specstream"';
  const http = op.schemes.find((s) => s.kind === 'bearer' || s.kind === 'basic');
  if (http) return `${http.kind === 'basic' ? 'Basic' : 'Bearer'} realm="specstream"`;
  return op.schemes.length > 0 ? 'Bearer realm="specstream"' : undefined;
}
