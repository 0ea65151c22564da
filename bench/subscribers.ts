/**
 * Benchmark subscribers: raw SSE responses and `ws` clients that count events cheaply and, for a
 * sample of them, record publish-to-receive latency from the send time the publisher put in each
 * event. An event is recognised by that send time (`{"t":"`, in every event's data and in nothing
 * else any server sends), so the same subscriber counts Specstream's, the baseline's and nchan's
 * events, and never a resume point, heartbeat or status frame.
 */
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { AUTH, now, sentAtIn } from './common.js';

const MARK = '{"t":"';
const MARK_BYTES = Buffer.from(MARK);

export interface BenchSubscriber {
  readonly kind: 'sse' | 'ws';
  /** Events received. */
  received: number;
  /** Wall-clock time of the last event received. */
  lastAt: number;
  /** Publish-to-receive latencies (ms), for sampled subscribers, in the order received. */
  readonly latencies: number[] | undefined;
  /** Send times of the events received (sampled subscribers): their order is the order received. */
  readonly order: number[] | undefined;
  /** Anything received besides events: chunks (SSE), pings and non-event messages (WS). */
  heartbeats: number;
  close(): void;
}

/** Opens `GET /v1/events/stream` (live only unless `query` says otherwise) and resolves once the response headers arrived. */
export function openSse(base: string, sample: boolean, query = ''): Promise<BenchSubscriber> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/v1/events/stream${query}`, { agent: false, headers: { Authorization: AUTH, Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`SSE answered ${res.statusCode}`));
        return;
      }
      const subscriber: BenchSubscriber = {
        kind: 'sse',
        received: 0,
        lastAt: 0,
        latencies: sample ? [] : undefined,
        order: sample ? [] : undefined,
        heartbeats: 0,
        close: () => req.destroy(),
      };
      let carry: Buffer | undefined;
      let pending = '';
      res.on('data', (chunk: Buffer) => {
        const at = now();
        const before = subscriber.received;
        if (subscriber.latencies) {
          pending += chunk.toString();
          const cut = pending.lastIndexOf('\n\n');
          if (cut === -1) return;
          const complete = pending.slice(0, cut);
          pending = pending.slice(cut + 2);
          let i = complete.indexOf(MARK);
          while (i !== -1) {
            subscriber.received++;
            const sentAt = sentAtIn(complete, i);
            subscriber.latencies.push(at - sentAt);
            subscriber.order!.push(sentAt);
            i = complete.indexOf(MARK, i + MARK.length);
          }
        } else {
          const buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
          let i = buffer.indexOf(MARK_BYTES);
          while (i !== -1) {
            subscriber.received++;
            i = buffer.indexOf(MARK_BYTES, i + MARK_BYTES.length);
          }
          carry = Buffer.from(buffer.subarray(Math.max(buffer.length - (MARK_BYTES.length - 1), 0)));
        }
        if (subscriber.received === before) subscriber.heartbeats++;
        else subscriber.lastAt = at;
      });
      res.on('error', () => {});
      resolve(subscriber);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens `GET /v1/events/ws` (live only unless `query` says otherwise) and resolves once open. */
export function openWs(base: string, sample: boolean, query = ''): Promise<BenchSubscriber> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/events/ws${query}`, { headers: { Authorization: AUTH }, perMessageDeflate: false });
    const subscriber: BenchSubscriber = {
      kind: 'ws',
      received: 0,
      lastAt: 0,
      latencies: sample ? [] : undefined,
      order: sample ? [] : undefined,
      heartbeats: 0,
      close: () => ws.terminate(),
    };
    ws.on('message', (data: Buffer) => {
      // Only events count: the send time sits near the end of each (status/end/error frames have none).
      if (data.lastIndexOf(MARK_BYTES) === -1) {
        subscriber.heartbeats++;
        return;
      }
      subscriber.received++;
      subscriber.lastAt = now();
      if (subscriber.latencies) {
        const sentAt = sentAtIn(data.toString());
        subscriber.latencies.push(subscriber.lastAt - sentAt);
        subscriber.order!.push(sentAt);
      }
    });
    ws.on('ping', () => subscriber.heartbeats++);
    ws.on('error', () => {});
    ws.once('open', () => resolve(subscriber));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket answered ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/**
 * How many of the sampled subscribers received the events in another order than the others
 * (each compared with the one that received the most): every subscriber must see one log order.
 */
export function outOfOrder(subscribers: readonly BenchSubscriber[]): number {
  const sampled = subscribers.filter((s) => s.order !== undefined);
  if (sampled.length === 0) return 0;
  const reference = sampled.reduce((a, b) => (b.order!.length > a.order!.length ? b : a)).order!;
  return sampled.filter((s) => s.order!.some((sentAt, i) => sentAt !== reference[i])).length;
}
