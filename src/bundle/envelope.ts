/**
 * The bundle's envelope (`x-specstream-envelope`) compiled into a function from a stored event's
 * JSON text to the wire JSON text. The `cloudevents` preset is the stored form itself, so the
 * native bundle pays nothing; a field map parses the stored JSON once and builds the wire object.
 */
import type { EncodedEvent } from '../store/store.js';
import type { EnvelopeSpec } from './bundle.js';
import type { JsonObject } from './yaml-document.js';

/** Stored event JSON -> wire envelope JSON. */
export type EnvelopeEncoder = (event: EncodedEvent) => string;

/** Compiles the envelope of a bundle. */
export function compileEnvelope(spec: EnvelopeSpec): EnvelopeEncoder {
  if (spec.preset === 'cloudevents') return (event) => event.json;
  const { map } = spec;
  return (event) => JSON.stringify(map.build({ event: JSON.parse(event.json) as JsonObject }));
}

/** The wire envelope of a stored event, as an object (for REST bodies). */
export function envelopeObject(spec: EnvelopeSpec, stored: JsonObject): JsonObject {
  return spec.preset === 'cloudevents' ? stored : spec.map.build({ event: stored });
}

/**
 * Where the wire envelope carries the event's id and type (for clients: resume and routing), as
 * top-level property names, or undefined when it does not carry them (e.g. `{type, data}` has
 * no id: resume then relies on SSE `id:` lines).
 */
export function envelopeKeys(spec: EnvelopeSpec): { id?: string; type?: string; time?: string; data?: string } {
  if (spec.preset === 'cloudevents') return { id: 'id', type: 'type', time: 'time', data: 'data' };
  const keys: { id?: string; type?: string; time?: string; data?: string } = {};
  for (const [key, expression] of spec.map.expressions) {
    if (expression === '$event.id') keys.id ??= key;
    else if (expression === '$event.type') keys.type ??= key;
    else if (expression === '$event.time') keys.time ??= key;
    else if (expression === '$event.data') keys.data ??= key;
  }
  return keys;
}
