/**
 * The NATS destination: its message mapping; core and JetStream publishing against the real NATS
 * server (a uniquely named stream per test, deleted after); the forwarder end to end; and refusals
 * (permissions, `max_payload`, credentials) against a private `nats-server` started with its own
 * authorization config, when the binary is installed.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../src/destinations/destination.js';
import { NatsDestination, natsSubject, toNatsMessage, type NatsDestinationOptions } from '../../src/destinations/nats-destination.js';
import type { GenericEnvelope, SpecstreamEvent } from '../../src/generated/events.js';
import { checkNats, NATS_URL, uniqueName } from '../helpers/services.js';
import { closedPort, batch, publishIds, until, useForwarderHarness } from './helpers.js';

const service = await checkNats();

/** Event `n` (ids increase with `n`), of `type`. */
function event(n: number, overrides: Partial<SpecstreamEvent> = {}): SpecstreamEvent {
  return {
    specversion: '1.0',
    id: `evt_01JGZ6S4QH6Y6Q3N8V0T2W${String(n).padStart(4, '0')}`,
    type: 'grant.created',
    source: '/specstream/test',
    subject: `grant-${n}`,
    time: '2025-01-02T03:04:05.678Z',
    datacontenttype: 'application/json',
    data: { grantId: `grnt_${n}`, userId: 'usr_José', scopes: ['read'] },
    ...overrides,
  } as SpecstreamEvent;
}

/** The error `promise` rejects with (fails the test when it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: Error) => error,
  );
}

/** Polls the async `check` until it holds, failing after `timeoutMs` with `what`. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('toNatsMessage', () => {
  it('gives the envelope as the payload and the attributes as ce- headers', () => {
    const message = toNatsMessage(event(1));
    expect(message.subject).toBe('specstream.grant.created');
    expect(JSON.parse(message.payload)).toEqual(event(1));
    expect(message.headers).toEqual({
      'content-type': 'application/cloudevents+json; charset=utf-8',
      'ce-specversion': '1.0',
      'ce-id': 'evt_01JGZ6S4QH6Y6Q3N8V0T2W0001',
      'ce-type': 'grant.created',
      'ce-source': '/specstream/test',
      'ce-subject': 'grant-1',
      'ce-time': '2025-01-02T03:04:05.678Z',
      'ce-datacontenttype': 'application/json',
      'Nats-Msg-Id': 'evt_01JGZ6S4QH6Y6Q3N8V0T2W0001',
    });
  });

  it('leaves out ce-subject when the event has none', () => {
    const { subject: _, ...rest } = event(1);
    expect(Object.keys(toNatsMessage(rest as SpecstreamEvent).headers)).not.toContain('ce-subject');
    expect(Object.keys(toNatsMessage(event(1)).headers)).toContain('ce-subject');
  });

  it('percent-encodes space, ", % and non-ASCII in header values, as the CloudEvents HTTP binding', () => {
    const { headers, payload } = toNatsMessage(event(1, { subject: 'a b"50%é' }));
    expect(headers['ce-subject']).toBe('a%20b%2250%25%C3%A9');
    expect((JSON.parse(payload) as SpecstreamEvent).subject).toBe('a b"50%é');
  });

  it('maps an extension attribute, and skips what is not a scalar', () => {
    const envelope = { ...event(1), traceparent: '00-abc-01', nested: { a: 1 } } as unknown as GenericEnvelope;
    const { headers } = toNatsMessage(envelope);
    expect(headers['ce-traceparent']).toBe('00-abc-01');
    expect(Object.keys(headers).filter((name) => name === 'ce-nested' || name === 'ce-data')).toEqual([]);
  });

  it('replaces {type} in the subject template', () => {
    expect(toNatsMessage(event(1, { type: 'audit_log.created' } as Partial<SpecstreamEvent>), { subject: 'out.{type}.v1' }).subject).toBe('out.audit_log.created.v1');
  });
});

describe('natsSubject', () => {
  it('throws TypeError on another placeholder', () => {
    expect(() => natsSubject('x.{subject}', 'a.b')).toThrow(new TypeError('NATS subject template "x.{subject}": unknown placeholder {subject}; only {type} is supported'));
  });
  it.each([['x..{type}'], ['x.*.{type}'], ['x.{type}.>'], ['x {type}'], ['{type}.']])('throws RangeError on %j', (template) => {
    expect(() => natsSubject(template, 'grant.created')).toThrow(RangeError);
  });
});

describe('NatsDestination', () => {
  describe('constructor', () => {
    it.each<[string, NatsDestinationOptions, Error]>([
      ['with a bad template', { subject: 'x.{id}' }, new TypeError('NATS subject template "x.{id}": unknown placeholder {id}; only {type} is supported')],
      ['with pass but no user', { pass: 'p' }, new TypeError('NatsDestination: `pass` needs `user`')],
      ['with timeoutMs 0', { timeoutMs: 0 }, new RangeError('NatsDestination: `timeoutMs` must be > 0, got 0')],
    ])('throws %s', (_, options, error) => {
      expect(() => new NatsDestination(options)).toThrow(error);
    });

    it('is named nats:<subject> unless named', () => {
      expect(new NatsDestination().name).toBe('nats:specstream.{type}');
      expect(new NatsDestination({ name: 'bus' }).name).toBe('bus');
    });
  });

  it('fails retryably when no server listens', async () => {
    const destination = new NatsDestination({ servers: `127.0.0.1:${await closedPort()}`, timeoutMs: 2_000 });
    const rejection = await rejectionOf(destination.send([event(1)]));
    await destination.close();
    expect(rejection).toBeInstanceOf(RetryableError);
    expect(rejection.message).toMatch(/^nats:specstream\.\{type\}: /);
  });

  it('does not load the NATS client until the first send', () => {
    // A fresh process, so that no other test has loaded the client already.
    const script = `
      await import(${JSON.stringify(new URL('../../src/destinations/nats-destination.ts', import.meta.url).href)});
      const { createRequire } = await import('node:module');
      console.log(Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes('/node_modules/@nats-io/')).length);
    `;
    expect(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }).trim()).toBe('0');
  });
});

describe.skipIf(service.skip)(`NatsDestination against NATS${service.skip ? ` (skipped: ${service.reason})` : ''}`, () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let prefix: string;
  let streams: string[];
  let destinations: NatsDestination[];

  beforeEach(async () => {
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
    prefix = uniqueName('ssdest');
    streams = [];
    destinations = [];
  });
  afterEach(async () => {
    for (const destination of destinations) await destination.close();
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => false);
    await nc.close();
  });

  function destination(options: NatsDestinationOptions): NatsDestination {
    const created = new NatsDestination({ servers: NATS_URL, ...options });
    destinations.push(created);
    return created;
  }

  /** A stream capturing `<prefix>.>`, deleted after the test. */
  async function createStream(config: { max_msg_size?: number } = {}): Promise<string> {
    const name = uniqueName('SS_DEST');
    await jsm.streams.add({ name, subjects: [`${prefix}.>`], ...config });
    streams.push(name);
    return name;
  }

  /** Every message of a stream, in stream order. */
  async function contents(stream: string): Promise<StoredMsg[]> {
    const { state } = await jsm.streams.info(stream);
    const messages: StoredMsg[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq });
      if (message === null) throw new Error(`${stream} has no message ${seq}`);
      messages.push(message);
    }
    return messages;
  }

  describe('core NATS (jetstream: false)', () => {
    it('delivers every event to a subscriber, with headers and the envelope, in order', async () => {
      const received: Msg[] = [];
      nc.subscribe(`${prefix}.>`, { callback: (_, msg) => void received.push(msg) });
      await nc.flush();
      const events = [event(1), event(2, { type: 'grant.revoked' } as Partial<SpecstreamEvent>), event(3)];
      await destination({ subject: `${prefix}.{type}`, jetstream: false }).send(events);
      await until(() => received.length >= 3, '3 messages');
      expect(received.map((msg) => msg.subject)).toEqual([`${prefix}.grant.created`, `${prefix}.grant.revoked`, `${prefix}.grant.created`]);
      expect(received.map((msg) => msg.json())).toEqual(events);
      expect(received.map((msg) => [msg.headers?.get('ce-id'), msg.headers?.get('ce-type'), msg.headers?.get('Nats-Msg-Id')])).toEqual(
        events.map((e) => [e.id, e.type, e.id]),
      );
      const first = received[0]!.headers!;
      expect([first.get('ce-specversion'), first.get('ce-source'), first.get('ce-subject'), first.get('ce-time'), first.get('content-type')]).toEqual([
        '1.0',
        '/specstream/test',
        'grant-1',
        '2025-01-02T03:04:05.678Z',
        'application/cloudevents+json; charset=utf-8',
      ]);
    });

    it('publishes on an injected connection and leaves it open on close', async () => {
      const received: Msg[] = [];
      nc.subscribe(`${prefix}.>`, { callback: (_, msg) => void received.push(msg) });
      const own = await connect({ servers: NATS_URL });
      const injected = new NatsDestination({ connection: own, subject: `${prefix}.{type}`, jetstream: false });
      await injected.send([event(1)]);
      await injected.close();
      await injected.close();
      await until(() => received.length >= 1, '1 message');
      expect(own.isClosed()).toBe(false);
      await own.close();
      await expect(injected.send([event(2)])).rejects.toThrow(new Error(`nats:${prefix}.{type}: send() after close()`));
    });
  });

  describe('JetStream', () => {
    it('stores every event once even when the batch is sent twice, on the subject of its type', async () => {
      const stream = await createStream();
      const events = [event(1), event(2, { type: 'grant.revoked' } as Partial<SpecstreamEvent>), event(3), event(4)];
      const sink = destination({ subject: `${prefix}.{type}` });
      await sink.send(events);
      await sink.send(events);
      await sink.send(events.slice(1, 3));
      const stored = await contents(stream);
      expect(stored.map((msg) => msg.json<SpecstreamEvent>().id)).toEqual(events.map((e) => e.id));
      expect(stored.map((msg) => msg.subject)).toEqual([`${prefix}.grant.created`, `${prefix}.grant.revoked`, `${prefix}.grant.created`, `${prefix}.grant.created`]);
      expect(stored.map((msg) => [msg.header?.get('Nats-Msg-Id'), msg.header?.get('ce-id')])).toEqual(events.map((e) => [e.id, e.id]));
      expect(stored[0]!.json()).toEqual(events[0]);
    });

    it('fails retryably when no stream captures the subject', async () => {
      const rejection = await rejectionOf(destination({ subject: `${prefix}.nostream.{type}` }).send([event(1)]));
      expect(rejection).toBeInstanceOf(RetryableError);
      expect(rejection.message).toBe(
        `nats:${prefix}.nostream.{type}: no JetStream stream answered on "${prefix}.nostream.grant.created": none captures the subject, or JetStream is unavailable`,
      );
    });

    it('fails retryably when no acknowledgement comes in time', async () => {
      // A subscriber that never answers: the publish request finds a responder but gets no ack.
      nc.subscribe(`${prefix}.silent.>`, { callback: () => {} });
      await nc.flush();
      const rejection = await rejectionOf(destination({ subject: `${prefix}.silent.{type}`, timeoutMs: 200 }).send([event(1)]));
      expect(rejection).toBeInstanceOf(RetryableError);
      expect(rejection.message).toBe(`nats:${prefix}.silent.{type}: timeout`);
    });

    it('fails permanently on a message over the stream max_msg_size (a JetStream 400)', async () => {
      const stream = await createStream({ max_msg_size: 64 });
      const rejection = await rejectionOf(destination({ subject: `${prefix}.{type}` }).send([event(1)]));
      expect(rejection).toBeInstanceOf(PermanentError);
      expect(rejection.message).toMatch(/\(JetStream error 10054, status 400\)$/);
      expect((rejection as PermanentError).status).toBe(400);
      expect((await jsm.streams.info(stream)).state.messages).toBe(0);
    });

    it('stops a batch at its first failure, so a retry keeps the log order', async () => {
      const stream = await createStream();
      const sink = destination({ subject: `${prefix}.{type}` });
      const events = [event(1), event(2, { type: 'bad type' } as unknown as Partial<SpecstreamEvent>), event(3)];
      const rejection = await rejectionOf(sink.send(events));
      expect(rejection).toBeInstanceOf(PermanentError);
      expect(rejection.message).toBe(
        `nats:${prefix}.{type}: event ${events[1]!.id}: NATS subject "${prefix}.bad type" is not publishable: dot-separated non-empty tokens, without whitespace, * or >`,
      );
      // An unmappable event fails the batch before anything is published.
      expect((await jsm.streams.info(stream)).state.messages).toBe(0);
    });
  });

  describe('end to end', () => {
    const harness = useForwarderHarness('nats-e2e');

    it('forwards a Specstream stream into a JetStream stream, every id in order', async () => {
      const stream = await createStream();
      const ids = await publishIds(harness.server, batch(23, 'nats'));
      await harness.start(new NatsDestination({ servers: NATS_URL, subject: `${prefix}.{type}` }), { batchSize: 5 });
      await eventually(async () => (await jsm.streams.info(stream)).state.messages >= 23, '23 messages in the stream');
      const stored = await contents(stream);
      expect(stored.map((msg) => msg.header?.get('Nats-Msg-Id'))).toEqual(ids);
      expect(stored.map((msg) => msg.json<SpecstreamEvent>().subject)).toEqual(Array.from({ length: 23 }, (_, i) => `nats-${i}`));
    });
  });
});

const NATS_SERVER_BIN = process.env.SPECSTREAM_TEST_NATS_SERVER_BIN ?? 'nats-server';
const natsServerMissing = spawnSync(NATS_SERVER_BIN, ['--version']).error;
if (natsServerMissing) console.warn(`skipping the NATS refusal tests: ${NATS_SERVER_BIN} not found (${natsServerMissing.message}); set SPECSTREAM_TEST_NATS_SERVER_BIN`);

describe.skipIf(natsServerMissing !== undefined)(
  `NatsDestination refused by a private nats-server${natsServerMissing ? ` (skipped: ${NATS_SERVER_BIN} not found)` : ''}`,
  () => {
    let child: ChildProcess;
    let url: string;
    let dir: string;
    let destinations: NatsDestination[];

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'specstream-nats-'));
      const config = join(dir, 'server.conf');
      writeFileSync(
        config,
        `listen: "127.0.0.1:-1"
max_payload: 4096
authorization {
  users = [
    { user: "publisher", password: "secret", permissions: { publish: { allow: ["allowed.>", "_INBOX.>"] }, subscribe: { allow: ["_INBOX.>"] } } }
    { user: "observer", password: "secret" }
  ]
}
`,
      );
      child = spawn(NATS_SERVER_BIN, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      url = await new Promise<string>((resolve, reject) => {
        let log = '';
        child.stderr!.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          const listening = /Listening for client connections on (\S+)/.exec(log);
          if (listening && log.includes('Server is ready')) resolve(`nats://${listening[1]}`);
        });
        child.on('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${log}`)));
      });
      destinations = [];
    });
    afterEach(async () => {
      for (const destination of destinations) await destination.close();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    });

    function destination(options: NatsDestinationOptions): NatsDestination {
      const created = new NatsDestination({ servers: url, user: 'publisher', pass: 'secret', ...options });
      destinations.push(created);
      return created;
    }

    it('fails a core publish to a denied subject permanently, and delivers an allowed one', async () => {
      const observer = await connect({ servers: url, user: 'observer', pass: 'secret' });
      const received: string[] = [];
      observer.subscribe('>', { callback: (_, msg) => void received.push(msg.subject) });
      await observer.flush();
      const denied = destination({ subject: 'denied.{type}', jetstream: false });
      const rejection = await rejectionOf(denied.send([event(1), event(2)]));
      expect(rejection).toBeInstanceOf(PermanentError);
      expect(rejection.message).toBe('nats:denied.{type}: Permissions Violation for Publish to "denied.grant.created"');
      await destination({ subject: 'allowed.{type}', jetstream: false }).send([event(3)]);
      await until(() => received.includes('allowed.grant.created'), 'the allowed message');
      expect(received.filter((subject) => subject.startsWith('denied.'))).toEqual([]);
      await observer.close();
    });

    it('fails a JetStream publish to a denied subject permanently', async () => {
      const rejection = await rejectionOf(destination({ subject: 'denied.{type}' }).send([event(1)]));
      expect(rejection).toBeInstanceOf(PermanentError);
      expect(rejection.message).toBe('nats:denied.{type}: Permissions Violation for Publish to "denied.grant.created"');
    });

    it('fails a JetStream publish retryably where the server has no JetStream', async () => {
      const rejection = await rejectionOf(destination({ subject: 'allowed.{type}' }).send([event(1)]));
      expect(rejection).toBeInstanceOf(RetryableError);
      expect(rejection.message).toBe('nats:allowed.{type}: no JetStream stream answered on "allowed.grant.created": none captures the subject, or JetStream is unavailable');
    });

    it('fails an event over max_payload permanently', async () => {
      const big = event(1, { data: { grantId: 'grnt_1', userId: 'u'.repeat(5_000), scopes: ['read'] } } as Partial<SpecstreamEvent>);
      const rejection = await rejectionOf(destination({ subject: 'allowed.{type}', jetstream: false }).send([big]));
      expect(rejection).toBeInstanceOf(PermanentError);
      expect(rejection.message).toBe("nats:allowed.{type}: 'payload' max_payload size exceeded");
    });

    it('fails permanently with a wrong password', async () => {
      const rejection = await rejectionOf(destination({ pass: 'wrong', jetstream: false }).send([event(1)]));
      expect(rejection).toBeInstanceOf(PermanentError);
      expect(rejection.message).toBe('nats:specstream.{type}: Authorization Violation');
    });
  },
);
