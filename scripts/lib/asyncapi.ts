/**
 * Reads specs/asyncapi.yaml with @asyncapi/parser and extracts what codegen needs: the event
 * catalog (messages carrying `x-specstream-event-type`), the Envelope schema, and the SSE and
 * WebSocket frame messages.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Parser, type Diagnostic } from '@asyncapi/parser';
import type { JsonSchema } from './json-schema.js';
import { stripParserIds } from './json-schema.js';

/** One event type of the catalog. */
export interface CatalogMessage {
  type: string;
  title: string;
  summary: string;
  description?: string;
  deprecated: boolean;
  /** The payload schema as the parser returns it (refs inlined, `x-parser-schema-id` kept for naming). */
  payload: JsonSchema;
  /** The first example's payload. */
  example: Record<string, unknown>;
}

/** A message of a stream channel (`sseStream` or `wsStream`). */
export interface FrameMessage {
  /** The message's key in the channel, e.g. `wsEvent`. */
  id: string;
  title?: string;
  summary?: string;
  payload: JsonSchema;
  /** `x-specstream-sse`, for SSE messages. */
  sse?: { field: 'data' | 'comment' | 'retry'; event?: string; id?: 'required' | 'none' };
}

export interface AsyncApiModel {
  catalog: CatalogMessage[];
  envelope: JsonSchema;
  /** Component schemas by name, as the parser returns them. */
  componentSchemas: Map<string, JsonSchema>;
  sse: FrameMessage[];
  ws: FrameMessage[];
}

const SEVERITY = ['error', 'warning', 'info', 'hint'] as const;

/** One line per diagnostic: `file:line:col severity code message (path)`. */
export function formatDiagnostic(file: string, diagnostic: Diagnostic): string {
  const start = diagnostic.range.start;
  const severity = SEVERITY[diagnostic.severity] ?? String(diagnostic.severity);
  const where = diagnostic.path.length > 0 ? ` at ${diagnostic.path.join('.')}` : '';
  return `${file}:${start.line + 1}:${start.character + 1} ${severity} ${String(diagnostic.code)} ${diagnostic.message}${where}`;
}

/** Parses an AsyncAPI file; `document` is undefined when it has errors. */
export async function parseAsyncApi(file: string) {
  const source = resolve(file);
  const text = await readFile(source, 'utf8');
  const parser = new Parser();
  return parser.parse(text, { source });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Parses and extracts the codegen model; throws with the diagnostics on any error. */
export async function loadAsyncApi(file: string): Promise<AsyncApiModel> {
  const { document, diagnostics } = await parseAsyncApi(file);
  const errors = diagnostics.filter((d) => d.severity === 0);
  if (!document || errors.length > 0) {
    throw new Error(`${file} has errors:\n${errors.map((d) => formatDiagnostic(file, d)).join('\n')}`);
  }

  const componentSchemas = new Map<string, JsonSchema>();
  for (const schema of document.components().schemas().all()) {
    componentSchemas.set(schema.id(), schema.json() as JsonSchema);
  }
  const envelope = componentSchemas.get('Envelope');
  if (!envelope) throw new Error(`${file}: components.schemas.Envelope is missing`);

  const catalog: CatalogMessage[] = [];
  const seen = new Set<string>();
  for (const message of document.messages().all()) {
    const extension = message.extensions().get('x-specstream-event-type');
    if (!extension) continue;
    const type = extension.value<unknown>();
    const where = `${file}: message ${message.id()}`;
    if (typeof type !== 'string') throw new Error(`${where}: x-specstream-event-type must be a string`);
    if (seen.has(type)) throw new Error(`${where}: event type ${type} is declared twice`);
    seen.add(type);
    const payload = message.payload()?.json();
    if (!isObject(payload) || payload.type !== 'object') throw new Error(`${where}: the payload must be an object schema`);
    const example = message.examples().all()[0]?.payload();
    if (!isObject(example)) throw new Error(`${where}: needs an example with an object payload`);
    const summary = message.summary();
    if (!summary) throw new Error(`${where}: needs a summary`);
    const raw = message.json() as Record<string, unknown>;
    catalog.push({
      type,
      title: message.title() ?? type,
      summary,
      ...(message.description() ? { description: message.description()! } : {}),
      deprecated: raw.deprecated === true,
      payload: payload as JsonSchema,
      example: stripParserIds(example),
    });
  }
  if (catalog.length === 0) throw new Error(`${file}: no message carries x-specstream-event-type`);
  catalog.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));

  const frames = (channelId: string): FrameMessage[] => {
    const channel = document.channels().get(channelId);
    if (!channel) throw new Error(`${file}: channel ${channelId} is missing`);
    return channel.messages().all().map((message) => {
      const payload = message.payload()?.json();
      if (!isObject(payload)) throw new Error(`${file}: message ${message.id()} has no payload schema`);
      const sse = message.extensions().get('x-specstream-sse')?.value<FrameMessage['sse']>();
      return {
        id: message.id(),
        ...(message.title() ? { title: message.title()! } : {}),
        ...(message.summary() ? { summary: message.summary()! } : {}),
        payload: payload as JsonSchema,
        ...(sse ? { sse } : {}),
      };
    });
  };

  return { catalog, envelope, componentSchemas, sse: frames('sseStream'), ws: frames('wsStream') };
}
