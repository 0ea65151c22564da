/** An API key as configured. */
export interface KeySpec {
  id: string;
  /** The secret in clear (from flags, env or YAML); hashed on load and then forgotten. */
  secret?: string;
  /** Hex SHA-256 of the secret, for configs that should not hold it in clear. */
  secretSha256?: string;
  scopes: string[];
  /** Whether the secret may be passed as `?token=` (browsers). Defaults to true. */
  queryToken: boolean;
  /** Publish requests per second for this key (`publish_rate_per_s` in `specstream.yaml`); undefined: the server default, 0: unlimited. */
  publishRatePerS?: number;
  /** Publish burst for this key (`publish_burst`); undefined: the server default. */
  publishBurst?: number;
}

const SCOPE_PATTERN = /^(admin|metrics:read|tokens:issue|events:(read|write)(:[a-z0-9_.*]+)?)$/;

/** A served bundle's scope names (`x-specstream-scopes`), when they are not the native ones. */
export interface BundleScopeNames {
  read: string;
  write: string;
  admin: string;
  separator: string;
}

/**
 * True when `scope` is one Specstream understands: `admin`, `metrics:read`, `tokens:issue`,
 * `events:read[:glob]`, `events:write[:glob]`, or, with `bundle`, the bundle's own read, write
 * (each optionally followed by its separator and a type glob) and admin scopes.
 */
export function isValidScope(scope: string, bundle?: BundleScopeNames): boolean {
  if (SCOPE_PATTERN.test(scope)) return true;
  if (!bundle) return false;
  if (scope === bundle.admin || scope === bundle.read || scope === bundle.write) return true;
  return [bundle.read, bundle.write].some((name) => scope.startsWith(name + bundle.separator) && /^[A-Za-z0-9_.*-]+$/.test(scope.slice(name.length + bundle.separator.length)));
}

/**
 * Parses `id:secret:scope,scope` (the form of `--key` and `SPECSTREAM_KEYS`). Scopes may contain
 * colons (`events:read:grant.*`), so only the first two colons split. Throws on a malformed spec.
 */
export function parseKeySpec(text: string, bundle?: BundleScopeNames): KeySpec {
  const first = text.indexOf(':');
  const second = first === -1 ? -1 : text.indexOf(':', first + 1);
  if (first <= 0 || second === -1) throw new Error(`key "${redactKeySpec(text)}" must look like id:secret:scope,scope`);
  const id = text.slice(0, first);
  const secret = text.slice(first + 1, second);
  const scopes = text
    .slice(second + 1)
    .split(',')
    .map((scope) => scope.trim())
    .filter(Boolean);
  if (!secret) throw new Error(`key "${id}" has an empty secret`);
  if (scopes.length === 0) throw new Error(`key "${id}" has no scopes`);
  const bad = scopes.find((scope) => !isValidScope(scope, bundle));
  if (bad) throw new Error(`key "${id}" has an unknown scope "${bad}"`);
  return { id, secret, scopes, queryToken: true };
}

/** The spec with its secret replaced, for error messages. */
function redactKeySpec(text: string): string {
  const parts = text.split(':');
  return parts.length >= 2 ? [parts[0], '***', ...parts.slice(2)].join(':') : '***';
}
