/**
 * Static checks of the five example bundles, with no server: each parses as AsyncAPI 3.0 without
 * errors, every message example validates against its payload schema, every catalog example wrapped
 * in the bundle's envelope validates against each stream's event frame, every operation names a
 * role of docs/bundles.md, request examples match their schemas, and `specstream.yaml` holds only
 * known options.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAsyncApi } from '../../scripts/lib/asyncapi.js';
import { loadConfig } from '../../src/config/load-config.js';
import { ajv, applyEnvelope, BUNDLE_NAMES, deref, keyOf, loadBundle, readEnvelope, type Bundle, type Json } from './helpers/bundle.js';

const ROLES = new Set([
  'publish',
  'list',
  'get-event',
  'stream-sse',
  'stream-ws',
  'check-stream',
  'catalog',
  'health',
  'readiness',
  'metrics',
  'spec',
  'docs',
  'docs-page',
  'console',
  'console-asset',
]);

const SSE_FRAME_ROLES = new Set(['event', 'retry', 'position', 'heartbeat', 'dropped-notice', 'dropped', 'error']);
const WS_FRAME_ROLES = new Set(['event', 'position', 'status', 'end', 'dropped', 'error']);

const STORED = { id: 'evt_01KAW3M2Q8V6R9T1X4Y7Z0B2C5', time: '2026-11-29T12:00:00.000Z', source: '/x' };

describe.each(BUNDLE_NAMES.map((name) => [name]))('examples/%s', (name) => {
  let bundle: Bundle;
  beforeAll(() => {
    bundle = loadBundle(name);
  });

  it('parses as AsyncAPI 3.0 with no error diagnostics', async () => {
    const { document, diagnostics } = await parseAsyncApi(join(bundle.dir, 'asyncapi.yaml'));
    const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0).map((diagnostic) => diagnostic.message);
    expect(errors).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
  }, 30_000);

  it('gives every catalog type a payload schema and examples that validate against it', () => {
    expect(bundle.catalog.size).toBeGreaterThan(0);
    for (const entry of bundle.catalog.values()) {
      expect(entry.examples.length, `${entry.type} has no example`).toBeGreaterThan(0);
      for (const example of entry.examples) {
        expect(entry.validate(example), `${entry.type}: ${ajv.errorsText(entry.validate.errors)}`).toBe(true);
      }
    }
  });

  it('validates every message example of every channel against its payload', () => {
    const messages = (bundle.asyncapi.components as Json).messages as Json;
    for (const [key, raw] of Object.entries(messages)) {
      const message = deref(raw, bundle.asyncapi) as Json;
      if (!message.payload) continue;
      const check = ajv.compile(message.payload as Json);
      for (const example of (message.examples ?? []) as Json[]) {
        expect(check(example.payload), `${key}: ${ajv.errorsText(check.errors)}`).toBe(true);
      }
    }
  });

  it('declares each stream frame with a known role, and every catalog example as an event frame of each stream', () => {
    expect(bundle.channels.length).toBeGreaterThan(0);
    for (const channel of bundle.channels) {
      const roles = channel.transport === 'sse' ? SSE_FRAME_ROLES : WS_FRAME_ROLES;
      for (const frame of channel.frames) expect(roles, `${channel.key}.${frame.key}`).toContain(frame.role);
      const events = channel.frames.filter((frame) => frame.role === 'event');
      expect(events.length).toBeGreaterThan(0);
      for (const entry of bundle.catalog.values()) {
        const frame = events.find((f) => (f.options.types as string[] | undefined)?.includes(entry.type)) ?? events.find((f) => f.options.types === undefined);
        expect(frame, `${channel.key}: no event frame carries ${entry.type}`).toBeDefined();
        const envelope = applyEnvelope(bundle.envelope, { ...STORED, type: entry.type, data: entry.examples[0]! });
        const at = typeof frame!.options.at === 'string' ? (frame!.options.at as string) : '';
        const wire = at === '' ? envelope : wrap(frame!.schema!, at, envelope);
        expect(frame!.validate!(wire), `${channel.key}.${frame!.key} ${entry.type}: ${ajv.errorsText(frame!.validate!.errors)}`).toBe(true);
        expect(readEnvelope(bundle.envelope, envelope).data).toEqual(entry.examples[0]);
      }
    }
  });

  it('keeps the spread envelope apart from the payload: no payload declares a key the envelope names', () => {
    if (bundle.envelope['...'] === undefined) return;
    const named = Object.keys(bundle.envelope).filter((key) => key !== '...');
    for (const entry of bundle.catalog.values()) {
      const properties = Object.keys((entry.schema.properties ?? {}) as Json);
      expect(properties.filter((key) => named.includes(key)), entry.type).toEqual([]);
    }
  });

  it('gives every operation a role of docs/bundles.md, including publish, health, readiness and spec', () => {
    for (const operation of bundle.operations) expect(ROLES, `${operation.method} ${operation.path}`).toContain(operation.role);
    for (const role of ['publish', 'health', 'readiness', 'spec']) {
      expect(bundle.operations.filter((op) => op.role === role), role).toHaveLength(1);
    }
    const publish = bundle.operations.find((op) => op.role === 'publish')!;
    expect(String(publish.operation.description)).toContain('Specstream addition');
  });

  it('validates the request and response examples of the OpenAPI document', () => {
    let checked = 0;
    for (const operation of bundle.operations) {
      const body = deref(operation.operation.requestBody, bundle.openapi) as Json | undefined;
      const media = (body?.content as Json | undefined)?.['application/json'] as Json | undefined;
      if (media?.examples) {
        const check = ajv.compile(media.schema as Json);
        for (const [key, example] of Object.entries(media.examples as Json)) {
          expect(check((example as Json).value), `${operation.operationId} ${key}: ${ajv.errorsText(check.errors)}`).toBe(true);
          checked++;
        }
      }
      for (const [status, raw] of Object.entries((operation.operation.responses ?? {}) as Json)) {
        const response = deref(raw, bundle.openapi) as Json;
        const json = (response.content as Json | undefined)?.['application/json'] as Json | undefined;
        if (json?.example !== undefined) {
          const check = ajv.compile(json.schema as Json);
          expect(check(json.example), `${operation.operationId} ${status}: ${ajv.errorsText(check.errors)}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('publishes each catalog example through the publish schema', () => {
    const publish = bundle.operations.find((op) => op.role === 'publish')!;
    const body = deref(publish.operation.requestBody, bundle.openapi) as Json;
    const check = ajv.compile(((body.content as Json)['application/json'] as Json).schema as Json);
    for (const entry of bundle.catalog.values()) {
      expect(check({ type: entry.type, data: entry.examples[0] }), `${entry.type}: ${ajv.errorsText(check.errors)}`).toBe(true);
    }
  });

  it('holds only known configuration options in specstream.yaml', () => {
    expect(() => loadConfig({ argv: ['--config', join(bundle.dir, 'specstream.yaml')], env: {}, cwd: bundle.dir })).not.toThrow();
    expect(Object.keys(bundle.config).length).toBeGreaterThan(0);
  });

  it('names the event id in the envelope or sends it as the SSE id: line, so every client can resume', () => {
    const idKey = keyOf(bundle.envelope, '$event.id');
    for (const channel of bundle.channels) {
      if (channel.transport === 'sse') expect(channel.sse!.id || idKey !== undefined, channel.key).toBe(true);
    }
  });
});

/** Builds a wrapper frame from its payload schema: `const` properties as they are, the envelope at `at`. */
function wrap(schema: Json, at: string, envelope: Json): Json {
  const out: Json = {};
  for (const [key, property] of Object.entries((schema.properties ?? {}) as Json)) {
    const constant = (property as Json).const;
    if (constant !== undefined) out[key] = constant;
  }
  const key = at.replace(/^\//, '');
  out[key] = envelope;
  return out;
}
