/**
 * Produces each event as one Kafka record with kafkajs, in the CloudEvents Kafka protocol binding's
 * binary content mode (https://github.com/cloudevents/spec/blob/main/cloudevents/bindings/kafka-protocol-binding.md):
 * the record's value is the event's `data`, every other attribute a `ce_` header.
 *
 * kafkajs is imported on the first `send`, so loading `specstream/destinations` does not load it.
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { CompressionTypes, Kafka, KafkaConfig, Producer, ProducerBatch, SASLOptions } from 'kafkajs';
import type { GenericEnvelope, SpecstreamEvent } from '../generated/events.js';
import { batchingOf, PermanentError, RetryableError, type BatchingOptions, type Destination } from './destination.js';
import { assertPeerInstalled, importPeer } from './optional-peer.js';
import { eventData, NATIVE_ENVELOPE_KEYS, type EnvelopeKeys } from './wire-event.js';

/** Which attribute of an event becomes the record key, and so chooses the partition. */
export type KafkaKeyAttribute = 'subject' | 'type' | 'id';

/** SASL credentials; the mechanisms kafkajs supports with a username and password. */
export interface KafkaSaslOptions {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

/** The part of a kafkajs producer that {@link KafkaDestination} uses. */
export type KafkaProducerLike = Pick<Producer, 'sendBatch'>;

/** Options of {@link KafkaDestination}. Everything but `kafka` and `producer` is plain JSON. */
export interface KafkaDestinationOptions extends BatchingOptions {
  /**
   * The topic, where `{type}` is replaced by the event's type: `'events'` (one topic) or
   * `'specstream.{type}'` (one per type). The result must be a legal Kafka topic name (1 to 249 of
   * `a-z A-Z 0-9 . _ -`).
   */
  topic: string;
  /** Bootstrap brokers, as a list or a comma-separated string (`'k1:9092,k2:9092'`). Required unless `kafka` or `producer` is given. */
  brokers?: string[] | string;
  /** The record key: the event's `subject` (the default; its `type` when it has none), `type` or `id`. Records with one key keep their order. */
  key?: KafkaKeyAttribute;
  /** Defaults to `specstream-forwarder`. */
  clientId?: string;
  /** TLS: `true` for the system's CAs, or options (`ca`, `cert`, `key` as PEM text, `rejectUnauthorized`, …). Defaults to none. */
  ssl?: boolean | TlsConnectionOptions;
  /** SASL authentication. Defaults to none. */
  sasl?: KafkaSaslOptions;
  /** Compression of record batches: `none` (the default) or `gzip`. */
  compression?: 'none' | 'gzip';
  /** Timeout of a TCP/TLS connection to a broker. Defaults to 1 000 ms (kafkajs's default). */
  connectionTimeoutMs?: number;
  /** Timeout of one request to a broker, the produce request included. Defaults to 30 000 ms. */
  requestTimeoutMs?: number;
  /**
   * Retries kafkajs makes itself (with its own backoff, about 9 s for 5) before a `send` fails with a
   * retryable error and the forwarder's backoff takes over; at least 1. Defaults to 5. kafkajs's default for an
   * idempotent producer is to retry forever, which would hide an outage from the forwarder's metrics
   * and keep `stop()` waiting.
   */
  retries?: number;
  /** kafkajs's own log level: `nothing`, `error` (the default), `warn`, `info` or `debug`. */
  logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
  /** Defaults to `kafka:<topic>`. */
  name?: string;
  /** A kafkajs client to create the producer from (this destination creates, connects and disconnects the producer). */
  kafka?: Pick<Kafka, 'producer'>;
  /**
   * A producer to use as it is: already connected by the caller, who also disconnects it (`close`
   * does not). Create it with `idempotent: true, maxInFlightRequests: 1`.
   */
  producer?: KafkaProducerLike;
}

/** One record as {@link toKafkaMessage} maps an event; `message` is a kafkajs `Message`. */
export interface KafkaRecord {
  topic: string;
  message: {
    key: string;
    /** The `data` as UTF-8 JSON; null for an event without `data` (a tombstone in a compacted topic). */
    value: Buffer | null;
    headers: Record<string, string>;
  };
}

/** Options of {@link toKafkaMessage}. */
export interface KafkaMappingOptions {
  /** The topic template (`{type}` is replaced by the event's type). */
  topic: string;
  /** Defaults to `subject`. */
  key?: KafkaKeyAttribute;
  /** Where the envelope keeps the data (the record's value; not a header). Defaults to the native envelope's `data`. */
  envelope?: EnvelopeKeys;
}

const LEGAL_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * The topic for an event type: `template` with every `{type}` replaced.
 * @throws TypeError on a placeholder other than `{type}`
 * @throws RangeError when the result is not a legal Kafka topic name
 */
export function kafkaTopic(template: string, type: string): string {
  const topic = template.replace(PLACEHOLDER, (whole, name: string) => {
    if (name !== 'type') throw new TypeError(`Kafka topic template ${JSON.stringify(template)}: unknown placeholder ${whole}; only {type} is supported`);
    return type;
  });
  if (!LEGAL_TOPIC.test(topic) || topic === '.' || topic === '..') {
    throw new RangeError(`Kafka topic ${JSON.stringify(topic)} is not legal: use 1 to 249 of a-z A-Z 0-9 . _ -`);
  }
  return topic;
}

/**
 * Maps an event to a record in the CloudEvents Kafka binding's binary content mode:
 * - value: `data` as UTF-8 JSON (null when the event has no `data`);
 * - `content-type`: the event's `datacontenttype` (defaults to `application/json`);
 * - `ce_<attribute>` for every other attribute that is present (`ce_specversion`, `ce_id`,
 *   `ce_source`, `ce_type`, `ce_time`, `ce_subject`, and any extension), the value as text;
 * - key: the attribute `options.key` names (`subject` falls back to `type` when absent).
 * The record gets no timestamp of its own (the broker's clock sets it; the event's is `ce_time`),
 * so a replay of old events is not expired at once by a topic's time-based retention.
 * @throws TypeError, RangeError as {@link kafkaTopic}
 */
export function toKafkaMessage(event: SpecstreamEvent | GenericEnvelope, options: KafkaMappingOptions): KafkaRecord {
  const keys = options.envelope ?? NATIVE_ENVELOPE_KEYS;
  const headers: Record<string, string> = { 'content-type': event.datacontenttype ?? 'application/json' };
  for (const [name, value] of Object.entries(event)) {
    if (name === keys.data || name === 'datacontenttype' || value === undefined || value === null) continue;
    // CloudEvents attributes are scalars; anything else is not an attribute and has no header form.
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') headers[`ce_${name}`] = String(value);
  }
  const keyBy = options.key ?? 'subject';
  const key = keyBy === 'subject' ? (event.subject ?? event.type) : keyBy === 'type' ? event.type : event.id;
  const data = eventData(event, keys);
  return {
    topic: kafkaTopic(options.topic, event.type),
    message: { key, value: data === undefined ? null : Buffer.from(JSON.stringify(data), 'utf8'), headers },
  };
}

/** Protocol errors that mean the idempotent producer's state is stale, not that the records are bad. */
const PRODUCER_STATE_ERRORS = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

type KafkaJsErrorShape = Error & { retriable?: boolean; type?: string; code?: number };

function isKafkaJsError(error: unknown): error is KafkaJsErrorShape {
  return error instanceof Error && error.name.startsWith('KafkaJS') && typeof (error as KafkaJsErrorShape).retriable === 'boolean';
}

/** kafkajs's retrier wraps the error it stops at, keeping it as `cause`. */
const WRAPPERS = new Set(['KafkaJSNonRetriableError', 'KafkaJSNumberOfRetriesExceeded']);

/** The error kafkajs's wrappers (`KafkaJSNonRetriableError`, `KafkaJSNumberOfRetriesExceeded`) hold. */
function unwrap(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && WRAPPERS.has(current.name) && current.cause instanceof Error; depth++) {
    current = current.cause;
  }
  return current;
}

/**
 * Records on a topic, via an idempotent kafkajs producer (`idempotent: true`,
 * `maxInFlightRequests: 1`, `acks: -1`): `send` resolves once every in-sync replica has the batch,
 * and records with one key keep their order. Each `send` is one `sendBatch` (the events grouped by
 * topic, in order). Idempotence removes the duplicates of kafkajs's own retries; a batch the forwarder
 * sends again (after a crash or a failed `send`) can be stored twice, so a consumer that must see each
 * event once de-duplicates by `ce_id`.
 *
 * Failures: an error kafkajs marks retriable (connection, timeout, leader election, unknown topic),
 * and one it gave up retrying, is a {@link RetryableError}; a stale producer state is retryable too
 * (the producer is recreated). An error kafkajs will not retry is a {@link PermanentError}: the
 * broker refused these records (`TOPIC_AUTHORIZATION_FAILED`, `MESSAGE_TOO_LARGE`, `INVALID_RECORD`)
 * or the credentials (SASL authentication failed), as a webhook's 401. An event whose topic is not
 * legal is permanent. `flush` has nothing to do: `send` waits for the acknowledgement.
 */
export class KafkaDestination implements Destination {
  readonly name: string;
  /** From the options (`batchSize`, `flushIntervalMs`): how the forwarder batches for it unless `addDestination` says otherwise. */
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;
  readonly #options: KafkaDestinationOptions;
  readonly #brokers: string[];
  /** The producer, once `send` asked for it; a rejected one is dropped, so the next `send` connects again. */
  #producer: Promise<KafkaProducerLike> | undefined;
  #closed = false;
  #keys: EnvelopeKeys = NATIVE_ENVELOPE_KEYS;

  /**
   * @throws TypeError without `topic`, with a template that has another placeholder than `{type}`,
   * without `brokers` (unless `kafka` or `producer` is given), or with an unknown `key`
   * @throws RangeError when the topic template cannot give a legal topic, or on a bad number
   * @throws MissingPeerError without `kafkajs` installed (unless `kafka` or `producer` is given)
   */
  constructor(options: KafkaDestinationOptions) {
    if (typeof options.topic !== 'string' || options.topic === '') throw new TypeError('KafkaDestination: `topic` is required');
    kafkaTopic(options.topic, 'specstream.type_check'); // validates the template now rather than at the first send
    if (options.key !== undefined && !['subject', 'type', 'id'].includes(options.key)) {
      throw new TypeError(`KafkaDestination: \`key\` must be subject, type or id, got ${JSON.stringify(options.key)}`);
    }
    if (options.compression !== undefined && options.compression !== 'none' && options.compression !== 'gzip') {
      throw new TypeError(`KafkaDestination: \`compression\` must be none or gzip, got ${JSON.stringify(options.compression)}`);
    }
    for (const name of ['connectionTimeoutMs', 'requestTimeoutMs'] as const) {
      const value = options[name];
      if (value !== undefined && !(value > 0)) throw new RangeError(`KafkaDestination: \`${name}\` must be > 0, got ${value}`);
    }
    if (options.retries !== undefined && !(Number.isInteger(options.retries) && options.retries >= 1)) {
      throw new RangeError(`KafkaDestination: \`retries\` must be an integer >= 1 (an idempotent producer needs them), got ${options.retries}`);
    }
    const brokers = typeof options.brokers === 'string' ? options.brokers.split(',') : (options.brokers ?? []);
    this.#brokers = brokers.map((broker) => broker.trim()).filter((broker) => broker !== '');
    if (this.#brokers.length === 0 && !options.kafka && !options.producer) {
      throw new TypeError('KafkaDestination: `brokers` is required (or an injected `kafka` or `producer`)');
    }
    if (!options.kafka && !options.producer) assertPeerInstalled('KafkaDestination', 'kafkajs');
    this.#options = options;
    this.name = options.name ?? `kafka:${options.topic}`;
    ({ batchSize: this.batchSize, flushIntervalMs: this.flushIntervalMs } = batchingOf(options, 'KafkaDestination'));
  }

  /** Takes each record's value from the envelope's data key. */
  useEnvelope(keys: EnvelopeKeys): void {
    this.#keys = keys;
  }

  async send(events: readonly SpecstreamEvent[]): Promise<void> {
    if (this.#closed) throw new Error(`${this.name}: send() after close()`);
    const byTopic = new Map<string, KafkaRecord['message'][]>();
    for (const event of events) {
      let record: KafkaRecord;
      try {
        record = toKafkaMessage(event, { topic: this.#options.topic, key: this.#options.key, envelope: this.#keys });
      } catch (error) {
        throw new PermanentError(`${this.name}: event ${event.id}: ${(error as Error).message}`, { cause: error });
      }
      const messages = byTopic.get(record.topic) ?? [];
      if (messages.length === 0) byTopic.set(record.topic, messages);
      messages.push(record.message);
    }
    const batch: ProducerBatch = {
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      acks: -1,
      // CompressionTypes.None / .GZIP, written as numbers so that kafkajs is not loaded for its enum.
      compression: (this.#options.compression === 'gzip' ? 1 : 0) as CompressionTypes,
    };
    let producer: KafkaProducerLike;
    try {
      producer = await this.#connect();
      await producer.sendBatch(batch);
    } catch (error) {
      throw this.#classify(error);
    }
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#disconnect();
  }

  /** The producer, created and connected on first use; a failed connect is tried again at the next `send`. */
  #connect(): Promise<KafkaProducerLike> {
    this.#producer ??= this.#create().catch((error: unknown) => {
      this.#producer = undefined;
      throw error;
    });
    return this.#producer;
  }

  async #create(): Promise<KafkaProducerLike> {
    if (this.#options.producer) return this.#options.producer;
    const retry = { retries: this.#options.retries ?? 5 };
    let kafka = this.#options.kafka;
    if (!kafka) {
      const kafkajs = (await importPeer('KafkaDestination', 'kafkajs', () => import('kafkajs'))).default;
      const levels = { nothing: kafkajs.logLevel.NOTHING, error: kafkajs.logLevel.ERROR, warn: kafkajs.logLevel.WARN, info: kafkajs.logLevel.INFO, debug: kafkajs.logLevel.DEBUG };
      const config: KafkaConfig = {
        brokers: this.#brokers,
        clientId: this.#options.clientId ?? 'specstream-forwarder',
        connectionTimeout: this.#options.connectionTimeoutMs ?? 1_000,
        requestTimeout: this.#options.requestTimeoutMs ?? 30_000,
        retry,
        logLevel: levels[this.#options.logLevel ?? 'error'],
      };
      if (this.#options.ssl !== undefined) config.ssl = this.#options.ssl;
      if (this.#options.sasl !== undefined) config.sasl = this.#options.sasl as SASLOptions; // the same shape, as a union per mechanism
      kafka = new kafkajs.Kafka(config);
    }
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry });
    try {
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    return producer;
  }

  /** Disconnects the producer this destination created (never an injected one); the next `send` creates another. */
  async #disconnect(): Promise<void> {
    const pending = this.#producer;
    this.#producer = undefined;
    const producer = await pending?.catch(() => undefined);
    if (producer && producer !== this.#options.producer) await (producer as Producer).disconnect();
  }

  #classify(error: unknown): RetryableError | PermanentError {
    const what = `${this.name}: ${describeError(error)}`;
    if (!isKafkaJsError(error)) return new RetryableError(what, { cause: error });
    // kafkajs gave up retrying a retriable error: the forwarder's backoff takes over.
    if (error.name === 'KafkaJSNumberOfRetriesExceeded') return new RetryableError(what, { cause: error });
    const root = unwrap(error);
    if (isKafkaJsError(root) && root.type !== undefined && PRODUCER_STATE_ERRORS.has(root.type)) {
      // The sequence numbers are out of step with the broker's; a new producer (a new producer id) starts afresh.
      void this.#disconnect().catch(() => undefined);
      return new RetryableError(what, { cause: error });
    }
    const retriable = isKafkaJsError(root) ? root.retriable : error.retriable;
    return retriable === false ? new PermanentError(what, { cause: error }) : new RetryableError(what, { cause: error });
  }
}

/** `TYPE: message` for a kafkajs protocol error (found through kafkajs's wrappers), else the message. */
function describeError(error: unknown): string {
  const root = unwrap(error);
  const message = error instanceof Error ? error.message : String(error);
  return isKafkaJsError(root) && root.type !== undefined ? `${root.type}: ${message}` : message;
}
