import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadClientProfile } from '../client/bundle-profile.js';
import { ProfileError } from '../client/errors.js';
import type { ClientProfile } from '../client/profile.js';
import { NATIVE_PROFILE } from '../generated/wire-profile.js';

/** A command line the command cannot run: exit code 2 with the message and the command's usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * `--url`, `--token`, `--key-id` and `--specs`, shared by every client command (environment:
 * SPECSTREAM_URL, SPECSTREAM_TOKEN, SPECSTREAM_KEY_ID, SPECSTREAM_SPECS).
 */
export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  'key-id': { type: 'string' },
  specs: { type: 'string' },
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

/** What a client command talks to: the server, the credential and the bundle's profile. */
export interface ClientTarget {
  url: string;
  token?: string;
  keyId?: string;
  profile: ClientProfile;
  /** The bundle folder given (`--specs` / SPECSTREAM_SPECS), or undefined for the native bundle. */
  bundleDir?: string;
}

/**
 * The server, token, key id and bundle from flags, else environment, else the defaults
 * (`http://127.0.0.1:8080`, anonymous, the native bundle). An empty `--specs`/SPECSTREAM_SPECS means
 * the native bundle, as for `serve`.
 *
 * @throws UsageError for a URL that does not parse or a bundle the loader refuses (its file#pointer lines)
 */
export function clientOf(
  values: { url?: string | undefined; token?: string | undefined; 'key-id'?: string | undefined; specs?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): ClientTarget {
  const url = values.url || env.SPECSTREAM_URL || 'http://127.0.0.1:8080';
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url: not a URL: ${url}`);
  }
  const token = values.token ?? (env.SPECSTREAM_TOKEN || undefined);
  const keyId = values['key-id'] ?? (env.SPECSTREAM_KEY_ID || undefined);
  const specs = values.specs ?? (env.SPECSTREAM_SPECS || undefined);
  const target: ClientTarget = { url, profile: specs ? bundleProfile(specs) : NATIVE_PROFILE };
  if (token !== undefined) target.token = token;
  if (keyId !== undefined) target.keyId = keyId;
  if (specs) target.bundleDir = specs;
  return target;
}

function bundleProfile(dir: string): ClientProfile {
  try {
    return loadClientProfile(dir);
  } catch (error) {
    if (error instanceof ProfileError) throw new UsageError(`--specs ${dir}: ${error.message}`);
    throw error;
  }
}

/** Lines of a help text for the shared client options. */
export const CLIENT_HELP = [
  '  --url URL            server base URL (SPECSTREAM_URL; default http://127.0.0.1:8080)',
  '  --token SECRET       API key secret (SPECSTREAM_TOKEN), sent the way the bundle accepts it',
  '  --key-id ID          the key id, for a bundle that takes Basic credentials (SPECSTREAM_KEY_ID)',
  '  --specs DIR          the bundle the server serves (SPECSTREAM_SPECS; default the native specs/)',
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
