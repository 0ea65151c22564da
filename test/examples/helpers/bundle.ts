/**
 * Reads an example bundle (`examples/<name>/openapi.yaml`, `asyncapi.yaml`) independently of the
 * engine, as docs/bundles.md describes it: the catalog (messages with `x-specstream-event-type`), the
 * envelope field map (`x-specstream-envelope`), the stream channels (`x-specstream-sse` /
 * `x-specstream-ws`) with their frame messages (`x-specstream-frame`), and the operations by role
 * (`x-specstream-operation`). Local `$ref`s are resolved; schemas are compiled with ajv.
 *
 * This is the tests' own reading of the vocabulary, kept apart from the engine's loader on purpose: a
 * frame the engine writes is checked against what the bundle's documents say, not against the
 * engine's understanding of them.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

/** Parsed YAML: plain JSON data. */
export type Json = Record<string, unknown>;

/** The repository root. */
export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** The five example bundles of issue 11. */
export const BUNDLE_NAMES = ['audit-log', 'grant-events', 'admin-actions', 'siem-live-tail', 'global-events'] as const;
export type BundleName = (typeof BUNDLE_NAMES)[number];

/** The absolute folder of an example bundle. */
export function bundleDir(name: BundleName): string {
  return join(ROOT, 'examples', name);
}

/** One catalog type. */
export interface CatalogType {
  type: string;
  /** The message key in components.messages. */
  message: string;
  /** The JSON Schema of `data`. */
  schema: Json;
  validate: ValidateFunction;
  /** The payloads of the message's `examples`. */
  examples: Json[];
}

/** `x-specstream-frame` of a stream message, with the message's payload. */
export interface FrameMessage {
  /** The message's key in its channel. */
  key: string;
  role: string;
  /** The rest of `x-specstream-frame` (`form`, `at`, `types`, `fields`, ...). */
  options: Json;
  /** The payload schema, or undefined for a frame without a payload (an `id-only` position). */
  schema: Json | undefined;
  validate: ValidateFunction | undefined;
}

/** A channel whose address is a stream operation's path. */
export interface StreamChannel {
  key: string;
  address: string;
  transport: 'sse' | 'ws';
  /** `x-specstream-sse` with its defaults (`event: type`, `id: true`); undefined for WebSocket. */
  sse: { event: 'type' | 'none'; id: boolean } | undefined;
  frames: FrameMessage[];
}

/** An OpenAPI operation with its role. */
export interface BundleOperation {
  method: string;
  path: string;
  operationId: string;
  role: string;
  /** `types` of an object-form `x-specstream-operation`. */
  types: string[] | undefined;
  operation: Json;
}

/** An expression of a field map: `$event.type`, a `{const}`, or (key `'...'`) the spread. */
export type FieldMap = Record<string, string | { const: unknown }>;

/** An example bundle, read. */
export interface Bundle {
  name: string;
  dir: string;
  openapi: Json;
  asyncapi: Json;
  catalog: Map<string, CatalogType>;
  envelope: FieldMap;
  channels: StreamChannel[];
  operations: BundleOperation[];
  /** The `specstream.yaml` defaults ({} when absent). */
  config: Json;
}

/** ajv (JSON Schema 2020-12, OpenAPI 3.1's dialect) with formats; the AsyncAPI payloads here use only keywords draft-07 and 2020-12 share. */
export const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);

/** Resolves local `$ref`s recursively (the example documents have no cycles). */
export function deref(node: unknown, document: Json): unknown {
  if (Array.isArray(node)) return node.map((item) => deref(item, document));
  if (node === null || typeof node !== 'object') return node;
  const ref = (node as Json).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((at, key) => (at as Json | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], document);
    if (target === undefined) throw new Error(`unresolved $ref ${ref}`);
    return deref(target, document);
  }
  return Object.fromEntries(Object.entries(node as Json).map(([key, value]) => [key, deref(value, document)]));
}

function compile(schema: Json, where: string): ValidateFunction {
  try {
    return ajv.compile(schema);
  } catch (error) {
    throw new Error(`${where}: the schema does not compile: ${(error as Error).message}`);
  }
}

const cache = new Map<string, Bundle>();

/** Reads and caches a bundle. */
export function loadBundle(name: BundleName): Bundle {
  const cached = cache.get(name);
  if (cached) return cached;
  const dir = bundleDir(name);
  const openapi = parseYaml(readFileSync(join(dir, 'openapi.yaml'), 'utf8')) as Json;
  const asyncapi = parseYaml(readFileSync(join(dir, 'asyncapi.yaml'), 'utf8')) as Json;
  let config: Json = {};
  try {
    config = (parseYaml(readFileSync(join(dir, 'specstream.yaml'), 'utf8')) as Json | null) ?? {};
  } catch {
    config = {};
  }

  const catalog = new Map<string, CatalogType>();
  const messages = ((asyncapi.components as Json).messages ?? {}) as Json;
  for (const [key, raw] of Object.entries(messages)) {
    const message = deref(raw, asyncapi) as Json;
    const type = message['x-specstream-event-type'];
    if (typeof type !== 'string') continue;
    const schema = message.payload as Json;
    const examples = ((message.examples ?? []) as Json[]).map((example) => example.payload as Json);
    catalog.set(type, { type, message: key, schema, validate: compile(schema, `${name} ${key}`), examples });
  }

  const envelopeSpec = asyncapi['x-specstream-envelope'] as { fields?: FieldMap } | string | undefined;
  if (envelopeSpec === undefined || typeof envelopeSpec === 'string' || !envelopeSpec.fields) {
    throw new Error(`${name}: the example bundles all declare x-specstream-envelope.fields`);
  }

  const operations: BundleOperation[] = [];
  for (const [path, item] of Object.entries(openapi.paths as Json)) {
    for (const [method, raw] of Object.entries(item as Json)) {
      const operation = raw as Json;
      const spec = operation['x-specstream-operation'] as string | { role: string; types?: string[] } | undefined;
      if (spec === undefined) throw new Error(`${name}: ${method.toUpperCase()} ${path} has no x-specstream-operation`);
      const role = typeof spec === 'string' ? spec : spec.role;
      const types = typeof spec === 'string' ? undefined : spec.types;
      operations.push({ method, path, operationId: String(operation.operationId), role, types, operation });
    }
  }
  const streamPaths = new Map(operations.filter((op) => op.role === 'stream-sse' || op.role === 'stream-ws').map((op) => [op.path, op.role]));

  const channels: StreamChannel[] = [];
  for (const [key, raw] of Object.entries(asyncapi.channels as Json)) {
    const channel = raw as Json;
    const address = String(channel.address);
    const role = streamPaths.get(address);
    if (role === undefined) continue;
    const transport = role === 'stream-sse' ? 'sse' : 'ws';
    const sseSpec = channel['x-specstream-sse'] as { event?: 'type' | 'none'; id?: boolean } | undefined;
    if (transport === 'sse' && sseSpec === undefined) throw new Error(`${name}: channel ${key} (SSE) has no x-specstream-sse`);
    if (transport === 'ws' && channel['x-specstream-ws'] === undefined) throw new Error(`${name}: channel ${key} (WebSocket) has no x-specstream-ws`);
    const frames: FrameMessage[] = [];
    for (const [messageKey, rawMessage] of Object.entries((channel.messages ?? {}) as Json)) {
      const message = deref(rawMessage, asyncapi) as Json;
      const frame = message['x-specstream-frame'] as Json | undefined;
      if (!frame || typeof frame.role !== 'string') throw new Error(`${name}: ${key}.${messageKey} has no x-specstream-frame.role`);
      const { role: frameRole, ...options } = frame;
      const schema = message.payload as Json | undefined;
      frames.push({
        key: messageKey,
        role: frameRole as string,
        options,
        schema,
        validate: schema === undefined ? undefined : compile(schema, `${name} ${key}.${messageKey}`),
      });
    }
    channels.push({
      key,
      address,
      transport,
      sse: transport === 'sse' ? { event: sseSpec?.event ?? 'type', id: sseSpec?.id ?? true } : undefined,
      frames,
    });
  }

  const bundle: Bundle = { name, dir, openapi, asyncapi, catalog, envelope: envelopeSpec.fields, channels, operations, config };
  cache.set(name, bundle);
  return bundle;
}

/** The one operation of a role (and method), or an error naming what is missing. */
export function operationOf(bundle: Bundle, role: string, path?: string): BundleOperation {
  const found = bundle.operations.filter((op) => op.role === role && (path === undefined || op.path === path));
  if (found.length !== 1) throw new Error(`${bundle.name}: ${found.length} operations with role ${role}${path ? ` at ${path}` : ''}`);
  return found[0]!;
}

/** The stream channel of a path. */
export function channelOf(bundle: Bundle, address: string): StreamChannel {
  const channel = bundle.channels.find((c) => c.address === address);
  if (!channel) throw new Error(`${bundle.name}: no stream channel at ${address}`);
  return channel;
}

/** The wire key holding `$event.<field>` in a field map, if any. */
export function keyOf(map: FieldMap, expression: string): string | undefined {
  return Object.entries(map).find(([key, value]) => key !== '...' && value === expression)?.[0];
}

/**
 * The envelope a stored event becomes on the wire, per the field map (what a frame must equal).
 * `stored` holds the server's fields (`id`, `type`, `time`, ...) and `data`.
 */
export function applyEnvelope(map: FieldMap, stored: { id: string; type: string; time?: string; subject?: string; source?: string; data: Json }): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(map)) {
    if (typeof value === 'object') {
      out[key] = value.const;
      continue;
    }
    const field = value.replace(/^\$event\./, '') as keyof typeof stored;
    const resolved = stored[field];
    if (key === '...') Object.assign(out, resolved as Json);
    else if (resolved !== undefined) out[key] = resolved;
  }
  return out;
}

/**
 * Splits a wire envelope back into the stored fields the map exposes: `data` (the `$event.data` key,
 * or everything the spread left after the map's other keys), and `id`/`type`/`time` when the map
 * names them.
 */
export function readEnvelope(map: FieldMap, envelope: Json): { id?: string; type?: string; time?: string; data: Json } {
  const named = Object.keys(map).filter((key) => key !== '...');
  const field = (expression: string): unknown => {
    const key = keyOf(map, expression);
    return key === undefined ? undefined : envelope[key];
  };
  let data: Json;
  if (map['...'] === '$event.data') {
    data = Object.fromEntries(Object.entries(envelope).filter(([key]) => !named.includes(key)));
  } else {
    data = field('$event.data') as Json;
  }
  const id = field('$event.id');
  const type = field('$event.type');
  const time = field('$event.time');
  return {
    data,
    ...(typeof id === 'string' ? { id } : {}),
    ...(typeof type === 'string' ? { type } : {}),
    ...(typeof time === 'string' ? { time } : {}),
  };
}
