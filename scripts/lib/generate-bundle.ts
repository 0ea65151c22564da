/**
 * Codegen for one spec bundle (docs/bundles.md): checks the bundle and renders `DIR/generated/`
 * (`index.js` and `index.d.ts`). The checks are the server's own (src/bundle/load-bundle.ts, which
 * `serve` runs too) plus what only codegen can check: the AsyncAPI document against its schema, an
 * example for every catalog type, every example valid against the generated validator, and JSON
 * Schema the generator supports. A bad bundle is a `BundleError` listing every problem, one line
 * each with the file and the JSON Pointer; nothing is written then.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ZodType } from 'zod';
import { BundleError, type BundleProblem } from '../../src/bundle/bundle-error.js';
import { bundleHashOf } from '../../src/bundle/bundle-hash.js';
import type { Bundle } from '../../src/bundle/bundle.js';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { pointerOf, readBundleCatalog, type BundleCatalog } from './bundle-catalog.js';
import { emitBundleDts, emitBundleJs } from './emit-bundle.js';
import { queryModelOf } from './emit-query.js';
import { generatedHeader } from './header.js';
import { SchemaError } from './json-schema.js';

/** The repository root (scripts/lib/../..). */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The files of a bundle's `generated/` folder, in name order. */
export const BUNDLE_GENERATED_FILES = ['index.d.ts', 'index.js'] as const;

/** Options of `generateBundleFiles`. */
export interface BundleGenerateOptions {
  /**
   * How the bundle folder is named in headers and problems. Defaults to its path relative to the
   * repository root when inside it (`examples/mini`, the same from any working directory, so that
   * `check:generated` compares equal bytes), else relative to the working directory (absolute when
   * that climbs out of it).
   */
  shownDir?: string;
}

/** The bundle folder as headers and messages show it (forward slashes; see `BundleGenerateOptions.shownDir`). */
export function shownBundleDir(dir: string): string {
  const absolute = resolve(dir);
  const inRepo = relative(ROOT, absolute);
  const fromCwd = relative(process.cwd(), absolute);
  const shown =
    inRepo !== '' && !inRepo.startsWith('..') && !isAbsolute(inRepo) ? inRepo : fromCwd === '' ? '.' : fromCwd.startsWith('..') ? absolute : fromCwd;
  return shown.split(sep).join('/');
}

/**
 * The server's loader's verdict on the bundle: the loaded bundle, or its problems with each file
 * renamed to `shown`'s (the loader names files relative to the working directory). A failure that
 * is not a BundleError is a bug in the loader; it is reported as one line all the same.
 */
function loadForCodegen(dir: string, shown: string): { bundle?: Bundle; problems: BundleProblem[] } {
  try {
    return { bundle: loadBundle(dir), problems: [] };
  } catch (error) {
    if (!(error instanceof BundleError)) {
      const text = error instanceof Error ? error.message.split('\n')[0] : String(error);
      return { problems: [{ file: `${shown}/openapi.yaml`, pointer: '', message: `the bundle loader failed (a Specstream bug, please report it): ${text}` }] };
    }
    return { problems: error.problems.map((problem) => ({ ...problem, file: `${shown}/${basename(problem.file)}` })) };
  }
}

/** The zod ESM entry this repository resolves, as a file URL (the generated module's `zod`). */
function zodUrl(): string {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('zod/package.json');
  const manifest = require(packageJson) as { exports: { '.': { import: string } } };
  return pathToFileURL(join(dirname(packageJson), manifest.exports['.'].import)).href;
}

/**
 * Imports the generated `index.js` (from a temporary copy whose `zod` import points at this
 * repository's zod, so a bundle anywhere on disk can be checked) and validates every example of
 * every catalog message with the generated validator: the one the server will use.
 */
async function exampleProblems(js: string, model: BundleCatalog, file: string): Promise<BundleProblem[]> {
  const temp = await mkdtemp(join(tmpdir(), 'specstream-bundle-'));
  try {
    const path = join(temp, `index-${randomUUID()}.mjs`);
    await writeFile(path, js.replace("from 'zod';", `from ${JSON.stringify(zodUrl())};`));
    const module = (await import(pathToFileURL(path).href)) as { eventDataSchemas: Record<string, ZodType> };
    const problems: BundleProblem[] = [];
    for (const entry of model.catalog) {
      entry.examples.forEach((example, index) => {
        const result = module.eventDataSchemas[entry.type]!.safeParse(example);
        if (result.success) return;
        for (const issue of result.error.issues) {
          const tokens = issue.path.map((token) => (typeof token === 'symbol' ? String(token) : token));
          problems.push({
            file,
            pointer: `${entry.pointer}${pointerOf(['examples', index, 'payload', ...tokens])}`,
            message: `the example does not match the payload schema: ${issue.message}`,
          });
        }
      });
    }
    return problems;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/**
 * Checks the bundle in `dir` and renders its generated files: `index.d.ts` and `index.js` (name ->
 * content): the catalog's validators and the query checkers of its list, stream and check
 * operations (its `x-specstream-query-rules`, compiled). Writes nothing. Rejects with a `BundleError` listing every problem: the loader's (files
 * missing or not YAML, unknown or misplaced `x-specstream-*` keywords and values, operations
 * without a role, catalog messages without an object payload schema, ...) and codegen's (AsyncAPI
 * schema errors, catalog types without an example, examples that do not validate, JSON Schema the
 * generator does not support). Deterministic: the same bundle gives the same bytes.
 *
 * The loader caches each folder for the life of the process: regenerate a bundle edited since
 * in a new process (as the CLI and `npm run generate` do).
 */
export async function generateBundleFiles(dir: string, options: BundleGenerateOptions = {}): Promise<Map<string, string>> {
  const shown = options.shownDir ?? shownBundleDir(dir);
  const files = { openapi: `${shown}/openapi.yaml`, asyncapi: `${shown}/asyncapi.yaml` };
  const loaded = loadForCodegen(dir, shown);
  const problems: BundleProblem[] = [...loaded.problems];
  const [openapiBytes, asyncapiBytes] = await Promise.all(
    (['openapi.yaml', 'asyncapi.yaml'] as const).map((name) => readFile(join(dir, name)).catch(() => undefined)),
  );
  if (!openapiBytes || !asyncapiBytes) throw new BundleError(problems);

  // Codegen's own reading of the catalog; a problem at a pointer the loader already named is left out.
  const read = await readBundleCatalog(join(dir, 'asyncapi.yaml'), files.asyncapi);
  const named = new Set(problems.map((problem) => `${problem.file}#${problem.pointer}`));
  problems.push(...read.problems.filter((problem) => !named.has(`${problem.file}#${problem.pointer}`)));
  const model = read.catalog;
  if (problems.length > 0 || !model || !loaded.bundle) throw new BundleError(problems);
  const queries = queryModelOf(loaded.bundle);

  const header = generatedHeader(`${files.asyncapi} and ${files.openapi}`, `specstream generate --specs ${shown}`);
  const hash = bundleHashOf(openapiBytes, asyncapiBytes);
  let js: string;
  let dts: string;
  try {
    js = emitBundleJs(model, queries, hash, header);
    dts = emitBundleDts(model, queries, header);
  } catch (error) {
    if (error instanceof SchemaError) {
      throw new BundleError([{ file: files.asyncapi, pointer: error.path, message: error.reason }]);
    }
    throw new BundleError([{ file: files.asyncapi, pointer: '', message: error instanceof Error ? error.message : String(error) }]);
  }
  const invalid = await exampleProblems(js, model, files.asyncapi);
  if (invalid.length > 0) throw new BundleError(invalid);
  return new Map([
    ['index.d.ts', dts],
    ['index.js', js],
  ]);
}
