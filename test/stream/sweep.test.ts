/**
 * One timer for every stream (hub.ts `sweep`): opening streams adds no timer, and every stream
 * still gets its heartbeats (SSE comments, WebSocket pings) and status frames from the one sweep.
 */
import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { eventually } from './clients.js';

/** Timers alive in this process (the test server runs in it). */
function timers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

describe('hub sweep', () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer({ heartbeat_s: 1, status_s: 1 });
  });
  afterEach(async () => {
    await server.dispose();
  });

  it('serves 40 streams with their heartbeats, pings and status frames without a timer per stream', async () => {
    const before = timers();
    const sse = await Promise.all(
      Array.from({ length: 20 }, () => {
        const beats = { count: 0 };
        return new Promise<{ beats: { count: number }; close: () => void }>((resolve, reject) => {
          const req = request(`${server.url}/v1/events/stream`, { headers: { ...server.auth('reader'), Accept: 'text/event-stream' }, agent: false }, (res) => {
            res.on('data', (chunk: Buffer) => (beats.count += chunk.toString().split(': heartbeat\n\n').length - 1));
            res.on('error', () => {});
            resolve({ beats, close: () => req.destroy() });
          });
          req.on('error', reject);
          req.end();
        });
      }),
    );
    const ws = await Promise.all(
      Array.from({ length: 20 }, () => {
        const seen = { pings: 0, status: 0 };
        const socket = new WebSocket(`${server.url.replace('http', 'ws')}/v1/events/ws`, { headers: server.auth('reader') });
        socket.on('ping', () => seen.pings++);
        socket.on('message', (data: Buffer) => {
          if ((JSON.parse(data.toString()) as { type: string }).type === 'status') seen.status++;
        });
        return new Promise<{ seen: typeof seen; socket: WebSocket }>((resolve, reject) => {
          socket.once('open', () => resolve({ seen, socket }));
          socket.once('error', reject);
        });
      }),
    );
    try {
      await eventually(() => server.hub.subscriberCount === 40, 5000, '40 streams');
      // The old writers held one timer per SSE stream and two per WebSocket (60 here).
      expect(timers() - before).toBeLessThan(10);
      await eventually(
        () => sse.every((s) => s.beats.count >= 2) && ws.every((w) => w.seen.pings >= 2 && w.seen.status >= 2),
        8000,
        'two heartbeats on every SSE stream, two pings and two status frames on every WebSocket',
      );
    } finally {
      for (const s of sse) s.close();
      for (const w of ws) w.socket.terminate();
    }
  });
});
