/**
 * Events as a stream sends them, whatever the bundle: the envelope object of the bundle's
 * `x-specstream-envelope` (docs/bundles.md), parsed from JSON and passed to destinations unchanged.
 * The native bundle's envelope is the CloudEvents one (`SpecstreamEvent`); examples/grant-events'
 * is `{id, type, createdAt, data}` ({@link GrantexEvent}).
 */

/**
 * An event as the stream sent it: the bundle's envelope object. `Envelope` types its members; by
 * default any JSON object (the SDK's `WireEvent`), since what an envelope carries is the bundle's
 * choice (examples/audit-log's `{type, data}` has no id: the id is the SSE `id:` line).
 */
export type WireEvent<Envelope extends object = Record<string, unknown>> = Envelope;

/**
 * The event of `@grantex/destinations` (the Grantex "Event Streaming" page, examples/grant-events):
 * `{id, type, createdAt, data}`, `id` the event id (`evt_` and a ULID, increasing in log order),
 * `createdAt` an RFC 3339 time (UTC, milliseconds), `data` the payload of `type`. An alias of
 * {@link WireEvent}: what an EventSource reading examples/grant-events passes to its destinations.
 */
export type GrantexEvent = WireEvent<{ id: string; type: string; createdAt: string; data: Record<string, unknown> }>;

/**
 * The top-level envelope keys that hold an event's id, type, time and data (a bundle's wire profile
 * `envelope`); a key is absent when the envelope does not carry that field.
 */
export interface EnvelopeKeys {
  id?: string;
  type?: string;
  time?: string;
  data?: string;
}

/** The native (CloudEvents) envelope's keys: what destinations assume until told otherwise. */
export const NATIVE_ENVELOPE_KEYS: Readonly<Required<EnvelopeKeys>> = Object.freeze({ id: 'id', type: 'type', time: 'time', data: 'data' });

/** The event's time (the envelope member `keys.time` names) when it is a string; undefined otherwise. */
export function eventTime(event: object, keys: EnvelopeKeys = NATIVE_ENVELOPE_KEYS): string | undefined {
  if (keys.time === undefined) return undefined;
  const value = (event as Record<string, unknown>)[keys.time];
  return typeof value === 'string' ? value : undefined;
}

/** The event's data (the envelope member `keys.data` names); undefined when the envelope carries none. */
export function eventData(event: object, keys: EnvelopeKeys = NATIVE_ENVELOPE_KEYS): unknown {
  return keys.data === undefined ? undefined : (event as Record<string, unknown>)[keys.data];
}
