/** Waiting helpers for the SDK tests: conditions with deadlines, never blind sleeps. */
import type { StateChange, Subscription } from '../../src/client/index.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';

/** Pulls `count` events from `subscription`, failing after `timeoutMs`. */
export async function take(subscription: AsyncIterator<SpecstreamEvent>, count: number, timeoutMs = 10_000): Promise<SpecstreamEvent[]> {
  const got: SpecstreamEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms with ${got.length}/${count} events`)), timeoutMs);
  });
  try {
    while (got.length < count) {
      const next = await Promise.race([subscription.next(), deadline]);
      if (next.done) break;
      got.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return got;
}

/** Resolves once the subscription reaches `state`. */
export function reach(subscription: Subscription, state: StateChange['state'], timeoutMs = 10_000): Promise<StateChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for state ${state}`)), timeoutMs);
    const off = subscription.on('state', (change) => {
      if (change.state !== state) return;
      clearTimeout(timer);
      off();
      resolve(change);
    });
  });
}

