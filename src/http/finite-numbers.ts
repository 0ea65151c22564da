import type { RequestHandler } from 'express';
import { errors, type ErrorDetail } from '../errors.js';

/**
 * Refuses a parameter that request validation coerced to a number that is not finite
 * (`limit=Infinity`, `1e400`, `-Infinity`): ajv's type coercion turns such strings into numbers
 * that pass `type: integer` and every `minimum`/`maximum`, so without this check they reach the
 * handlers. Runs after the OpenAPI validator, on the query, path parameters and headers, whatever
 * the operation; 400 `VALIDATION_FAILED` naming each parameter.
 */
export function rejectNonFiniteNumbers(): RequestHandler {
  return (req, _res, next) => {
    const details: ErrorDetail[] = [];
    const check = (where: string, values: unknown) => {
      if (values === null || typeof values !== 'object') return;
      for (const [name, value] of Object.entries(values)) {
        const items: unknown[] = Array.isArray(value) ? value : [value];
        if (items.some((item) => typeof item === 'number' && !Number.isFinite(item))) {
          details.push({ path: `/${where}/${name}`, code: 'NOT_FINITE', message: 'must be a finite number' });
        }
      }
    };
    check('query', req.query);
    check('path', req.params);
    check('headers', req.headers);
    if (details.length > 0) return next(errors.validationFailed(undefined, details));
    next();
  };
}
