/**
 * Codegen: reads the native bundle (specs/openapi.yaml, specs/asyncapi.yaml) and writes
 * src/generated/; reads a spec bundle DIR (docs/bundles.md) and writes DIR/generated/.
 *
 *   npm run generate                        src/generated/ and every bundle of examples/ and test/fixtures/bundles/
 *   tsx scripts/generate.ts --specs DIR     one bundle (the native one when DIR is specs/)
 *   tsx scripts/generate.ts --out DIR [--openapi FILE] [--asyncapi FILE]   the native generator only
 *
 * Output is deterministic (no timestamps; catalog types sorted), so `npm run check:generated`
 * can compare it byte for byte with the committed files.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BundleError } from '../src/bundle/bundle-error.js';
import { bundleHashOf } from '../src/bundle/bundle-hash.js';
import { parseBundle } from '../src/bundle/load-bundle.js';
import { loadAsyncApi } from './lib/asyncapi.js';
import { emitCatalog, emitEvents, emitFrames } from './lib/emit-asyncapi.js';
import { emitNativeBundle } from './lib/emit-bundle.js';
import { emitOpenApiTypes } from './lib/emit-openapi.js';
import { emitNativeDateTime, emitNativeQuery, queryModelOf } from './lib/emit-query.js';
import { emitWireProfile } from './lib/emit-wire-profile.js';
import { generateBundleFiles, shownBundleDir, type BundleGenerateOptions } from './lib/generate-bundle.js';
import { GENERATED_MARKER, generatedHeader } from './lib/header.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Where the specs live and where the output goes; every path defaults to the repo's own. */
export interface GenerateOptions {
  /** Defaults to specs/openapi.yaml. */
  openapi?: string;
  /** Defaults to specs/asyncapi.yaml. */
  asyncapi?: string;
}

/** The default output directory, src/generated/. */
export const GENERATED_DIR = join(ROOT, 'src', 'generated');

/** Renders every generated file: file name -> content, names sorted. Writes nothing. */
export async function generateFiles(options: GenerateOptions = {}): Promise<Map<string, string>> {
  const openapiPath = options.openapi ?? join(ROOT, 'specs', 'openapi.yaml');
  const asyncapiPath = options.asyncapi ?? join(ROOT, 'specs', 'asyncapi.yaml');

  const asyncapi = await loadAsyncApi(asyncapiPath);
  // The server's own reading of the documents (read or refuse): operations, parameter roles, query rules.
  const bundle = parseBundle(shownBundleDir(dirname(openapiPath)), {
    openapi: await readFile(openapiPath, 'utf8'),
    asyncapi: await readFile(asyncapiPath, 'utf8'),
  });

  const hash = bundleHashOf(readFileSync(openapiPath), readFileSync(asyncapiPath));
  const files: Array<[string, string]> = [
    ['bundle.ts', emitNativeBundle(hash, generatedHeader('specs/openapi.yaml and specs/asyncapi.yaml'))],
    ['catalog.ts', emitCatalog(asyncapi)],
    ['date-time.ts', emitNativeDateTime()],
    ['events.ts', emitEvents(asyncapi)],
    ['frames.ts', emitFrames(asyncapi)],
    ['openapi.ts', await emitOpenApiTypes(openapiPath)],
    ['query.ts', emitNativeQuery(queryModelOf(bundle))],
    ['wire-profile.ts', emitWireProfile({ openapi: readFileSync(openapiPath, 'utf8'), asyncapi: readFileSync(asyncapiPath, 'utf8') })],
  ];
  files.sort(([a], [b]) => (a < b ? -1 : 1));
  return new Map(files);
}

/**
 * Writes `files` into `outDir` (created if needed) and deletes files there that an earlier run
 * generated but this one did not (recognised by the generated header; other files are left alone).
 */
export async function writeGeneratedFiles(outDir: string, files: ReadonlyMap<string, string>): Promise<void> {
  await mkdir(outDir, { recursive: true });
  for (const name of await readdir(outDir)) {
    if (files.has(name) || !/\.(ts|js)$/.test(name)) continue;
    const content = await readFile(join(outDir, name), 'utf8');
    if (content.startsWith(GENERATED_MARKER)) await rm(join(outDir, name));
  }
  for (const [name, content] of files) {
    const path = join(outDir, name);
    const existing = await readFile(path, 'utf8').catch(() => undefined);
    // Leave unchanged files untouched, so watchers and tsc's incremental state see no change.
    if (existing !== content) await writeFile(path, content);
  }
}

/** Generates into `outDir` (default src/generated/); resolves with the names written. */
export async function generate(options: GenerateOptions & { outDir?: string } = {}): Promise<string[]> {
  const files = await generateFiles(options);
  await writeGeneratedFiles(options.outDir ?? GENERATED_DIR, files);
  return [...files.keys()];
}

/** The native bundle's folder, specs/. */
export const NATIVE_SPECS_DIR = join(ROOT, 'specs');

/** The folders whose sub-folders holding an asyncapi.yaml are bundles that `npm run generate` and `check:generated` cover. */
export const BUNDLE_ROOTS = ['examples', join('test', 'fixtures', 'bundles')] as const;

/** True when `dir` is the native bundle (specs/), which generates into src/generated/. */
export function isNativeSpecsDir(dir: string): boolean {
  return resolve(dir) === NATIVE_SPECS_DIR;
}

/** Every bundle folder under `BUNDLE_ROOTS` of `root` (absolute paths, sorted). */
export async function findBundleDirs(root = ROOT): Promise<string[]> {
  const found: string[] = [];
  for (const folder of BUNDLE_ROOTS) {
    const entries = await readdir(join(root, folder), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const dir = join(root, folder, entry.name);
      const isFile = await stat(join(dir, 'asyncapi.yaml')).then((info) => info.isFile(), () => false);
      if (isFile) found.push(dir);
    }
  }
  return found.sort();
}

/**
 * Generates the bundle in `dir` into `outDir` (default `dir/generated`); resolves with the names
 * written. Rejects with a `BundleError` (one line per problem) when the bundle is refused.
 */
export async function generateBundle(dir: string, options: BundleGenerateOptions & { outDir?: string } = {}): Promise<string[]> {
  const files = await generateBundleFiles(dir, options);
  await writeGeneratedFiles(options.outDir ?? join(dir, 'generated'), files);
  return [...files.keys()];
}

/** What `generateAll` did for one bundle. */
export interface GenerateOutcome {
  /** `specs` for the native bundle, else the bundle folder as shown (e.g. `examples/mini`). */
  bundle: string;
  /** Where its files went. */
  outDir: string;
  /** The names written, or the error that refused the bundle. */
  result: { files: string[] } | { error: Error };
}

/**
 * `npm run generate`: the native bundle into src/generated/, then every bundle of `findBundleDirs()`
 * into its generated/ folder. A refused bundle does not stop the others.
 */
export async function generateAll(root = ROOT): Promise<GenerateOutcome[]> {
  const outcomes: GenerateOutcome[] = [];
  const run = async (bundle: string, outDir: string, work: () => Promise<string[]>) => {
    try {
      outcomes.push({ bundle, outDir, result: { files: await work() } });
    } catch (error) {
      outcomes.push({ bundle, outDir, result: { error: error instanceof Error ? error : new Error(String(error)) } });
    }
  };
  await run('specs', GENERATED_DIR, () => generate());
  for (const dir of await findBundleDirs(root)) {
    await run(shownBundleDir(dir), join(dir, 'generated'), () => generateBundle(dir));
  }
  return outcomes;
}

/** Parses the `--out`, `--openapi` and `--asyncapi` options shared by the codegen scripts. */
export function parseCodegenArgs(args: string[], extra: Record<string, { type: 'string' }> = {}) {
  const { values } = parseArgs({
    args,
    options: { openapi: { type: 'string' }, asyncapi: { type: 'string' }, out: { type: 'string' }, ...extra },
    strict: true,
    allowPositionals: false,
  });
  return values as { openapi?: string; asyncapi?: string; out?: string } & Record<string, string | undefined>;
}

/** Where `reportOutcomes` prints: `out` for what was written, `err` for refusals (one call per message). */
export interface ReportWriter {
  out(text: string): void;
  err(text: string): void;
}

/** One line per outcome on stdout, the refusals' problems on stderr; resolves with the exit code (0 or 1). */
export function reportOutcomes(outcomes: readonly GenerateOutcome[], write: ReportWriter = { out: console.log, err: console.error }): number {
  let code = 0;
  for (const { bundle, outDir, result } of outcomes) {
    if ('files' in result) {
      write.out(`generated ${result.files.length} files in ${shownBundleDir(outDir)}: ${result.files.join(', ')}`);
    } else {
      code = 1;
      const reason = result.error instanceof BundleError ? 'refused' : 'failed';
      write.err(`${bundle}: ${reason}, nothing written:\n${result.error.message}`);
    }
  }
  return code;
}

/** The options of `runGenerate`, as the command line gives them (paths relative to the working directory). */
export interface RunGenerateOptions {
  /** A bundle folder; `specs/` means the native bundle. */
  specs?: string | undefined;
  /** Where to write instead of the default (src/generated/ or DIR/generated/). */
  out?: string | undefined;
  /** The native generator's inputs (only without `specs` or with the native `specs`). */
  openapi?: string | undefined;
  asyncapi?: string | undefined;
}

/**
 * What `npm run generate`, `tsx scripts/generate.ts` and `specstream generate` run: one bundle with
 * `specs`, the native generator alone with `out`/`openapi`/`asyncapi`, else `generateAll()`.
 * Prints one line per output folder, the problems of a refused bundle on stderr; resolves with the
 * exit code (0, or 1 when a bundle was refused).
 */
export async function runGenerate(options: RunGenerateOptions, write: ReportWriter = { out: console.log, err: console.error }): Promise<number> {
  if (options.specs !== undefined && !isNativeSpecsDir(options.specs)) {
    const dir = resolve(options.specs);
    const outDir = options.out ? resolve(options.out) : join(dir, 'generated');
    const result = await generateBundle(dir, { outDir }).then(
      (files) => ({ files }),
      (error: unknown) => ({ error: error instanceof Error ? error : new Error(String(error)) }),
    );
    return reportOutcomes([{ bundle: shownBundleDir(dir), outDir, result }], write);
  }
  if (options.specs === undefined && options.out === undefined && options.openapi === undefined && options.asyncapi === undefined) {
    return reportOutcomes(await generateAll(), write);
  }
  const outDir = options.out ? resolve(options.out) : GENERATED_DIR;
  const files = await generate({
    ...(options.openapi ? { openapi: resolve(options.openapi) } : {}),
    ...(options.asyncapi ? { asyncapi: resolve(options.asyncapi) } : {}),
    outDir,
  });
  return reportOutcomes([{ bundle: 'specs', outDir, result: { files } }], write);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runGenerate(parseCodegenArgs(process.argv.slice(2), { specs: { type: 'string' } })).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
