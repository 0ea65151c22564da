import type { RequestHandler } from 'express';
import { errors } from '../errors.js';
import { findUnstorable } from '../store/storable.js';

/**
 * Checks a parsed JSON body before anything recursive (request validation, the handlers, the
 * store's serialisation) sees it: nesting at most `maxDepth` levels (the body itself is level 1),
 * no U+0000 or lone surrogate in any string or key, and no `__proto__` key (the rules of
 * `src/store/storable.ts`). The walk is iterative and linear, so it is safe on any body
 * `express.json` could parse within `body_limit_bytes`.
 *
 * Errors: 400 VALIDATION_FAILED whose `details` name each problem by JSON Pointer (RFC 6901) with
 * the code TOO_DEEP, INVALID_CHARACTER or RESERVED_KEY.
 */
export function checkJsonBody(maxDepth: number): RequestHandler {
  return (req, _res, next) => {
    // express.json leaves `req.body` undefined when there is no JSON body.
    if (req.body === undefined) return next();
    const problems = findUnstorable(req.body, maxDepth);
    if (problems.length === 0) return next();
    next(errors.validationFailed('The body contains values the server does not accept', problems));
  };
}
