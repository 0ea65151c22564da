import express, { type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { KeyRing } from './auth/key-ring.js';
import type { Principal } from './auth/principal.js';
import type { Config } from './config/load-config.js';
import { errors } from './errors.js';
import { handlers } from './handlers/index.js';
import { checkJsonBody } from './http/check-json-body.js';
import { corsFor, declaredRequestHeaders } from './http/cors.js';
import { toErrorResponse } from './http/error-response.js';
import { rejectNonFiniteNumbers } from './http/finite-numbers.js';
import { bodyDeadline, rejectLongUrls } from './http/request-limits.js';
import { listOperations, loadOpenApiDocument, type RouteOperation } from './http/openapi-document.js';
import { redactUrl, type Logger } from './observability/logger.js';
import { redactForLog, requestSecrets } from './observability/redact.js';
import type { Metrics } from './observability/metrics.js';
import type { Store } from './store/store.js';
import type { StreamHub } from './stream/stream-hub.js';

/** What the app is built from; `createApp` creates nothing of its own but the express app. */
export interface AppDeps {
  config: Config;
  store: Store;
  keyRing: KeyRing;
  logger: Logger;
  metrics: Metrics;
  /** Serves the SSE and WebSocket streams. */
  hub: StreamHub;
}

/** What a handler receives besides the request and response. */
export interface HandlerContext {
  deps: AppDeps;
  operation: RouteOperation;
  /** The authenticated caller; for public operations, undefined. */
  principal: Principal | undefined;
}

/** A thin handler bound to an OpenAPI operationId. Throw registry errors; the app maps them. */
export type Handler = (req: Request, res: Response, ctx: HandlerContext) => Promise<void> | void;

interface Locals {
  operation?: RouteOperation;
  principal?: Principal;
}

/**
 * Builds the express app without listening. Routes, permissions and request validation all come
 * from `specs/openapi.yaml`: each operation is bound to `handlers[operationId]`.
 */
export function createApp(deps: AppDeps): express.Express {
  const { config, logger, metrics } = deps;
  const operations = listOperations();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const handleError = errorHandler(logger);
  app.use(requestLog(logger, metrics));
  app.use(rejectLongUrls(config.max_url_bytes));
  app.use(corsFor(config.cors_origins, declaredRequestHeaders(loadOpenApiDocument())));

  // 1. Which operation is this? (Also 404/405 for anything the spec does not declare.)
  for (const operation of operations) {
    app[operation.method](operation.expressPath, (_req: Request, res: Response, next: NextFunction) => {
      (res.locals as Locals).operation = operation;
      next();
    });
  }
  app.use(rejectUndeclared(operations));

  // 2. Who is calling, and may they call this operation at all? Before any body is read.
  app.use(authenticate(deps.keyRing));

  // 3. Read (within body_timeout_ms) and validate the request against the spec.
  app.use(bodyDeadline(config.body_timeout_ms, handleError));
  app.use(express.json({ limit: config.body_limit_bytes, type: ['application/json', 'application/*+json'] }));
  app.use(checkJsonBody(config.body_max_depth));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: loadOpenApiDocument() as never, // the validator's own document type; the YAML is validated by the linter
      validateRequests: { allowUnknownQueryParameters: false, coerceTypes: true },
      validateResponses: config.response_validation ? { removeAdditional: false } : false,
      validateSecurity: false,
      validateApiSpec: false,
      $refParser: { mode: 'dereference' },
    }),
  );
  app.use(rejectNonFiniteNumbers());

  // 4. The handler bound to the operationId.
  for (const operation of operations) {
    const handler = handlers[operation.operationId];
    if (!handler) throw new TypeError(`no handler for operationId "${operation.operationId}"`);
    app[operation.method](operation.expressPath, bind(handler, deps));
  }

  app.use(handleError);
  return app;
}

function bind(handler: Handler, deps: AppDeps): RequestHandler {
  return async (req, res, next) => {
    const locals = res.locals as Locals;
    if (!locals.operation) return next();
    try {
      await handler(req, res, { deps, operation: locals.operation, principal: locals.principal });
    } catch (error) {
      next(error);
    }
  };
}

function rejectUndeclared(operations: readonly RouteOperation[]): RequestHandler {
  const templates = operations.map((op) => new RegExp(`^${op.path.replace(/\{[^}]+\}/g, '[^/]+')}$`));
  return (req, res, next) => {
    if ((res.locals as Locals).operation) return next();
    if (req.method === 'OPTIONS') return next();
    const known = templates.some((template) => template.test(req.path));
    next(known ? errors.methodNotAllowed() : errors.notFound());
  };
}

function authenticate(keyRing: KeyRing): RequestHandler {
  return (req, res, next) => {
    const locals = res.locals as Locals;
    const operation = locals.operation;
    if (!operation || operation.permission === 'public') return next();
    try {
      const token = typeof req.query.token === 'string' ? req.query.token : undefined;
      const principal = keyRing.authenticate({ authorization: req.headers.authorization, token });
      const allowed =
        operation.permission === 'read'
          ? principal.readsAnything
          : operation.permission === 'write'
            ? principal.writesAnything
            : principal.isAdmin;
      if (!allowed) throw errors.forbidden();
      locals.principal = principal;
      next();
    } catch (error) {
      next(error);
    }
  };
}

function requestLog(logger: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const operation = (res.locals as Locals).operation?.operationId ?? 'unknown';
      metrics.httpRequests.inc({ operation, status: String(res.statusCode) });
      logger.info(
        {
          method: req.method,
          url: redactUrl(req.originalUrl),
          operation,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          key: (res.locals as Locals).principal?.keyId,
        },
        'request',
      );
    });
    next();
  };
}

function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const { status, body, unexpected } = toErrorResponse(error);
    if (unexpected) logger.error({ err: redactForLog(error, requestSecrets(req)), method: req.method, url: redactUrl(req.originalUrl) }, 'unexpected error');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="specstream"');
    if (req.method === 'HEAD') res.status(status).end();
    else res.status(status).json(body);
  };
}
