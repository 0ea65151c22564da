/**
 * The webhook destination against a local node:http receiver that verifies each request with its
 * own implementation of the Standard Webhooks scheme (WebCrypto, not node:crypto's createHmac).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Forwarder } from '../../src/destinations/forwarder.js';
import { signWebhook, WebhookDestination } from '../../src/destinations/webhook-destination.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { batch, publishIds, readNdjson, until, useForwarderHarness } from './helpers.js';

const SECRET = 'whsec_' + Buffer.from('a 32-byte key for the test recv!').toString('base64');

/** Independent verifier: the spec's steps, with WebCrypto and a constant-time compare of every `v1` signature. */
async function verify(secret: string, headers: IncomingMessage['headers'], body: string, nowSeconds: number): Promise<boolean> {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
  const keyBytes = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  for (const entry of signatures.split(' ')) {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || !signature) continue;
    const bytes = Uint8Array.from(atob(signature), (c) => c.charCodeAt(0));
    if (await crypto.subtle.verify('HMAC', key, bytes, new TextEncoder().encode(`${id}.${timestamp}.${body}`))) return true;
  }
  return false;
}

interface Received {
  id: string;
  verified: boolean;
  events: SpecstreamEvent[];
}

describe('WebhookDestination', () => {
  let receiver: Server;
  let receiverUrl: string;
  let received: Received[];
  let respond: (request: Received, index: number) => { status: number; headers?: Record<string, string> };

  beforeEach(async () => {
    received = [];
    respond = () => ({ status: 204 });
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        void verify(SECRET, request.headers, body, Math.floor(Date.now() / 1_000)).then((verified) => {
          const entry: Received = { id: String(request.headers['webhook-id']), verified, events: JSON.parse(body) as SpecstreamEvent[] };
          received.push(entry);
          const answer = verified ? respond(entry, received.length - 1) : { status: 401 };
          response.writeHead(answer.status, answer.headers).end();
        });
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterEach(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });
  // Registered after the receiver's hooks, so that its afterEach (which stops the forwarder) runs before the receiver closes.
  const harness = useForwarderHarness('webhook');

  function start(destination: WebhookDestination, deadLetterPath?: string): Promise<Forwarder> {
    return harness.start(destination, { batchSize: 5, deadLetterPath });
  }

  describe('#send', () => {
    it('posts signed JSON arrays that an independent verifier accepts, every event in order', async () => {
      const ids = await publishIds(harness.server, batch(12, 'hook'));
      await start(new WebhookDestination({ url: receiverUrl, secret: SECRET }));
      await until(() => received.flatMap((r) => r.events).length >= 12, '12 events at the receiver');
      expect(received.map((r) => r.verified)).toEqual([true, true, true]);
      expect(received.flatMap((r) => r.events.map((e) => e.id))).toEqual(ids);
      expect(new Set(received.map((r) => r.id)).size).toBe(3);
    });

    it('is refused by the verifier when signed with another secret', async () => {
      await publishIds(harness.server, batch(1, 'wrong'));
      const other = 'whsec_' + Buffer.from('another key, not the receiver s').toString('base64');
      const deadLetterPath = join(harness.dir, 'dead.ndjson');
      await start(new WebhookDestination({ url: receiverUrl, secret: other }), deadLetterPath);
      await until(() => readNdjson(deadLetterPath).length >= 1, 'a dead letter');
      expect(received.map((r) => r.verified)).toEqual([false]);
      expect(readNdjson<{ reason: string }>(deadLetterPath).map((d) => d.reason)).toEqual([`rejected: webhook:${new URL(receiverUrl).host} answered 401`]);
    });

    it('retries a 503 with Retry-After under the same webhook-id', async () => {
      const ids = await publishIds(harness.server, batch(3, 'retry'));
      respond = (_, index) => (index === 0 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 200 });
      const forwarder = await start(new WebhookDestination({ url: receiverUrl, secret: SECRET }));
      await until(() => received.length >= 2, 'a retry');
      await forwarder.stop();
      expect(received.map((r) => r.events.map((e) => e.id))).toEqual([ids, ids]);
      expect(received[0]!.id).toBe(received[1]!.id);
      expect(forwarder.metrics()[`webhook:${new URL(receiverUrl).host}`]).toMatchObject({ sent: 3, failed: 1, retried: 1, deadLettered: 0 });
    });

    it('dead-letters a batch answered 422 and continues with the next', async () => {
      const ids = await publishIds(harness.server, batch(2, 'x'));
      respond = (request) => (request.events.some((e) => e.subject === 'x-0') ? { status: 422 } : { status: 204 });
      const deadLetterPath = join(harness.dir, 'dead.ndjson');
      await start(new WebhookDestination({ url: receiverUrl, secret: SECRET }), deadLetterPath);
      await until(() => readNdjson(deadLetterPath).length >= 1 && received.some((r) => r.events.some((e) => e.id === ids[1])), 'the dead letter and the next event');
      expect(readNdjson<{ event: { id: string } }>(deadLetterPath).map((d) => d.event.id)).toEqual([ids[0]]);
    });
  });

  describe('signWebhook', () => {
    it('matches the Standard Webhooks reference vector', () => {
      // From the spec's reference libraries' tests.
      expect(signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
        'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      );
    });
    it('throws TypeError on a secret without whsec_', () => {
      expect(() => signWebhook('abc', 'id', 0, '')).toThrow(new TypeError('webhook secret must start with "whsec_"'));
    });
  });
});
