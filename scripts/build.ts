/**
 * `npm run build` (also run by `prepare`, so by `npm install`/`npm ci` in a clone and by `npm pack`):
 * writes the compiled package into `dist/`, which is what `bin/specstream.js`, `npm start` and the
 * package exports run with plain `node`:
 * - `tsc -p tsconfig.build.json`: every module of `src/` as JavaScript with `.d.ts` and source maps
 *   (`dist/` mirrors `src/`, so paths such as `../../specs/` resolve from both);
 * - `dist/console/assets/{sdk,console}.js`: the console's browser bundles (esbuild);
 * - `dist/docs/site/{api,stream}.html`: the Redoc pages of the docs portal (Redocly); Redoc's
 *   standalone script, the same in every page, is stored once as `dist/docs/site/redoc-standalone.js`.
 * esbuild, Redocly and TypeScript are devDependencies: a production install only runs the result.
 *
 *   tsx scripts/build.ts [--skip-docs]
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bundleConsoleAssets } from '../src/console/bundle.js';
import { buildRedocPage, REDOC_PAGES, REDOC_STANDALONE_MARKER, redocStandaloneOf } from '../src/docs/build.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIST = join(ROOT, 'dist');
const run = promisify(execFile);

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  process.stdout.write(`build: ${name} (${Math.round(performance.now() - started)} ms)\n`);
  return result;
}

/** Builds `dist/` from nothing; `docs: false` skips the Redoc pages (the slowest step). */
export async function buildPackage(options: { docs?: boolean } = {}): Promise<void> {
  await rm(DIST, { recursive: true, force: true });
  const compile = step('tsc -p tsconfig.build.json', async () => {
    try {
      await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT });
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`tsc failed:\n${stdout}${stderr}`);
    }
  });
  const assets = step('console assets', async () => {
    const bundles = await bundleConsoleAssets();
    const dir = join(DIST, 'console', 'assets');
    await mkdir(dir, { recursive: true });
    await Promise.all(Object.entries(bundles).map(([name, js]) => writeFile(join(dir, name), js)));
  });
  const docs =
    options.docs === false
      ? Promise.resolve()
      : step('docs portal (Redoc pages)', async () => {
          const dir = join(DIST, 'docs', 'site');
          const pages = Object.keys(REDOC_PAGES) as (keyof typeof REDOC_PAGES)[];
          for (const page of pages) await buildRedocPage(page, dir);
          // Each page with Redoc's standalone script replaced by a marker, the script stored once
          // (src/docs/build.ts readRedocPage puts it back when serving): 2.2 of each page's 2.5 MB.
          const script = redocStandaloneOf(await readFile(join(dir, 'api.html'), 'utf8'));
          if (script === undefined) throw new Error('build: no Redoc standalone script found in the built api.html');
          await writeFile(join(dir, 'redoc-standalone.js'), script);
          for (const page of pages) {
            const file = join(dir, page);
            const html = await readFile(file, 'utf8');
            if (redocStandaloneOf(html) !== script) throw new Error(`build: ${file} does not inline the same Redoc script as api.html`);
            await writeFile(file, html.replace(script, () => REDOC_STANDALONE_MARKER));
          }
        });
  await Promise.all([compile, assets, docs]);
}

if ((process.argv[1] ?? '').endsWith('scripts/build.ts')) {
  await buildPackage({ docs: !process.argv.includes('--skip-docs') });
}
