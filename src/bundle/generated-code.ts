/**
 * The generated code a bundle is served with: the validators of its catalog and the compiled query
 * rules of its list, stream and check operations. The native bundle's come from src/generated/
 * (compiled with the server); another bundle's from `DIR/generated/index.js`, written by
 * `specstream generate --specs DIR` and loaded with plain `import` (no TypeScript toolchain at run
 * time). Code older than the specs, or missing what the server runs, is refused with one line that
 * names the command that fixes it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { z } from 'zod';
import type { QueryChecker } from '../generated/query.js';
import { QUERY_OPERATION_ROLES, type Bundle } from './bundle.js';
import { BundleError } from './bundle-error.js';
import { bundleHashSync } from './bundle-hash.js';
import type { CatalogEntry } from './event-catalog.js';

/** What a generated module exports (native src/generated/bundle.ts and DIR/generated/index.js alike). */
export interface GeneratedCode {
  /** sha256 of the specs it was generated from (checked for a bundle folder; the native code is compiled with its specs). */
  BUNDLE_HASH?: string;
  /** Every catalog type, sorted. */
  EVENT_TYPES: readonly string[];
  /** The validator of each type's `data` (after `loadValidators()` when loaded with `validators: 'lazy'`). */
  eventDataSchemas: Record<string, z.ZodType>;
  /** Catalog entries keyed by type. */
  catalog: Record<string, CatalogEntry>;
  /**
   * The compiled query rules of each list, stream and check operation, by operationId (after
   * `loadValidators()` when loaded with `validators: 'lazy'`).
   */
  queryCheckers: Readonly<Record<string, QueryChecker>>;
}

/** Generated code as the server holds it: the validators may still be on disk. */
export interface LoadedCode extends GeneratedCode {
  /** Imports the validators (zod and the generated schemas) if not yet done; resolves once they can be used. */
  loadValidators(): Promise<void>;
}

export interface LoadGeneratedCodeOptions {
  /**
   * `'eager'` (default) imports everything now. `'lazy'` imports the native bundle's validators
   * (zod, the schemas of `data`, the query checkers) only at `loadValidators()`, which the server
   * calls at its first request: a server at rest does not hold them. A bundle folder's generated
   * code is one module, always imported now (its checks need it).
   */
  validators?: 'eager' | 'lazy';
}

/**
 * Loads the generated code of `bundle`. Throws BundleError (one problem, with the command that
 * regenerates it) when it is missing, older than the specs (`BUNDLE_HASH`), declares other
 * catalog types than the specs, or lacks the query checker of an operation (code written by a
 * Specstream whose generator did not compile query rules). The native code is compiled with its
 * specs (`npm run check:generated` keeps them equal), so only its catalog types are checked.
 */
export async function loadGeneratedCode(bundle: Bundle, options: LoadGeneratedCodeOptions = {}): Promise<LoadedCode> {
  const code = bundle.native ? await loadNative(options.validators ?? 'eager') : await loadBundleFolder(bundle);
  const generatedTypes = new Set(code.EVENT_TYPES);
  const declared = bundle.catalog.map((entry) => entry.type);
  if (declared.length !== generatedTypes.size || declared.some((type) => !generatedTypes.has(type))) throw stale(bundle);
  if (bundle.native) return code;
  const checkers = code.queryCheckers as Readonly<Record<string, QueryChecker>> | undefined;
  for (const op of bundle.operations) {
    if (!(QUERY_OPERATION_ROLES as readonly string[]).includes(op.role)) continue;
    if (typeof checkers?.[op.operationId]?.parse !== 'function') {
      throw stale(bundle, `has generated code without the query checker of ${op.operationId} (written by an older Specstream)`);
    }
  }
  return code;
}

async function loadNative(validators: 'eager' | 'lazy'): Promise<LoadedCode> {
  // catalog.ts has no validators (no zod); bundle.ts adds them.
  const { EVENT_TYPES, catalog } = await import('../generated/catalog.js');
  let loaded: Pick<GeneratedCode, 'eventDataSchemas' | 'queryCheckers'> | undefined;
  let loading: Promise<void> | undefined;
  const loadValidators = () =>
    (loading ??= import('../generated/bundle.js').then((native) => {
      loaded = { eventDataSchemas: native.eventDataSchemas as unknown as Record<string, z.ZodType>, queryCheckers: native.queryCheckers };
    }));
  const ready = () => {
    if (loaded) return loaded;
    throw new Error('the generated validators are not loaded yet: await loadValidators() first');
  };
  if (validators === 'eager') await loadValidators();
  return {
    EVENT_TYPES,
    catalog: catalog as unknown as Record<string, CatalogEntry>,
    get eventDataSchemas() {
      return ready().eventDataSchemas;
    },
    get queryCheckers() {
      return ready().queryCheckers;
    },
    loadValidators,
  };
}

async function loadBundleFolder(bundle: Bundle): Promise<LoadedCode> {
  const file = join(bundle.dir, 'generated', 'index.js');
  if (!existsSync(file)) throw stale(bundle, 'has no generated code');
  // The module's shape is what this repository's generator emits; BUNDLE_HASH and the checks above vouch for it.
  const module = (await importWithOurZod(file)) as GeneratedCode;
  if (module.BUNDLE_HASH !== bundleHashSync(bundle.dir)) throw stale(bundle);
  return { ...module, loadValidators: async () => {} };
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
  const bound = text.replace(/^(import\s[^;'"]*?from\s*)(['"])zod\2/gm, `$1'${zod}'`);
  // Only statements count: a catalog description or a rule message may well say "from 'x'".
  if (/^\s*(?:(?:import|export)\s[^;'"]*?from\s*|import\s*)['"](?!file:)[^'"]+['"]/m.test(bound)) {
    throw new BundleError([{ file, pointer: '', message: 'generated code may import only zod: regenerate it' }]);
  }
  return import(`data:text/javascript;base64,${Buffer.from(bound).toString('base64')}`);
}

function stale(bundle: Bundle, what = 'has generated code older than its specs'): BundleError {
  const shown = relative(process.cwd(), bundle.dir) || '.';
  return new BundleError([
    { file: join(shown, 'generated'), pointer: '', message: `the bundle ${what}: run \`specstream generate --specs ${shown}\`` },
  ]);
}
