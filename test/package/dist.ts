/**
 * Tests of the compiled package (package exports, `npm start`, the packed tarball) run `dist/`,
 * which `npm run build` writes and `npm test` builds first. Run alone, such a test first checks that
 * `dist/` is there and newer than every file of `src/` and `specs/`, and fails with the command to
 * run otherwise (rather than testing stale output). `SPECSTREAM_ALLOW_STALE_DIST=1` skips the age
 * check (for a shared checkout that others keep editing while a build runs); CI never sets it.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function newest(dir: string): { path: string; mtimeMs: number } {
  let best = { path: dir, mtimeMs: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const candidate = entry.isDirectory() ? newest(path) : { path, mtimeMs: statSync(path).mtimeMs };
    if (candidate.mtimeMs > best.mtimeMs) best = candidate;
  }
  return best;
}

/** Throws unless `dist/` was built after the last change to `src/` or `specs/`. */
export function assertDistFresh(): void {
  let built: number;
  try {
    built = statSync(join(ROOT, 'dist', 'cli', 'main.js')).mtimeMs;
  } catch {
    throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
  }
  if (process.env.SPECSTREAM_ALLOW_STALE_DIST === '1') return;
  for (const dir of ['src', 'specs']) {
    const changed = newest(join(ROOT, dir));
    if (changed.mtimeMs > built) throw new Error(`dist/ is older than ${relative(ROOT, changed.path)}: run \`npm run build\` (npm test does it first)`);
  }
}
