/**
 * Event type globs, as used by `?types=` and by scopes such as `events:read:grant.*`.
 * `*` matches any run of characters, dots included (`*` alone matches every type,
 * `admin.*` every admin type, `*.created` every creation event). Other characters match themselves.
 */

/** True when `pattern` contains a `*`. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

/** Compiles a glob to a predicate. */
export function compileTypeGlob(pattern: string): (type: string) => boolean {
  if (!isGlob(pattern)) return (type) => type === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const regex = new RegExp(`^${source}$`);
  return (type) => regex.test(type);
}

/** The members of `types` that match at least one of `patterns`, in the order of `types`. */
export function expandTypeGlobs(patterns: readonly string[], types: readonly string[]): string[] {
  const matchers = patterns.map(compileTypeGlob);
  return types.filter((type) => matchers.some((match) => match(type)));
}
