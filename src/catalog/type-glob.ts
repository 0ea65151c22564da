/**
 * Event type globs, as used by `?types=` and by scopes such as `events:read:grant.*`.
 * `*` matches any run of characters, dots included (`*` alone matches every type,
 * `admin.*` every admin type, `*.created` every creation event). Other characters match themselves.
 *
 * Globs come from clients (`?types=` on the backfill, SSE, WebSocket and HEAD), so matching never
 * backtracks: a glob is split at its stars into literal segments, the first must be a prefix, the
 * last a suffix, and each middle one is found by `indexOf` after the previous one (the leftmost
 * match is always the best for `*`-only globs). A match costs at most one scan of the type per
 * segment, whatever the number of stars: `************x` is as cheap as `*x`.
 */

/** True when `pattern` contains a `*`. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

/**
 * Compiles a glob to a predicate. Never builds a RegExp; the predicate runs in
 * O(length of the type × number of literal segments) at worst, with no backtracking.
 */
export function compileTypeGlob(pattern: string): (type: string) => boolean {
  if (!isGlob(pattern)) return (type) => type === pattern;
  const segments = pattern.split('*');
  const prefix = segments[0] ?? '';
  const suffix = segments[segments.length - 1] ?? '';
  // Empty segments come from consecutive stars (`**` is `*`): they constrain nothing.
  const middle = segments.slice(1, -1).filter((segment) => segment !== '');
  const minLength = prefix.length + suffix.length + middle.reduce((sum, segment) => sum + segment.length, 0);
  return (type) => {
    if (type.length < minLength || !type.startsWith(prefix) || !type.endsWith(suffix)) return false;
    let at = prefix.length;
    const end = type.length - suffix.length;
    for (const segment of middle) {
      const found = type.indexOf(segment, at);
      if (found === -1 || found + segment.length > end) return false;
      at = found + segment.length;
    }
    return true;
  };
}

/** The members of `types` that match at least one of `patterns`, in the order of `types`. */
export function expandTypeGlobs(patterns: readonly string[], types: readonly string[]): string[] {
  const matchers = patterns.map(compileTypeGlob);
  return types.filter((type) => matchers.some((match) => match(type)));
}
