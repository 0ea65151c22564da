import { parseDateTime } from '../generated/date-time.js';

// The fraction of seconds of an RFC 3339 date-time (`2026-01-01T00:00:00.5471Z` -> `5471`).
const FRACTION = /[Tt]\d{2}:\d{2}:\d{2}\.(\d+)/;

/**
 * True when an RFC 3339 date-time has a non-zero digit past the millisecond (`.5471Z`, `.000001Z`).
 * Event times are whole milliseconds (the ULID's timestamp), so such a time lies strictly between two
 * possible event times.
 */
export function hasSubMillisecondDigits(value: string): boolean {
  const digits = FRACTION.exec(value)?.[1];
  return digits !== undefined && /[1-9]/.test(digits.slice(3));
}

/**
 * The instant of an RFC 3339 date-time as an inclusive lower bound on event times, in ms since the
 * epoch: the first millisecond at or after it. Digits past the millisecond are honoured, not cut:
 * `since=…00.5471Z` starts at `.548`, so an event logged at `.547` (before the asked time) is not
 * returned. Undefined when `value` is not a date-time. (An upper bound such as `until` needs no
 * rounding: an event at `.547` is at or before `.5471`, and `parseDateTime` already floors.)
 */
export function lowerBoundMs(value: string): number | undefined {
  const ms = parseDateTime(value);
  if (ms === undefined) return undefined;
  return hasSubMillisecondDigits(value) ? ms + 1 : ms;
}
