import { errors, SpecstreamError, type ErrorBody, type ErrorDetail } from '../errors.js';

/** What any thrown value becomes on the wire. */
export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  /** True when the error is not a client's doing and must be logged in full. */
  unexpected: boolean;
}

// express-openapi-validator's errors: an HttpError with `status` and `errors: [{path, message, errorCode}]`.
interface ValidatorError {
  status: number;
  message: string;
  errors?: { path?: string; message?: string; errorCode?: string }[];
}

// body-parser's and raw-body's errors carry `type` (`entity.too.large`, `charset.unsupported`, ...) and `status`.
interface BodyParserError {
  type: string;
  status?: number;
}

/** The one mapping from an error to a response, used by express and by the WebSocket upgrade. */
export function toErrorResponse(error: unknown): ErrorResponse {
  const mapped = mapKnown(error);
  if (mapped) return { status: mapped.status, body: mapped.toBody(), unexpected: mapped.status >= 500 && mapped.code === 'INTERNAL' };
  const internal = errors.internal();
  return { status: internal.status, body: internal.toBody(), unexpected: true };
}

function mapKnown(error: unknown): SpecstreamError | undefined {
  if (error instanceof SpecstreamError) return error;
  if (typeof error !== 'object' || error === null) return undefined;
  if (isBodyParserError(error)) return mapBodyParserError(error);
  if (isValidatorError(error)) return mapValidatorError(error);
  return mapClientError(error);
}

function isBodyParserError(error: object): error is BodyParserError {
  const type = (error as { type?: unknown }).type;
  return typeof type === 'string' && BODY_ERROR_TYPES.has(type);
}

/** Every `type` body-parser 2 and raw-body 3 give their errors. */
const BODY_ERROR_TYPES = new Set([
  'entity.too.large',
  'entity.parse.failed',
  'entity.verify.failed',
  'encoding.unsupported',
  'charset.unsupported',
  'request.aborted',
  'request.size.invalid',
  'parameters.too.many',
  'stream.encoding.set',
  'stream.not.readable',
]);

function mapBodyParserError(error: BodyParserError): SpecstreamError | undefined {
  switch (error.type) {
    case 'entity.too.large':
    case 'parameters.too.many':
      return errors.payloadTooLarge();
    case 'entity.parse.failed':
      return errors.invalidJson();
    case 'entity.verify.failed':
      return errors.validationFailed('The request body could not be read');
    case 'encoding.unsupported':
      return errors.unsupportedMediaType('Unsupported Content-Encoding: send identity, gzip, deflate or br');
    case 'charset.unsupported':
      return errors.unsupportedMediaType('Unsupported charset: send application/json in UTF-8');
    case 'request.aborted':
    case 'request.size.invalid':
      return errors.malformedRequest('The body ended before its Content-Length');
    default:
      // stream.encoding.set / stream.not.readable: the server read the body twice, its own bug.
      return undefined;
  }
}

/**
 * Errors of the HTTP stack that mark a client's mistake with a 4xx `status` (http-errors, the
 * router's `URIError` for a path parameter that is not valid percent-encoding, zlib errors of a
 * body that is not what its Content-Encoding says). Anything else is the server's: INTERNAL.
 */
function mapClientError(error: object): SpecstreamError | undefined {
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (error instanceof URIError) return errors.malformedUrl();
  const code = (error as { code?: unknown }).code;
  // zlib's codes are Z_* (gzip, deflate); brotli's are ERR__ERROR_* (or ERR_BROTLI_*).
  if (typeof code === 'string' && /^(Z_|ERR__ERROR_|ERR_BROTLI)/.test(code)) return errors.invalidContentEncoding();
  switch (status) {
    case 404:
      return errors.notFound();
    case 405:
      return errors.methodNotAllowed();
    case 408:
      return errors.requestTimeout();
    case 413:
      return errors.payloadTooLarge();
    case 414:
      return errors.urlTooLong();
    case 415:
      return errors.unsupportedMediaType();
    case 431:
      return errors.headersTooLarge();
    default:
      return errors.malformedRequest('The request could not be read');
  }
}

/** ajv's message for a value that fails a pattern of event ids. */
const EVENT_ID_PATTERN_FAILURE = /^must match pattern "\^evt_/;

function isValidatorError(error: object): error is ValidatorError {
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' && Array.isArray((error as { errors?: unknown }).errors);
}

function mapValidatorError(error: ValidatorError): SpecstreamError | undefined {
  switch (error.status) {
    case 400:
      // An id that breaks an event-id pattern (`^evt_…`) gets the code the query rules give it.
      if (error.errors !== undefined && error.errors.length > 0 && error.errors.every((item) => EVENT_ID_PATTERN_FAILURE.test(item.message ?? ''))) {
        return errors.invalidEventId(undefined, validatorDetails(error).map((detail) => ({ ...detail, code: 'INVALID_EVENT_ID' })));
      }
      return errors.validationFailed(undefined, validatorDetails(error));
    case 404:
      return errors.notFound();
    case 405:
      return errors.methodNotAllowed();
    case 413:
      return errors.payloadTooLarge();
    case 415:
      return errors.unsupportedMediaType();
    default:
      // Response validation failures (500) are the server's bug: report them as INTERNAL.
      return undefined;
  }
}

function validatorDetails(error: ValidatorError): ErrorDetail[] {
  return (error.errors ?? []).map((item) => ({
    path: validatorPath(item.path ?? ''),
    code: validatorCode(item.errorCode),
    message: item.message ?? 'is invalid',
  }));
}

/** `.body.data.grantId` or `/body/0/type` -> `/body/data/grantId`. */
function validatorPath(path: string): string {
  if (path.startsWith('/')) return path;
  const parts = path.split('.').filter(Boolean);
  return parts.length === 0 ? '' : `/${parts.join('/')}`;
}

/** `required.openapi.validation` -> `REQUIRED`. */
function validatorCode(errorCode: string | undefined): string {
  const keyword = (errorCode ?? 'invalid').split('.')[0] ?? 'invalid';
  return keyword.replace(/([a-z])([A-Z])/g, '$1_$2').replace(/\W+/g, '_').toUpperCase() || 'INVALID';
}
