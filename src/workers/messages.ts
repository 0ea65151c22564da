/**
 * What the primary and the workers of `serve --workers` say to each other over Node's cluster IPC
 * channel (JSON messages). Every message has `specstream` naming its kind.
 */
import type { KeySpec } from '../auth/key-spec.js';

/** Worker → primary, once, when it listens for `init` (a message sent before would be lost). */
export interface HelloMessage {
  specstream: 'hello';
}

/** Primary → worker, once, in answer to `hello`: what the worker starts with. */
export interface InitMessage {
  specstream: 'init';
  /** The development key the primary generated and announced (no key configured), shared by every worker. */
  developmentKey?: KeySpec;
}

/** Worker → primary: this worker listens (on the shared port) at `url`. */
export interface ListeningMessage {
  specstream: 'listening';
  url: string;
  store: string;
}

/**
 * Worker → primary: this worker committed events to the shared log. Primary → worker: another
 * worker did; look at the log now (SQLite: see `SqliteStore.checkForAppends`).
 */
export interface AppendedMessage {
  specstream: 'appended';
}

export type WorkerMessage = HelloMessage | InitMessage | ListeningMessage | AppendedMessage;

/** The one `appended` message, shared. */
export const APPENDED: AppendedMessage = Object.freeze({ specstream: 'appended' });

/** True when `value` is a message of kind `kind`. */
export function isMessage<K extends WorkerMessage['specstream']>(value: unknown, kind: K): value is Extract<WorkerMessage, { specstream: K }> {
  return typeof value === 'object' && value !== null && (value as { specstream?: unknown }).specstream === kind;
}

/**
 * Sends `appended` on an IPC channel, coalesced: at most one message in flight, and at most one
 * per `intervalMs` (default 1 ms); calls in between fold into one more send when both allow it (an
 * `appended` says "look at the log again", so one is as good as many). Every IPC message costs a
 * pipe write and a wake-up on each side, which at thousands of group commits a second would cost
 * more than the commits; a worker that commits itself reads the others' events with its own anyway.
 * Errors (the other side gone) are ignored: it is going away too.
 */
export function coalescingSender(send: (message: AppendedMessage, callback: (error: Error | null) => void) => boolean, intervalMs = 1): () => void {
  let inFlight = false;
  let again = false;
  let lastAt = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  const go = (): void => {
    if (inFlight || timer !== undefined) {
      again = true;
      return;
    }
    const wait = lastAt + intervalMs - performance.now();
    if (wait > 0) {
      timer = setTimeout(() => {
        timer = undefined;
        go();
      }, wait);
      timer.unref();
      return;
    }
    inFlight = true;
    again = false;
    lastAt = performance.now();
    try {
      send(APPENDED, () => {
        inFlight = false;
        if (again) go();
      });
    } catch {
      inFlight = false;
    }
  };
  return go;
}
