/**
 * Refuses a request without a body when its operation declares `requestBody.required: true`
 * (OpenAPI 3.1 section 4.8.13). `express.json` leaves `req.body` undefined when a request has no
 * body at all (no `Content-Length`, no chunked body), and the OpenAPI request validator lets that
 * through, so without this check a handler would read a body that is not there.
 *
 * Errors: 400 VALIDATION_FAILED with one detail at the body's root (`""`, code REQUIRED).
 */
import type { RequestHandler } from 'express';
import type { BundleOperation } from '../bundle/bundle.js';
import { errors } from '../errors.js';
import { resolveLocalRef } from './json-schema-check.js';
import type { Locals } from './stage-runner.js';

/** The operationIds of `openapi` whose request body is required. */
export function operationsRequiringBody(openapi: Record<string, unknown>, operations: readonly BundleOperation[]): ReadonlySet<string> {
  const paths = openapi.paths as Record<string, Record<string, unknown>> | undefined;
  const required = new Set<string>();
  for (const operation of operations) {
    const declared = paths?.[operation.path]?.[operation.method] as { requestBody?: unknown } | undefined;
    const body = resolveLocalRef(openapi, declared?.requestBody) as { required?: unknown } | undefined;
    if (body?.required === true) required.add(operation.operationId);
  }
  return required;
}

export function requireDeclaredBody(required: ReadonlySet<string>): RequestHandler {
  return (req, res, next) => {
    const operation = (res.locals as Locals).operation;
    if (req.body !== undefined || operation === undefined || !required.has(operation.operationId)) return next();
    next(errors.validationFailed('The request has no body, and this operation requires one', [{ path: '', code: 'REQUIRED', message: 'A JSON request body is required' }]));
  };
}
