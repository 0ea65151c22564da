/**
 * Runs the app's middleware outside express, for the hot paths (publish-shortcut.ts,
 * stream-shortcut.ts): the same function objects, in the app's order, on Node's own request and
 * response, with the few express properties they read set by hand (`res.locals`, `req.query`,
 * `req.originalUrl`). An error goes to the app's error handler, after `req`/`res` became express's
 * request and response exactly as `app.handle` makes them, so its answer is express's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Express, NextFunction, Request, RequestHandler, Response } from 'express';
import type { BundleOperation } from '../bundle/bundle.js';
import type { Principal } from '../auth/principal.js';

/** The app's middleware in its order; express runs the same objects (see app.ts). */
export interface AppStages {
  /** Every request, before routing: request log, URL limit, CORS. */
  before: readonly RequestHandler[];
  /** After routing (`res.locals.operation` set): authentication, permission, rate limit. */
  access: readonly RequestHandler[];
  /** Reading and validating the request: body deadline, body parser, body checks, OpenAPI validator. */
  body: readonly RequestHandler[];
  /** The error handler. */
  error: ErrorRequestHandler;
}

/** `res.locals` as the app's middleware and handlers use it. */
export interface Locals {
  operation?: BundleOperation;
  principal?: Principal;
}

/** A request or response as the app's middleware sees it (express's properties it reads, set by hand). */
export type ShortReq = IncomingMessage & { originalUrl?: string; query?: Record<string, unknown>; body?: unknown; res?: ServerResponse };
export type ShortRes = ServerResponse & { locals?: Locals; req?: IncomingMessage };

/** Serves `req` when it is one a hot path takes and returns true; false leaves it to express, untouched. */
export type Shortcut = (req: IncomingMessage, res: ServerResponse) => boolean;

export class StageRunner {
  constructor(
    private readonly app: Express,
    readonly stages: AppStages,
  ) {}

  /**
   * Sets what express's set-up and routing would have set (`res.locals` with the operation,
   * `req.originalUrl`, `req.query`) and returns the locals.
   */
  prepare(req: ShortReq, res: ShortRes, operation: BundleOperation, query: Record<string, unknown>): Locals {
    req.originalUrl = req.url;
    req.query = query;
    const locals = Object.create(null) as Locals;
    locals.operation = operation;
    res.locals = locals;
    return locals;
  }

  /** Makes `req`/`res` express's request and response, as `app.handle` does. */
  toExpress(req: ShortReq, res: ShortRes): [Request, Response] {
    Object.setPrototypeOf(req, this.app.request);
    Object.setPrototypeOf(res, this.app.response);
    req.res = res;
    res.req = req;
    return [req as unknown as Request, res as unknown as Response];
  }

  /** Answers `error` with the app's error handler. */
  fail(req: ShortReq, res: ShortRes, error: unknown): void {
    const [request, response] = this.toExpress(req, res);
    this.stages.error(error, request, response, () => {});
  }

  /** Runs `steps` in order; `done` after the last one; the first error goes to `fail`. */
  run(steps: readonly RequestHandler[], req: ShortReq, res: ShortRes, done: () => void): void {
    let index = 0;
    const next: NextFunction = (error?: unknown) => {
      if (error !== undefined && error !== null && error !== 'route' && error !== 'router') return this.fail(req, res, error);
      const step = steps[index++];
      if (step === undefined) return done();
      try {
        const result = step(req as unknown as Request, res as unknown as Response, next) as unknown;
        if (result instanceof Promise) result.catch((thrown: unknown) => this.fail(req, res, thrown));
      } catch (thrown) {
        this.fail(req, res, thrown);
      }
    };
    next();
  }

  /** Calls `handler`; a rejection or throw goes to `fail`. */
  call(req: ShortReq, res: ShortRes, handler: () => Promise<void> | void): void {
    try {
      const result = handler();
      if (result instanceof Promise) result.catch((error: unknown) => this.fail(req, res, error));
    } catch (error) {
      this.fail(req, res, error);
    }
  }
}
