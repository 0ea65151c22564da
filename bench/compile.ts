/**
 * The benchmark runs its servers as plain JavaScript, as `npm start` runs the compiled package,
 * not through tsx: tsx's loader runs on a second thread (memory) and compiles with `keepNames`,
 * which wraps every function created at run time in a `__name` call (CPU on the hot paths). Each
 * `.ts` file of `src/` and `bench/` is transformed with esbuild (no bundling, same layout) into a
 * scratch folder under the repository's git-ignored `.tmp/` (so `node_modules` resolves as usual),
 * next to links to `specs/`, `examples/` and `package.json`, which the server reads relative to
 * its own files. `BENCH_TSX=1` runs the TypeScript sources through tsx instead.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Compiles `src/` and `bench/` into a fresh folder and returns it; `remove()` deletes it. */
export async function compileForBench(): Promise<{ dir: string; remove(): void }> {
  const dir = join(ROOT, '.tmp', `bench-build-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  const files = [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'bench'))];
  await Promise.all(
    files.map(async (file) => {
      const { code } = await transform(readFileSync(file, 'utf8'), {
        loader: 'ts',
        format: 'esm',
        target: 'node20',
        sourcefile: file,
        tsconfigRaw: { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: true } },
      });
      const out = join(dir, relative(ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, code);
    }),
  );
  for (const name of ['specs', 'examples', 'package.json']) symlinkSync(join(ROOT, name), join(dir, name));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
