/**
 * The ceiling: a plain `http` + `ws` broadcast server in one Node process that stores nothing,
 * validates nothing and authenticates no one. `POST /v1/events` takes one event, wraps it in an
 * envelope like Specstream's and writes it to every connected SSE response (`res.write`) and
 * WebSocket (`ws.send`) at once: the straightforward broadcast loop.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { announce } from './common.js';

const sse = new Set<ServerResponse>();
const sockets = new Set<WebSocket>();
let seq = 0;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/v1/events/stream') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    sse.add(res);
    res.on('close', () => sse.delete(res));
    return;
  }
  if (req.method === 'POST' && url.pathname === '/v1/events') {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString()) as { type: string; source: string; data: unknown };
      const id = `evt_${String(++seq).padStart(26, '0')}`;
      const envelope = JSON.stringify({
        specversion: '1.0',
        id,
        type: event.type,
        source: event.source,
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        data: event.data,
      });
      const frame = `id: ${id}\nevent: ${event.type}\ndata: ${envelope}\n\n`;
      for (const res of sse) res.write(frame);
      const message = `{"type":"event","event":${envelope}}`;
      for (const ws of sockets) ws.send(message);
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(envelope);
    });
    return;
  }
  res.writeHead(404).end();
});

const wss = new WebSocketServer({ server, path: '/v1/events/ws' });
wss.on('connection', (ws) => {
  sockets.add(ws);
  ws.on('close', () => sockets.delete(ws));
});

server.listen(0, '127.0.0.1', () => announce(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.once('SIGTERM', () => process.exit(0));
