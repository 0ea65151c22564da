/**
 * Codegen: reads specs/openapi.yaml and specs/asyncapi.yaml and writes src/generated/.
 *
 *   npm run generate                        writes src/generated/
 *   tsx scripts/generate.ts --out DIR [--openapi FILE] [--asyncapi FILE]
 *
 * Output is deterministic (no timestamps; catalog types sorted), so `npm run check:generated`
 * can compare it byte for byte with the committed files.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { loadAsyncApi } from './lib/asyncapi.js';
import { emitCatalog, emitEvents, emitFrames } from './lib/emit-asyncapi.js';
import { emitOpenApiTypes } from './lib/emit-openapi.js';
import { emitQuery, readQueryModel } from './lib/emit-query.js';
import { GENERATED_MARKER } from './lib/header.js';

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
  const openapiDocument = parseYaml(await readFile(openapiPath, 'utf8')) as Record<string, unknown>;
  const query = readQueryModel(openapiDocument, openapiPath);

  const files: Array<[string, string]> = [
    ['catalog.ts', emitCatalog(asyncapi)],
    ['events.ts', emitEvents(asyncapi)],
    ['frames.ts', emitFrames(asyncapi)],
    ['openapi.ts', await emitOpenApiTypes(openapiPath)],
    ['query.ts', emitQuery(query)],
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
    if (files.has(name) || !name.endsWith('.ts')) continue;
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

async function main(): Promise<void> {
  const args = parseCodegenArgs(process.argv.slice(2));
  const outDir = args.out ? resolve(args.out) : GENERATED_DIR;
  const names = await generate({
    ...(args.openapi ? { openapi: resolve(args.openapi) } : {}),
    ...(args.asyncapi ? { asyncapi: resolve(args.asyncapi) } : {}),
    outDir,
  });
  console.log(`generated ${names.length} files in ${outDir}: ${names.join(', ')}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
