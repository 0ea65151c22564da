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

// body-parser's errors carry `type` (`entity.too.large`, `entity.parse.failed`, ...) and `status`.
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
  return undefined;
}

function isBodyParserError(error: object): error is BodyParserError {
  return typeof (error as { type?: unknown }).type === 'string' && (error as { type: string }).type.startsWith('entity.');
}

function mapBodyParserError(error: BodyParserError): SpecstreamError | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return errors.payloadTooLarge();
    case 'entity.parse.failed':
      return errors.invalidJson();
    case 'entity.verify.failed':
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return errors.unsupportedMediaType('Unsupported body encoding or charset');
    default:
      return error.status && error.status < 500 ? errors.validationFailed('The request body could not be read') : undefined;
  }
}

function isValidatorError(error: object): error is ValidatorError {
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' && Array.isArray((error as { errors?: unknown }).errors);
}

function mapValidatorError(error: ValidatorError): SpecstreamError | undefined {
  switch (error.status) {
    case 400:
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
