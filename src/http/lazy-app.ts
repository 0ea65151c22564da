/**
 * The HTTP request listener of a server whose app is built at its first request.
 *
 * The app (express, the OpenAPI request validator, the zod validators of every handler, the docs
 * and console pages) is most of what a started server holds in its heap. A server that has not been
 * asked anything yet does not need it, so it is imported and built when the first request arrives
 * (a one-time cost of a few hundred milliseconds, README "Benchmarks"); requests that arrive
 * meanwhile wait for it, in order. Their bodies stay in the socket until the app reads them, so
 * the app's deadlines (`body_timeout_ms`) start when it does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SpecstreamApp } from '../app.js';
import type { ErrorStyle } from '../bundle/bundle.js';
import { styleError } from '../bundle/error-style.js';
import { errors } from '../errors.js';
import type { Logger } from '../observability/logger.js';

/** A request listener that builds its app on first use. */
export interface LazyApp {
  /** The listener for `http.createServer`. */
  listener(req: IncomingMessage, res: ServerResponse): void;
  /** Builds the app now, if not yet done; resolves once it serves (rejects if building failed). */
  ready(): Promise<SpecstreamApp>;
}

/**
 * Wraps `build` (which imports and creates the app) as a request listener. A failure to build is a
 * server fault: every waiting request is answered 500 INTERNAL (in the bundle's error body,
 * `errorStyle`) and logged, and the next request tries again.
 */
export function lazyApp(build: () => Promise<SpecstreamApp>, errorStyle: ErrorStyle, logger: Logger): LazyApp {
  let app: SpecstreamApp | undefined;
  let building: Promise<SpecstreamApp> | undefined;

  const ready = () =>
    (building ??= build().then(
      (built) => (app = built),
      (error: unknown) => {
        building = undefined;
        logger.error({ err: error }, 'building the app failed');
        throw error;
      },
    ));

  const serve = (built: SpecstreamApp, req: IncomingMessage, res: ServerResponse) => {
    if (!built.shortcut(req, res)) built(req, res);
  };

  return {
    listener(req, res) {
      if (app) return serve(app, req, res);
      ready().then(
        (built) => serve(built, req, res),
        () => {
          const internal = errors.internal();
          const { status, body } = styleError(errorStyle, internal.status, internal.toBody());
          if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
          res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
        },
      );
    },
    ready,
  };
}
