/**
 * Shared by the HTTP log-intake destinations (Datadog, Splunk HEC): splitting a batch into requests
 * within a vendor's limits, and remembering which events a sink already accepted so that a retry
 * after a partial failure does not post them twice.
 */
import type { SpecstreamEvent } from '../generated/events.js';

/** One event encoded for a sink, with the byte length of its encoding. */
export interface EncodedItem {
  event: SpecstreamEvent;
  /** The encoded entry (JSON text). */
  text: string;
  /** UTF-8 bytes of `text`. */
  bytes: number;
}

/** Encodes `value` as JSON and measures it in UTF-8 bytes. */
export function encodeItem(event: SpecstreamEvent, value: unknown): EncodedItem {
  const text = JSON.stringify(value);
  return { event, text, bytes: Buffer.byteLength(text, 'utf8') };
}

/** The limits of one request. */
export interface RequestLimits {
  /** Most items per request. */
  maxItems: number;
  /** Most bytes per request, counting `framingBytes(n)` for a request of `n` items. */
  maxBytes: number;
  /** Bytes a request of `n` items adds around them (brackets, separators). */
  framingBytes: (n: number) => number;
}

/**
 * Splits items, in order, into consecutive groups within `limits`, filling each group as far as it
 * goes. An item too large for a request even alone gets a group of its own (the caller decides
 * beforehand whether such an item may be sent at all).
 */
export function splitIntoRequests<T extends { bytes: number }>(items: readonly T[], limits: RequestLimits): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = group.length + 1;
    if (group.length > 0 && (n > limits.maxItems || bytes + item.bytes + limits.framingBytes(n) > limits.maxBytes)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(item);
    bytes += item.bytes;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Ids of events the sink has accepted. A `send` that fails after some of its requests were accepted
 * is retried with the same events (or, after a permanent failure, with halves of them): the events
 * already accepted are then skipped, so that a log sink without de-duplication does not show them
 * twice. Bounded: the forwarder sends in log order and event ids increase in log order, so ids below
 * the first event of a send are never sent again by this process and are forgotten.
 */
export class AcceptedIds {
  readonly #ids = new Set<string>();
  /** A cap against callers that do not send in log order; past it the memory is cleared (which only risks a duplicate). */
  static readonly MAX = 100_000;

  /**
   * Forgets ids before the first of `events`, and gives the events not accepted yet, in order. An
   * event whose envelope carries no string `id` (a bundle may leave it to the SSE `id:` line) is
   * never taken as accepted: it may be posted twice, never skipped.
   */
  pending(events: readonly SpecstreamEvent[]): SpecstreamEvent[] {
    const first: unknown = events[0]?.id;
    if (typeof first === 'string') for (const id of this.#ids) if (id < first) this.#ids.delete(id);
    return events.filter((event) => typeof event.id !== 'string' || !this.#ids.has(event.id));
  }

  /** Records events the sink accepted (those with a string `id`). */
  add(events: Iterable<SpecstreamEvent>): void {
    for (const event of events) if (typeof event.id === 'string') this.#ids.add(event.id);
    if (this.#ids.size > AcceptedIds.MAX) this.#ids.clear();
  }

  /** Whether the sink accepted this event. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }
}

/** `value` when it is an integer >= 1; otherwise throws a RangeError naming `what`. */
export function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be an integer >= 1, got ${value}`);
  return value;
}

/** A message for a failure from fetch (network, DNS, timeout). */
export function describeFetchError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'request timed out';
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error && cause.message !== '' ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
