import { createServer, request, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { trackConnections } from '../../src/http/connection-tracker.js';

describe('trackConnections', () => {
  let server: Server;
  afterEach(() => {
    server.closeAllConnections();
    server.close();
  });

  it('#closeIdle closes a connection that never sent a request and keeps one mid-request', async () => {
    let held: ServerResponse | undefined;
    server = createServer((_req, res) => (held = res));
    const tracker = trackConnections(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const silent: Socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => silent.once('connect', resolve));
    const silentClosed = new Promise<boolean>((resolve) => silent.once('close', () => resolve(true)));

    const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
      request({ port, host: '127.0.0.1', path: '/slow', agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on('error', reject)
        .end();
    });
    while (!held) await new Promise((resolve) => setTimeout(resolve, 5));
    // The server must have seen the silent connection too before sweeping.
    while ((await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))) < 2) await new Promise((resolve) => setTimeout(resolve, 5));

    tracker.closeIdle();
    expect(await silentClosed).toBe(true);
    held.end('done');
    expect(await answered).toEqual({ status: 200, body: 'done' });
  });
});
