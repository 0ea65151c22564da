import { errors, SpecstreamError, type ErrorDetail } from '../errors.js';
import type { NewEvent } from './store.js';
import type { PreparedAppend } from './store-arguments.js';

/**
 * The wire format between a JetStream node and the stream's writer (see `JetStreamStore`): a node
 * that does not hold the writer lease sends its group of append calls to the writer in one NATS
 * request, and the writer answers with each call's outcome.
 *
 * Request: a first line of JSON `{"c":[[count, key|null, fingerprint|null], ...], "t":[type, ...],
 * "s":[source, ...], "j":[subject|null, ...]}` (one `c` entry per call, the other arrays per event),
 * then each event's `data` as its JSON text, one per line (`JSON.stringify` never writes a raw
 * newline), so neither side parses or re-escapes the payloads.
 *
 * Reply: a JSON array, one entry per call: `{"i":[id, ...]}` (stored with these ids),
 * `{"r":[envelope JSON, ...]}` (a repeated idempotency key: the stored copy's envelopes) or
 * `{"e":{"code","status","error","details"}}` (refused: the error the caller gets).
 */

/** What the writer answers for one call. */
export type ForwardOutcome = { ids: string[] } | { lines: string[] } | { error: SpecstreamError };

/** `data` of a forwarded event: the writer never reads it (it stores the payload text as received). */
const UNREAD_DATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** Bytes of a request besides the payloads, per event: its type, source and subject in the header. */
function headerBytesOf(event: NewEvent): number {
  return 8 + Buffer.byteLength(JSON.stringify(event.type)) + Buffer.byteLength(JSON.stringify(event.source)) + (event.subject != null ? Buffer.byteLength(JSON.stringify(event.subject)) : 4);
}

/**
 * Splits `calls` into requests of at most `maxBytes` each (a call never spans two) and encodes them.
 * A single call larger than `maxBytes` still gets a request of its own (NATS then refuses it, and
 * its caller gets STORE_UNAVAILABLE).
 */
export function encodeForwardRequests<C extends PreparedAppend>(calls: readonly C[], maxBytes: number): Array<{ calls: C[]; body: string }> {
  const requests: Array<{ calls: C[]; body: string }> = [];
  let batch: C[] = [];
  let bytes = 64;
  for (const call of calls) {
    let size = 32 + (call.key !== undefined ? Buffer.byteLength(call.key) + Buffer.byteLength(call.fingerprint ?? '') : 0);
    call.events.forEach((event, i) => {
      size += headerBytesOf(event) + Buffer.byteLength(call.payloads[i]!) + 1;
    });
    if (batch.length > 0 && bytes + size > maxBytes) {
      requests.push({ calls: batch, body: encodeForwardRequest(batch) });
      batch = [];
      bytes = 64;
    }
    batch.push(call);
    bytes += size;
  }
  if (batch.length > 0) requests.push({ calls: batch, body: encodeForwardRequest(batch) });
  return requests;
}

/** The request for `calls` (see the format above). */
export function encodeForwardRequest(calls: readonly PreparedAppend[]): string {
  const c: Array<[number, string | null, string | null]> = [];
  const t: string[] = [];
  const s: string[] = [];
  const j: Array<string | null> = [];
  const payloads: string[] = [];
  for (const call of calls) {
    c.push([call.events.length, call.key ?? null, call.fingerprint ?? null]);
    call.events.forEach((event, i) => {
      t.push(event.type);
      s.push(event.source);
      j.push(event.subject ?? null);
      payloads.push(call.payloads[i]!);
    });
  }
  const header = JSON.stringify({ c, t, s, j });
  return payloads.length === 0 ? header : `${header}\n${payloads.join('\n')}`;
}

/** The calls of a request; a TypeError when it is not one this module wrote. */
export function decodeForwardRequest(body: string): PreparedAppend[] {
  const newline = body.indexOf('\n');
  const header = JSON.parse(newline < 0 ? body : body.slice(0, newline)) as { c?: unknown; t?: unknown; s?: unknown; j?: unknown };
  const payloads = newline < 0 ? [] : body.slice(newline + 1).split('\n');
  const { c, t, s, j } = header;
  if (!Array.isArray(c) || !Array.isArray(t) || !Array.isArray(s) || !Array.isArray(j) || t.length !== payloads.length || s.length !== payloads.length || j.length !== payloads.length) {
    throw new TypeError('a forwarded append request is malformed');
  }
  const calls: PreparedAppend[] = [];
  let at = 0;
  for (const entry of c as unknown[]) {
    if (!Array.isArray(entry) || !Number.isSafeInteger(entry[0]) || entry[0] < 0 || at + (entry[0] as number) > payloads.length) {
      throw new TypeError('a forwarded append request is malformed');
    }
    const count = entry[0] as number;
    const events: NewEvent[] = [];
    let payloadLength = 0;
    for (let i = at; i < at + count; i++) {
      const subject = j[i] as string | null;
      events.push(subject === null ? { type: t[i] as string, source: s[i] as string, data: UNREAD_DATA } : { type: t[i] as string, source: s[i] as string, subject, data: UNREAD_DATA });
      payloadLength += payloads[i]!.length;
    }
    const key = typeof entry[1] === 'string' ? entry[1] : undefined;
    calls.push({ events, payloads: payloads.slice(at, at + count), payloadLength, key, fingerprint: key === undefined ? undefined : String(entry[2]) });
    at += count;
  }
  if (at !== payloads.length) throw new TypeError('a forwarded append request is malformed');
  return calls;
}

/** The reply for the calls' outcomes, in call order. */
export function encodeForwardReply(outcomes: readonly ForwardOutcome[]): string {
  return JSON.stringify(
    outcomes.map((outcome) => {
      if ('ids' in outcome) return { i: outcome.ids };
      if ('lines' in outcome) return { r: outcome.lines };
      const body = outcome.error.toBody();
      return { e: { ...body, status: outcome.error.status } };
    }),
  );
}

/** The outcomes of a reply for `count` calls; a TypeError when it is not one this module wrote. */
export function decodeForwardReply(text: string, count: number): ForwardOutcome[] {
  const entries = JSON.parse(text) as unknown;
  if (!Array.isArray(entries) || entries.length !== count) throw new TypeError('a forwarded append reply is malformed');
  return entries.map((entry: { i?: unknown; r?: unknown; e?: { code?: unknown; status?: unknown; error?: unknown; details?: unknown } }) => {
    if (Array.isArray(entry?.i)) return { ids: entry.i as string[] };
    if (Array.isArray(entry?.r)) return { lines: entry.r as string[] };
    const e = entry?.e;
    if (e !== undefined && typeof e.code === 'string' && typeof e.status === 'number' && typeof e.error === 'string') {
      return { error: new SpecstreamError(e.code, e.status, e.error, Array.isArray(e.details) ? (e.details as ErrorDetail[]) : undefined) };
    }
    throw new TypeError('a forwarded append reply is malformed');
  });
}

/** A call's rejection as the writer forwards it: a registry error as is, anything else STORE_UNAVAILABLE. */
export function forwardableError(error: unknown): SpecstreamError {
  return error instanceof SpecstreamError ? error : errors.storeUnavailable(undefined, undefined, { cause: error });
}
