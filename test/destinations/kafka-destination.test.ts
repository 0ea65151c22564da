/**
 * The Kafka destination: its record mapping (CloudEvents Kafka binding, binary content mode), its
 * producer wiring through a recording kafkajs-shaped client, its error classification with kafkajs's
 * own error classes and retrier, a real kafkajs client against a closed port, and, when
 * `KAFKA_BROKERS` names a reachable broker, the whole path through a real broker.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import kafkajs, { type KafkaConfig, type KafkaMessage, type Producer, type ProducerBatch, type ProducerConfig } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PermanentError, RetryableError } from '../../src/destinations/destination.js';
import { KafkaDestination, kafkaTopic, toKafkaMessage, type KafkaDestinationOptions } from '../../src/destinations/kafka-destination.js';
import type { GenericEnvelope, SpecstreamEvent } from '../../src/generated/events.js';
import { uniqueName } from '../helpers/services.js';
import { closedPort, batch, publishIds, until, useForwarderHarness } from './helpers.js';

const require = createRequire(import.meta.url);
/** kafkajs's own table of protocol errors and its retrier: the errors a real producer throws. */
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode(code: number): Error };
const createRetry = require('kafkajs/src/retry') as (options: { retries: number; initialRetryTime?: number }) => (fn: () => Promise<unknown>) => Promise<unknown>;
const { KafkaJSConnectionError, KafkaJSRequestTimeoutError } = kafkajs;
/** kafkajs's typings declare no constructor arguments; the class takes a message like every KafkaJSError. */
const KafkaJSSASLAuthenticationError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;

function event(overrides: Partial<SpecstreamEvent> = {}): SpecstreamEvent {
  return {
    specversion: '1.0',
    id: 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X5Y',
    type: 'grant.created',
    source: '/specstream/test',
    subject: 'grant-7',
    time: '2025-01-02T03:04:05.678Z',
    datacontenttype: 'application/json',
    data: { grantId: 'grnt_7', userId: 'usr_José', scopes: ['read', 'write'] },
    ...overrides,
  } as SpecstreamEvent;
}

/** The event without `subject`. */
function withoutSubject(): SpecstreamEvent {
  const { subject: _, ...rest } = event();
  return rest as SpecstreamEvent;
}

/** What kafkajs's retrier rejects with when the wrapped call throws `error` (no retries, as a producer out of retries). */
function asProducerThrows(error: Error): Promise<Error> {
  return createRetry({ retries: 0, initialRetryTime: 1 })(() => Promise.reject(error)).then(
    () => {
      throw new Error('the retrier resolved');
    },
    (wrapped: Error) => wrapped,
  );
}

/** A kafkajs-shaped client whose producers record what they are asked. */
class RecordingKafka {
  readonly configs: ProducerConfig[] = [];
  readonly producers: RecordingProducer[] = [];
  producer(config: ProducerConfig): Producer {
    this.configs.push(config);
    const producer = new RecordingProducer();
    this.producers.push(producer);
    return producer as unknown as Producer;
  }
}

class RecordingProducer {
  readonly batches: ProducerBatch[] = [];
  connects = 0;
  disconnects = 0;
  /** Thrown (once each, in order) by the next `sendBatch` calls. */
  readonly failures: Error[] = [];
  async connect(): Promise<void> {
    this.connects += 1;
  }
  async disconnect(): Promise<void> {
    this.disconnects += 1;
  }
  async sendBatch(batch: ProducerBatch): Promise<[]> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.batches.push(batch);
    return [];
  }
}

describe('toKafkaMessage', () => {
  it('maps attributes to ce_ headers, data to the value and the subject to the key', () => {
    const record = toKafkaMessage(event(), { topic: 'events' });
    expect(record.topic).toBe('events');
    expect(record.message.key).toBe('grant-7');
    expect(record.message.headers).toEqual({
      'content-type': 'application/json',
      ce_specversion: '1.0',
      ce_id: 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X5Y',
      ce_type: 'grant.created',
      ce_source: '/specstream/test',
      ce_subject: 'grant-7',
      ce_time: '2025-01-02T03:04:05.678Z',
    });
    expect(Object.keys(record.message)).toEqual(['key', 'value', 'headers']);
  });

  it('gives the value as the UTF-8 bytes of the data JSON, nothing of the envelope', () => {
    const { value } = toKafkaMessage(event(), { topic: 'events' }).message;
    expect(value).toEqual(Buffer.from('{"grantId":"grnt_7","userId":"usr_Jos\u00e9","scopes":["read","write"]}', 'utf8'));
    expect(value!.includes(Buffer.from([0xc3, 0xa9]))).toBe(true); // é, as UTF-8
    expect(JSON.parse(value!.toString('utf8'))).toEqual(event().data);
  });

  it('leaves out ce_subject and keys by type when the event has no subject', () => {
    const record = toKafkaMessage(withoutSubject(), { topic: 'events' });
    expect(record.message.headers).not.toHaveProperty('ce_subject');
    expect(Object.keys(record.message.headers).sort()).toEqual(['ce_id', 'ce_source', 'ce_specversion', 'ce_time', 'ce_type', 'content-type']);
    expect(record.message.key).toBe('grant.created');
  });

  describe.each([
    ['subject', 'grant-7', 'grant.created'],
    ['type', 'grant.created', 'grant.created'],
    ['id', 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X5Y', 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X5Y'],
  ] as const)('with key: %s', (key, withSubject, without) => {
    it(`keys an event with a subject by ${withSubject}`, () => {
      expect(toKafkaMessage(event(), { topic: 't', key }).message.key).toBe(withSubject);
    });
    it(`keys an event without a subject by ${without}`, () => {
      expect(toKafkaMessage(withoutSubject(), { topic: 't', key }).message.key).toBe(without);
    });
  });

  it('maps an extension attribute to a ce_ header, and skips what is not a scalar', () => {
    const envelope = { ...event(), traceparent: '00-abc-def-01', sampled: true, priority: 3, nested: { a: 1 }, missing: undefined } as unknown as GenericEnvelope;
    const { headers } = toKafkaMessage(envelope, { topic: 't' }).message;
    expect(headers).toMatchObject({ ce_traceparent: '00-abc-def-01', ce_sampled: 'true', ce_priority: '3' });
    expect(Object.keys(headers).filter((name) => ['ce_nested', 'ce_missing', 'ce_data', 'ce_datacontenttype'].includes(name))).toEqual([]);
  });

  it('takes content-type from datacontenttype, application/json when absent', () => {
    const { datacontenttype: _, ...rest } = event();
    expect(toKafkaMessage({ ...event(), datacontenttype: 'application/json; charset=utf-8' } as unknown as SpecstreamEvent, { topic: 't' }).message.headers['content-type']).toBe(
      'application/json; charset=utf-8',
    );
    expect(toKafkaMessage(rest as SpecstreamEvent, { topic: 't' }).message.headers['content-type']).toBe('application/json');
  });

  it('gives a null value (no value) for an event without data', () => {
    const { data: _, ...rest } = event();
    expect(toKafkaMessage(rest as SpecstreamEvent, { topic: 't' }).message.value).toBeNull();
  });

  it('replaces every {type} of the topic template', () => {
    expect(toKafkaMessage(event(), { topic: 'specstream.{type}' }).topic).toBe('specstream.grant.created');
    expect(toKafkaMessage(event({ type: 'audit_log.created' } as Partial<SpecstreamEvent>), { topic: '{type}-{type}' }).topic).toBe('audit_log.created-audit_log.created');
  });
});

describe('kafkaTopic', () => {
  it('throws TypeError on another placeholder', () => {
    expect(() => kafkaTopic('events.{source}', 'a.b')).toThrow(new TypeError('Kafka topic template "events.{source}": unknown placeholder {source}; only {type} is supported'));
  });
  it.each([['events/{type}'], ['has space'], ['x'.repeat(250)], ['..']])('throws RangeError on the illegal topic %j', (template) => {
    expect(() => kafkaTopic(template, 'grant.created')).toThrow(RangeError);
  });
  it('accepts 249 legal characters', () => {
    expect(kafkaTopic('a'.repeat(249), 'x')).toBe('a'.repeat(249));
  });
});

describe('KafkaDestination', () => {
  describe('constructor', () => {
    it.each<[string, KafkaDestinationOptions, Error]>([
      ['without topic', { brokers: 'k:9092' } as KafkaDestinationOptions, new TypeError('KafkaDestination: `topic` is required')],
      ['without brokers', { topic: 'events' }, new TypeError('KafkaDestination: `brokers` is required (or an injected `kafka` or `producer`)')],
      ['with blank brokers', { topic: 'events', brokers: ' , ' }, new TypeError('KafkaDestination: `brokers` is required (or an injected `kafka` or `producer`)')],
      ['with an unknown key', { topic: 'events', brokers: 'k:9092', key: 'time' as 'id' }, new TypeError('KafkaDestination: `key` must be subject, type or id, got "time"')],
      ['with an unknown compression', { topic: 'events', brokers: 'k:9092', compression: 'zstd' as 'gzip' }, new TypeError('KafkaDestination: `compression` must be none or gzip, got "zstd"')],
      ['with a bad template', { topic: 'events.{id}', brokers: 'k:9092' }, new TypeError('Kafka topic template "events.{id}": unknown placeholder {id}; only {type} is supported')],
      ['with no retries', { topic: 'events', brokers: 'k:9092', retries: 0 }, new RangeError('KafkaDestination: `retries` must be an integer >= 1 (an idempotent producer needs them), got 0')],
    ])('throws %s', (_, options, error) => {
      expect(() => new KafkaDestination(options)).toThrow(error);
    });

    it('is named kafka:<topic> unless named', () => {
      expect(new KafkaDestination({ topic: 'specstream.{type}', brokers: ['k:9092'] }).name).toBe('kafka:specstream.{type}');
      expect(new KafkaDestination({ topic: 'events', brokers: 'k:9092', name: 'audit' }).name).toBe('audit');
    });
  });

  describe('#send', () => {
    let kafka: RecordingKafka;
    beforeEach(() => {
      kafka = new RecordingKafka();
    });

    it('creates one idempotent producer (maxInFlightRequests 1) and connects it once', async () => {
      const destination = new KafkaDestination({ topic: 'events', kafka, retries: 7 });
      await destination.send([event()]);
      await destination.send([event({ id: 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X5Z' })]);
      expect(kafka.configs).toEqual([{ idempotent: true, maxInFlightRequests: 1, retry: { retries: 7 } }]);
      expect(kafka.producers.map((p) => [p.connects, p.batches.length])).toEqual([[1, 2]]);
    });

    it('sends each batch with acks -1, grouped by topic in log order', async () => {
      const destination = new KafkaDestination({ topic: 'ss.{type}', kafka });
      const events = [
        event({ id: 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X51' }),
        event({ id: 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X52', type: 'grant.revoked' } as Partial<SpecstreamEvent>),
        event({ id: 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X53' }),
      ];
      await destination.send(events);
      const [sent] = kafka.producers[0]!.batches;
      expect(sent!.acks).toBe(-1);
      expect(sent!.compression).toBe(kafkajs.CompressionTypes.None);
      expect(sent!.topicMessages!.map((t) => [t.topic, t.messages.map((m) => m.headers!.ce_id)])).toEqual([
        ['ss.grant.created', ['evt_01JGZ6S4QH6Y6Q3N8V0T2W4X51', 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X53']],
        ['ss.grant.revoked', ['evt_01JGZ6S4QH6Y6Q3N8V0T2W4X52']],
      ]);
      expect(sent!.topicMessages![0]!.messages[0]).toEqual(toKafkaMessage(events[0]!, { topic: 'ss.{type}' }).message);
    });

    it('asks for gzip as kafkajs numbers it', async () => {
      await new KafkaDestination({ topic: 'events', kafka, compression: 'gzip' }).send([event()]);
      expect(kafka.producers[0]!.batches[0]!.compression).toBe(kafkajs.CompressionTypes.GZIP);
    });

    it('keys by the key option', async () => {
      await new KafkaDestination({ topic: 'events', kafka, key: 'id' }).send([event()]);
      expect(kafka.producers[0]!.batches[0]!.topicMessages![0]!.messages[0]!.key).toBe('evt_01JGZ6S4QH6Y6Q3N8V0T2W4X5Y');
    });

    it('uses an injected producer as it is: neither connected nor disconnected', async () => {
      const producer = new RecordingProducer();
      const destination = new KafkaDestination({ topic: 'events', producer: producer as unknown as Producer });
      await destination.send([event()]);
      await destination.close();
      expect([producer.connects, producer.batches.length, producer.disconnects]).toEqual([0, 1, 0]);
    });

    it('connects again at the next send after a failed connect', async () => {
      let attempts = 0;
      const flaky = {
        producer: () => ({
          connect: async () => {
            attempts += 1;
            if (attempts === 1) throw new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9');
          },
          disconnect: async () => {},
          sendBatch: async () => [],
        }),
      } as unknown as KafkaDestinationOptions['kafka'];
      const destination = new KafkaDestination({ topic: 'events', kafka: flaky });
      await expect(destination.send([event()])).rejects.toThrow(new RetryableError('kafka:events: Connection error: connect ECONNREFUSED 127.0.0.1:9'));
      await destination.send([event()]);
      expect(attempts).toBe(2);
    });
  });

  describe('error classification', () => {
    it.each<[string, () => Promise<Error> | Error, typeof RetryableError | typeof PermanentError, string]>([
      ['TOPIC_AUTHORIZATION_FAILED', () => asProducerThrows(createErrorFromCode(29)), PermanentError, 'TOPIC_AUTHORIZATION_FAILED: Not authorized to access topics: [Topic authorization failed]'],
      ['MESSAGE_TOO_LARGE', () => asProducerThrows(createErrorFromCode(10)), PermanentError, 'MESSAGE_TOO_LARGE: The request included a message larger than the max message size the server will accept'],
      ['INVALID_RECORD', () => asProducerThrows(createErrorFromCode(87)), PermanentError, 'INVALID_RECORD: This record has failed the validation on broker and hence be rejected'],
      ['a bare non-retriable protocol error', () => createErrorFromCode(29), PermanentError, 'TOPIC_AUTHORIZATION_FAILED: Not authorized to access topics: [Topic authorization failed]'],
      ['SASL authentication failure', () => asProducerThrows(new KafkaJSSASLAuthenticationError('SASL PLAIN authentication failed: Authentication failed')), PermanentError, 'SASL PLAIN authentication failed: Authentication failed'],
      ['UNKNOWN_TOPIC_OR_PARTITION after kafkajs retried', () => asProducerThrows(createErrorFromCode(3)), RetryableError, 'UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition'],
      ['NOT_ENOUGH_REPLICAS after kafkajs retried', () => asProducerThrows(createErrorFromCode(19)), RetryableError, 'NOT_ENOUGH_REPLICAS: Messages are rejected since there are fewer in-sync replicas than required'],
      ['a connection error after kafkajs retried', () => asProducerThrows(new KafkaJSConnectionError('Connection error: read ECONNRESET')), RetryableError, 'Connection error: read ECONNRESET'],
      ['a request timeout after kafkajs retried', () => asProducerThrows(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out')), RetryableError, 'Request Produce(key: 0, version: 7) timed out'],
      ['an error not from kafkajs', () => new Error('socket hang up'), RetryableError, 'socket hang up'],
    ])('maps %s', async (_, makeError, kind, message) => {
      const kafka = new RecordingKafka();
      const destination = new KafkaDestination({ topic: 'events', kafka });
      await destination.send([event()]); // creates the producer
      kafka.producers[0]!.failures.push(await makeError());
      const rejection = await destination.send([event()]).catch((error: unknown) => error);
      expect(rejection).toBeInstanceOf(kind);
      expect((rejection as Error).message).toBe(`kafka:events: ${message}`);
      expect((rejection as Error).cause).toBeInstanceOf(Error);
    });

    it('recreates the producer after UNKNOWN_PRODUCER_ID, as retryable', async () => {
      const kafka = new RecordingKafka();
      const destination = new KafkaDestination({ topic: 'events', kafka });
      await destination.send([event()]);
      kafka.producers[0]!.failures.push(await asProducerThrows(createErrorFromCode(59)));
      await expect(destination.send([event()])).rejects.toBeInstanceOf(RetryableError);
      await destination.send([event()]);
      expect(kafka.producers.map((p) => [p.connects, p.batches.length, p.disconnects])).toEqual([
        [1, 1, 1],
        [1, 1, 0],
      ]);
    });

    it('dead-letters an event whose topic is illegal, before anything is sent', async () => {
      const kafka = new RecordingKafka();
      const destination = new KafkaDestination({ topic: 'x{type}', kafka });
      const rejection = await destination.send([event({ type: 'bad type' } as unknown as Partial<SpecstreamEvent>)]).catch((error: unknown) => error);
      expect(rejection).toBeInstanceOf(PermanentError);
      expect((rejection as Error).message).toBe('kafka:x{type}: event evt_01JGZ6S4QH6Y6Q3N8V0T2W4X5Y: Kafka topic "xbad type" is not legal: use 1 to 249 of a-z A-Z 0-9 . _ -');
      expect(kafka.producers).toEqual([]);
    });
  });

  describe('client configuration', () => {
    afterEach(() => {
      vi.doUnmock('kafkajs');
      vi.resetModules();
    });

    /**
     * Mocks kafkajs with a `Kafka` that records the config of each client built and takes its
     * producers from `kafka`, and imports the destination module afresh, against that mock.
     */
    async function importWithRecordedClients(kafka = new RecordingKafka()): Promise<{ configs: KafkaConfig[]; fresh: typeof import('../../src/destinations/kafka-destination.js') }> {
      const configs: KafkaConfig[] = [];
      vi.doMock('kafkajs', async (importOriginal) => {
        const real = (await importOriginal<{ default: typeof kafkajs }>()).default;
        class Kafka {
          constructor(config: KafkaConfig) {
            configs.push(config);
          }
          producer(config: ProducerConfig): Producer {
            return kafka.producer(config);
          }
        }
        return { default: { ...real, Kafka } };
      });
      vi.resetModules();
      return { configs, fresh: await import('../../src/destinations/kafka-destination.js') };
    }

    it('gives kafkajs the brokers, client id, TLS, SASL, timeouts, retries and log level', async () => {
      const kafka = new RecordingKafka();
      const { configs, fresh } = await importWithRecordedClients(kafka);
      const destination = new fresh.KafkaDestination({
        topic: 'events',
        brokers: ' k1:9093 , k2:9093',
        clientId: 'billing-forwarder',
        ssl: { rejectUnauthorized: false },
        sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
        connectionTimeoutMs: 2_500,
        requestTimeoutMs: 12_000,
        retries: 3,
        logLevel: 'warn',
      });
      await destination.send([event()]);
      expect(configs).toEqual([
        {
          brokers: ['k1:9093', 'k2:9093'],
          clientId: 'billing-forwarder',
          ssl: { rejectUnauthorized: false },
          sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
          connectionTimeout: 2_500,
          requestTimeout: 12_000,
          retry: { retries: 3 },
          logLevel: kafkajs.logLevel.WARN,
        },
      ]);
      expect(kafka.configs).toEqual([{ idempotent: true, maxInFlightRequests: 1, retry: { retries: 3 } }]);
      await destination.close();
      expect(kafka.producers[0]!.disconnects).toBe(1);
    });

    it('defaults the client id, timeouts, retries and log level, without TLS or SASL', async () => {
      const { configs, fresh } = await importWithRecordedClients();
      await new fresh.KafkaDestination({ topic: 'events', brokers: ['k1:9092'] }).send([event()]);
      expect(configs).toEqual([
        { brokers: ['k1:9092'], clientId: 'specstream-forwarder', connectionTimeout: 1_000, requestTimeout: 30_000, retry: { retries: 5 }, logLevel: kafkajs.logLevel.ERROR },
      ]);
    });
  });

  describe('with a real kafkajs client', () => {
    it('fails retryably when no broker listens', async () => {
      const port = await closedPort();
      const destination = new KafkaDestination({ topic: 'events', brokers: `127.0.0.1:${port}`, retries: 1, logLevel: 'nothing' });
      const rejection = await destination.send([event()]).catch((error: unknown) => error);
      await destination.close();
      expect(rejection).toBeInstanceOf(RetryableError);
      expect((rejection as Error).message).toMatch(new RegExp(`^kafka:events: .*ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    });
  });

  describe('#close', () => {
    it('disconnects the producer it created, once, and refuses a send afterwards', async () => {
      const kafka = new RecordingKafka();
      const destination = new KafkaDestination({ topic: 'events', kafka });
      await destination.send([event()]);
      await destination.close();
      await destination.close();
      expect(kafka.producers[0]!.disconnects).toBe(1);
      await expect(destination.send([event()])).rejects.toThrow(new Error('kafka:events: send() after close()'));
    });

    it('does nothing when nothing was sent', async () => {
      const kafka = new RecordingKafka();
      await new KafkaDestination({ topic: 'events', kafka }).close();
      expect(kafka.producers).toEqual([]);
    });
  });

  describe('loading', () => {
    it('does not load kafkajs until the first send', () => {
      // A fresh process, so that no other test has loaded kafkajs already.
      const script = `
        await import(${JSON.stringify(new URL('../../src/destinations/kafka-destination.ts', import.meta.url).href)});
        const { createRequire } = await import('node:module');
        const cache = createRequire(import.meta.url).cache;
        console.log(JSON.stringify(Object.keys(cache).filter((path) => path.includes('/node_modules/kafkajs/')).length));
      `;
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(out.trim()).toBe('0');
    });
  });
});

const BROKERS = process.env.KAFKA_BROKERS;
if (!BROKERS) console.warn('skipping the Kafka broker tests: KAFKA_BROKERS is not set (e.g. KAFKA_BROKERS=127.0.0.1:9092)');

describe.skipIf(!BROKERS)(`KafkaDestination against a broker${BROKERS ? '' : ' (skipped: KAFKA_BROKERS is not set)'}`, () => {
  const brokers = (BROKERS ?? '').split(',');
  const client = new kafkajs.Kafka({ brokers, clientId: 'specstream-test', logLevel: kafkajs.logLevel.NOTHING });
  let topic: string;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeEach(async () => {
    topic = uniqueName('specstream_test');
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    cleanups.push(async () => {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  // Registered after the hooks above, so that its afterEach (which stops the forwarder and disposes the server) runs before the cleanups.
  const harness = useForwarderHarness('kafka');

  /** Reads the topic from the beginning until `n` records arrived. */
  async function consume(n: number): Promise<KafkaMessage[]> {
    const consumer = client.consumer({ groupId: uniqueName('specstream_test_group') });
    cleanups.push(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: KafkaMessage[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push(message);
      },
    });
    await until(() => received.length >= n, `${n} records on ${topic}`, 30_000);
    return received;
  }

  it('stores each event as a binary-mode record with its headers, key and data', async () => {
    const destination = new KafkaDestination({ topic, brokers });
    cleanups.push(() => destination.close());
    const events = [event({ id: 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X51' }), event({ id: 'evt_01JGZ6S4QH6Y6Q3N8V0T2W4X52', subject: 'grant-8' })];
    await destination.send(events);
    const received = await consume(2);
    expect(received.map((m) => m.key?.toString())).toEqual(['grant-7', 'grant-8']);
    expect(received.map((m) => JSON.parse(m.value!.toString('utf8')) as unknown)).toEqual(events.map((e) => e.data));
    expect(Object.fromEntries(Object.entries(received[0]!.headers!).map(([name, value]) => [name, String(value)]))).toEqual(toKafkaMessage(events[0]!, { topic }).message.headers);
  });

  it('receives the stream from a forwarder, every event in order', async () => {
    const ids = await publishIds(harness.server, batch(7, 'kafka'));
    await harness.start(new KafkaDestination({ topic, brokers }), { batchSize: 3 });
    const received = await consume(7);
    expect(received.map((m) => m.headers!.ce_id!.toString())).toEqual(ids);
  });
});
