/**
 * What may reach a log line of a request's URL, of free text and of errors. Credentials never do.
 *
 * - **URLs** are parsed the way the server parses a query (`node:querystring`, as express does:
 *   `&`-separated, `+` is a space, percent-decoded leniently), and re-written piece by piece: a
 *   value is shown only when its decoded name is a query parameter the OpenAPI document declares
 *   and not a credential (an `apiKey` scheme `in: query`, such as `token`), and the value has no
 *   `=`. Every other value is `[REDACTED]`, and a piece with no `=` that is not a declared name is
 *   `[REDACTED]` whole. So `%74oken=`, `;token=`, `access_token=` and any future credential
 *   parameter are redacted without being listed; a fragment (`#...`) is redacted too.
 * - **Free text** (error messages, stacks, causes): every `name=value` whose decoded name is not a
 *   declared, non-credential parameter has its value redacted.
 * - **Request secrets**: the credentials a request presented (the `Authorization` value, its
 *   Bearer/Basic parts, cookie values, the values of undeclared and credential query parameters) are replaced
 *   wherever they appear in an error logged for that request (`requestSecrets`, `redactSecrets`).
 * - **JWTs** anywhere in a URL (its path too) or in free text: a run shaped like a JWS compact
 *   serialization whose header is JSON (`eyJ...` `.` `...` `.` `...`, RFC 7515 section 7.1) is
 *   `[REDACTED]` whatever surrounds it, so a token in a path, a cookie or a message never reaches a log.
 */
import type { IncomingMessage } from 'node:http';
import { unescape } from 'node:querystring';
import { loadOpenApiDocument } from '../http/openapi-document.js';

/** What replaces a secret. */
export const REDACTED = '[REDACTED]';

/** Secrets shorter than this are not searched for in free text (they would blank out ordinary words). */
const MIN_SECRET_LENGTH = 4;

const shownNames = new Set<string>();
const credentialNames = new Set<string>();
let nativeRegistered = false;

type Json = Record<string, unknown>;

/**
 * Adds the query parameters `document` (an OpenAPI 3.1 document) declares to those whose values
 * logs may show, and its `apiKey`-in-query names to the credentials. A credential name is never
 * shown, whichever document declares it. The native `specs/openapi.yaml` is always registered.
 */
export function registerLoggedQueryParameters(document: unknown): void {
  const doc = (document ?? {}) as Json;
  const schemes = ((doc.components as Json | undefined)?.securitySchemes ?? {}) as Record<string, Json>;
  for (const scheme of Object.values(schemes)) {
    const resolved = resolveRef(doc, scheme) as Json | undefined;
    if (resolved?.type === 'apiKey' && resolved.in === 'query' && typeof resolved.name === 'string') credentialNames.add(resolved.name);
  }
  const paths = (doc.paths ?? {}) as Record<string, Json>;
  for (const item of Object.values(paths)) {
    const lists = [item.parameters, ...Object.values(item).map((op) => (op as Json | undefined)?.parameters)];
    for (const list of lists) {
      if (!Array.isArray(list)) continue;
      for (const entry of list) {
        const parameter = resolveRef(doc, entry) as Json | undefined;
        if (parameter?.in === 'query' && typeof parameter.name === 'string') shownNames.add(parameter.name);
      }
    }
  }
}

function ensureNative(): void {
  if (nativeRegistered) return;
  nativeRegistered = true;
  registerLoggedQueryParameters(loadOpenApiDocument());
}

/** True when a query parameter's value may be logged: a declared name that is not a credential. */
function isShown(decodedName: string): boolean {
  ensureNative();
  return shownNames.has(decodedName) && !credentialNames.has(decodedName);
}

/** Decodes a query name or value as `querystring.parse` does (`+` is a space; malformed escapes kept). */
function decodeQueryPart(raw: string): string {
  return unescape(raw.replace(/\+/g, ' '));
}

/** The query string (without `?`) with every value that is not safe to show replaced. */
export function redactQuery(query: string): string {
  return query
    .split('&')
    .map((piece) => {
      const eq = piece.indexOf('=');
      const rawName = eq === -1 ? piece : piece.slice(0, eq);
      const name = decodeQueryPart(rawName);
      if (eq === -1) return piece === '' || isShown(name) ? piece : REDACTED;
      const value = decodeQueryPart(piece.slice(eq + 1));
      return isShown(name) && !value.includes('=') ? piece : `${rawName}=${REDACTED}`;
    })
    .join('&');
}

/** A JWT (a JWS compact serialization with a JSON header: base64url of `{"` is `eyJ`). */
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

/** `text` with every JWT-shaped run replaced. */
export function redactJwts(text: string): string {
  return text.includes('eyJ') ? text.replace(JWT, REDACTED) : text;
}

/** `url` (a request target such as `/v1/events?token=...`) with its query redacted (see the module doc). */
export function redactUrl(url: string): string {
  if (url.includes('eyJ')) url = redactJwts(url);
  const hash = url.indexOf('#');
  const withoutHash = hash === -1 ? url : url.slice(0, hash);
  const question = withoutHash.indexOf('?');
  const redacted = question === -1 ? withoutHash : `${withoutHash.slice(0, question + 1)}${redactQuery(withoutHash.slice(question + 1))}`;
  return hash === -1 ? redacted : `${redacted}#${REDACTED}`;
}

// `name=value` in free text: a name is a run without separators, a value runs to the next separator.
const PAIR = /([^\s"'`?&;=#<>()[\]{},]+)=([^\s"'`&;#<>()[\]{},]*)/g;

/** Free text with the value of every `name=value` whose name is not a shown parameter redacted. */
export function redactText(text: string): string {
  text = redactJwts(text);
  if (!text.includes('=')) return text;
  return text.replace(PAIR, (match, rawName: string, rawValue: string) => {
    if (rawValue === '' || rawValue === REDACTED) return match;
    const value = decodeQueryPart(rawValue);
    return isShown(decodeQueryPart(rawName)) && !value.includes('=') ? match : `${rawName}=${REDACTED}`;
  });
}

/**
 * The credentials `req` presented, in every form they may appear in text: the `Authorization`
 * value and the part after its scheme, a Basic pair decoded and its secret, every cookie value, and the raw and
 * decoded values of every query parameter that is a credential or not declared. Empty and very
 * short values are left out.
 */
export function requestSecrets(req: Pick<IncomingMessage, 'headers' | 'url'>): string[] {
  const secrets = new Set<string>();
  const add = (value: string | undefined) => {
    const trimmed = value?.trim();
    if (trimmed !== undefined && trimmed.length >= MIN_SECRET_LENGTH) secrets.add(trimmed);
  };
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string') {
    add(authorization);
    const space = authorization.trim().indexOf(' ');
    const credentials = space === -1 ? undefined : authorization.trim().slice(space + 1);
    add(credentials);
    if (credentials !== undefined && /^basic$/i.test(authorization.trim().slice(0, space))) {
      const decoded = Buffer.from(credentials.trim(), 'base64').toString('utf8');
      add(decoded);
      add(decoded.slice(decoded.indexOf(':') + 1));
    }
  }
  // Cookies may carry a credential (a JWT cookie): every cookie value counts.
  const cookie = req.headers.cookie;
  if (typeof cookie === 'string') {
    for (const pair of cookie.split(';')) {
      const eq = pair.indexOf('=');
      if (eq !== -1) add(pair.slice(eq + 1));
    }
  }
  const url = req.url ?? '';
  const question = url.indexOf('?');
  if (question !== -1) {
    for (const piece of url.slice(question + 1).split(/[&#]/)) {
      const eq = piece.indexOf('=');
      const name = decodeQueryPart(eq === -1 ? piece : piece.slice(0, eq));
      if (isShown(name)) continue;
      if (eq === -1) {
        add(piece);
        add(name);
      } else {
        add(piece.slice(eq + 1));
        add(decodeQueryPart(piece.slice(eq + 1)));
      }
    }
  }
  // Longest first, so that a secret containing a shorter one is replaced whole.
  return [...secrets].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each of `secrets` in `text`. */
function replaceSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * A JSON-safe copy of `value` for a log line: an Error becomes `{type, message, stack, code?, ...,
 * cause?}` (the cause chain and AggregateError `errors` followed), and every string goes through
 * `redactText` and has each of `secrets` replaced. Depth and breadth are bounded (8 levels, 50 keys).
 */
export function redactForLog(value: unknown, secrets: readonly string[] = [], depth = 0): unknown {
  if (typeof value === 'string') return replaceSecrets(redactText(value), secrets);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= 8) return '[too deep]';
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => redactForLog(item, secrets, depth + 1));
  const out: Json = {};
  if (value instanceof Error) {
    out.type = value.constructor?.name ?? value.name;
    out.message = redactForLog(value.message, secrets, depth + 1);
    if (value.stack !== undefined) out.stack = redactForLog(value.stack, secrets, depth + 1);
  }
  for (const key of Object.keys(value).slice(0, 50)) {
    if (key in out) continue;
    out[key] = redactForLog((value as Json)[key], secrets, depth + 1);
  }
  if (value instanceof Error) {
    // `cause` and AggregateError's `errors` are own but not enumerable properties.
    const { cause } = value as { cause?: unknown };
    if (cause !== undefined && !('cause' in out)) out.cause = redactForLog(cause, secrets, depth + 1);
    if (value instanceof AggregateError && !('errors' in out)) out.errors = redactForLog(value.errors, secrets, depth + 1);
  }
  return out;
}

function resolveRef(document: Json, item: unknown): unknown {
  const ref = (item as { $ref?: unknown } | undefined)?.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return item;
  let node: unknown = document;
  for (const part of ref.slice(2).split('/')) node = (node as Json | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node;
}
