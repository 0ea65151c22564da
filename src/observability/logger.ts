import { pino, type Logger } from 'pino';
import { redactForLog, redactText, redactUrl, REDACTED } from './redact.js';

export type { Logger };
export { redactUrl };

/** Header fields that carry credentials, in every place a log object may hold headers. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'];
const HEADER_HOLDERS = ['req.headers', 'headers', 'request.headers', 'res.headers', 'err.headers', 'err.config.headers'];

/**
 * The process logger: pino JSON lines on stdout. Credentials never reach a line
 * (src/observability/redact.ts says how):
 * - headers that carry credentials (`Authorization`, `Proxy-Authorization`, `Cookie`, `X-API-Key`)
 *   under any usual holder, and `secret` fields, are censored by pino's `redact`;
 * - a `url` field keeps only the values of declared, non-credential query parameters;
 * - errors (`err`, with their `cause` chains) and the message text have every `name=value` whose
 *   name is not a declared, non-credential query parameter redacted.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'specstream' },
      redact: {
        paths: [
          ...HEADER_HOLDERS.flatMap((holder) => CREDENTIAL_HEADERS.map((name) => `${holder}["${name}"]`)),
          'authorization',
          'secret',
          '*.secret',
          'token',
          '*.token',
        ],
        censor: REDACTED,
      },
      serializers: {
        err: (error: unknown) => redactForLog(error),
      },
      hooks: {
        logMethod(args, method) {
          // The message (and any printf-style arguments) may quote a URL or an error's text.
          const redacted = args.map((arg) => (typeof arg === 'string' ? redactText(arg) : arg)) as Parameters<typeof method>;
          method.apply(this, redacted);
        },
      },
      formatters: {
        log(object) {
          if (typeof object.url === 'string') return { ...object, url: redactUrl(object.url) };
          return object;
        },
      },
    },
    destination,
  );
}
