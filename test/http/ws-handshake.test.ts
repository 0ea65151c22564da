import { afterEach, describe, expect, it } from 'vitest';
import { rawExchange, type RawResponse } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// Issue 12 item 13: handshake decisions come from configuration, never from request headers.
/** Sends a WebSocket upgrade for the stream with `headers` and resolves with the answer's head. */
function upgrade(server: TestServer, headers: Record<string, string>): Promise<RawResponse> {
  const lines = Object.entries({
    Host: new URL(server.url).host,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    Authorization: 'Bearer sk_test_reader',
    ...headers,
  }).map(([name, value]) => `${name}: ${value}\r\n`);
  return rawExchange(server.url, (socket) => socket.write(`GET /v1/events/ws HTTP/1.1\r\n${lines.join('')}\r\n`));
}

describe('WebSocket handshake', () => {
  let server: TestServer;
  afterEach(async () => {
    await server.dispose();
  });

  describe('subprotocols', () => {
    it('selects none of what a client offers when none is configured', async () => {
      server = await startTestServer();
      const answer = await upgrade(server, { 'Sec-WebSocket-Protocol': 'evil, graphql-ws' });
      expect(answer.status).toBe(101);
      expect(answer.headers['sec-websocket-protocol']).toBeUndefined();
    });

    it('selects a configured subprotocol the client offers, in the server order of preference', async () => {
      server = await startTestServer({ ws_subprotocols: ['specstream.v2', 'specstream.v1'] });
      const both = await upgrade(server, { 'Sec-WebSocket-Protocol': 'evil, specstream.v1, specstream.v2' });
      expect(both.status).toBe(101);
      expect(both.headers['sec-websocket-protocol']).toBe('specstream.v2');
      const other = await upgrade(server, { 'Sec-WebSocket-Protocol': 'evil' });
      expect(other.status).toBe(101);
      expect(other.headers['sec-websocket-protocol']).toBeUndefined();
    });
  });

  describe('Origin', () => {
    it.each([
      ['DNS rebinding: Origin and Host both evil.example', { Origin: 'https://evil.example', Host: 'evil.example' }],
      ['DNS rebinding with the port', { Origin: 'http://evil.example:8080', Host: 'evil.example:8080' }],
      ['an Origin that only matches the Host header', { Origin: 'http://partner.internal', Host: 'partner.internal' }],
      ['the null origin', { Origin: 'null' }],
      ['an unparsable origin', { Origin: 'not a url' }],
    ])('refuses %s with 403', async (_name, headers) => {
      server = await startTestServer();
      const answer = await upgrade(server, headers);
      expect(answer.status).toBe(403);
      expect(answer.json?.code).toBe('FORBIDDEN');
    });

    it("allows the server's own loopback address and no Origin at all", async () => {
      server = await startTestServer();
      const port = new URL(server.url).port;
      for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://LOCALHOST:${port}`]) {
        expect((await upgrade(server, { Origin: origin })).status, origin).toBe(101);
      }
      expect((await upgrade(server, {})).status).toBe(101);
      expect((await upgrade(server, { Origin: `http://127.0.0.1:${Number(port) + 1}` })).status).toBe(403);
    });

    it('allows the origins of cors_origins and public_url, and only those', async () => {
      server = await startTestServer({ cors_origins: ['https://dashboard.example'], public_url: 'https://events.example.com/base/' });
      expect((await upgrade(server, { Origin: 'https://dashboard.example' })).status).toBe(101);
      expect((await upgrade(server, { Origin: 'https://events.example.com', Host: 'anything.example' })).status).toBe(101);
      expect((await upgrade(server, { Origin: 'https://events.example.com:443' })).status).toBe(101);
      expect((await upgrade(server, { Origin: 'http://events.example.com' })).status).toBe(403);
      expect((await upgrade(server, { Origin: `http://127.0.0.1:${new URL(server.url).port}` })).status).toBe(403);
    });

    it('allows any origin with cors_origins *', async () => {
      server = await startTestServer({ cors_origins: ['*'] });
      expect((await upgrade(server, { Origin: 'https://evil.example', Host: 'evil.example' })).status).toBe(101);
    });

    it('refuses to start with a public_url that is not an http(s) URL', async () => {
      server = await startTestServer();
      await expect(startTestServer({ public_url: 'events.example.com' })).rejects.toThrow(/public_url/);
      await expect(startTestServer({ public_url: 'ftp://events.example.com' })).rejects.toThrow(/public_url/);
    });
  });
});
