/**
 * Reads a bundle's event catalog for codegen from its AsyncAPI document, with @asyncapi/parser
 * (refs inlined, shared component schemas named): the messages of `components.messages` carrying
 * `x-specstream-event-type`, as the server's loader (src/bundle/load-bundle.ts) reads them. Unlike
 * the native reader (asyncapi.ts, `loadAsyncApi`) it needs no Envelope schema and no particular
 * channel ids, and it reports every problem with its JSON Pointer instead of stopping at the first.
 * It checks what codegen needs beyond the loader's checks: a payload schema and at least one
 * example per type.
 */
import type { Diagnostic } from '@asyncapi/parser';
import type { CatalogMessage } from './asyncapi.js';
import { parseAsyncApi } from './asyncapi.js';
import { pointerTo, type BundleProblem } from '../../src/bundle/bundle-error.js';
import { stripParserIds, type JsonSchema } from './json-schema.js';

/** A catalog message and where it is declared. */
export interface BundleCatalogMessage extends CatalogMessage {
  /** JSON Pointer of the message in the AsyncAPI document, e.g. `/components/messages/RealmCreated`. */
  pointer: string;
  /** Every example's payload (the catalog shows the first; codegen validates them all). */
  examples: Array<Record<string, unknown>>;
}

/** What bundle codegen needs from the AsyncAPI document. */
export interface BundleCatalog {
  /** Sorted by type (code unit order). */
  catalog: BundleCatalogMessage[];
  /** `components.schemas` as the parser returns them (refs inlined, `x-parser-schema-id` kept). */
  componentSchemas: Map<string, JsonSchema>;
}

/** `^[A-Za-z][A-Za-z0-9_.\-]*$`: the free-form event type names of the catalog (docs/bundles.md). */
export const EVENT_TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.\-]*$/;

/** An RFC 6901 pointer from its tokens. */
export function pointerOf(tokens: ReadonlyArray<string | number>): string {
  return pointerTo('', ...tokens);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function diagnosticProblem(file: string, diagnostic: Diagnostic): BundleProblem {
  const line = diagnostic.range.start.line + 1;
  return { file, pointer: pointerOf(diagnostic.path), message: `${diagnostic.message} (line ${line}, AsyncAPI 3.0 schema)` };
}

/**
 * The catalog candidates: every message of `components.messages`. A message declared inline in a
 * channel (not a `$ref` to components) that carries `x-specstream-event-type` is reported, since
 * the server reads the catalog from `components.messages` only.
 */
function messagesOf(
  document: Record<string, unknown>,
  report: (path: Array<string | number>, message: string) => void,
): Array<{ message: Record<string, unknown>; path: Array<string | number> }> {
  const found: Array<{ message: Record<string, unknown>; path: Array<string | number> }> = [];
  const components = new Set<unknown>();
  const messages = isObject(document.components) && isObject(document.components.messages) ? document.components.messages : {};
  for (const [key, message] of Object.entries(messages)) {
    if (!isObject(message)) continue;
    components.add(message);
    found.push({ message, path: ['components', 'messages', key] });
  }
  const channels = isObject(document.channels) ? document.channels : {};
  for (const [id, channel] of Object.entries(channels)) {
    const inChannel = isObject(channel) && isObject(channel.messages) ? channel.messages : {};
    for (const [key, message] of Object.entries(inChannel)) {
      // The parser inlines a channel's $ref, so a referenced component message is the same object.
      if (!isObject(message) || components.has(message) || message['x-specstream-event-type'] === undefined) continue;
      report(
        ['channels', id, 'messages', key, 'x-specstream-event-type'],
        'a catalog message declared inside a channel is not read; declare it in components.messages and $ref it from the channel',
      );
    }
  }
  return found;
}

/** The payload's JSON Schema, unwrapping AsyncAPI's multi-format `{schemaFormat, schema}`. */
function payloadOf(message: Record<string, unknown>): { schema: unknown; tokens: string[] } {
  const payload = message.payload;
  if (isObject(payload) && typeof payload.schemaFormat === 'string' && payload.schema !== undefined) {
    return { schema: payload.schema, tokens: ['payload', 'schema'] };
  }
  return { schema: payload, tokens: ['payload'] };
}

/**
 * Parses `asyncapiPath` (shown as `file` in problems) and reads the catalog. Resolves with the
 * problems found (the catalog is undefined when the document does not parse). The
 * `x-specstream-event-type` values themselves are checked by the loader; a message whose value is
 * not a valid name is left out here so that it is reported once.
 */
export async function readBundleCatalog(asyncapiPath: string, file: string): Promise<{ catalog?: BundleCatalog; problems: BundleProblem[] }> {
  const { document, diagnostics } = await parseAsyncApi(asyncapiPath);
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
  if (!document || errors.length > 0) return { problems: errors.map((diagnostic) => diagnosticProblem(file, diagnostic)) };

  const problems: BundleProblem[] = [];
  const report = (path: Array<string | number>, message: string) => problems.push({ file, pointer: pointerOf(path), message });
  const resolved = document.json() as unknown as Record<string, unknown>;
  const componentSchemas = new Map<string, JsonSchema>();
  const schemas = isObject(resolved.components) ? resolved.components.schemas : undefined;
  if (isObject(schemas)) for (const [id, schema] of Object.entries(schemas)) if (isObject(schema)) componentSchemas.set(id, schema);

  const catalog: BundleCatalogMessage[] = [];
  const declaredAt = new Map<string, string>();
  for (const { message, path } of messagesOf(resolved, report)) {
    const type = message['x-specstream-event-type'];
    if (typeof type !== 'string' || !EVENT_TYPE_NAME.test(type)) continue;
    const pointer = pointerOf(path);
    const earlier = declaredAt.get(type);
    if (earlier !== undefined) {
      report([...path, 'x-specstream-event-type'], `event type ${JSON.stringify(type)} is already declared by #${earlier}; expected each type once`);
      continue;
    }
    declaredAt.set(type, pointer);

    const { schema: payload, tokens } = payloadOf(message);
    let ok = true;
    if (payload === undefined) {
      report([...path, 'payload'], "no payload schema; expected the JSON Schema of the event's data (type: object)");
      ok = false;
    } else if (!isObject(payload) || payload.type !== 'object') {
      report([...path, ...tokens], 'the payload schema is not an object schema; expected type: object (an event\'s data is a JSON object)');
      ok = false;
    }
    const examples = Array.isArray(message.examples) ? message.examples : [];
    if (examples.length === 0) {
      report([...path, 'examples'], 'no example; expected at least one example whose payload is a valid data object');
      ok = false;
    }
    const payloads: Array<Record<string, unknown>> = [];
    examples.forEach((example, index) => {
      const value = isObject(example) ? example.payload : undefined;
      if (!isObject(value)) {
        report([...path, 'examples', index, 'payload'], 'expected an example payload: a data object');
        ok = false;
      } else {
        payloads.push(stripParserIds(value));
      }
    });
    if (!ok) continue;

    const title = typeof message.title === 'string' ? message.title : type;
    catalog.push({
      type,
      title,
      summary: typeof message.summary === 'string' ? message.summary : title,
      ...(typeof message.description === 'string' ? { description: message.description } : {}),
      deprecated: message.deprecated === true,
      payload: payload as JsonSchema,
      example: payloads[0]!,
      examples: payloads,
      pointer,
    });
  }
  if (catalog.length === 0 && problems.length === 0) {
    report(['components', 'messages'], 'no message carries x-specstream-event-type; expected a catalog of at least one event type');
  }
  catalog.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  return { catalog: { catalog, componentSchemas }, problems };
}
