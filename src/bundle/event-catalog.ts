/**
 * The event catalog the server runs with: the types of the bundle and the generated validators of
 * their `data`, from the bundle's generated code (src/bundle/generated-code.ts).
 */
import type { z } from 'zod';
import type { Bundle } from './bundle.js';
import { loadGeneratedCode, type GeneratedCode } from './generated-code.js';

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

/** The catalog of generated code already loaded (and checked) by `loadGeneratedCode`. */
export function eventCatalogOf(generated: GeneratedCode): EventCatalog {
  const set = new Set(generated.EVENT_TYPES);
  return {
    types: [...generated.EVENT_TYPES],
    has: (type) => set.has(type),
    dataSchema: (type) => (set.has(type) ? generated.eventDataSchemas[type] : undefined),
    entries: generated.catalog,
  };
}

/** Loads the catalog of `bundle`; throws BundleError when its generated code is missing or stale. */
export async function loadEventCatalog(bundle: Bundle): Promise<EventCatalog> {
  return eventCatalogOf(await loadGeneratedCode(bundle));
}
