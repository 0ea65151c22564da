import { errors, type ErrorDetail, type SpecstreamError } from '../errors.js';
import { idUpperBoundAt } from './event-id.js';
import { findUnstorable, STORE_MAX_DEPTH } from './storable.js';
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
  /** The payloads' total length (UTF-16 code units): what group commits are sized by. */
  payloadLength: number;
  key: string | undefined;
  fingerprint: string | undefined;
}

/** One `append` call waiting for the backend's next group commit. Settles once; later calls are ignored. */
export interface PendingAppend extends PreparedAppend {
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
  /** True once resolved, rejected or expired: a backend leaves such a call out of its groups. */
  readonly settled: boolean;
  /**
   * Set by the backend when the call has gone where it cannot be taken back (PostgreSQL: the
   * group's COMMIT is sent; JetStream: its message is published). Its deadline then rejects
   * with STORE_TIMEOUT (outcome unknown) rather than STORE_UNAVAILABLE (nothing stored).
   */
  sent: boolean;
}

/**
 * Queues a prepared call: resolves or rejects once, through `PendingAppend.resolve/reject`. With a
 * `timeoutMs`, the call rejects when it has not settled by then: STORE_UNAVAILABLE ("nothing was
 * stored") while it is not `sent` — the backend must then leave it out of any commit — and
 * STORE_TIMEOUT (the events may have been stored) once it is.
 */
export function queueAppend(call: PreparedAppend, queue: PendingAppend[], timeoutMs?: number): Promise<AppendResult> {
  return new Promise<AppendResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const pending: PendingAppend = {
      ...call,
      settled: false,
      sent: false,
      resolve: (result) => {
        if (pending.settled) return;
        (pending as { settled: boolean }).settled = true;
        clearTimeout(timer);
        resolve(result);
      },
      reject: (error) => {
        if (pending.settled) return;
        (pending as { settled: boolean }).settled = true;
        clearTimeout(timer);
        reject(error);
      },
    };
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        pending.reject(
          pending.sent
            ? errors.storeTimeout(`The event store did not confirm within ${timeoutMs} ms; the events may have been stored: retry with the same Idempotency-Key`)
            : errors.storeUnavailable(`The event store did not answer within ${timeoutMs} ms; nothing was stored`),
        );
      }, timeoutMs);
      timer.unref();
    }
    queue.push(pending);
  });
}

/**
 * Settles like `operation` unless `timeoutMs` passes first; then rejects with `onTimeout()` (the
 * operation runs on, its outcome ignored). For reads and other calls without side effects to
 * take back.
 */
export function withDeadline<T>(operation: Promise<T>, timeoutMs: number, onTimeout: () => unknown): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    timer.unref();
  });
  return Promise.race([operation, deadline]).finally(() => clearTimeout(timer));
}

/** The STORE_UNAVAILABLE of a read or ping that passed its deadline. */
export function storeDidNotAnswer(timeoutMs: number): SpecstreamError {
  return errors.storeUnavailable(`The event store did not answer within ${timeoutMs} ms`);
}

/**
 * Removes from the front of `queue` the calls of the next group commit and returns them: at least
 * one call, then as many as keep the group within `maxEvents` events and `maxLength` payload
 * characters, so that no group becomes too large for one statement whatever the load.
 */
export function takeGroup(queue: PendingAppend[], maxEvents: number, maxLength: number): PendingAppend[] {
  let events = 0;
  let length = 0;
  let count = 0;
  // Calls that expired while queued are dropped (their promise is already settled).
  while (queue[0]?.settled) queue.shift();
  for (const call of queue) {
    if (call.settled) {
      count++;
      continue;
    }
    events += call.events.length;
    length += call.payloadLength;
    if (count > 0 && (events > maxEvents || length > maxLength)) break;
    count++;
  }
  return queue.splice(0, count).filter((call) => !call.settled);
}

/** What one append call may hold on a backend. */
export interface AppendLimits {
  /**
   * The largest stored form of one call, in bytes: its events' envelopes as UTF-8 JSON, joined by
   * newlines (JetStream stores a call as one message of that form). Undefined: no limit.
   */
  maxStoredBytes?: number;
}

/**
 * Checks an append's arguments and serializes the payloads.
 *
 * Misuse (wrong types) is a TypeError. Values the log cannot store (`src/store/storable.ts`:
 * U+0000 or a lone surrogate in any string or key, a `__proto__` key, data nested deeper than
 * STORE_MAX_DEPTH) reject with VALIDATION_FAILED, and a call whose stored form exceeds
 * `limits.maxStoredBytes` with PAYLOAD_TOO_LARGE (detail STORED_FORM_TOO_LARGE); details name the
 * event as `/<index>/<field>`. All of this happens before the call joins a group commit, so it
 * never affects another call.
 */
export function prepareAppend(events: readonly NewEvent[], options: AppendOptions, limits: AppendLimits = {}): PreparedAppend {
  if (!Array.isArray(events)) throw new TypeError('append: events must be an array');
  const { idempotencyKey: key, fingerprint } = options;
  if (key !== undefined && (typeof key !== 'string' || typeof fingerprint !== 'string')) {
    throw new TypeError('append: idempotencyKey must be a string and requires a fingerprint');
  }
  const problems: ErrorDetail[] = [];
  events.forEach((event, i) => {
    if (typeof event?.type !== 'string' || typeof event.source !== 'string') {
      throw new TypeError(`append: events[${i}] needs string type and source`);
    }
    if (event.subject != null && typeof event.subject !== 'string') {
      throw new TypeError(`append: events[${i}].subject must be a string`);
    }
    if (typeof event.data !== 'object' || event.data === null || Array.isArray(event.data)) {
      throw new TypeError(`append: events[${i}].data must be a JSON object`);
    }
    const { type, source, subject, data } = event;
    // The envelope fields as they are stored; the event object is level 1, `data` level 2.
    problems.push(...findUnstorable({ type, source, ...(subject != null ? { subject } : {}), data }, STORE_MAX_DEPTH, `/${i}`));
  });
  if (problems.length > 0) throw errors.validationFailed('The events contain values the store does not accept', problems.slice(0, 20));
  let payloadLength = 0;
  const payloads = events.map((event) => {
    const payload = JSON.stringify(event.data);
    payloadLength += payload.length;
    return payload;
  });
  if (limits.maxStoredBytes !== undefined) checkStoredSize(events, payloads, limits.maxStoredBytes);
  return { events, payloads, payloadLength, key, fingerprint: key === undefined ? undefined : fingerprint };
}

/**
 * The error of one call that the backend itself refused on its own (a constraint, a trigger, a
 * data exception), once it is retried alone: 400 VALIDATION_FAILED with the detail
 * REFUSED_BY_STORE, the backend's error kept as `cause` for the log. Not STORE_UNAVAILABLE: a
 * retry would fail the same way.
 */
export function refusedByStore(cause: unknown): SpecstreamError {
  return errors.validationFailed('The event store refused these events', [
    { path: '', code: 'REFUSED_BY_STORE', message: 'the event store refused to store them; the server log has the reason' },
  ], { cause });
}

/** The error of one call whose stored form the backend found too large: 413 PAYLOAD_TOO_LARGE, STORED_FORM_TOO_LARGE. */
export function storedFormTooLarge(cause: unknown): SpecstreamError {
  return errors.payloadTooLarge('The events are too large for this store once stored', [
    { path: '', code: 'STORED_FORM_TOO_LARGE', message: 'are too large for the event store once stored (with ids, times and envelopes): send fewer or smaller events' },
  ], { cause });
}

/** `{"specversion":"1.0","id":"evt_<26>","time":"<24>","datacontenttype":"application/json","data":}` and the member names. */
const ENVELOPE_FIXED_BYTES = Buffer.byteLength(
  envelopeJson('evt_00000000000000000000000000', '', '', null, '2026-01-01T00:00:00.000Z', ''),
) - 2 * 2;

/** The exact UTF-8 size of an event's stored envelope (`envelopeJson`), whatever its id and time. */
export function storedEnvelopeBytes(event: NewEvent, payload: string): number {
  return (
    ENVELOPE_FIXED_BYTES +
    Buffer.byteLength(JSON.stringify(event.type)) +
    Buffer.byteLength(JSON.stringify(event.source)) +
    (event.subject != null ? Buffer.byteLength(`,"subject":${JSON.stringify(event.subject)}`) : 0) +
    Buffer.byteLength(payload)
  );
}

function checkStoredSize(events: readonly NewEvent[], payloads: readonly string[], max: number): void {
  let total = Math.max(0, events.length - 1); // the newlines between envelopes
  for (let i = 0; i < events.length; i++) {
    const bytes = storedEnvelopeBytes(events[i]!, payloads[i]!);
    if (bytes > max) {
      throw errors.payloadTooLarge('An event is too large for this store once stored', [
        { path: `/${i}`, code: 'STORED_FORM_TOO_LARGE', message: `is ${bytes} bytes once stored (with its id, time and envelope); this store takes at most ${max} per request` },
      ]);
    }
    total += bytes;
  }
  if (total > max) {
    throw errors.payloadTooLarge('The events are too large for this store once stored', [
      { path: '', code: 'STORED_FORM_TOO_LARGE', message: `are ${total} bytes once stored (with ids, times and envelopes); this store takes at most ${max} per request: send fewer events per request` },
    ]);
  }
}

/**
 * The envelope's JSON text, exactly `JSON.stringify(envelope(...))` with `data` given as its JSON
 * text (`payload`), keys in the documented order; `subject` only when present.
 */
export function envelopeJson(id: string, type: string, source: string, subject: string | null, time: string, payload: string): string {
  return (
    `{"specversion":"1.0","id":"${id}","type":${JSON.stringify(type)},"source":${JSON.stringify(source)}` +
    `${subject === null ? '' : `,"subject":${JSON.stringify(subject)}`},"time":"${time}","datacontenttype":"application/json","data":${payload}}`
  );
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
