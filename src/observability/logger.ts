import { pino, type Logger } from 'pino';

export type { Logger };

const TOKEN_IN_QUERY = /([?&](?:token|access_token)=)[^&#\s]*/gi;

/** The URL with every `token=` value replaced by `[REDACTED]`: secrets never reach a log line. */
export function redactUrl(url: string): string {
  return url.replace(TOKEN_IN_QUERY, '$1[REDACTED]');
}

/**
 * The process logger: pino JSON lines on stdout. Authorization headers are removed and `token`
 * query values redacted from any `url` field, whatever logs it.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'specstream' },
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'authorization', 'secret', '*.secret'],
        censor: '[REDACTED]',
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
