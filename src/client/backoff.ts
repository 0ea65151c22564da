/** Reconnection delays: exponential from `initialMs` to `maxMs`, with jitter. */
export interface BackoffOptions {
  /** First delay. Defaults to 250 ms. */
  initialMs?: number;
  /** Longest delay. Defaults to 8 000 ms. */
  maxMs?: number;
  /** Random source in [0, 1); defaults to `Math.random` (tests pass a fixed one). */
  random?: () => number;
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first): the exponential step
 * `min(maxMs, initialMs * 2^attempt)` with "equal jitter", i.e. uniformly between half of it and
 * all of it, so that many clients dropped at once do not come back in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 8_000;
  const random = options.random ?? Math.random;
  const step = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}
