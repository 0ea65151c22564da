/**
 * One WebSocket connection with the bundle's framing: event frames by their discriminator (the
 * envelope under `at`, or the frame itself when `at` is ''), and the position, status, end, dropped
 * and error frames by theirs. A refused upgrade is classified from the response the `ws` package
 * reports (Node), else by the bundle's `HEAD` check of the stream (browsers cannot read it).
 */
import { droppedNotice, type Attempt, type Item } from './attempt.js';
import { AsyncQueue } from './async-queue.js';
import { errorFor, isRetryable, SpecstreamError } from './errors.js';
import { envelopeId } from './profile.js';
import { encodeReservedQuery } from './query-encoding.js';

/** The WebSocket constructor shape the SDK needs (the browser's, or `ws` in Node). */
export type WebSocketLike = {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
};
export type WebSocketConstructor = new (url: string, options?: unknown) => WebSocketLike;

/** The parts of the `ws` package's socket used here (absent on a browser's). */
interface NodeSocketExtras {
  on?(event: 'ping', listener: () => void): void;
  on?(event: 'unexpected-response', listener: (request: unknown, response: NodeResponse) => void): void;
  terminate?(): void;
}
interface NodeResponse {
  statusCode?: number;
  on(event: 'data', listener: (chunk: Uint8Array) => void): void;
  on(event: 'end' | 'error', listener: () => void): void;
}

/** Most bytes of a refused upgrade's body read for its error code. */
const REFUSAL_BODY_LIMIT = 65_536;

let wsModule: Promise<WebSocketConstructor> | undefined;

/** The `ws` package, loaded in Node (and where there is no global WebSocket). */
function nodeWebSocket(): Promise<WebSocketConstructor> {
  const specifier = 'ws'; // a variable, so browser bundlers leave it alone
  wsModule ??= import(/* @vite-ignore */ specifier).then((m: { WebSocket: WebSocketConstructor }) => m.WebSocket);
  return wsModule;
}

type Queued = Item | { kind: 'end'; reason: string };

/** Reads one frame into what the subscription needs, by the profile's discriminators. */
function readFrame(attempt: Attempt, frame: Record<string, unknown>): Queued | SpecstreamError | undefined {
  const { profile } = attempt;
  const ws = profile.ws ?? { events: [], frames: {} };
  const fields = profile.fields ?? {};
  const is = (discriminator: { key: string; value: unknown } | undefined) => discriminator !== undefined && frame[discriminator.key] === discriminator.value;
  if (is(ws.frames.position)) {
    const id = frame[fields.wsPosition?.position ?? 'id'];
    return typeof id === 'string' ? { kind: 'position', id } : undefined;
  }
  if (is(ws.frames.status)) return { kind: 'status', frame };
  if (is(ws.frames.end)) return { kind: 'end', reason: String(frame[fields.wsEnd?.reason ?? 'reason']) };
  if (is(ws.frames.dropped)) return { kind: 'dropped', notice: droppedNotice(frame, fields.wsDropped) };
  if (is(ws.frames.error)) {
    return new SpecstreamError(0, String(frame[fields.wsError?.code ?? 'code']), String(frame[fields.wsError?.message ?? 'message']));
  }
  const eventFrame = ws.events.find((candidate) => is(candidate.discriminator)) ?? ws.events.find((candidate) => candidate.discriminator === undefined);
  if (!eventFrame) return undefined; // a frame this SDK does not know: later versions of the bundle may add some
  const envelope = eventFrame.at === '' ? frame : frame[eventFrame.at];
  const typeKey = profile.envelope.type;
  const typed = typeKey !== undefined && envelope !== null && typeof envelope === 'object' ? (envelope as Record<string, unknown>)[typeKey] : undefined;
  const type = typeof typed === 'string' ? typed : eventFrame.types?.length === 1 ? eventFrame.types[0] : undefined;
  return { kind: 'event', event: envelope, id: envelopeId(profile, envelope), type };
}

/** Yields `opened`, then the stream's items; returns when the socket closes after opening. */
export async function* wsAttempt(attempt: Attempt, WebSocketImpl: WebSocketConstructor | undefined, fetchImpl: typeof fetch): AsyncGenerator<Item> {
  // In Node the `ws` package, even where a global WebSocket exists (Node 22+): only it sends headers
  // (Authorization, Last-Event-ID) and shows a refused upgrade's answer. Browsers: the global one.
  const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  const global = inNode ? undefined : (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  const Ctor = WebSocketImpl ?? global ?? (await nodeWebSocket());
  const canSendHeaders = !WebSocketImpl && !global; // only the `ws` package takes headers
  const url = new URL(attempt.url);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (!canSendHeaders) for (const [name, value] of Object.entries(attempt.browserQuery())) url.searchParams.set(name, value);
  encodeReservedQuery(url);
  const queue = new AsyncQueue<Queued | { kind: 'opened' }>();
  const socket = canSendHeaders ? new Ctor(url.href, { headers: attempt.headers }) : new Ctor(url.href);
  const node = socket as WebSocketLike & NodeSocketExtras;
  let opened = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const alive = () => {
    clearTimeout(timer);
    timer = setTimeout(() => attempt.stale(), attempt.heartbeatTimeoutMs);
  };
  const onAbort = () => {
    socket.close(1000);
    queue.fail(attempt.signal.reason);
  };
  attempt.signal.addEventListener('abort', onAbort, { once: true });
  // The `ws` package surfaces the server's pings (browsers answer them invisibly): they prove liveness too.
  node.on?.('ping', () => alive());
  // The `ws` package also shows a refused upgrade's response: its status and JSON error say why.
  node.on?.('unexpected-response', (_request, response) => {
    const status = response.statusCode ?? 0;
    const chunks: Uint8Array[] = [];
    let size = 0;
    const done = () => {
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder().decode(concat(chunks)));
      } catch {
        body = undefined;
      }
      queue.fail(errorFor(status, body as never, `the server refused the WebSocket upgrade with ${status}`));
      node.terminate?.();
    };
    response.on('data', (chunk) => {
      size += chunk.length;
      if (size <= REFUSAL_BODY_LIMIT) chunks.push(chunk);
    });
    response.on('end', done);
    response.on('error', done);
  });
  socket.onopen = () => {
    opened = true;
    alive();
    queue.push({ kind: 'opened' });
  };
  socket.onmessage = (message) => {
    alive();
    let frame: unknown;
    try {
      frame = JSON.parse(String(message.data));
    } catch {
      queue.fail(new SpecstreamError(0, 'PROTOCOL', 'WebSocket frame is not JSON'));
      return;
    }
    if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) {
      queue.fail(new SpecstreamError(0, 'PROTOCOL', 'WebSocket frame is not a JSON object'));
      return;
    }
    const item = readFrame(attempt, frame as Record<string, unknown>);
    if (item instanceof SpecstreamError) queue.fail(item);
    else if (item !== undefined) queue.push(item);
  };
  socket.onerror = () => {}; // onclose follows and decides
  socket.onclose = () => {
    if (opened) queue.end();
    else queue.fail(new SpecstreamError(0, 'NETWORK', 'WebSocket closed before opening'));
  };
  try {
    for (;;) {
      let next: IteratorResult<Queued | { kind: 'opened' }>;
      try {
        next = await queue.next();
      } catch (error) {
        const refused = error instanceof SpecstreamError && error.status !== 0;
        if (!opened && !refused && !attempt.signal.aborted) await classifyRefusal(attempt, fetchImpl);
        throw error;
      }
      if (next.done) return;
      const item = next.value;
      if (item.kind === 'opened') {
        attempt.opened();
        yield item;
      } else if (item.kind === 'end') {
        if (item.reason === 'until_reached') attempt.finish();
        return;
      } else yield item;
    }
  } finally {
    clearTimeout(timer);
    attempt.signal.removeEventListener('abort', onAbort);
    socket.onmessage = null;
    socket.onclose = null;
    socket.close(1000);
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * A browser cannot read a refused upgrade's status: ask the bundle's `HEAD` check of the stream
 * (same query without the resume point, same credentials), which answers 200/400/401/403. Without
 * one the refusal stays a network fault and is retried.
 */
async function classifyRefusal(attempt: Attempt, fetchImpl: typeof fetch): Promise<void> {
  if (attempt.check === undefined) return;
  let status: number;
  try {
    status = (await fetchImpl(attempt.check.url, { method: 'HEAD', headers: attempt.check.headers, signal: attempt.signal })).status;
  } catch {
    return;
  }
  if (status >= 400 && !isRetryable(status)) throw errorFor(status, undefined, `the server refused the stream with ${status}`);
}
