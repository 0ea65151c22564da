import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseKeySpec, type BundleScopeNames, type KeySpec } from '../auth/key-spec.js';
import { loadBundle } from '../bundle/load-bundle.js';
import { OPTIONS, envName, flagName, type OptionName, type OptionSpec } from './options.js';

/** The resolved configuration: every option of OPTIONS has a value; keys are parsed. */
export type Config = {
  host: string;
  port: number;
  /** Server processes of `serve` (0: one per core); see src/workers/. */
  workers: number;
  /** The spec bundle folder; empty for the native `specs/`. */
  specs: string;
  store: string;
  sqlite_synchronous: 'NORMAL' | 'FULL';
  store_timeout_ms: number;
  readiness_timeout_ms: number;
  keys: KeySpec[];
  allow_anonymous: boolean;
  anonymous_scopes: string[];
  jwt_secret: string;
  jwt_public_key: string;
  jwks_url: string;
  jwks_timeout_ms: number;
  jwt_audience: string;
  jwt_issuer: string;
  jwt_scope_claim: string;
  jwt_clock_tolerance_s: number;
  jwt_query_token: boolean;
  jwt_cookie: string;
  token_ttl_s: number;
  token_max_ttl_s: number;
  publish_rate_per_s: number;
  publish_burst: number;
  cors_origins: string[];
  public_url: string;
  ws_subprotocols: string[];
  heartbeat_s: number;
  status_s: number;
  retry_ms: number;
  retention_max_age_s: number;
  retention_max_count: number;
  retention_interval_s: number;
  body_limit_bytes: number;
  body_max_depth: number;
  headers_timeout_ms: number;
  body_timeout_ms: number;
  request_timeout_ms: number;
  max_url_bytes: number;
  max_header_bytes: number;
  max_connections: number;
  max_connections_per_key: number;
  ring_size: number;
  ring_max_bytes: number;
  ledger_size: number;
  idle_timeout_s: number;
  log_level: string;
  response_validation: boolean;
  preload_app: boolean;
};

// Compile-time check that Config names exactly the options of OPTIONS.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
const configMatchesOptions: SameKeys<Config, typeof OPTIONS> = true;
void configMatchesOptions;

/** A configuration mistake: the message says which option and source, for the CLI to print. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadConfigInput {
  /** CLI arguments after the command (`--port 0 --key a:b:events:read`). */
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Resolves the configuration: defaults, then `specstream.yaml` (path from `--config`,
 * `SPECSTREAM_CONFIG`, or `./specstream.yaml` when it exists), then environment variables,
 * then flags. Throws ConfigError on an unknown option or a bad value.
 */
export function loadConfig(input: LoadConfigInput = {}): Config {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const flags = parseFlags(input.argv ?? []);

  const raw = new Map<OptionName, unknown>();
  const sources = new Map<OptionName, string>();
  for (const name of optionNames()) raw.set(name, OPTIONS[name].default);

  const configPath = flags.config ?? env.SPECSTREAM_CONFIG ?? defaultConfigPath(cwd);
  const file = configPath === undefined ? undefined : readConfigFile(resolve(cwd, configPath));

  // A bundle's specstream.yaml holds the defaults its API implies; the server's own file,
  // environment and flags override them.
  let grammar: BundleScopeNames | undefined;
  const specs = flags.options.get('specs')?.at(-1) ?? env.SPECSTREAM_SPECS ?? (typeof file?.specs === 'string' ? file.specs : undefined);
  if (specs) {
    // Keys may use the bundle's scope names (x-specstream-scopes); a broken bundle is refused here.
    grammar = loadBundle(resolve(cwd, specs)).scopes;
    const bundleDefaults = join(resolve(cwd, specs), 'specstream.yaml');
    if (existsSync(bundleDefaults)) {
      for (const [key, value] of Object.entries(readConfigFile(bundleDefaults))) {
        if (!isOptionName(key) || key === 'specs') throw new ConfigError(`${bundleDefaults}: unknown option "${key}"`);
        raw.set(key, key === 'keys' ? keysFromYaml(value, bundleDefaults, grammar) : value);
        sources.set(key, bundleDefaults);
      }
    }
  }

  if (configPath !== undefined && file !== undefined) {
    for (const [key, value] of Object.entries(file)) {
      if (!isOptionName(key)) throw new ConfigError(`${configPath}: unknown option "${key}"`);
      raw.set(key, key === 'keys' ? keysFromYaml(value, configPath, grammar) : value);
      sources.set(key, configPath);
    }
  }

  for (const name of optionNames()) {
    const spec: OptionSpec = OPTIONS[name];
    for (const variable of [...(spec.aliases ?? []), envName(name)]) {
      const value = env[variable];
      if (value === undefined || value === '') continue;
      raw.set(name, name === 'keys' ? value.split(';').filter(Boolean) : value);
      sources.set(name, variable);
    }
  }

  for (const [name, values] of flags.options) {
    raw.set(name, OPTIONS[name].kind === 'list' ? values : values[values.length - 1]);
    sources.set(name, flagName(name));
  }

  const config: Record<string, unknown> = {};
  for (const name of optionNames()) {
    const source = sources.get(name) ?? 'default';
    config[name] = coerce(name, raw.get(name), source, grammar);
  }
  return config as Config;
}

function optionNames(): OptionName[] {
  return Object.keys(OPTIONS) as OptionName[];
}

function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(OPTIONS, name);
}

function defaultConfigPath(cwd: string): string | undefined {
  return existsSync(resolve(cwd, 'specstream.yaml')) ? 'specstream.yaml' : undefined;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${path} is not valid YAML: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`${path} must be a mapping of option: value`);
  }
  return parsed as Record<string, unknown>;
}

/** YAML keys may be strings (`id:secret:scopes`) or mappings `{id, secret | secret_sha256, scopes, query_token, publish_rate_per_s, publish_burst}`. */
function keysFromYaml(value: unknown, path: string, grammar?: BundleScopeNames): KeySpec[] {
  if (!Array.isArray(value)) throw new ConfigError(`${path}: "keys" must be a list`);
  return value.map((item, index) => {
    if (typeof item === 'string') return parseKeyOrThrow(item, `${path} keys[${index}]`, grammar);
    if (item === null || typeof item !== 'object') {
      throw new ConfigError(`${path} keys[${index}]: expected "id:secret:scopes" or a mapping`);
    }
    const entry = item as Record<string, unknown>;
    const scopes = Array.isArray(entry.scopes) ? entry.scopes.map(String) : String(entry.scopes ?? '').split(',');
    const spec: KeySpec = {
      id: String(entry.id ?? ''),
      scopes: scopes.map((s) => s.trim()).filter(Boolean),
      queryToken: entry.query_token === undefined ? true : entry.query_token === true,
    };
    if (typeof entry.secret === 'string') spec.secret = entry.secret;
    for (const [option, field] of [['publish_rate_per_s', 'publishRatePerS'], ['publish_burst', 'publishBurst']] as const) {
      const given = entry[option];
      if (given === undefined) continue;
      if (typeof given !== 'number' || !Number.isSafeInteger(given) || given < 0) {
        throw new ConfigError(`${path} keys[${index}]: ${option} must be a non-negative integer`);
      }
      spec[field] = given;
    }
    if (typeof entry.secret_sha256 === 'string') spec.secretSha256 = entry.secret_sha256.toLowerCase();
    if (!spec.id || (!spec.secret && !spec.secretSha256) || spec.scopes.length === 0) {
      throw new ConfigError(`${path} keys[${index}]: needs id, secret (or secret_sha256) and scopes`);
    }
    return spec;
  });
}

function parseKeyOrThrow(text: string, where: string, grammar?: BundleScopeNames): KeySpec {
  try {
    return parseKeySpec(text, grammar);
  } catch (error) {
    throw new ConfigError(`${where}: ${(error as Error).message}`);
  }
}

function coerce(name: OptionName, value: unknown, source: string, grammar?: BundleScopeNames): unknown {
  const spec: OptionSpec = OPTIONS[name];
  const fail = (expected: string): never => {
    throw new ConfigError(`${source}: option ${name} must be ${expected}, got ${JSON.stringify(value)}`);
  };
  if (name === 'keys') {
    const list = Array.isArray(value) ? value : [value];
    return list.map((item) => (typeof item === 'string' ? parseKeyOrThrow(item, source, grammar) : (item as KeySpec)));
  }
  switch (spec.kind) {
    case 'string': {
      if (typeof value !== 'string' && typeof value !== 'number') return fail('a string');
      const text = String(value);
      if (spec.choices && !spec.choices.includes(text)) return fail(`one of ${spec.choices.join(', ')}`);
      return text;
    }
    case 'integer': {
      const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
      if (!Number.isSafeInteger(number)) return fail('an integer');
      if (spec.min !== undefined && number < spec.min) return fail(`at least ${spec.min}`);
      if (spec.max !== undefined && number > spec.max) return fail(`at most ${spec.max}`);
      return number;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      return fail('true or false');
    }
    case 'list': {
      const items = Array.isArray(value) ? value.flatMap((v) => String(v).split(',')) : String(value).split(',');
      return items.map((item) => item.trim()).filter(Boolean);
    }
  }
}

interface ParsedFlags {
  config?: string;
  options: Map<OptionName, string[]>;
}

/** `--foo-bar value`, `--foo-bar=value`, a bare `--flag` for booleans, `--key` (repeatable) for keys. */
function parseFlags(argv: readonly string[]): ParsedFlags {
  const result: ParsedFlags = { options: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    const name = flag === 'key' ? 'keys' : flag.replace(/-/g, '_');
    if (name !== 'config' && !isOptionName(name)) throw new ConfigError(`unknown flag --${flag}`);
    const isBoolean = name !== 'config' && OPTIONS[name as OptionName].kind === 'boolean';
    if (value === undefined) {
      const next = argv[i + 1];
      if (isBoolean && (next === undefined || next.startsWith('--'))) value = 'true';
      else if (next === undefined) throw new ConfigError(`--${flag} needs a value`);
      else value = argv[++i] as string;
    }
    if (name === 'config') result.config = value;
    else {
      const list = result.options.get(name as OptionName) ?? [];
      list.push(value);
      result.options.set(name as OptionName, list);
    }
  }
  return result;
}
