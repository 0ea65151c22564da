import express, { type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Authenticator } from './auth/authenticator.js';
import { RateLimiter, rateLimitHeaders } from './auth/rate-limiter.js';
import type { Principal } from './auth/principal.js';
import type { Config } from './config/load-config.js';
import { errors } from './errors.js';
import { handlers } from './handlers/index.js';
import { checkJsonBody } from './http/check-json-body.js';
import { rejectUnsupportedEncodings } from './http/content-encoding.js';
import { createPublishShortcut } from './http/publish-shortcut.js';
import { StageRunner, type AppStages, type Shortcut } from './http/stage-runner.js';
import { createStreamShortcut } from './http/stream-shortcut.js';
import { corsFor, declaredRequestHeaders } from './http/cors.js';
import { toErrorResponse } from './http/error-response.js';
import { rejectNonFiniteNumbers } from './http/finite-numbers.js';
import { operationsRequiringBody, requireDeclaredBody } from './http/require-body.js';
import { bodyDeadline, rejectLongUrls } from './http/request-limits.js';
import type { Bundle, BundleOperation } from './bundle/bundle.js';
import { admitsAnonymous, challengeFor, credentialsFor } from './bundle/credentials.js';
import { styleError } from './bundle/error-style.js';
import type { ServedBundle } from './bundle/served-bundle.js';
import { redactUrl, type Logger } from './observability/logger.js';
import { redactForLog, registerLoggedQueryParameters, requestSecrets } from './observability/redact.js';
import type { Metrics } from './observability/metrics.js';
import type { Store } from './store/store.js';
import type { StreamHub } from './stream/stream-hub.js';

/** What the app is built from; `createApp` creates nothing of its own but the express app. */
export interface AppDeps {
  config: Config;
  store: Store;
  /** Keys and JWTs (src/auth/authenticator.ts); a key reload swaps its configuration. */
  auth: Authenticator;
  logger: Logger;
  metrics: Metrics;
  /** Serves the SSE and WebSocket streams. */
  hub: StreamHub;
  /** The spec bundle served: routes, auth, errors, envelope and frames come from it. */
  served: ServedBundle;
}

/** What a handler receives besides the request and response. */
export interface HandlerContext {
  deps: AppDeps;
  operation: BundleOperation;
  /** The authenticated caller; for public operations, undefined. */
  principal: Principal | undefined;
}

/** A thin handler bound to an OpenAPI operationId. Throw registry errors; the app maps them. */
export type Handler = (req: Request, res: Response, ctx: HandlerContext) => Promise<void> | void;

interface Locals {
  operation?: BundleOperation;
  principal?: Principal;
}

/** The express app, with the hot paths that run the same middleware without express. */
export interface SpecstreamApp extends express.Express {
  /**
   * Serves a plain publish (src/http/publish-shortcut.ts) or SSE stream request
   * (src/http/stream-shortcut.ts) and returns true, or returns false and leaves the request to
   * the app. The HTTP server calls it before the app.
   */
  shortcut: Shortcut;
}

/**
 * Builds the express app without listening. Routes, auth, permissions, request validation and
 * error bodies all come from the served bundle's OpenAPI document: each operation runs the
 * handler of its role (`x-specstream-operation`).
 *
 * The middleware is grouped in stages (`AppStages`) that the publish shortcut runs too, as the
 * same objects: a step added to a stage applies to both.
 */
export function createApp(deps: AppDeps): SpecstreamApp {
  const { config, logger, metrics } = deps;
  const { bundle } = deps.served;
  const operations = bundle.operations;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const handleError = errorHandler(logger, deps.served);
  // Request logs show the values of this document's declared query parameters; every other value is redacted.
  registerLoggedQueryParameters(bundle.openapi);
  const stages: AppStages = {
    before: [requestLog(logger, metrics), rejectLongUrls(config.max_url_bytes), corsFor(config.cors_origins, declaredRequestHeaders(bundle.openapi))],
    // 2. Who is calling, and may they call this operation at all? Before any body is read.
    access: [authenticate(deps.auth, bundle), limitPublishRate(deps.auth, new RateLimiter(), metrics)],
    // 3. Read (within body_timeout_ms) and validate the request against the spec.
    body: [
      bodyDeadline(config.body_timeout_ms, handleError),
      rejectUnsupportedEncodings(),
      express.json({ limit: config.body_limit_bytes, type: ['application/json', 'application/*+json'] }),
      checkJsonBody(config.body_max_depth),
      ...OpenApiValidator.middleware({
        apiSpec: structuredClone(bundle.openapi) as never, // the validator's own document type; the YAML is validated by the linter
        validateRequests: { allowUnknownQueryParameters: false, coerceTypes: true },
        validateResponses: config.response_validation ? { removeAdditional: false } : false,
        validateSecurity: false,
        validateApiSpec: false,
        $refParser: { mode: 'dereference' },
      }),
      // After the validator, which answers a body of another media type 415 first.
      requireDeclaredBody(operationsRequiringBody(bundle.openapi, operations)),
      rejectNonFiniteNumbers(),
    ],
    error: handleError,
  };
  app.use(...stages.before);

  // 1. Which operation is this? (Also 404/405 for anything the spec does not declare.) The first
  // that matches, as for the handlers below: `/v1/events/stream` is streamEvents, not `/v1/events/{id}`.
  for (const operation of operations) {
    app[operation.method](operation.expressPath, (_req: Request, res: Response, next: NextFunction) => {
      (res.locals as Locals).operation ??= operation;
      next();
    });
  }
  app.use(rejectUndeclared(operations));

  app.use(...stages.access);
  app.use(...stages.body);

  // 4. The handler of the operation's role.
  for (const operation of operations) {
    app[operation.method](operation.expressPath, bind(handlers[operation.role], deps));
  }

  app.use(handleError);
  const runner = new StageRunner(app, stages);
  const publish = createPublishShortcut(deps, runner, handlers.publish);
  const stream = createStreamShortcut(deps, runner, handlers['stream-sse']);
  return Object.assign(app, { shortcut: ((req, res) => publish(req, res) || stream(req, res)) satisfies Shortcut });
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

function rejectUndeclared(operations: readonly BundleOperation[]): RequestHandler {
  const templates = operations.map((op) => new RegExp(`^${op.path.replace(/\{[^}]+\}/g, '[^/]+')}$`));
  return (req, res, next) => {
    if ((res.locals as Locals).operation) return next();
    if (req.method === 'OPTIONS') return next();
    const known = templates.some((template) => template.test(req.path));
    next(known ? errors.methodNotAllowed() : errors.notFound());
  };
}

function authenticate(auth: Authenticator, bundle: Bundle): RequestHandler {
  return async (req, res, next) => {
    const locals = res.locals as Locals;
    const operation = locals.operation;
    if (!operation || operation.permission === 'public') return next();
    try {
      const principal = await auth.authenticate(credentialsFor(operation, req.headers, req.query as Record<string, unknown>), {
        anonymous: admitsAnonymous(bundle, operation),
        origin: req.headers.origin,
      });
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

/**
 * The publish rate limit (src/auth/rate-limiter.ts), before the body is read: every publish
 * response carries `RateLimit` and `RateLimit-Policy`; past the limit, 429 RATE_LIMITED with
 * `Retry-After`. Callers without a limit (`publish_rate_per_s` 0) get no such headers.
 */
function limitPublishRate(auth: Authenticator, limiter: RateLimiter, metrics: Metrics): RequestHandler {
  return (_req, res, next) => {
    const { operation, principal } = res.locals as Locals;
    if (operation?.role !== 'publish' || principal === undefined) return next();
    const decision = limiter.take(principal.keyId, auth.publishRateOf(principal));
    if (decision === undefined) return next();
    for (const [name, value] of Object.entries(rateLimitHeaders(decision))) res.setHeader(name, value);
    if (decision.allowed) return next();
    metrics.rateLimited.inc();
    next(errors.rateLimited());
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

function errorHandler(logger: Logger, served: ServedBundle): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const response = toErrorResponse(error);
    const { unexpected } = response;
    const { status, body } = styleError(served.bundle.errors, response.status, response.body);
    if (unexpected) logger.error({ err: redactForLog(error, requestSecrets(req)), method: req.method, url: redactUrl(req.originalUrl) }, 'unexpected error');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const challenge = response.status === 401 ? challengeFor((res.locals as Locals).operation) : undefined;
    if (challenge) res.setHeader('WWW-Authenticate', challenge);
    if (req.method === 'HEAD') res.status(status).end();
    else res.status(status).json(body);
  };
}
