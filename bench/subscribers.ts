/**
 * Benchmark subscribers: raw SSE responses and `ws` clients that count events cheaply (SSE: the
 * `id: evt_` lines; WS: messages) and, for a sample of them, record publish-to-receive latency
 * from the send time the publisher put in each event.
 */
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { AUTH, now, sentAtIn } from './common.js';

const ID_MARK = Buffer.from('id: evt_');

export interface BenchSubscriber {
  readonly kind: 'sse' | 'ws';
  /** Events received. */
  received: number;
  /** Wall-clock time of the last event received. */
  lastAt: number;
  /** Publish-to-receive latencies (ms), for sampled subscribers. */
  readonly latencies: number[] | undefined;
  close(): void;
}

/** Opens `GET /v1/events/stream` (live only) and resolves once the response headers arrived. */
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
        close: () => req.destroy(),
      };
      let carry: Buffer | undefined;
      let pending = '';
      res.on('data', (chunk: Buffer) => {
        const at = now();
        if (subscriber.latencies) {
          pending += chunk.toString();
          const cut = pending.lastIndexOf('\n\n');
          if (cut === -1) return;
          const complete = pending.slice(0, cut);
          pending = pending.slice(cut + 2);
          let i = complete.indexOf('id: evt_');
          while (i !== -1) {
            subscriber.received++;
            subscriber.latencies.push(at - sentAtIn(complete, i));
            i = complete.indexOf('id: evt_', i + 8);
          }
        } else {
          const buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
          let i = buffer.indexOf(ID_MARK);
          while (i !== -1) {
            subscriber.received++;
            i = buffer.indexOf(ID_MARK, i + ID_MARK.length);
          }
          carry = Buffer.from(buffer.subarray(Math.max(buffer.length - (ID_MARK.length - 1), 0)));
        }
        subscriber.lastAt = at;
      });
      res.on('error', () => {});
      resolve(subscriber);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens `GET /v1/events/ws` (live only) and resolves once open. */
export function openWs(base: string, sample: boolean): Promise<BenchSubscriber> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/events/ws`, { headers: { Authorization: AUTH }, perMessageDeflate: false });
    const subscriber: BenchSubscriber = {
      kind: 'ws',
      received: 0,
      lastAt: 0,
      latencies: sample ? [] : undefined,
      close: () => ws.terminate(),
    };
    ws.on('message', (data: Buffer) => {
      // Only `{"type":"event",…}` counts (byte 10 is the `v` of "event"; status/end/error frames differ).
      if (data[10] !== 0x76) return;
      subscriber.received++;
      subscriber.lastAt = now();
      if (subscriber.latencies) subscriber.latencies.push(subscriber.lastAt - sentAtIn(data.toString()));
    });
    ws.once('open', () => resolve(subscriber));
    ws.once('error', reject);
  });
}
