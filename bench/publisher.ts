/**
 * The benchmark's publisher, in its own process: `publisher.ts <url> <count> <rate|0> [concurrency]`.
 * Sends `count` single-event `POST /v1/events` requests, at `rate` per second or (rate 0) as fast
 * as `concurrency` requests in flight allow. Prints one JSON line: `{published, failed, startedAt, seconds}`.
 */
import { Agent, request } from 'node:http';
import { AUTH, benchEvent, now, percentile } from './common.js';

const [url, countText, rateText, concurrencyText] = process.argv.slice(2);
const count = Number(countText);
const rate = Number(rateText);
const concurrency = Number(concurrencyText ?? 16);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const target = new URL('/v1/events', url);

let sent = 0;
let done = 0;
let failed = 0;
const roundTrips: number[] = [];

function send(): Promise<void> {
  const seq = sent++;
  const sentAt = now();
  const body = benchEvent(seq, sentAt);
  return new Promise((resolve) => {
    const req = request(
      target,
      { method: 'POST', agent, headers: { Authorization: AUTH, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) failed++;
        res.resume();
        res.on('end', () => {
          roundTrips.push(now() - sentAt);
          done++;
          resolve();
        });
      },
    );
    req.on('error', () => {
      failed++;
      done++;
      resolve();
    });
    req.end(body);
  });
}

const started = now();
if (rate > 0) {
  // Drift-free pacing: send whatever is due, then sleep until the next one is.
  const interval = 1000 / rate;
  const inFlight = new Set<Promise<void>>();
  while (sent < count) {
    const due = Math.min(count, Math.floor((now() - started) / interval) + 1);
    while (sent < due) {
      const p = send();
      inFlight.add(p);
      void p.then(() => inFlight.delete(p));
    }
    const wait = started + sent * interval - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await Promise.all(inFlight);
} else {
  const workers = Array.from({ length: concurrency }, async () => {
    while (sent < count) await send();
  });
  await Promise.all(workers);
}
const seconds = (now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ published: done - failed, failed, startedAt: started, seconds, p50: percentile(roundTrips, 50), p99: percentile(roundTrips, 99) })}\n`);
agent.destroy();
