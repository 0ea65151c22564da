/**
 * The identity of a spec bundle's contract: codegen writes it into `generated/` as `BUNDLE_HASH`,
 * and the server recomputes it at start to refuse generated code that is older than the specs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The two files of a bundle the hash covers, in hashing order. */
export const BUNDLE_HASH_FILES = ['openapi.yaml', 'asyncapi.yaml'] as const;

/**
 * sha256 (lowercase hex, 64 characters) of the bytes of `openapi`, one NUL byte, then the bytes of
 * `asyncapi`. The NUL keeps `("ab", "c")` and `("a", "bc")` apart; YAML text never contains NUL.
 */
export function bundleHashOf(openapi: Uint8Array, asyncapi: Uint8Array): string {
  return createHash('sha256').update(openapi).update(new Uint8Array([0])).update(asyncapi).digest('hex');
}

/**
 * The hash of the bundle in `dir`: `bundleHashOf(dir/openapi.yaml, dir/asyncapi.yaml)`.
 * Rejects with the `fs` error (code `ENOENT`, path included) when either file cannot be read.
 */
export async function bundleHash(dir: string): Promise<string> {
  const [openapi, asyncapi] = await Promise.all(BUNDLE_HASH_FILES.map((name) => readFile(join(dir, name))));
  return bundleHashOf(openapi!, asyncapi!);
}

/** `bundleHash` for start-up code that cannot await; throws the `fs` error the same way. */
export function bundleHashSync(dir: string): string {
  const [openapi, asyncapi] = BUNDLE_HASH_FILES.map((name) => readFileSync(join(dir, name)));
  return bundleHashOf(openapi!, asyncapi!);
}
