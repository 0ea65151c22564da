/**
 * Errors the SDK surfaces. A response the server refused for a reason retrying cannot fix (400,
 * 401, 403, 404, 409, 413, 415) is thrown as a typed error and never retried; network faults and
 * 5xx/429 are retried by `connect()` and thrown by `publish()`/`list()` as `SpecstreamError`.
 */

/** `{error, code, details}` as the server's JSON errors carry it. */
export interface ErrorBody {
  error: string;
  code: string;
  details?: { path?: string; code?: string; message?: string }[];
}

/** Any error answered by a Specstream server (or a transport fault when `status` is 0). */
export class SpecstreamError extends Error {
  override name = 'SpecstreamError';
  /** The HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /** The server's stable UPPER_SNAKE code, e.g. `SINCE_AFTER_UNTIL`; `NETWORK` for transport faults. */
  readonly code: string;
  readonly details: ErrorBody['details'];

  constructor(status: number, code: string, message: string, details?: ErrorBody['details'], options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** 400: the query or body breaks a rule of the spec (`code` names the rule). Never retried. */
export class BadRequestError extends SpecstreamError {
  override name = 'BadRequestError';
}

/** 401: no or an unknown token. Never retried. */
export class UnauthorizedError extends SpecstreamError {
  override name = 'UnauthorizedError';
}

/** 403: the token may not read (or write) these types. Never retried. */
export class ForbiddenError extends SpecstreamError {
  override name = 'ForbiddenError';
}

/**
 * The client's options cannot work with the chosen bundle, or the bundle cannot be read: it has no
 * such operation (`NO_OPERATION`, e.g. publishing to a read-only bundle), the stream does not take
 * a query option given (`UNSUPPORTED_OPTION`), the token cannot be presented in a way the bundle
 * accepts (`NO_CREDENTIAL_SCHEME`), the bundle is refused (`INVALID_BUNDLE`), or loading a bundle
 * folder was asked for where there is no file system (`NODE_ONLY`). `status` is 0. Never retried.
 */
export class ProfileError extends SpecstreamError {
  override name = 'ProfileError';
  constructor(code: 'NO_OPERATION' | 'UNSUPPORTED_OPTION' | 'NO_CREDENTIAL_SCHEME' | 'INVALID_BUNDLE' | 'NODE_ONLY', message: string, options?: { cause?: unknown }) {
    super(0, code, message, undefined, options);
  }
}

/** True for statuses a retry may fix: network faults (0), 408, 429 and 5xx. */
export function isRetryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** Builds the typed error for a status and the server's JSON body (if any). */
export function errorFor(status: number, body: Partial<ErrorBody> | undefined, fallback: string): SpecstreamError {
  const code = typeof body?.code === 'string' ? body.code : `HTTP_${status}`;
  const message = typeof body?.error === 'string' ? body.error : fallback;
  const Kind = status === 400 ? BadRequestError : status === 401 ? UnauthorizedError : status === 403 ? ForbiddenError : SpecstreamError;
  return new Kind(status, code, message, body?.details);
}

/** Reads an error response's JSON body (tolerating none) and builds the typed error. */
export async function errorFromResponse(response: Response): Promise<SpecstreamError> {
  let body: Partial<ErrorBody> | undefined;
  try {
    body = (await response.json()) as Partial<ErrorBody>;
  } catch {
    body = undefined;
  }
  return errorFor(response.status, body, `HTTP ${response.status} ${response.statusText}`.trim());
}
