/**
 * `npm run lint:package` (the last step of `npm test`): packs the package as it would be published
 * (`npm pack --ignore-scripts`, so from the `dist/` that `npm run build` just wrote) and checks the
 * tarball with publint (`--strict`: warnings fail too) and Are the Types Wrong (`--profile esm-only`:
 * the package is ESM only, so CommonJS `require` and the pre-exports `node10` resolution are out of
 * scope). Exits non-zero on any finding.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = join(ROOT, 'node_modules', '.bin');

/** Packs ROOT into `dir` without running lifecycle scripts; returns the tarball's path. */
export function packTarball(dir: string): string {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
  const [info] = JSON.parse(out) as { filename: string }[];
  return join(dir, info!.filename);
}

if ((process.argv[1] ?? '').endsWith('scripts/check-package.ts')) {
  const dir = mkdtempSync(join(tmpdir(), 'specstream-pack-'));
  try {
    const tarball = packTarball(dir);
    let failed = false;
    for (const [name, args] of [
      ['publint', ['run', tarball, '--strict']],
      ['attw', [tarball, '--profile', 'esm-only', '--no-emoji']],
    ] as const) {
      const result = spawnSync(join(BIN, name), args, { stdio: 'inherit' });
      if (result.status !== 0) {
        process.stderr.write(`lint:package: ${name} failed\n`);
        failed = true;
      }
    }
    process.exitCode = failed ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
