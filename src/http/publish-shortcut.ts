/**
 * The hot path of the publish operation (`x-specstream-operation: publish`): the request every
 * publisher sends — `POST` to the operation's path, no query string, `Content-Type:
 * application/json`, a `Content-Length` within `body_limit_bytes`, no `Content-Encoding` — is
 * served without express (whose per-request set-up and response helpers cost about as much CPU as
 * everything else a publish does), by **the app's own middleware**, in the app's order:
 *
 * 1. the app's `before` and `access` stages (request log and metrics, URL limit, CORS,
 *    authentication, permission, rate limit: the same function objects express runs);
 * 2. the body, read into one Buffer within `body_timeout_ms` and parsed with `JSON.parse` as
 *    strictly as `express.json` (an object or an array at the top level; a UTF-8 BOM ignored);
 * 3. a check of the parsed body prepared once at start: `findUnstorable` (as `checkJsonBody`),
 *    the operation's request body schema compiled by json-schema-check.ts, and its declared header
 *    parameters;
 * 4. the publish handler.
 *
 * Anything else gets exactly what express would give it: a request that does not fit is left to
 * express untouched; a parsed body that fails step 3 runs the app's `body` stage (the body checks
 * and the OpenAPI validator, which produce the documented errors; the body parser skips a body
 * already read) and the handler; an error at any step goes to the app's error handler. For those
 * rare paths `req` and `res` become express's request and response first, as express makes them.
 * With `response_validation` on (tests), responses must pass through express-openapi-validator,
 * so this path is off.
 */
import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import type { AppDeps, Handler } from '../app.js';
import type { BundleOperation } from '../bundle/bundle.js';
import { errors } from '../errors.js';
import { findUnstorable } from '../store/storable.js';
import { compileSchemaCheck, resolveLocalRef as deref, type SchemaCheck } from './json-schema-check.js';
import type { Locals, Shortcut, ShortReq, ShortRes, StageRunner } from './stage-runner.js';

interface Prepared {
  operation: BundleOperation;
  body: SchemaCheck;
  /** Declared header parameters (lower-case names) with their schema check. */
  headers: { name: string; required: boolean; check: SchemaCheck }[];
}

const NO_QUERY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * Builds the shortcut for the served bundle's publish operations; a bundle whose publish body
 * schema uses keywords json-schema-check.ts does not implement, or which declares parameters other
 * than simple headers, keeps express for every request (the shortcut then always returns false).
 */
export function createPublishShortcut(deps: AppDeps, runner: StageRunner, handler: Handler): Shortcut {
  const { config } = deps;
  const byPath = new Map<string, Prepared>();
  if (!config.response_validation) {
    for (const operation of deps.served.bundle.operations) {
      if (operation.role !== 'publish' || operation.method !== 'post' || byPath.has(operation.path)) continue;
      const ready = prepare(deps.served.bundle.openapi, operation);
      if (ready !== undefined) byPath.set(operation.path, ready);
    }
  }
  if (byPath.size === 0) return () => false;
  const limit = config.body_limit_bytes;
  const maxDepth = config.body_max_depth;
  const timeoutMs = config.body_timeout_ms;
  const pre = [...runner.stages.before, ...runner.stages.access];

  return (incoming, response) => {
    if (incoming.method !== 'POST') return false;
    const ready = byPath.get(incoming.url ?? '');
    if (ready === undefined || !eligible(incoming.headers, limit)) return false;
    for (const header of ready.headers) {
      const value = incoming.headers[header.name];
      if (value === undefined ? header.required : !header.check(value)) return false;
    }
    const req = incoming as ShortReq;
    const res = response as ShortRes;
    const locals = runner.prepare(req, res, ready.operation, NO_QUERY);
    runner.run(pre, req, res, () => readBody(req, res, ready, locals));
    return true;
  };

  function readBody(req: ShortReq, res: ShortRes, ready: Prepared, locals: Locals): void {
    const length = Number(req.headers['content-length']);
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = () => {
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    };
    const timer = setTimeout(() => {
      if (settled || res.headersSent) return;
      settle();
      res.setHeader('Connection', 'close');
      runner.fail(req, res, errors.requestTimeout(`The request body did not arrive within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    const onData = (chunk: Buffer) => {
      // Node's parser never passes more than Content-Length bytes of a body.
      chunks.push(chunk);
      received += chunk.length;
    };
    const onClose = () => {
      if (settled) return;
      settle();
      runner.fail(req, res, errors.malformedRequest('The body ended before its Content-Length'));
    };
    const onEnd = () => {
      if (settled) return;
      settle();
      if (received !== length) return runner.fail(req, res, errors.malformedRequest('The body ended before its Content-Length'));
      let parsed: unknown;
      try {
        parsed = parseStrict(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
      } catch {
        return runner.fail(req, res, errors.invalidJson());
      }
      req.body = parsed;
      const ctx = { deps, operation: ready.operation, principal: locals.principal };
      if (ready.body(parsed) && findUnstorable(parsed, maxDepth).length === 0) {
        runner.call(req, res, () => handler(req as unknown as Request, res as unknown as Response, ctx));
        return;
      }
      // Not plainly valid: the app's own checks and validator answer it, as documented.
      const [request, response] = runner.toExpress(req, res);
      runner.run(runner.stages.body, req, res, () => runner.call(req, res, () => handler(request, response, ctx)));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  }
}

/** The request's framing is the plain one: JSON, identity encoding, a Content-Length within the limit. */
function eligible(headers: IncomingMessage['headers'], limit: number): boolean {
  const type = headers['content-type'];
  if (type !== 'application/json' && (typeof type !== 'string' || type.toLowerCase().replace(/\s+/g, '') !== 'application/json;charset=utf-8')) return false;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  if (headers['transfer-encoding'] !== undefined) return false;
  const length = headers['content-length'];
  if (typeof length !== 'string' || !/^[1-9][0-9]{0,9}$/.test(length)) return false;
  return Number(length) <= limit;
}

/** `JSON.parse` of a UTF-8 body (a BOM ignored) that must hold an object or an array, as `express.json({strict: true})` wants. */
function parseStrict(body: Buffer): unknown {
  const start = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  const parsed: unknown = JSON.parse(body.toString('utf8', start));
  if (typeof parsed !== 'object' || parsed === null) throw new SyntaxError('not an object or an array');
  return parsed;
}

/** The checks of one publish operation, or undefined when the shortcut cannot take it. */
function prepare(openapi: Record<string, unknown>, operation: BundleOperation): Prepared | undefined {
  const paths = openapi.paths as Record<string, Record<string, unknown>> | undefined;
  const item = paths?.[operation.path];
  const declared = item?.[operation.method] as Record<string, unknown> | undefined;
  if (declared === undefined) return undefined;
  const requestBody = deref(openapi, declared.requestBody) as { content?: Record<string, { schema?: unknown }> } | undefined;
  const schema = requestBody?.content?.['application/json']?.schema;
  if (schema === undefined) return undefined;
  const body = compileSchemaCheck(schema, openapi);
  if (body === undefined) return undefined;
  const headers: Prepared['headers'] = [];
  const parameters = [...((item?.parameters as unknown[] | undefined) ?? []), ...((declared.parameters as unknown[] | undefined) ?? [])];
  for (const entry of parameters) {
    const parameter = deref(openapi, entry) as { name?: unknown; in?: unknown; required?: unknown; schema?: unknown; content?: unknown } | undefined;
    if (parameter === undefined || typeof parameter.name !== 'string') return undefined;
    // A query or path parameter: the validator's coercions and rules apply; keep express.
    if (parameter.in !== 'header' || parameter.content !== undefined) return undefined;
    const check = compileSchemaCheck(parameter.schema ?? true, openapi);
    if (check === undefined) return undefined;
    headers.push({ name: parameter.name.toLowerCase(), required: parameter.required === true, check });
  }
  return { operation, body, headers };
}
