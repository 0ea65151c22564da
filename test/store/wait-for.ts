/**
 * Resolves once `condition()` is truthy, checking every few milliseconds; rejects after
 * `timeoutMs` (defaults to 5 s) naming `what`. For waiting on an outcome instead of sleeping.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Resolves once the wall clock has passed `ms` (e.g. an event's time), so later events get a later time. */
export async function waitUntilClockPasses(ms: number): Promise<void> {
  await waitFor(() => Date.now() > ms, `the clock to pass ${new Date(ms).toISOString()}`);
}
