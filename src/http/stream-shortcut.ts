/**
 * The hot path of the SSE stream operation (`x-specstream-operation: stream-sse`), for the request
 * an `EventSource` sends: `GET` to the operation's path, no body, and a query string whose every
 * parameter is declared by the operation (or is the name of an `apiKey` scheme in the query), given
 * once, in plain characters (no percent-escape, no `+`), and valid by its schema compiled once
 * (json-schema-check.ts). Such a request is served without express, which would otherwise keep its
 * per-request objects (and their hidden classes) alive for as long as the stream is open, by the
 * app's own middleware in the app's order (the `before` and `access` stages: request log, CORS,
 * authentication) and then the stream handler, which applies the query rules as always.
 *
 * Any other request is left to express untouched: nothing has been run for it yet, so its answer,
 * including every documented error of the OpenAPI validator, is express's. Errors of the stages
 * and the handler go to the app's error handler (see stage-runner.ts). With `response_validation`
 * on (tests) this path is off, as the publish one.
 */
import type { Request, Response } from 'express';
import type { AppDeps, Handler } from '../app.js';
import type { BundleOperation } from '../bundle/bundle.js';
import { compileSchemaCheck, resolveLocalRef, type SchemaCheck } from './json-schema-check.js';
import type { Shortcut, ShortReq, ShortRes, StageRunner } from './stage-runner.js';

interface Param {
  /** The schema's check, or undefined when it does not compile (the request then goes to express). */
  check: SchemaCheck | undefined;
  /** Raw characters a value may hold here: RFC 3986 unreserved ones, plus `:`, `,` and `*` with `allowReserved`. */
  chars: RegExp;
}

interface Prepared {
  operation: BundleOperation;
  query: Map<string, Param>;
  headers: { name: string; required: boolean; check: SchemaCheck | undefined }[];
}

const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
const RESERVED_ALLOWED = /^[A-Za-z0-9\-._~:,*]*$/;
const NAME = /^[A-Za-z0-9\-._~]+$/;

/** Builds the shortcut for the served bundle's SSE stream operations (none: always false). */
export function createStreamShortcut(deps: AppDeps, runner: StageRunner, handler: Handler): Shortcut {
  const byPath = new Map<string, Prepared>();
  if (!deps.config.response_validation) {
    for (const operation of deps.served.bundle.operations) {
      if (operation.role !== 'stream-sse' || operation.method !== 'get' || byPath.has(operation.path)) continue;
      const ready = prepare(deps.served.bundle.openapi, operation);
      if (ready !== undefined) byPath.set(operation.path, ready);
    }
  }
  if (byPath.size === 0) return () => false;
  const pre = [...runner.stages.before, ...runner.stages.access];

  return (incoming, response) => {
    if (incoming.method !== 'GET') return false;
    const url = incoming.url ?? '';
    const mark = url.indexOf('?');
    const ready = byPath.get(mark === -1 ? url : url.slice(0, mark));
    if (ready === undefined) return false;
    const { headers } = incoming;
    if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return false;
    const query = mark === -1 ? (Object.create(null) as Record<string, unknown>) : parseQuery(url.slice(mark + 1), ready.query);
    if (query === undefined) return false;
    for (const header of ready.headers) {
      const value = headers[header.name];
      if (value === undefined ? header.required : header.check === undefined || !header.check(value)) return false;
    }
    const req = incoming as ShortReq;
    const res = response as ShortRes;
    const locals = runner.prepare(req, res, ready.operation, query);
    runner.run(pre, req, res, () => {
      const ctx = { deps, operation: ready.operation, principal: locals.principal };
      runner.call(req, res, () => handler(req as unknown as Request, res as unknown as Response, ctx));
    });
    return true;
  };
}

/**
 * The query as express's parser gives it (an object without prototype, string values), when every
 * parameter is plain and valid; undefined otherwise.
 */
function parseQuery(raw: string, params: Map<string, Param>): Record<string, unknown> | undefined {
  const query = Object.create(null) as Record<string, unknown>;
  if (raw === '') return query;
  for (const pair of raw.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const param = params.get(name);
    if (param === undefined || !NAME.test(name) || name in query || !param.chars.test(value)) return undefined;
    if (param.check === undefined || !param.check(value)) return undefined;
    query[name] = value;
  }
  return query;
}

/** The checks of one stream operation, or undefined when the shortcut cannot take it. */
function prepare(openapi: Record<string, unknown>, operation: BundleOperation): Prepared | undefined {
  const paths = openapi.paths as Record<string, Record<string, unknown>> | undefined;
  const item = paths?.[operation.path];
  const declared = item?.[operation.method] as Record<string, unknown> | undefined;
  if (declared === undefined || declared.requestBody !== undefined) return undefined;
  const query = new Map<string, Param>();
  const headers: Prepared['headers'] = [];
  const parameters = [...((item?.parameters as unknown[] | undefined) ?? []), ...((declared.parameters as unknown[] | undefined) ?? [])];
  for (const entry of parameters) {
    const parameter = resolveLocalRef(openapi, entry) as
      | { name?: unknown; in?: unknown; required?: unknown; schema?: unknown; content?: unknown; style?: unknown; explode?: unknown; allowReserved?: unknown; allowEmptyValue?: unknown }
      | undefined;
    if (parameter === undefined || typeof parameter.name !== 'string') return undefined;
    const schema = resolveLocalRef(openapi, parameter.schema) as Record<string, unknown> | undefined;
    // A default would be filled in by the validator: only express gives it.
    if (parameter.content !== undefined || (schema !== undefined && 'default' in schema)) return undefined;
    const check = compileSchemaCheck(parameter.schema ?? true, openapi);
    if (parameter.in === 'query') {
      if (parameter.style !== undefined || parameter.explode !== undefined || parameter.allowEmptyValue !== undefined) return undefined;
      if (parameter.required === true) return undefined;
      query.set(parameter.name, { check, chars: parameter.allowReserved === true ? RESERVED_ALLOWED : UNRESERVED });
    } else if (parameter.in === 'header') {
      headers.push({ name: parameter.name.toLowerCase(), required: parameter.required === true, check });
    } else {
      return undefined;
    }
  }
  // Credentials in the query (`?token=`) are security schemes, which the validator lets through.
  for (const scheme of operation.schemes) {
    if (scheme.kind === 'apiKey' && scheme.in === 'query' && !query.has(scheme.param)) query.set(scheme.param, { check: () => true, chars: UNRESERVED });
  }
  return { operation, query, headers };
}
