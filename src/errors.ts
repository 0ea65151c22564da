/**
 * The error registry: every error a client can see has a stable UPPER_SNAKE code, an HTTP status
 * and a message. `toErrorResponse` (src/http/error-response.ts) is the one place that turns any
 * thrown value into a response; the WebSocket `error` frame carries the same codes.
 */

/** One item of `details`: where (a JSON Pointer), what (a code) and a sentence. */
export interface ErrorDetail {
  path: string;
  code: string;
  message: string;
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: string;
  code: string;
  details?: ErrorDetail[];
}

/** An error with a registry code; safe to show to the client. */
export class SpecstreamError extends Error {
  override readonly name = 'SpecstreamError';
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: ErrorDetail[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toBody(): ErrorBody {
    return this.details && this.details.length > 0
      ? { error: this.message, code: this.code, details: this.details }
      : { error: this.message, code: this.code };
  }
}

/** A registry entry: call it to make the error, or with a message to override the default. */
export interface ErrorDefinition {
  readonly code: string;
  readonly status: number;
  readonly message: string;
  (message?: string, details?: ErrorDetail[], options?: { cause?: unknown }): SpecstreamError;
  /** True when `error` is an instance of this definition. */
  is(error: unknown): error is SpecstreamError;
}

/** Defines a registry entry. */
export function defineError(code: string, status: number, message: string): ErrorDefinition {
  const make = ((msg?: string, details?: ErrorDetail[], options?: { cause?: unknown }) =>
    new SpecstreamError(code, status, msg ?? message, details, options)) as ErrorDefinition;
  Object.defineProperties(make, {
    code: { value: code },
    status: { value: status },
    message: { value: message },
  });
  make.is = (error: unknown): error is SpecstreamError =>
    error instanceof SpecstreamError && error.code === code;
  return make;
}

export const errors = {
  // Authentication and permissions
  authRequired: defineError('AUTH_REQUIRED', 401, 'Authentication required'),
  forbidden: defineError('FORBIDDEN', 403, 'This key may not perform this operation'),
  queryTokenDisabled: defineError('QUERY_TOKEN_DISABLED', 403, 'This key may not be passed as ?token='),
  // JWTs (src/auth/jwt-verifier.ts): one code per failed check, so that a client knows what to fix.
  tokenExpired: defineError('TOKEN_EXPIRED', 401, 'The token has expired'),
  tokenNotYetValid: defineError('TOKEN_NOT_YET_VALID', 401, 'The token is not valid yet (nbf or iat is in the future)'),
  tokenWrongAudience: defineError('TOKEN_WRONG_AUDIENCE', 401, 'The token is not meant for this server (aud)'),
  tokenWrongIssuer: defineError('TOKEN_WRONG_ISSUER', 401, 'The token was issued by an issuer this server does not trust (iss)'),
  tokenAlgorithmRefused: defineError('TOKEN_ALGORITHM_REFUSED', 401, 'The token is signed with an algorithm no configured key allows'),
  tokenBadSignature: defineError('TOKEN_BAD_SIGNATURE', 401, 'The token signature does not verify'),
  tokenUnknownKey: defineError('TOKEN_UNKNOWN_KEY', 401, 'The token names a key (kid) this server does not know'),
  tokenMalformed: defineError('TOKEN_MALFORMED', 401, 'The token is not a well-formed JWT with the claims this server needs'),
  tokenOriginMismatch: defineError('TOKEN_ORIGIN_MISMATCH', 403, 'This token is bound to another origin'),
  credentialsRevoked: defineError('CREDENTIALS_REVOKED', 401, 'The credentials of this stream were revoked or changed'),
  scopeNotGranted: defineError('SCOPE_NOT_GRANTED', 403, 'A token can only carry read scopes its issuer holds'),
  jwksUnavailable: defineError('JWKS_UNAVAILABLE', 503, 'The key set (JWKS) that verifies this token could not be fetched in time'),

  // Request shape
  invalidJson: defineError('INVALID_JSON', 400, 'The body is not valid JSON'),
  validationFailed: defineError('VALIDATION_FAILED', 400, 'The request does not match the schema'),
  unknownEventType: defineError('UNKNOWN_EVENT_TYPE', 400, 'The event type is not in the catalog'),
  invalidCursor: defineError('INVALID_CURSOR', 400, 'The cursor is not one this server issued'),
  invalidEventId: defineError('INVALID_EVENT_ID', 400, 'Not an event id (evt_ + 26-character ULID)'),
  payloadTooLarge: defineError('PAYLOAD_TOO_LARGE', 413, 'The body is larger than the limit'),
  unsupportedMediaType: defineError('UNSUPPORTED_MEDIA_TYPE', 415, 'The body must be application/json'),
  invalidContentEncoding: defineError('INVALID_CONTENT_ENCODING', 400, 'The body is not valid data for its Content-Encoding'),
  malformedUrl: defineError('MALFORMED_URL', 400, 'The URL is not valid percent-encoded UTF-8'),
  malformedRequest: defineError('MALFORMED_REQUEST', 400, 'The request is not valid HTTP/1.1'),
  requestTimeout: defineError('REQUEST_TIMEOUT', 408, 'The request did not arrive in time'),
  urlTooLong: defineError('URL_TOO_LONG', 414, 'The URL is longer than the limit'),
  headersTooLarge: defineError('HEADERS_TOO_LARGE', 431, 'The request headers are larger than the limit'),

  // Resources
  notFound: defineError('NOT_FOUND', 404, 'No such route'),
  eventNotFound: defineError('EVENT_NOT_FOUND', 404, 'No such event'),
  methodNotAllowed: defineError('METHOD_NOT_ALLOWED', 405, 'Method not allowed on this route'),
  idempotencyConflict: defineError(
    'IDEMPOTENCY_CONFLICT',
    409,
    'This Idempotency-Key was used with a different request',
  ),

  // Streams and limits
  upgradeRequired: defineError('UPGRADE_REQUIRED', 426, 'This endpoint needs a WebSocket upgrade'),
  tooManyConnections: defineError('TOO_MANY_CONNECTIONS', 429, 'Too many open streams'),
  rateLimited: defineError('RATE_LIMITED', 429, 'Too many publish requests for this key; retry after the Retry-After delay'),

  // Server side
  storeUnavailable: defineError('STORE_UNAVAILABLE', 503, 'The event store is unavailable; nothing was stored'),
  storeTimeout: defineError(
    'STORE_TIMEOUT',
    503,
    'The event store did not confirm in time; the events may have been stored: retry with the same Idempotency-Key',
  ),
  storeClosed: defineError('STORE_CLOSED', 503, 'The event store is closed'),
  shuttingDown: defineError('SHUTTING_DOWN', 503, 'The server is shutting down'),
  internal: defineError('INTERNAL', 500, 'Internal server error'),
} as const;

/** Maps anything thrown to a client-safe error; unknown errors become INTERNAL (the caller logs the original). */
export function asSpecstreamError(error: unknown): SpecstreamError {
  if (error instanceof SpecstreamError) return error;
  return errors.internal(undefined, undefined, { cause: error });
}
