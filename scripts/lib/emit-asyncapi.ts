/**
 * Emits src/generated/catalog.ts, events.ts and frames.ts from the AsyncAPI model.
 */
import type { AsyncApiModel, CatalogMessage, FrameMessage } from './asyncapi.js';
import { generatedHeader } from './header.js';
import {
  PARSER_SCHEMA_ID,
  stripParserIds,
  tsType,
  zodSchema,
  type EmitContext,
  type JsonSchema,
  type NamedSchema,
} from './json-schema.js';
import { camelCase, docComment, indentAll, indentRest, literal, pascalCase, propertyKey, quote } from './source.js';

const HEADER = generatedHeader('specs/asyncapi.yaml');

/** `grant.created` -> `GrantCreatedData` / `grantCreatedData`. */
export function payloadNames(type: string): NamedSchema {
  const ts = `${pascalCase(type)}Data`;
  return { ts, zod: camelCase(ts) };
}

function description(schema: JsonSchema): string | undefined {
  return typeof schema.description === 'string' ? schema.description : undefined;
}

/** Every `x-parser-schema-id` used inside `schema` (the root excluded), in document order. */
function schemaIdsWithin(schema: unknown, out: string[] = [], root = true): string[] {
  if (Array.isArray(schema)) {
    for (const item of schema) schemaIdsWithin(item, out, false);
  } else if (schema !== null && typeof schema === 'object') {
    const id = (schema as JsonSchema)[PARSER_SCHEMA_ID];
    if (!root && typeof id === 'string' && !out.includes(id)) out.push(id);
    for (const [key, value] of Object.entries(schema)) {
      if (key !== PARSER_SCHEMA_ID) schemaIdsWithin(value, out, false);
    }
  }
  return out;
}

/** `{ ... }` object type text -> `export interface Name { ... }`; anything else -> `export type Name = ...;`. */
function declareInterface(name: string, type: string, generics = ''): string {
  return type.startsWith('{') ? `export interface ${name}${generics} ${type}\n` : `export type ${name}${generics} = ${type};\n`;
}

function declareTypeAlias(name: string, type: string): string {
  return `export type ${name} = ${type};\n`;
}

function checkUniqueNames(names: string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new Error(`two generated declarations are both named ${name}; rename one in the spec`);
    seen.add(name);
  }
}

// ---------------------------------------------------------------------------------------------
// catalog.ts

export function emitCatalog(model: AsyncApiModel): string {
  const types = model.catalog.map((entry) => entry.type);
  const entries = model.catalog.map((entry) => {
    const value: Record<string, unknown> = {
      type: entry.type,
      title: entry.title,
      summary: entry.summary,
      ...(entry.description !== undefined ? { description: entry.description } : {}),
      deprecated: entry.deprecated,
      schema: stripParserIds(entry.payload),
      example: entry.example,
    };
    return `  ${quote(entry.type)}: ${indentRest(literal(value))},`;
  });
  return `${HEADER}/** Every event type of the catalog, sorted. */
export const EVENT_TYPES = [
${types.map((type) => `  ${quote(type)},`).join('\n')}
] as const;

/** An event type declared in the catalog. */
export type EventType = (typeof EVENT_TYPES)[number];

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

/** True when \`value\` is an event type declared in the catalog (exact match, no globs). */
export function isEventType(value: string): value is EventType {
  return EVENT_TYPE_SET.has(value);
}

/** One event type of the catalog, as \`GET /v1/catalog\` and the docs show it. */
export interface CatalogEntry {
  type: EventType;
  /** A short human title. */
  title: string;
  /** One sentence on what happened. */
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
export const catalog: { readonly [K in EventType]: CatalogEntry } = {
${entries.join('\n')}
};
`;
}

// ---------------------------------------------------------------------------------------------
// events.ts

/**
 * The component object schemas (`components.schemas`) that catalog payloads use, each to be emitted
 * once under a name: sorted by id, then reordered so that dependencies come first (every zod
 * constant is declared before it is used). Throws on a schema that refers to itself.
 */
export function orderedSharedSchemas(model: Pick<AsyncApiModel, 'catalog' | 'componentSchemas'>): Array<{ id: string; schema: JsonSchema }> {
  const used = new Set<string>();
  for (const entry of model.catalog) for (const id of schemaIdsWithin(entry.payload)) used.add(id);
  const shared = [...model.componentSchemas.entries()]
    .filter(([id, schema]) => used.has(id) && schema.type === 'object')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const ordered: Array<{ id: string; schema: JsonSchema }> = [];
  const visiting = new Set<string>();
  const byId = new Map(shared);
  const visit = (id: string): void => {
    if (ordered.some((item) => item.id === id)) return;
    if (visiting.has(id)) throw new Error(`components.schemas.${id} refers to itself; recursive schemas are not supported`);
    visiting.add(id);
    const schema = byId.get(id)!;
    for (const inner of schemaIdsWithin(schema)) if (byId.has(inner)) visit(inner);
    ordered.push({ id, schema });
  };
  for (const [id] of shared) visit(id);
  return ordered;
}

/** Component object schemas used by catalog payloads, emitted once under their component name. */
function sharedSchemas(model: AsyncApiModel): Array<{ id: string; schema: JsonSchema; names: NamedSchema }> {
  return orderedSharedSchemas(model).map(({ id, schema }) => ({ id, schema, names: { ts: pascalCase(id), zod: camelCase(id) } }));
}

function envelopeProperties(envelope: JsonSchema): Array<[string, JsonSchema]> {
  const properties = envelope.properties as Record<string, JsonSchema> | undefined;
  const required = envelope.required as string[] | undefined;
  if (!properties?.type || !properties.data || !required?.includes('type') || !required.includes('data')) {
    throw new Error('components.schemas.Envelope must declare required properties `type` and `data`');
  }
  if (envelope.additionalProperties !== false) {
    throw new Error('components.schemas.Envelope must set additionalProperties: false');
  }
  return Object.entries(properties);
}

export function emitEvents(model: AsyncApiModel): string {
  const shared = sharedSchemas(model);
  const named = new Map(shared.map((item) => [item.id, item.names]));
  const context: EmitContext = { named };
  const payloads = model.catalog.map((entry) => ({ entry, names: payloadNames(entry.type) }));
  const eventConst = (type: string) => `${camelCase(type)}Event`;
  checkUniqueNames([
    ...shared.flatMap((item) => [item.names.ts, item.names.zod]),
    ...payloads.flatMap((item) => [item.names.ts, item.names.zod, eventConst(item.entry.type)]),
    'Envelope',
    'GenericEnvelope',
    'SpecstreamEvent',
    'EventDataMap',
    'envelopeSchema',
    'eventDataSchemas',
    'eventSchemas',
    'specstreamEventSchema',
    'envelopeOf',
  ]);

  const parts: string[] = [];
  parts.push(`${HEADER}import { z } from 'zod';
import type { EventType } from './catalog.js';

// Payload types are object type aliases rather than interfaces so that they stay assignable to
// \`Record<string, unknown>\` (interfaces get no implicit index signature), e.g. to a store's \`data\`.
`);

  if (shared.length > 0) parts.push('// Shared schemas (components.schemas) used by the payloads.\n');
  for (const { id, schema, names } of shared) {
    const own: EmitContext = { named: new Map([...named].filter(([key]) => key !== id)) };
    parts.push(
      docComment([description(schema) ?? `\`components.schemas.${id}\`.`]) +
        declareTypeAlias(names.ts, tsType(schema, own, `components.schemas.${id}`)) +
        `\n/** Validates \`${names.ts}\`. */\n` +
        `export const ${names.zod}: z.ZodType<${names.ts}> = ${zodSchema(schema, own, `components.schemas.${id}`)};\n`,
    );
  }

  parts.push('// The `data` of each event type.\n');
  for (const { entry, names } of payloads) {
    const where = `message ${entry.type} payload`;
    parts.push(
      payloadDoc(entry) +
        declareTypeAlias(names.ts, tsType(entry.payload, context, where)) +
        `\n/** Validates the \`data\` of \`${entry.type}\` events. */\n` +
        `export const ${names.zod}: z.ZodType<${names.ts}> = ${zodSchema(entry.payload, context, where)};\n`,
    );
  }

  parts.push(`/** The \`data\` type of each event type. */
export interface EventDataMap {
${payloads.map(({ entry, names }) => `  ${quote(entry.type)}: ${names.ts};`).join('\n')}
}

/** The zod schema of each event type's \`data\`. */
export const eventDataSchemas: { readonly [K in EventType]: z.ZodType<EventDataMap[K]> } = {
${payloads.map(({ entry, names }) => `  ${quote(entry.type)}: ${names.zod},`).join('\n')}
};
`);

  // The envelope, from components.schemas.Envelope.
  const envelope = model.envelope;
  const props = envelopeProperties(envelope);
  const required = new Set(envelope.required as string[]);
  const envelopeDoc = description(envelope) ?? 'A CloudEvents 1.0 envelope.';
  const typedFields = props.map(([key, schema]) => {
    const doc = docComment([description(schema)]);
    const type = key === 'type' ? 'T' : key === 'data' ? 'EventDataMap[T]' : tsType(schema, {}, `Envelope/${key}`);
    return `${doc}${propertyKey(key)}${required.has(key) ? '' : '?'}: ${type};`;
  });
  const envelopeFields = props.map(([key, schema]) => {
    if (key === 'type' || key === 'data') return `${key},`;
    const code = zodSchema(schema, {}, `Envelope/${key}`);
    return `${propertyKey(key)}: ${code}${required.has(key) ? '' : '.optional()'},`;
  });
  const typeSchema = props.find(([key]) => key === 'type')![1];
  const dataSchema = props.find(([key]) => key === 'data')![1];

  parts.push(`${docComment([envelopeDoc, '', '`T` narrows `type` and, with it, `data`.'])}export interface Envelope<T extends EventType = EventType> {
${typedFields.map((line) => indentAll(line)).join('\n')}
}

/** Any catalog event; a union discriminated by \`type\`, so checking \`type\` narrows \`data\`. */
export type SpecstreamEvent = { [K in EventType]: Envelope<K> }[EventType];

${docComment([
  'An envelope as `components.schemas.Envelope` declares it, whatever its type: `data` is any object.',
  'Use it where an event of a type this build does not know must still pass (e.g. a newer server).',
])}${declareInterface('GenericEnvelope', tsType(envelope, {}, 'Envelope'))}
/** The Envelope schema with \`type\` and \`data\` given, properties in the spec's order. */
function envelopeOf<Type extends z.ZodType, Data extends z.ZodType>(type: Type, data: Data) {
  return z.strictObject({
${envelopeFields.map((line) => indentAll(line, '    ')).join('\n')}
  });
}

/** Validates any envelope against \`components.schemas.Envelope\` (\`data\`: any object). */
export const envelopeSchema: z.ZodType<GenericEnvelope> = envelopeOf(${zodSchema(typeSchema, {}, 'Envelope/type')}, ${zodSchema(dataSchema, {}, 'Envelope/data')});

${payloads.map(({ entry, names }) => `const ${eventConst(entry.type)} = envelopeOf(z.literal(${quote(entry.type)}), ${names.zod});`).join('\n')}

/** Validates a whole event of each type, \`data\` included. */
export const eventSchemas: { readonly [K in EventType]: z.ZodType<Envelope<K>> } = {
${payloads.map(({ entry }) => `  ${quote(entry.type)}: ${eventConst(entry.type)},`).join('\n')}
};

/** Validates any catalog event: discriminated by \`type\`, \`data\` checked against that type's payload. */
export const specstreamEventSchema: z.ZodType<SpecstreamEvent> = z.discriminatedUnion('type', [
${payloads.map(({ entry }) => `  ${eventConst(entry.type)},`).join('\n')}
]);
`);
  return parts.join('\n');
}

function payloadDoc(entry: CatalogMessage): string {
  return docComment([
    `The \`data\` of \`${entry.type}\` events (${entry.title}): ${entry.summary}`,
    entry.description,
    entry.deprecated ? '@deprecated This event type is deprecated in the catalog.' : undefined,
  ]);
}

// ---------------------------------------------------------------------------------------------
// frames.ts

/** How frames refer to the envelope: every event they carry is a catalog event. */
const FRAME_NAMED: ReadonlyMap<string, NamedSchema> = new Map([
  ['Envelope', { ts: 'SpecstreamEvent', zod: 'specstreamEventSchema' }],
]);

function frameDoc(message: FrameMessage): string {
  return docComment([message.title ? `${message.title}.` : undefined, message.summary]);
}

const SSE_FIELDS = new Set(['data', 'comment', 'retry']);

export function emitFrames(model: AsyncApiModel): string {
  const context: EmitContext = { named: FRAME_NAMED };
  const parts: string[] = [];
  parts.push(`${HEADER}import { z } from 'zod';
import { specstreamEventSchema, type SpecstreamEvent } from './events.js';
`);

  // WebSocket frames: objects discriminated by a constant \`type\`.
  const ws = model.ws.map((message) => {
    const base = message.id.replace(/^ws/, '');
    const name = `Ws${pascalCase(base)}Frame`;
    const typeSchema = (message.payload.properties as Record<string, JsonSchema> | undefined)?.type;
    if (message.payload.type !== 'object' || typeof typeSchema?.const !== 'string' || !(message.payload.required as string[] | undefined)?.includes('type')) {
      throw new Error(`wsStream message ${message.id}: the payload must be an object with a required constant \`type\``);
    }
    return { message, ts: name, zod: camelCase(name), discriminator: typeSchema.const };
  });
  checkUniqueNames(ws.flatMap((frame) => [frame.ts, frame.zod]));
  const discriminators = ws.map((frame) => frame.discriminator);
  if (new Set(discriminators).size !== discriminators.length) throw new Error('wsStream: two messages share a `type` constant');

  parts.push('// WebSocket frames (channel wsStream): JSON text frames with a `type` discriminator.\n');
  for (const frame of ws) {
    const where = `wsStream message ${frame.message.id}`;
    // `satisfies` (not an annotation) keeps the object schema's own type, which z.discriminatedUnion needs.
    parts.push(
      frameDoc(frame.message) +
        declareInterface(frame.ts, tsType(frame.message.payload, context, where)) +
        `\n/** Validates the \`${frame.discriminator}\` frame. */\n` +
        `export const ${frame.zod} = ${zodSchema(frame.message.payload, context, where)} satisfies z.ZodType<${frame.ts}>;\n`,
    );
  }
  parts.push(`/** Any WebSocket frame the server sends. */
export type WsFrame = ${ws.map((frame) => frame.ts).join(' | ')};

/** Validates any WebSocket frame, discriminated by \`type\`. */
export const wsFrameSchema = z.discriminatedUnion('type', [
${ws.map((frame) => `  ${frame.zod},`).join('\n')}
]) satisfies z.ZodType<WsFrame>;
`);

  // SSE messages.
  const named: string[] = [];
  const descriptors = model.sse.map((message) => {
    const where = `sseStream message ${message.id}`;
    const sse = message.sse;
    if (!sse || !SSE_FIELDS.has(sse.field)) throw new Error(`${where}: x-specstream-sse.field must be data, comment or retry`);
    if (sse.id !== undefined && sse.id !== 'required' && sse.id !== 'none') throw new Error(`${where}: x-specstream-sse.id must be required or none`);
    if (sse.event !== undefined && typeof sse.event !== 'string') throw new Error(`${where}: x-specstream-sse.event must be a string`);
    let schema: string;
    const payloadId = message.payload[PARSER_SCHEMA_ID];
    if (typeof payloadId === 'string' && FRAME_NAMED.has(payloadId)) {
      schema = FRAME_NAMED.get(payloadId)!.zod;
    } else if (sse.field === 'data' && sse.event !== undefined && sse.event !== '*' && message.payload.type === 'object') {
      // A typed SSE event of its own (e.g. stream.dropped): emit its payload type under a name.
      const names = payloadNames(sse.event);
      parts.push(
        frameDoc(message) +
          declareInterface(names.ts, tsType(message.payload, context, where)) +
          `\n/** Validates the \`data\` of an SSE \`${sse.event}\` event. */\n` +
          `export const ${names.zod}: z.ZodType<${names.ts}> = ${zodSchema(message.payload, context, where)};\n`,
      );
      named.push(names.ts, names.zod);
      schema = names.zod;
    } else {
      schema = zodSchema(message.payload, context, where);
    }
    const fields = [
      `name: ${quote(message.id)}`,
      `field: ${quote(sse.field)}`,
      ...(sse.event !== undefined ? [`event: ${quote(sse.event)}`] : []),
      ...(sse.id !== undefined ? [`id: ${quote(sse.id)}`] : []),
      `schema: ${schema}`,
    ];
    const oneLine = `{ ${fields.join(', ')} }`;
    const text = oneLine.length <= 96 && !oneLine.includes('\n') ? oneLine : `{\n${fields.map((field) => `  ${indentRest(field)},`).join('\n')}\n}`;
    return `${frameDoc(message)}${text},`;
  });
  checkUniqueNames([...named, ...ws.flatMap((frame) => [frame.ts, frame.zod]), 'SseMessageDescriptor', 'sseMessages']);

  parts.push(`/** How one SSE message of the spec is framed (\`x-specstream-sse\`) and what its payload is. */
export interface SseMessageDescriptor {
  /** The message's name in the AsyncAPI document, e.g. \`sseHeartbeat\`. */
  name: string;
  /** The SSE field that carries the payload: \`data\` (JSON), \`comment\` (the text after \`: \`) or \`retry\`. */
  field: 'data' | 'comment' | 'retry';
  /** The \`event:\` field's value; \`*\` stands for the envelope's catalog type. Absent: no \`event:\` field. */
  event?: string;
  /** Whether the frame carries an \`id:\` field. */
  id?: 'required' | 'none';
  /** Validates the payload: the parsed JSON of \`data\`, the comment's text, or the \`retry\` value as a number. */
  schema: z.ZodType;
}

/** The SSE messages of channel sseStream, in the spec's order. */
export const sseMessages: readonly SseMessageDescriptor[] = [
${descriptors.map((text) => indentAll(text)).join('\n')}
];
`);
  return parts.join('\n');
}
