/**
 * One SSE connection over `fetch`, read only as fast as the consumer pulls, with the bundle's
 * framing: events named by type, unnamed (`message`) or by one constant name; the resume point as a
 * named event or an `id:`-only block; a named drop notice. Comments (heartbeats, notices) prove
 * liveness and are otherwise ignored. An event's id is the envelope's id field, else its `id:` line.
 */
import { droppedNotice, type Attempt, type Item } from './attempt.js';
import { errorFor, SpecstreamError } from './errors.js';
import { envelopeId } from './profile.js';
import { createSseParser, type SseMessage } from './sse-parser.js';

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SpecstreamError(0, 'PROTOCOL', `not JSON: ${text.slice(0, 120)}`, undefined, { cause: error });
  }
}

/** Yields `opened`, then the stream's items; returns when the server ends the response. */
export async function* sseAttempt(attempt: Attempt, fetchImpl: typeof fetch): AsyncGenerator<Item> {
  const response = await fetchImpl(attempt.url, {
    headers: { Accept: 'text/event-stream', ...attempt.headers },
    signal: attempt.signal,
    cache: 'no-store',
  });
  if (response.status === 204) {
    attempt.finish();
    return;
  }
  if (!response.ok || !response.body) {
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    throw errorFor(response.status, body as never, `HTTP ${response.status}`);
  }
  attempt.opened();
  yield { kind: 'opened' };

  const { profile } = attempt;
  const sse = profile.sse ?? { eventNaming: 'type' as const, idLines: true };
  const isEvent = (name: string | undefined): boolean => {
    if (sse.eventNaming === 'type') return true;
    if (sse.eventNaming === 'none') return name === undefined || name === 'message';
    return name === sse.eventNaming.name;
  };
  const pending: Item[] = [];
  let protocolError: unknown;
  const onEvent = (message: SseMessage) => {
    if (sse.positionEvent !== undefined && message.event === sse.positionEvent) {
      const data = parseJson(message.data) as { id?: unknown } | null;
      const id = message.id ?? (typeof data?.id === 'string' ? data.id : undefined);
      if (id) pending.push({ kind: 'position', id });
      return;
    }
    if (sse.expiredEvent !== undefined && message.event === sse.expiredEvent) {
      const data = parseJson(message.data) as { code?: unknown } | null;
      pending.push({ kind: 'expired', code: typeof data?.code === 'string' ? data.code : 'TOKEN_EXPIRED' });
      return;
    }
    if (sse.droppedEvent !== undefined && message.event === sse.droppedEvent) {
      pending.push({ kind: 'dropped', notice: droppedNotice(parseJson(message.data) as Record<string, unknown>, profile.fields?.sseDropped) });
      return;
    }
    if (!isEvent(message.event)) return; // a frame this SDK does not know: later versions of the bundle may add some
    const envelope = parseJson(message.data);
    const typeKey = profile.envelope.type;
    const typed = typeKey !== undefined && envelope !== null && typeof envelope === 'object' ? (envelope as Record<string, unknown>)[typeKey] : undefined;
    const type = typeof typed === 'string' ? typed : sse.eventNaming === 'type' ? message.event : undefined;
    pending.push({ kind: 'event', event: envelope, id: envelopeId(profile, envelope) ?? message.id, type });
  };
  const parser = createSseParser({
    onEvent(message) {
      try {
        onEvent(message);
      } catch (error) {
        protocolError ??= error;
      }
    },
    // An `id:` line with no data: the resume point of a bundle whose position frame is `form: id-only`.
    onId: (id) => pending.push({ kind: 'position', id }),
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const timer = setTimeout(() => attempt.stale(), attempt.heartbeatTimeoutMs);
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) return;
      try {
        parser.feed(decoder.decode(chunk.value, { stream: true }));
      } catch (error) {
        protocolError ??= new SpecstreamError(0, 'PROTOCOL', (error as Error).message, undefined, { cause: error });
      }
      while (pending.length > 0) yield pending.shift()!;
      if (protocolError) throw protocolError;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
