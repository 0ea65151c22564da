/**
 * Emits a bundle's generated code (`DIR/generated/`): `index.js`, plain ESM that imports only `zod`
 * (so serving a bundle needs no TypeScript tooling), and `index.d.ts`, its types. Both come from the
 * same zod and TypeScript emitters as the native `src/generated/events.ts` (json-schema.ts), and
 * the query checkers from the emitter of the native `src/generated/query.ts` (emit-query.ts).
 *
 * Event type names are free-form (`RealmCreated`, `audit_log_created`, `grant.created`), so the
 * identifiers are allocated here: PascalCase of the name, made a valid identifier, numbered
 * (`AuditLogCreated2Data`) when two names meet, in a deterministic order.
 *
 * Also emits the native bundle's `src/generated/bundle.ts`, which gives the native bundle the same
 * exports. The query checkers (`queryCheckers`) come from emit-query.ts, as the native ones do.
 */
import type { BundleCatalog, BundleCatalogMessage } from './bundle-catalog.js';
import { orderedSharedSchemas } from './emit-asyncapi.js';
import { stripParserIds, tsType, zodSchema, type EmitContext, type JsonSchema, type NamedSchema } from './json-schema.js';
import { emitBundleQueryDts, emitBundleQueryJs, QUERY_IDENTIFIERS, type QueryOperationModel } from './emit-query.js';
import { docComment, indentRest, literal, pascalCase, quote } from './source.js';

/** Names the emitted code declares itself, or uses from zod and the TypeScript library. */
const RESERVED = new Set([
  'z',
  'ZodType',
  'BUNDLE_HASH',
  'EVENT_TYPES',
  'EventType',
  'EventDataMap',
  'eventDataSchemas',
  'catalog',
  'CatalogEntry',
  'Record',
  'Array',
  'Readonly',
  'ReadonlyArray',
  'Object',
  'Date',
  'Set',
  'PropertyKey',
  ...QUERY_IDENTIFIERS,
]);

interface Named {
  shared: Array<{ id: string; schema: JsonSchema; names: NamedSchema }>;
  payloads: Array<{ entry: BundleCatalogMessage; names: NamedSchema }>;
}

/** `grant.created` -> `GrantCreated`; a name that does not start with a letter gets an `N` in front. */
function baseName(name: string): string {
  const pascal = pascalCase(name);
  if (pascal === '') return 'Unnamed';
  return /^[A-Za-z]/.test(pascal) ? pascal : `N${pascal}`;
}

function lowerFirst(name: string): string {
  return name[0]!.toLowerCase() + name.slice(1);
}

/**
 * Valid, distinct identifiers for the shared schemas (`Actor` / `actorSchema`) and the payloads
 * (`RealmCreatedData` / `realmCreatedData`). Shared schemas are named first (by id), then payloads
 * (by type); a name already taken gets the next number (`AuditLogCreated2Data`).
 */
function allocateNames(model: BundleCatalog): Named {
  const taken = new Set(RESERVED);
  const allocate = (base: string, make: (base: string) => NamedSchema): NamedSchema => {
    for (let index = 1; ; index++) {
      const names = make(index === 1 ? base : `${base}${index}`);
      if (!taken.has(names.ts) && !taken.has(names.zod)) {
        taken.add(names.ts);
        taken.add(names.zod);
        return names;
      }
    }
  };
  const ordered = orderedSharedSchemas(model);
  const sharedNames = new Map<string, NamedSchema>();
  for (const id of ordered.map((item) => item.id).sort()) {
    sharedNames.set(id, allocate(baseName(id), (base) => ({ ts: base, zod: `${lowerFirst(base)}Schema` })));
  }
  return {
    shared: ordered.map(({ id, schema }) => ({ id, schema, names: sharedNames.get(id)! })),
    payloads: model.catalog.map((entry) => ({
      entry,
      names: allocate(baseName(entry.type), (base) => ({ ts: `${base}Data`, zod: `${lowerFirst(base)}Data` })),
    })),
  };
}

function contextOf(named: Named, except?: string): EmitContext {
  return { named: new Map(named.shared.filter((item) => item.id !== except).map((item) => [item.id, item.names])) };
}

function payloadDoc(entry: BundleCatalogMessage): string {
  return docComment([
    `The \`data\` of \`${entry.type}\` events (${entry.title}): ${entry.summary}`,
    entry.description,
    entry.deprecated ? '@deprecated This event type is deprecated in the catalog.' : undefined,
  ]);
}

function schemaPath(id: string): string {
  return `/components/schemas/${id.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function payloadPath(entry: BundleCatalogMessage): string {
  return `${entry.pointer}/payload`;
}

const HASH_DOC = '/** sha256 (hex) of openapi.yaml, a NUL byte and asyncapi.yaml: the bundle this code was generated from. */\n';

/** The catalog entry of one type, as `GET <catalog>` and the docs show it. */
function catalogValue(entry: BundleCatalogMessage): Record<string, unknown> {
  return {
    type: entry.type,
    title: entry.title,
    summary: entry.summary,
    ...(entry.description !== undefined ? { description: entry.description } : {}),
    deprecated: entry.deprecated,
    schema: stripParserIds(entry.payload),
    example: entry.example,
  };
}

/**
 * `index.js`: `BUNDLE_HASH`, `EVENT_TYPES` (frozen, sorted), `eventDataSchemas` (type -> zod schema
 * of `data`), `catalog` (type -> entry) and `queryCheckers` (operationId -> the compiled query
 * rules of each of `queries`). Throws `SchemaError` on a schema the emitter does not support;
 * paths are JSON Pointers into the AsyncAPI document.
 */
export function emitBundleJs(model: BundleCatalog, queries: readonly QueryOperationModel[], hash: string, header: string): string {
  const named = allocateNames(model);
  const parts: string[] = [];
  parts.push(`${header}import { z } from 'zod';

${HASH_DOC}export const BUNDLE_HASH = ${quote(hash)};

/** Every event type of the catalog, sorted. */
export const EVENT_TYPES = Object.freeze([
${model.catalog.map((entry) => `  ${quote(entry.type)},`).join('\n')}
]);
`);
  if (named.shared.length > 0) parts.push('// Shared schemas (components.schemas) used by the payloads.\n');
  for (const { id, schema, names } of named.shared) {
    parts.push(
      `/** Validates \`components.schemas.${id}\`. */\nconst ${names.zod} = ${zodSchema(schema, contextOf(named, id), schemaPath(id))};\n`,
    );
  }
  parts.push('// The `data` of each event type.\n');
  for (const { entry, names } of named.payloads) {
    parts.push(`${payloadDoc(entry)}const ${names.zod} = ${zodSchema(entry.payload, contextOf(named), payloadPath(entry))};\n`);
  }
  parts.push(`/** The zod schema of each event type's \`data\`. */
export const eventDataSchemas = {
${named.payloads.map(({ entry, names }) => `  ${quote(entry.type)}: ${names.zod},`).join('\n')}
};

/** The catalog, keyed by event type (keys sorted). */
export const catalog = {
${model.catalog.map((entry) => `  ${quote(entry.type)}: ${indentRest(literal(catalogValue(entry)))},`).join('\n')}
};
`);
  parts.push(emitBundleQueryJs(queries));
  return parts.join('\n');
}

/** `index.d.ts`: one `<Name>Data` type per event type, `EventDataMap`, `EventType`, the query types, and the exports of index.js. */
export function emitBundleDts(model: BundleCatalog, queries: readonly QueryOperationModel[], header: string): string {
  const named = allocateNames(model);
  const parts: string[] = [];
  parts.push(`${header}import type { ZodType } from 'zod';

${HASH_DOC}export declare const BUNDLE_HASH: string;

/** Every event type of the catalog, sorted. */
export declare const EVENT_TYPES: readonly [
${model.catalog.map((entry) => `  ${quote(entry.type)},`).join('\n')}
];

/** An event type declared in the catalog. */
export type EventType = (typeof EVENT_TYPES)[number];

// Payload types are object type aliases rather than interfaces so that they stay assignable to
// \`Record<string, unknown>\` (interfaces get no implicit index signature).
`);
  if (named.shared.length > 0) parts.push('// Shared schemas (components.schemas) used by the payloads.\n');
  for (const { id, schema, names } of named.shared) {
    const doc = docComment([typeof schema.description === 'string' ? schema.description : `\`components.schemas.${id}\`.`]);
    parts.push(`${doc}export type ${names.ts} = ${tsType(schema, contextOf(named, id), schemaPath(id))};\n`);
  }
  parts.push('// The `data` of each event type.\n');
  for (const { entry, names } of named.payloads) {
    parts.push(`${payloadDoc(entry)}export type ${names.ts} = ${tsType(entry.payload, contextOf(named), payloadPath(entry))};\n`);
  }
  parts.push(`/** The \`data\` type of each event type. */
export interface EventDataMap {
${named.payloads.map(({ entry, names }) => `  ${quote(entry.type)}: ${names.ts};`).join('\n')}
}

/** The zod schema of each event type's \`data\`. */
export declare const eventDataSchemas: { readonly [K in EventType]: ZodType<EventDataMap[K]> };

/** One event type of the catalog, as the catalog operation and the docs show it. */
export interface CatalogEntry {
  type: EventType;
  /** A short human title (the message's \`title\`, else the type). */
  title: string;
  /** One sentence on what happened (the message's \`summary\`, else the title). */
  summary: string;
  description?: string;
  /** Deprecated types are still accepted and delivered; publishers should move off them. */
  deprecated: boolean;
  /** The JSON Schema of \`data\` (AsyncAPI schema format, refs inlined). */
  schema: Record<string, unknown>;
  /** An example \`data\` that validates against \`schema\`. */
  example: Record<string, unknown>;
}

/** The catalog, keyed by event type (keys sorted). */
export declare const catalog: { readonly [K in EventType]: CatalogEntry };
`);
  parts.push(emitBundleQueryDts(queries));
  return parts.join('\n');
}

/**
 * The native bundle's `src/generated/bundle.ts`: `BUNDLE_HASH` of specs/openapi.yaml and
 * specs/asyncapi.yaml, the catalog exports re-exported from catalog.ts and events.ts and the query
 * checkers from query.ts, so that the server treats the native bundle like any other.
 */
export function emitNativeBundle(hash: string, header: string): string {
  return `${header}${HASH_DOC}export const BUNDLE_HASH: string = ${quote(hash)};

export { catalog, EVENT_TYPES, type CatalogEntry, type EventType } from './catalog.js';
export { eventDataSchemas, type EventDataMap } from './events.js';
export { queryCheckers, type QueryChecker, type QueryOperationId } from './query.js';
`;
}
