/**
 * Error bodies in the bundle's own shape (`x-specstream-errors`): the registry decides the code
 * and message; the bundle decides the status override and the body. Without the keyword the body
 * is the native registry body `{error, code, details?}`.
 */
import type { ErrorBody } from '../errors.js';
import type { ErrorStyle } from './bundle.js';

/** The status and body a client gets for a registry error response. */
export function styleError(style: ErrorStyle, status: number, body: ErrorBody): { status: number; body: unknown } {
  const override = style.codes.get(body.code);
  const finalStatus = override?.status ?? status;
  const map = override?.body ?? style.body;
  if (!map) return { status: finalStatus, body };
  return {
    status: finalStatus,
    body: map.build({ error: { code: body.code, message: body.error, status: finalStatus, details: body.details } }),
  };
}
