import { idUpperBoundAt } from './event-id.js';
import type { AppendOptions, AppendResult, NewEvent, ReadQuery, StoredEvent } from './store.js';

/**
 * Argument checks and envelope building shared by every Store backend. Misuse by the caller's code
 * is a TypeError/RangeError thrown in the caller's tick, before anything is queued.
 */

/** An append call, checked, with each event's `data` already serialized. */
export interface PreparedAppend {
  events: readonly NewEvent[];
  /** `JSON.stringify(event.data)` for each event, in order. */
  payloads: string[];
  key: string | undefined;
  fingerprint: string | undefined;
}

/** One `append` call waiting for the backend's next group commit. */
export interface PendingAppend extends PreparedAppend {
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** Checks an append's arguments and serializes the payloads. */
export function prepareAppend(events: readonly NewEvent[], options: AppendOptions): PreparedAppend {
  if (!Array.isArray(events)) throw new TypeError('append: events must be an array');
  const { idempotencyKey: key, fingerprint } = options;
  if (key !== undefined && (typeof key !== 'string' || typeof fingerprint !== 'string')) {
    throw new TypeError('append: idempotencyKey must be a string and requires a fingerprint');
  }
  const payloads = events.map((event, i) => {
    if (typeof event?.type !== 'string' || typeof event.source !== 'string') {
      throw new TypeError(`append: events[${i}] needs string type and source`);
    }
    if (event.subject != null && typeof event.subject !== 'string') {
      throw new TypeError(`append: events[${i}].subject must be a string`);
    }
    if (typeof event.data !== 'object' || event.data === null || Array.isArray(event.data)) {
      throw new TypeError(`append: events[${i}].data must be a JSON object`);
    }
    return JSON.stringify(event.data);
  });
  return { events, payloads, key, fingerprint: key === undefined ? undefined : fingerprint };
}

/** Milliseconds of a read bound; RangeError for an invalid Date. */
export function checkedTime(date: Date, name: string): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new RangeError(`read: ${name} must be a valid Date`);
  return ms;
}

/** A retention limit: undefined means 0 (off); RangeError when negative or not finite. */
export function checkedLimit(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`applyRetention: ${name} must be a non-negative number, got ${String(value)}`);
  }
  return value;
}

/** A positive numeric option, or `fallback` when undefined; RangeError naming `owner` otherwise. */
export function positiveOption(value: number | undefined, fallback: number, name: string, owner: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${owner}: ${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

/** The CloudEvents envelope, keys in the documented order; `subject` only when present. */
export function envelope(
  id: string,
  type: string,
  source: string,
  subject: string | null,
  time: string,
  data: Record<string, unknown>,
): StoredEvent {
  return subject === null
    ? { specversion: '1.0', id, type, source, time, datacontenttype: 'application/json', data }
    : { specversion: '1.0', id, type, source, subject, time, datacontenttype: 'application/json', data };
}

/** Below every id. */
export const NO_LOWER_BOUND = '';
/** Above every id (`~` sorts after the ULID alphabet). */
export const NO_UPPER_BOUND = '~';

/** A `ReadQuery` as an id window and a type list; what every backend's range read needs. */
export interface ReadRange {
  /** Exclusive lower id bound. */
  lower: string;
  /** Inclusive upper id bound. */
  upper: string;
  /** Distinct types to include, or undefined for every type. Never empty. */
  types: string[] | undefined;
  limit: number;
}

/**
 * Checks a read query and turns its time bounds into id bounds (the later lower bound and the
 * earlier upper bound win). Undefined when nothing can match: an empty window or `types: []`.
 */
export function readRange(query: ReadQuery): ReadRange | undefined {
  const { limit } = query;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`read: limit must be a positive integer, got ${String(limit)}`);
  }
  let lower = query.afterId ?? NO_LOWER_BOUND;
  if (query.since !== undefined) {
    // `id >= idLowerBoundAt(t)` is `id > idUpperBoundAt(t - 1)` for well-formed ids.
    const since = checkedTime(query.since, 'since');
    const sinceBound = since <= 0 ? NO_LOWER_BOUND : idUpperBoundAt(since - 1);
    if (sinceBound > lower) lower = sinceBound;
  }
  let upper = query.untilId ?? NO_UPPER_BOUND;
  if (query.until !== undefined) {
    const untilBound = idUpperBoundAt(checkedTime(query.until, 'until'));
    if (untilBound < upper) upper = untilBound;
  }
  if (lower >= upper) return undefined;
  const types = query.types === undefined ? undefined : [...new Set(query.types)];
  if (types?.length === 0) return undefined;
  return { lower, upper, types, limit };
}
