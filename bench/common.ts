/** Shared bits of the benchmark processes. */

/** The key every benchmark server accepts (admin: may publish and read everything). */
export const BENCH_KEY = { id: 'bench', secret: 'sk_bench', scopes: ['admin'] } as const;
export const AUTH = `Bearer ${BENCH_KEY.secret}`;

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** The event every publisher sends: a valid `audit_log.created` whose metadata carries the send time. */
export function benchEvent(seq: number, sentAt: number): string {
  return JSON.stringify({
    type: 'audit_log.created',
    source: '/bench',
    data: { entryId: `e${seq}`, actor: { type: 'service', id: 'bench' }, action: 'bench.publish', target: 'bench', metadata: { t: sentAt.toFixed(3) } },
  });
}

/** The value of `"t":"…"` after `from` in `text`, or NaN. */
export function sentAtIn(text: string, from = 0): number {
  const at = text.indexOf('"t":"', from);
  if (at === -1) return Number.NaN;
  return Number(text.slice(at + 5, text.indexOf('"', at + 5)));
}

/** Percentile `p` (0..100) of `values` (sorted in place). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))]!;
}

/** Prints `READY <url>` for the parent process. */
export function announce(url: string): void {
  process.stdout.write(`READY ${url}\n`);
}
