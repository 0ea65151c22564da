import cors from 'cors';
import type { RequestHandler } from 'express';

/**
 * Request headers a browser may send cross-origin (the answer to a preflight's
 * `Access-Control-Request-Headers`): credentials, publishing, and what EventSource polyfills send
 * (`Last-Event-ID`, `Cache-Control`, `Pragma`, `X-Requested-With`, `Accept`), plus every header
 * parameter and `apiKey` header the served OpenAPI document declares.
 */
export const CORS_REQUEST_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'Last-Event-ID',
  'Cache-Control',
  'Pragma',
  'X-Requested-With',
  'Accept',
] as const;

type Json = Record<string, unknown>;

/** The header names `document` (OpenAPI 3.1) declares: header parameters and `apiKey` schemes `in: header`. */
export function declaredRequestHeaders(document: unknown): string[] {
  const doc = (document ?? {}) as Json;
  const names = new Set<string>();
  const visit = (parameter: unknown) => {
    const resolved = resolveRef(doc, parameter) as Json | undefined;
    if (resolved?.in === 'header' && typeof resolved.name === 'string') names.add(resolved.name);
  };
  for (const item of Object.values((doc.paths ?? {}) as Record<string, Json>)) {
    for (const list of [item.parameters, ...Object.values(item).map((op) => (op as Json | undefined)?.parameters)]) {
      if (Array.isArray(list)) list.forEach(visit);
    }
  }
  const schemes = ((doc.components as Json | undefined)?.securitySchemes ?? {}) as Record<string, unknown>;
  for (const scheme of Object.values(schemes)) visit(scheme);
  return [...names];
}

/**
 * CORS for `origins` (`cors_origins`; `*` for any, none: no CORS headers at all). Preflights are
 * answered with CORS_REQUEST_HEADERS plus `extraHeaders`, cached for 10 minutes.
 */
export function corsFor(origins: readonly string[], extraHeaders: readonly string[] = []): RequestHandler {
  if (origins.length === 0) return (_req, _res, next) => next();
  const lower = new Set(CORS_REQUEST_HEADERS.map((name) => name.toLowerCase()));
  return cors({
    origin: origins.includes('*') ? '*' : [...origins],
    allowedHeaders: [...CORS_REQUEST_HEADERS, ...extraHeaders.filter((name) => !lower.has(name.toLowerCase()))],
    exposedHeaders: ['Idempotent-Replayed'],
    maxAge: 600,
  });
}

function resolveRef(document: Json, item: unknown): unknown {
  const ref = (item as { $ref?: unknown } | undefined)?.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return item;
  let node: unknown = document;
  for (const part of ref.slice(2).split('/')) node = (node as Json | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node;
}
