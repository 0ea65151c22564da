import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command line the command cannot run: exit code 2 with the message and the command's usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `--url` and `--token`, shared by every client command (environment: SPECSTREAM_URL, SPECSTREAM_TOKEN). */
export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** Parses `args` strictly; unknown flags and stray positionals are usage errors. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The server and token from flags, else environment, else the laptop default (`http://127.0.0.1:8080`). */
export function clientOf(values: { url?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv = process.env): { url: string; token?: string } {
  const url = values.url ?? env.SPECSTREAM_URL ?? 'http://127.0.0.1:8080';
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url: not a URL: ${url}`);
  }
  const token = values.token ?? env.SPECSTREAM_TOKEN;
  return token === undefined ? { url } : { url, token };
}

/** Lines of a help text for the shared client options. */
export const CLIENT_HELP = [
  '  --url URL            server base URL (SPECSTREAM_URL; default http://127.0.0.1:8080)',
  '  --token SECRET       API key secret (SPECSTREAM_TOKEN)',
];

/** ANSI colour when `stream` is a TTY and NO_COLOR is unset; identity otherwise. */
export function painter(stream: NodeJS.WriteStream): (code: number, text: string) => string {
  const on = stream.isTTY === true && process.env.NO_COLOR === undefined;
  return on ? (code, text) => `\u001b[${code}m${text}\u001b[0m` : (_code, text) => text;
}

/** Parses a duration like `30s`, `2m`, `500ms` or a plain number of seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`not a duration: ${text} (e.g. 30s, 2m, 500ms)`);
  const n = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h']);
}

/** Splits a comma list of types; undefined when absent. */
export function typesOf(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * Calls `stop()` when stdout's reader goes away (`specstream tail | head -5`), so the command ends
 * quietly with exit 0 instead of an uncaught EPIPE. The handler stays installed for the rest of the
 * process: writes already queued fail too, after the command has stopped.
 */
export function onStdoutClosed(stop: () => void): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') stop();
    else throw error;
  });
}
