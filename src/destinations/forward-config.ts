/**
 * The `specstream forward` configuration file (`forward.yaml`): where to read, where the checkpoint
 * lives, and the destinations with their options. String values may name environment variables as
 * `${NAME}` or `${NAME:-default}` (`$$` is a literal `$`), so credentials stay out of the file.
 * Relative paths are relative to the file's directory. Keys are snake_case.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Destination, DestinationOptions } from './destination.js';
import { DESTINATION_TYPES, type DestinationType } from './forward-destinations.js';
import { transportRefused, type ForwarderOptions } from './forwarder.js';

import { ForwardConfigError } from './forward-config-error.js';

export { ForwardConfigError };

const duration = z.number().int().nonnegative();

const batching = {
  name: z.string().min(1).optional(),
  batch_size: z.number().int().positive().optional(),
  flush_interval_ms: duration.optional(),
  max_retries: z.union([z.number().int().nonnegative(), z.literal('infinite')]).optional(),
  backoff: z.strictObject({ initial_ms: duration.optional(), max_ms: duration.optional() }).optional(),
  dead_letter_path: z.string().min(1).optional(),
};

/** The whole file, before the destination entries are checked against their type's options. */
const forwardSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  // The bundle the server serves (a folder, relative to this file), when it is not the native one.
  specs: z.string().min(1).optional(),
  token: z.string().min(1).optional(),
  types: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]).optional(),
  checkpoint: z.string().min(1).default('forward.checkpoint.json'),
  from: z
    .union([z.literal('live'), z.strictObject({ since_id: z.string().min(1) }), z.strictObject({ since: z.string().min(1) })])
    .default('live'),
  // `ws` is refused (see ForwarderOptions.transport): its events would queue without bound.
  transport: z.literal('sse', { error: (issue) => transportRefused(String(issue.input)).replace(/^Forwarder: /, '') }).default('sse'),
  high_water_mark: z.number().int().positive().optional(),
  shutdown_timeout_ms: duration.default(30_000),
  metrics: z.strictObject({ port: z.number().int().min(0).max(65_535), host: z.string().min(1).default('127.0.0.1') }).optional(),
  destinations: z.array(z.looseObject({ type: z.string() })).min(1),
});

/** A parsed configuration, ready to build a forwarder from. */
export interface ForwardConfig {
  /** The file it came from. */
  path: string;
  forwarder: Omit<ForwarderOptions, 'checkpoint'> & { checkpoint: string };
  /** The bundle folder the server serves (`specs`, resolved against the file), when not the native one. */
  specs: string | undefined;
  shutdownTimeoutMs: number;
  metrics: { port: number; host: string } | undefined;
  /** The destinations, created (none connects before its first send), with their batching options. */
  destinations: { type: DestinationType; destination: Destination; options: DestinationOptions }[];
}

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of `value` from `env`.
 * @throws ForwardConfigError naming the key path when a variable is unset and has no default
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$$') return '$';
      const found = env[name!];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new ForwardConfigError(`${path || '(root)'}: environment variable ${name} is not set`);
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnv(item, env, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateEnv(item, env, path ? `${path}.${key}` : key)]));
  }
  return value;
}

function describeIssues(error: z.ZodError, prefix: string): string {
  return error.issues.map((issue) => `${[prefix, ...issue.path.map(String)].filter(Boolean).join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]')}: ${issue.message}`).join('; ');
}

/**
 * Checks a configuration object (as parsed from YAML) and resolves its paths against `baseDir`.
 * @throws ForwardConfigError with every problem found
 */
export function parseForwardConfig(raw: unknown, options: { env?: NodeJS.ProcessEnv; baseDir?: string; path?: string } = {}): ForwardConfig {
  const path = options.path ?? '(config)';
  const baseDir = options.baseDir ?? process.cwd();
  const at = (file: string) => (file === '-' || isAbsolute(file) ? file : resolve(baseDir, file));
  let top: z.infer<typeof forwardSchema>;
  try {
    const parsed = forwardSchema.safeParse(interpolateEnv(raw, options.env ?? process.env));
    if (!parsed.success) throw new ForwardConfigError(describeIssues(parsed.error, ''));
    top = parsed.data;
  } catch (error) {
    if (error instanceof ForwardConfigError) throw new ForwardConfigError(`${path}: ${error.message}`);
    throw error;
  }

  const problems: string[] = [];
  const destinations: ForwardConfig['destinations'] = [];
  top.destinations.forEach((entry, index) => {
    const where = `destinations[${index}]`;
    const kind = DESTINATION_TYPES[entry.type as DestinationType] as (typeof DESTINATION_TYPES)[DestinationType] | undefined;
    if (!kind) {
      problems.push(`${where}.type: unknown destination type "${entry.type}" (one of ${Object.keys(DESTINATION_TYPES).join(', ')})`);
      return;
    }
    const schema = z.strictObject({ type: z.string(), ...batching, ...kind.schema.shape });
    const parsed = schema.safeParse(entry);
    if (!parsed.success) {
      problems.push(describeIssues(parsed.error, where));
      return;
    }
    const { name, batch_size, flush_interval_ms, max_retries, backoff, dead_letter_path, ...rest } = parsed.data;
    let destination: Destination;
    try {
      // The entry was checked against this type's schema just above; the cast only restores that link.
      destination = kind.create(rest as never, { name, resolvePath: at });
    } catch (error) {
      problems.push(`${where}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    destinations.push({
      destination,
      type: entry.type as DestinationType,
      options: {
        ...(batch_size !== undefined ? { batchSize: batch_size } : {}),
        ...(flush_interval_ms !== undefined ? { flushIntervalMs: flush_interval_ms } : {}),
        ...(max_retries !== undefined ? { maxRetries: max_retries === 'infinite' ? Infinity : max_retries } : {}),
        ...(backoff ? { backoff: { ...(backoff.initial_ms !== undefined ? { initialMs: backoff.initial_ms } : {}), ...(backoff.max_ms !== undefined ? { maxMs: backoff.max_ms } : {}) } } : {}),
        ...(dead_letter_path !== undefined ? { deadLetterPath: at(dead_letter_path) } : {}),
      },
    });
  });
  if (problems.length > 0) throw new ForwardConfigError(`${path}: ${problems.join('; ')}`);

  const from = top.from === 'live' ? 'live' : 'since_id' in top.from ? { sinceId: top.from.since_id } : { since: top.from.since };
  const types = typeof top.types === 'string' ? top.types.split(',').map((s) => s.trim()).filter(Boolean) : top.types;
  const names = new Set<string>();
  for (const destination of destinations) {
    const name = destination.destination.name;
    if (names.has(name)) throw new ForwardConfigError(`${path}: two destinations are named "${name}"; give one a \`name\` (checkpoint positions are kept by name)`);
    names.add(name);
  }
  return {
    path,
    forwarder: {
      url: top.url,
      ...(top.token !== undefined ? { token: top.token } : {}),
      ...(types !== undefined ? { types } : {}),
      checkpoint: at(top.checkpoint),
      from,
      transport: top.transport,
      ...(top.high_water_mark !== undefined ? { highWaterMark: top.high_water_mark } : {}),
    },
    specs: top.specs === undefined ? undefined : at(top.specs),
    shutdownTimeoutMs: top.shutdown_timeout_ms,
    metrics: top.metrics,
    destinations,
  };
}

/**
 * Reads and checks a `forward.yaml`.
 * @throws ForwardConfigError when the file is missing, not YAML, or has a mistake
 */
export function loadForwardConfig(file: string, env: NodeJS.ProcessEnv = process.env): ForwardConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ForwardConfigError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ForwardConfigError(`${file}: not YAML: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseForwardConfig(raw, { env, baseDir: dirname(resolve(file)), path: file });
}

