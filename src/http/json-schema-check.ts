/**
 * A yes/no check of a JSON value against a JSON Schema (draft 2020-12, as OpenAPI 3.1 uses it),
 * compiled once into closures, for the keywords request bodies use: `type`, `properties`,
 * `required`, `additionalProperties`, `items`, `minItems`/`maxItems`, `minLength`/`maxLength`
 * (in code points), `pattern` (a `u` RegExp), `const`/`enum` of scalars, `minimum`/`maximum` and
 * their exclusive forms, `oneOf`/`anyOf`/`allOf`, and local `$ref`s. Annotations (`description`,
 * `title`, `examples`, `x-*`, ...) are ignored.
 *
 * It is meant to be **at least as strict** as a full validator (ajv through
 * express-openapi-validator): a value it accepts is valid and is left as it is (no default filled
 * in, no type coerced). It does not explain failures: a caller that gets `false` hands the value
 * to the full validator, which produces the documented error. A schema using any other keyword
 * (`format`, `default`, `readOnly`, `discriminator`, `patternProperties`, ...) does not compile:
 * `compileSchemaCheck` returns undefined and the caller always uses the full validator.
 */

/** A compiled check: true when `value` is valid. Never throws, never mutates `value`. */
export type SchemaCheck = (value: unknown) => boolean;

type Schema = Record<string, unknown> | boolean;

/** Keywords that only annotate: they never change whether a value is valid. */
const ANNOTATIONS = new Set(['description', 'title', 'examples', 'example', 'deprecated', '$comment', 'externalDocs']);
const SUPPORTED = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'const',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'oneOf',
  'anyOf',
  'allOf',
  '$ref',
]);

class Unsupported extends Error {}

/**
 * Compiles `schema`, whose `$ref`s (`#/...`) point into `document`. Returns undefined when the
 * schema uses a keyword this module does not implement, or a `$ref` it cannot resolve or that
 * refers to itself.
 */
export function compileSchemaCheck(schema: unknown, document: unknown): SchemaCheck | undefined {
  try {
    return compile(schema, document, new Set());
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}

function compile(schema: unknown, document: unknown, resolving: Set<string>): SchemaCheck {
  if (schema === true) return () => true;
  if (schema === false) return () => false;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new Unsupported('not a schema');
  const node = schema as Record<string, unknown>;
  for (const keyword of Object.keys(node)) {
    if (!SUPPORTED.has(keyword) && !ANNOTATIONS.has(keyword) && !keyword.startsWith('x-')) throw new Unsupported(keyword);
  }
  const checks: SchemaCheck[] = [];

  if (node.$ref !== undefined) {
    const ref = node.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/') || resolving.has(ref)) throw new Unsupported('$ref');
    resolving.add(ref);
    checks.push(compile(resolvePointer(document, ref), document, resolving));
    resolving.delete(ref);
  }
  if (node.type !== undefined) checks.push(typeCheck(node.type));
  if (node.const !== undefined) checks.push(scalarsCheck([node.const]));
  if (node.enum !== undefined) {
    if (!Array.isArray(node.enum)) throw new Unsupported('enum');
    checks.push(scalarsCheck(node.enum));
  }
  checks.push(...stringChecks(node), ...numberChecks(node), ...arrayChecks(node, document, resolving), ...objectChecks(node, document, resolving));
  for (const combiner of ['oneOf', 'anyOf', 'allOf'] as const) {
    const list = node[combiner];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0) throw new Unsupported(combiner);
    const branches = list.map((branch: unknown) => compile(branch, document, resolving));
    if (combiner === 'allOf') checks.push((value) => branches.every((branch) => branch(value)));
    else if (combiner === 'anyOf') checks.push((value) => branches.some((branch) => branch(value)));
    else
      checks.push((value) => {
        let matched = 0;
        for (const branch of branches) if (branch(value) && ++matched > 1) return false;
        return matched === 1;
      });
  }
  if (checks.length === 0) return () => true;
  if (checks.length === 1) return checks[0]!;
  return (value) => {
    for (const check of checks) if (!check(value)) return false;
    return true;
  };
}

function resolvePointer(document: unknown, ref: string): Schema {
  let node: unknown = document;
  for (const part of ref.slice(2).split('/')) {
    const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) throw new Unsupported(`$ref ${ref}`);
    node = (node as Record<string, unknown>)[key];
  }
  return node as Schema;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function typeCheck(type: unknown): SchemaCheck {
  const types = Array.isArray(type) ? type : [type];
  const checks = types.map((name): SchemaCheck => {
    switch (name) {
      case 'string':
        return (value) => typeof value === 'string';
      case 'number':
        return (value) => typeof value === 'number' && Number.isFinite(value);
      case 'integer':
        return (value) => typeof value === 'number' && Number.isInteger(value);
      case 'boolean':
        return (value) => typeof value === 'boolean';
      case 'null':
        return (value) => value === null;
      case 'array':
        return (value) => Array.isArray(value);
      case 'object':
        return isObject;
      default:
        throw new Unsupported(`type ${String(name)}`);
    }
  });
  return checks.length === 1 ? checks[0]! : (value) => checks.some((check) => check(value));
}

function scalarsCheck(values: unknown[]): SchemaCheck {
  if (values.some((value) => value !== null && typeof value === 'object')) throw new Unsupported('const/enum of objects');
  return (value) => values.includes(value);
}

/** Length in Unicode code points, as JSON Schema counts it. */
function codePoints(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        count--;
        i++;
      }
    }
  }
  return count;
}

function nonNegativeInteger(value: unknown, keyword: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new Unsupported(keyword);
  return value;
}

function stringChecks(node: Record<string, unknown>): SchemaCheck[] {
  const checks: SchemaCheck[] = [];
  if (node.minLength !== undefined) {
    const min = nonNegativeInteger(node.minLength, 'minLength');
    checks.push((value) => typeof value !== 'string' || (value.length >= min && codePoints(value) >= min));
  }
  if (node.maxLength !== undefined) {
    const max = nonNegativeInteger(node.maxLength, 'maxLength');
    // Code points never exceed UTF-16 units: a string within `max` units needs no counting.
    checks.push((value) => typeof value !== 'string' || value.length <= max || codePoints(value) <= max);
  }
  if (node.pattern !== undefined) {
    if (typeof node.pattern !== 'string') throw new Unsupported('pattern');
    const pattern = new RegExp(node.pattern, 'u');
    checks.push((value) => typeof value !== 'string' || pattern.test(value));
  }
  return checks;
}

function numberChecks(node: Record<string, unknown>): SchemaCheck[] {
  const checks: SchemaCheck[] = [];
  const bound = (keyword: string, holds: (value: number, limit: number) => boolean) => {
    const limit = node[keyword];
    if (limit === undefined) return;
    if (typeof limit !== 'number' || !Number.isFinite(limit)) throw new Unsupported(keyword);
    checks.push((value) => typeof value !== 'number' || holds(value, limit));
  };
  bound('minimum', (value, limit) => value >= limit);
  bound('maximum', (value, limit) => value <= limit);
  bound('exclusiveMinimum', (value, limit) => value > limit);
  bound('exclusiveMaximum', (value, limit) => value < limit);
  return checks;
}

function arrayChecks(node: Record<string, unknown>, document: unknown, resolving: Set<string>): SchemaCheck[] {
  const checks: SchemaCheck[] = [];
  if (node.minItems !== undefined) {
    const min = nonNegativeInteger(node.minItems, 'minItems');
    checks.push((value) => !Array.isArray(value) || value.length >= min);
  }
  if (node.maxItems !== undefined) {
    const max = nonNegativeInteger(node.maxItems, 'maxItems');
    checks.push((value) => !Array.isArray(value) || value.length <= max);
  }
  if (node.items !== undefined) {
    if (Array.isArray(node.items)) throw new Unsupported('items as an array');
    const item = compile(node.items, document, resolving);
    checks.push((value) => !Array.isArray(value) || value.every((element) => item(element)));
  }
  return checks;
}

function objectChecks(node: Record<string, unknown>, document: unknown, resolving: Set<string>): SchemaCheck[] {
  const checks: SchemaCheck[] = [];
  if (node.required !== undefined) {
    if (!Array.isArray(node.required) || node.required.some((name) => typeof name !== 'string')) throw new Unsupported('required');
    const required = node.required as string[];
    checks.push((value) => !isObject(value) || required.every((name) => Object.hasOwn(value, name)));
  }
  const properties = new Map<string, SchemaCheck>();
  if (node.properties !== undefined) {
    if (!isObject(node.properties)) throw new Unsupported('properties');
    for (const [name, schema] of Object.entries(node.properties)) properties.set(name, compile(schema, document, resolving));
  }
  const additional = node.additionalProperties === undefined ? undefined : compile(node.additionalProperties, document, resolving);
  if (properties.size > 0 || additional !== undefined) {
    checks.push((value) => {
      if (!isObject(value)) return true;
      for (const name of Object.keys(value)) {
        const check = properties.get(name) ?? additional;
        if (check !== undefined && !check(value[name])) return false;
      }
      return true;
    });
  }
  return checks;
}

/** `node`, or what its local `$ref` (`#/...`) points to in `document` (undefined when it does not resolve). */
export function resolveLocalRef(document: Record<string, unknown>, node: unknown): unknown {
  const ref = (node as { $ref?: unknown } | undefined)?.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return node;
  let current: unknown = document;
  for (const part of ref.slice(2).split('/')) current = (current as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return current;
}
