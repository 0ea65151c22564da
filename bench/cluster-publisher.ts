/**
 * The scale-out benchmark's publisher, in its own process:
 * `cluster-publisher.ts <url,url,...> <seconds> <rate|0> <concurrency> <batch> [maxEvents]`.
 *
 * Sends `POST /v1/events` requests round-robin over the nodes: single events (`batch` 1) or
 * arrays of `batch` events, either at `rate` events per second (paced, drift-free) or, with rate
 * 0, as fast as `concurrency` requests in flight allow, for `seconds` or until `maxEvents` events
 * were accepted. Every event carries its send time (`data.metadata.t`, see common.ts), which the
 * subscribers turn into latency. Prints one JSON line:
 * `{accepted, failed, seconds, p50, p99, lastAckAt, statuses}` (accepted counts events; latencies
 * are request round trips in ms; `lastAckAt` is the wall-clock time of the last acknowledgement).
 */
import { Agent, request } from 'node:http';
import { AUTH, benchEvent, now, percentile } from './common.js';

const [urlsText, secondsText, rateText, concurrencyText, batchText, maxText] = process.argv.slice(2);
const targets = urlsText!.split(',').map((url) => new URL('/v1/events', url));
const seconds = Number(secondsText);
const rate = Number(rateText);
const concurrency = Number(concurrencyText);
const batch = Number(batchText);
const maxEvents = maxText === undefined ? Number.POSITIVE_INFINITY : Number(maxText);
const agents = targets.map(() => new Agent({ keepAlive: true, maxSockets: Math.max(concurrency, 64) }));

let seq = 0;
let requests = 0;
let accepted = 0;
let failed = 0;
let lastAckAt = 0;
const roundTrips: number[] = [];
const statuses: Record<string, number> = {};

function send(): Promise<void> {
  const node = requests++ % targets.length;
  const sentAt = now();
  const events: string[] = [];
  for (let i = 0; i < batch; i++) events.push(benchEvent(seq++, sentAt));
  const body = batch === 1 ? events[0]! : `[${events.join(',')}]`;
  return new Promise((resolve) => {
    const req = request(
      targets[node]!,
      { method: 'POST', agent: agents[node], headers: { Authorization: AUTH, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        const status = res.statusCode ?? 0;
        statuses[status] = (statuses[status] ?? 0) + 1;
        res.resume();
        res.on('end', () => {
          if (status === 201) {
            accepted += batch;
            lastAckAt = now();
            roundTrips.push(lastAckAt - sentAt);
          } else failed += batch;
          resolve();
        });
      },
    );
    req.on('error', () => {
      statuses.error = (statuses.error ?? 0) + 1;
      failed += batch;
      resolve();
    });
    req.end(body);
  });
}

const started = now();
const deadline = started + seconds * 1000;
const more = () => now() < deadline && seq < maxEvents;
if (rate > 0) {
  // Drift-free pacing: send whatever is due, then sleep until the next one is.
  const interval = (1000 * batch) / rate;
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  while (more()) {
    const due = Math.floor((now() - started) / interval) + 1;
    while (sent < due && more()) {
      sent++;
      const p = send();
      inFlight.add(p);
      void p.then(() => inFlight.delete(p));
    }
    const wait = started + sent * interval - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await Promise.all(inFlight);
} else {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more()) await send();
    }),
  );
}
const elapsed = (now() - started) / 1000;
process.stdout.write(
  `${JSON.stringify({ accepted, failed, seconds: elapsed, p50: percentile(roundTrips, 50), p99: percentile(roundTrips, 99), lastAckAt, statuses })}\n`,
);
for (const agent of agents) agent.destroy();
