/**
 * The request body codings Specstream reads (RFC 9110 section 8.4): `identity`, `gzip`, `deflate`
 * and `br`, one coding per body. Anything else (`zstd`, `compress`, a list of codings) is a 415
 * UNSUPPORTED_MEDIA_TYPE before the body is read, on every Node version: body-parser's own list
 * follows zlib's, which gained zstd in Node 24, and a server's answer must not depend on that.
 */
import type { RequestHandler } from 'express';
import { errors } from '../errors.js';

/** The codings accepted for request bodies, lower case. */
export const ACCEPTED_CONTENT_ENCODINGS: ReadonlySet<string> = new Set(['identity', 'gzip', 'deflate', 'br']);

/** True when `header` (a request's `Content-Encoding`, or undefined) names one accepted coding. */
export function isAcceptedContentEncoding(header: string | undefined): boolean {
  return header === undefined || header === '' || ACCEPTED_CONTENT_ENCODINGS.has(header.trim().toLowerCase());
}

/** Express middleware: refuses a body coding outside ACCEPTED_CONTENT_ENCODINGS with 415. */
export function rejectUnsupportedEncodings(): RequestHandler {
  return (req, _res, next) => {
    if (isAcceptedContentEncoding(req.headers['content-encoding'])) return next();
    next(errors.unsupportedMediaType('Unsupported Content-Encoding: use gzip, deflate, br or none'));
  };
}
