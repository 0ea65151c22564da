/**
 * Turns the JSON Schemas of the specs into TypeScript types and zod 4 source code.
 *
 * Only the subset the specs use is supported; anything else (an unknown keyword, a format we do not
 * validate, `required` naming a missing property) throws, so that a spec change never silently
 * produces a weaker validator than the spec promises.
 */
import { docComment, indentRest, literal, propertyKey, quote, regexLiteral } from './source.js';

/** A JSON Schema object as the AsyncAPI parser returns it (refs inlined). */
export type JsonSchema = { [key: string]: unknown };

/** The key the AsyncAPI parser adds to every schema. */
export const PARSER_SCHEMA_ID = 'x-parser-schema-id';

/** A deep copy of `value` without the parser's `x-parser-schema-id` keys. */
export function stripParserIds<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => stripParserIds(item)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (key === PARSER_SCHEMA_ID) continue;
      out[key] = stripParserIds(item);
    }
    return out as T;
  }
  return value;
}

/** How to refer to a schema that is emitted once under a name instead of inline. */
export interface NamedSchema {
  /** The TypeScript type's name. */
  ts: string;
  /** The zod schema constant's name. */
  zod: string;
}

export interface EmitContext {
  /** Schemas referred to by name, keyed by their `x-parser-schema-id` (the component's name). */
  named?: ReadonlyMap<string, NamedSchema>;
}

const ANNOTATIONS = new Set(['description', 'title', 'examples', 'deprecated', '$comment', 'default', 'readOnly', 'writeOnly']);
const KEYWORDS = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'pattern',
  'minLength',
  'maxLength',
  'enum',
  'const',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'oneOf',
]);
const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean', 'null']);
/**
 * The formats codegen validates, with the zod that does it. `uuid` is RFC 9562's 8-4-4-4-12 hex
 * layout without a version or variant check (`z.guid()`), as JSON Schema validators such as
 * ajv-formats read it; `date` is RFC 3339's full-date; `uri` an absolute URI (RFC 3986) as the
 * WHATWG URL parser accepts it (`z.url()`: a scheme is required, a relative reference is refused).
 */
const FORMAT_CODE: ReadonlyMap<string, string> = new Map([
  ['date-time', 'z.iso.datetime({ offset: true })'],
  ['date', 'z.iso.date()'],
  ['uuid', 'z.guid()'],
  ['uri', 'z.url()'],
]);
const FORMATS = new Set(FORMAT_CODE.keys());

/** A schema the emitter cannot turn into code: `path` is where (as the caller named the root), `reason` why. */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';

  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

function fail(path: string, message: string): never {
  throw new SchemaError(path, message);
}

function asSchema(value: unknown, path: string): JsonSchema {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'expected a schema object');
  return value as JsonSchema;
}

function checkKeywords(schema: JsonSchema, path: string): void {
  for (const key of Object.keys(schema)) {
    if (key === PARSER_SCHEMA_ID || key.startsWith('x-') || ANNOTATIONS.has(key) || KEYWORDS.has(key)) continue;
    fail(path, `unsupported JSON Schema keyword "${key}" (extend scripts/lib/json-schema.ts)`);
  }
  if (schema.format !== undefined && !FORMATS.has(String(schema.format))) {
    fail(path, `unsupported format "${String(schema.format)}" (extend scripts/lib/json-schema.ts)`);
  }
}

function typesOf(schema: JsonSchema, path: string): string[] | undefined {
  const type = schema.type;
  if (type === undefined) return undefined;
  const list = Array.isArray(type) ? type : [type];
  for (const item of list) {
    if (typeof item !== 'string' || !TYPES.has(item)) fail(path, `unsupported type ${JSON.stringify(item)}`);
  }
  return list as string[];
}

function namedOf(schema: JsonSchema, context: EmitContext): NamedSchema | undefined {
  const id = schema[PARSER_SCHEMA_ID];
  return typeof id === 'string' ? context.named?.get(id) : undefined;
}

function numberKeyword(schema: JsonSchema, key: string, path: string): number | undefined {
  const value = schema[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, `${key} must be a number`);
  return value;
}

function integerKeyword(schema: JsonSchema, key: string, path: string): number | undefined {
  const value = numberKeyword(schema, key, path);
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) fail(path, `${key} must be a non-negative integer`);
  return value;
}

interface ObjectParts {
  properties: Array<{ key: string; schema: JsonSchema; required: boolean }>;
  additional: 'forbidden' | 'any' | JsonSchema;
}

function objectParts(schema: JsonSchema, path: string): ObjectParts {
  const properties = schema.properties === undefined ? {} : asSchema(schema.properties, `${path}/properties`);
  const required = schema.required ?? [];
  if (!Array.isArray(required) || required.some((item) => typeof item !== 'string')) {
    fail(path, 'required must be an array of strings');
  }
  for (const name of required as string[]) {
    if (!Object.hasOwn(properties, name)) fail(path, `required names "${name}", which is not in properties`);
  }
  const additionalRaw = schema.additionalProperties;
  const additional =
    additionalRaw === false
      ? 'forbidden'
      : additionalRaw === undefined || additionalRaw === true
        ? 'any'
        : asSchema(additionalRaw, `${path}/additionalProperties`);
  const parts: ObjectParts = {
    properties: Object.entries(properties).map(([key, value]) => ({
      key,
      schema: asSchema(value, `${path}/properties/${key}`),
      required: (required as string[]).includes(key),
    })),
    additional,
  };
  if (parts.properties.length > 0 && typeof parts.additional === 'object') {
    fail(path, 'properties together with an additionalProperties schema are not supported');
  }
  return parts;
}

function wrapForArray(type: string): string {
  return /^[A-Za-z0-9_.$<>[\]']+$/.test(type) ? `${type}[]` : `Array<${type}>`;
}

function union(members: string[]): string {
  const unique = [...new Set(members)];
  return unique.length === 1 ? unique[0]! : unique.join(' | ');
}

/**
 * The TypeScript type of values valid against `schema`. Objects become multi-line type literals
 * whose properties carry the schema's descriptions as TSDoc.
 */
export function tsType(schema: JsonSchema, context: EmitContext = {}, path = '#'): string {
  const named = namedOf(schema, context);
  if (named) return named.ts;
  checkKeywords(schema, path);
  if (schema.const !== undefined) return literal(schema.const);
  if (schema.enum !== undefined) {
    if (!Array.isArray(schema.enum) || schema.enum.length === 0) fail(path, 'enum must be a non-empty array');
    return union(schema.enum.map((item) => literal(item)));
  }
  if (schema.oneOf !== undefined) {
    if (!Array.isArray(schema.oneOf) || schema.oneOf.length === 0) fail(path, 'oneOf must be a non-empty array');
    return union(schema.oneOf.map((item, index) => tsType(asSchema(item, path), context, `${path}/oneOf/${index}`)));
  }
  const types = typesOf(schema, path);
  if (types === undefined) return 'unknown';
  return union(types.map((type) => tsTypeOf(type, schema, context, path)));
}

function tsTypeOf(type: string, schema: JsonSchema, context: EmitContext, path: string): string {
  switch (type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array': {
      if (schema.items === undefined) return 'unknown[]';
      return wrapForArray(tsType(asSchema(schema.items, `${path}/items`), context, `${path}/items`));
    }
    case 'object': {
      const parts = objectParts(schema, path);
      if (parts.properties.length === 0) {
        if (parts.additional === 'forbidden') return 'Record<string, never>';
        if (parts.additional === 'any') return 'Record<string, unknown>';
        return `Record<string, ${tsType(parts.additional, context, `${path}/additionalProperties`)}>`;
      }
      const lines = parts.properties.map(({ key, schema: property, required }) => {
        const doc = docComment([
          typeof property.description === 'string' ? property.description : undefined,
          property.deprecated === true ? '@deprecated' : undefined,
        ]);
        const type = tsType(property, context, `${path}/properties/${key}`);
        return `${doc}${propertyKey(key)}${required ? '' : '?'}: ${type};`;
      });
      return `{\n${lines.map((line) => `  ${indentRest(line)}`).join('\n')}\n}`;
    }
    default:
      return fail(path, `unsupported type ${type}`);
  }
}

/** zod 4 source code validating `schema` (expects `import { z } from 'zod'` in scope). */
export function zodSchema(schema: JsonSchema, context: EmitContext = {}, path = '#'): string {
  const named = namedOf(schema, context);
  if (named) return named.zod;
  checkKeywords(schema, path);
  const types = typesOf(schema, path);
  if (schema.const !== undefined) {
    checkValueTypes([schema.const], types, path);
    return zodLiteral(schema.const);
  }
  if (schema.enum !== undefined) {
    if (!Array.isArray(schema.enum) || schema.enum.length === 0) fail(path, 'enum must be a non-empty array');
    checkValueTypes(schema.enum, types, path);
    if (schema.enum.every((item) => typeof item === 'string')) {
      return `z.enum([${(schema.enum as string[]).map(quote).join(', ')}])`;
    }
    return schema.enum.length === 1 ? zodLiteral(schema.enum[0]) : `z.union([${schema.enum.map(zodLiteral).join(', ')}])`;
  }
  if (schema.oneOf !== undefined) {
    if (types !== undefined) fail(path, 'oneOf together with type is not supported');
    if (!Array.isArray(schema.oneOf) || schema.oneOf.length === 0) fail(path, 'oneOf must be a non-empty array');
    const members = schema.oneOf.map((item, index) => zodSchema(asSchema(item, path), context, `${path}/oneOf/${index}`));
    // JSON Schema's oneOf is exclusive: exactly one member must match.
    return members.length === 1 ? members[0]! : multiline('z.xor([', members, '])');
  }
  if (types === undefined) return 'z.unknown()';
  const nonNull = types.filter((type) => type !== 'null');
  if (nonNull.length === 1 && types.length === 2) return `${zodOf(nonNull[0]!, schema, context, path)}.nullable()`;
  if (types.length === 1) return zodOf(types[0]!, schema, context, path);
  return multiline('z.union([', types.map((type) => zodOf(type, schema, context, path)), '])');
}

function multiline(open: string, items: string[], close: string): string {
  return `${open}\n${items.map((item) => `  ${indentRest(item)},`).join('\n')}\n${close}`;
}

function checkValueTypes(values: unknown[], types: string[] | undefined, path: string): void {
  if (types === undefined) return;
  for (const value of values) {
    const actual =
      value === null
        ? 'null'
        : Array.isArray(value)
          ? 'array'
          : typeof value === 'number'
            ? Number.isInteger(value)
              ? 'integer'
              : 'number'
            : typeof value;
    const ok = types.includes(actual) || (actual === 'integer' && types.includes('number'));
    if (!ok) fail(path, `value ${JSON.stringify(value)} is not of type ${types.join(' | ')}`);
  }
}

function zodLiteral(value: unknown): string {
  if (value === null) return 'z.null()';
  if (typeof value === 'object') fail('#', 'object and array constants are not supported');
  return `z.literal(${literal(value)})`;
}

function zodOf(type: string, schema: JsonSchema, context: EmitContext, path: string): string {
  switch (type) {
    case 'string': {
      let code = (schema.format !== undefined ? FORMAT_CODE.get(String(schema.format)) : undefined) ?? 'z.string()';
      const minLength = integerKeyword(schema, 'minLength', path);
      const maxLength = integerKeyword(schema, 'maxLength', path);
      if (minLength !== undefined) code += `.min(${minLength})`;
      if (maxLength !== undefined) code += `.max(${maxLength})`;
      if (schema.pattern !== undefined) {
        if (typeof schema.pattern !== 'string') fail(path, 'pattern must be a string');
        code += `.regex(${regexLiteral(schema.pattern)})`;
      }
      return code;
    }
    case 'integer':
    case 'number': {
      let code = type === 'integer' ? 'z.int()' : 'z.number()';
      const minimum = numberKeyword(schema, 'minimum', path);
      const maximum = numberKeyword(schema, 'maximum', path);
      const exclusiveMinimum = numberKeyword(schema, 'exclusiveMinimum', path);
      const exclusiveMaximum = numberKeyword(schema, 'exclusiveMaximum', path);
      if (minimum !== undefined) code += `.min(${minimum})`;
      if (exclusiveMinimum !== undefined) code += `.gt(${exclusiveMinimum})`;
      if (maximum !== undefined) code += `.max(${maximum})`;
      if (exclusiveMaximum !== undefined) code += `.lt(${exclusiveMaximum})`;
      return code;
    }
    case 'boolean':
      return 'z.boolean()';
    case 'null':
      return 'z.null()';
    case 'array': {
      const item = schema.items === undefined ? 'z.unknown()' : zodSchema(asSchema(schema.items, path), context, `${path}/items`);
      let code = `z.array(${item})`;
      const minItems = integerKeyword(schema, 'minItems', path);
      const maxItems = integerKeyword(schema, 'maxItems', path);
      if (minItems !== undefined) code += `.min(${minItems})`;
      if (maxItems !== undefined) code += `.max(${maxItems})`;
      return code;
    }
    case 'object': {
      const parts = objectParts(schema, path);
      if (parts.properties.length === 0) {
        if (parts.additional === 'forbidden') return 'z.strictObject({})';
        if (parts.additional === 'any') return 'z.record(z.string(), z.unknown())';
        return `z.record(z.string(), ${zodSchema(parts.additional, context, `${path}/additionalProperties`)})`;
      }
      const fields = parts.properties.map(({ key, schema: property, required }) => {
        const code = zodSchema(property, context, `${path}/properties/${key}`);
        return `${propertyKey(key)}: ${code}${required ? '' : '.optional()'}`;
      });
      // additionalProperties: false -> unknown keys are an error; otherwise they are kept as they are.
      return multiline(parts.additional === 'forbidden' ? 'z.strictObject({' : 'z.looseObject({', fields, '})');
    }
    default:
      return fail(path, `unsupported type ${type}`);
  }
}
