/**
 * The event catalog the server runs with: the types of the bundle and the generated validators of
 * their `data`. The native bundle's come from src/generated/ (compiled with the server); another
 * bundle's from `DIR/generated/index.js`, written by `specstream generate --specs DIR` and loaded
 * with plain `import` (no TypeScript toolchain at run time). Generated code older than the specs
 * is refused with the command that fixes it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { z } from 'zod';
import type { Bundle } from './bundle.js';
import { BundleError } from './bundle-error.js';
import { bundleHashSync } from './bundle-hash.js';

/** One type as `GET /v1/catalog` and the docs show it. */
export interface CatalogEntry {
  type: string;
  title: string;
  summary: string;
  description?: string;
  deprecated: boolean;
  /** JSON Schema of `data`. */
  schema: Record<string, unknown>;
  example?: Record<string, unknown>;
}

export interface EventCatalog {
  /** Every type, sorted. */
  readonly types: readonly string[];
  /** True for a type of the catalog (exact name). */
  has(type: string): boolean;
  /** The generated validator of `data` for `type`. */
  dataSchema(type: string): z.ZodType | undefined;
  /** Catalog entries keyed by type. */
  readonly entries: Readonly<Record<string, CatalogEntry>>;
}

/** What a generated module exports (native src/generated/bundle.ts and DIR/generated/index.js alike). */
interface GeneratedModule {
  BUNDLE_HASH?: string;
  EVENT_TYPES: readonly string[];
  eventDataSchemas: Record<string, z.ZodType>;
  catalog: Record<string, CatalogEntry>;
}

/** Loads the catalog of `bundle`; throws BundleError when its generated code is missing or stale. */
export async function loadEventCatalog(bundle: Bundle): Promise<EventCatalog> {
  const generated = bundle.native ? await loadNative() : await loadGenerated(bundle);
  const set = new Set(generated.EVENT_TYPES);
  const declared = bundle.catalog.map((entry) => entry.type);
  if (declared.length !== set.size || declared.some((type) => !set.has(type))) throw stale(bundle);
  return {
    types: [...generated.EVENT_TYPES],
    has: (type) => set.has(type),
    dataSchema: (type) => (set.has(type) ? generated.eventDataSchemas[type] : undefined),
    entries: generated.catalog,
  };
}

async function loadNative(): Promise<GeneratedModule> {
  const [catalog, events] = await Promise.all([import('../generated/catalog.js'), import('../generated/events.js')]);
  return {
    EVENT_TYPES: catalog.EVENT_TYPES,
    eventDataSchemas: events.eventDataSchemas as unknown as Record<string, z.ZodType>,
    catalog: catalog.catalog as unknown as Record<string, CatalogEntry>,
  };
}

async function loadGenerated(bundle: Bundle): Promise<GeneratedModule> {
  const file = join(bundle.dir, 'generated', 'index.js');
  if (!existsSync(file)) throw stale(bundle, 'has no generated code');
  const module = (await importWithOurZod(file)) as GeneratedModule;
  if (module.BUNDLE_HASH !== bundleHashSync(bundle.dir)) throw stale(bundle);
  return module;
}

/**
 * Imports a bundle's generated module with its `zod` import bound to the server's own copy: a
 * bundle folder outside this package has no node_modules of its own, and two zod copies would
 * not share validator classes anyway. The module is evaluated from a `data:` URL whose only
 * import is rewritten to zod's absolute file URL.
 */
async function importWithOurZod(file: string): Promise<unknown> {
  const text = readFileSync(file, 'utf8');
  const zod = import.meta.resolve('zod');
  const bound = text.replace(/(from\s*)(['"])zod\2/g, `$1'${zod}'`);
  if (/from\s*['"](?!file:)[^'"]+['"]/.test(bound)) throw new BundleError([{ file, pointer: '', message: 'generated code may import only zod: regenerate it' }]);
  return import(`data:text/javascript;base64,${Buffer.from(bound).toString('base64')}`);
}

function stale(bundle: Bundle, what = 'has generated code older than its specs'): BundleError {
  const shown = relative(process.cwd(), bundle.dir) || '.';
  return new BundleError([
    { file: join(shown, 'generated'), pointer: '', message: `the bundle ${what}: run \`specstream generate --specs ${shown}\`` },
  ]);
}
