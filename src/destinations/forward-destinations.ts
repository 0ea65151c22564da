/**
 * The destination types a `forward.yaml` can name: each type's options (snake_case, as in the file)
 * and how they become a {@link Destination}. A custom destination is used from code instead
 * (`forwarder.addDestination(myDestination)`).
 */
import { z } from 'zod';
import type { Destination } from './destination.js';
import { BigQueryDestination } from './bigquery-destination.js';
import { DatadogDestination } from './datadog-destination.js';
import { FileDestination } from './file-destination.js';
import { KafkaDestination } from './kafka-destination.js';
import { NatsDestination } from './nats-destination.js';
import { S3Destination } from './s3-destination.js';
import { SplunkHecDestination } from './splunk-hec-destination.js';
import { WebhookDestination } from './webhook-destination.js';

/** What building a destination from the file needs besides its options. */
export interface CreateContext {
  /** The entry's `name`, if it gave one. */
  name: string | undefined;
  /** Resolves a path in the file against the file's directory (`-` stays stdout). */
  resolvePath(path: string): string;
}

interface DestinationKind<S extends z.ZodRawShape> {
  schema: z.ZodObject<S>;
  create(options: z.infer<z.ZodObject<S>>, context: CreateContext): Destination;
}

function kind<S extends z.ZodRawShape>(schema: z.ZodObject<S>, create: DestinationKind<S>['create']): DestinationKind<S> {
  return { schema, create };
}

const headers = z.record(z.string(), z.string());
const positiveInt = z.number().int().positive();

type Camel<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;
/** `T` with its snake_case keys in camelCase. */
export type CamelKeys<T> = { [K in keyof T as K extends string ? Camel<K> : K]: T[K] };

/** `{ timeout_ms: 5 }` → `{ timeoutMs: 5 }`, leaving out undefined values; one level deep. */
export function camelKeys<T extends object>(options: T): CamelKeys<T> {
  // The key renaming below is exactly what CamelKeys describes; TypeScript cannot follow it through fromEntries.
  return Object.fromEntries(
    Object.entries(options)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()), value]),
  ) as CamelKeys<T>;
}

/** The entry's `name`, when given, as a constructor option. */
const named = (context: CreateContext) => (context.name ? { name: context.name } : {});

/** Every type, by the name used in `type:`. */
export const DESTINATION_TYPES = {
  file: kind(z.object({ path: z.string().min(1) }), (o, c) => new FileDestination({ path: c.resolvePath(o.path), ...named(c) })),
  stdout: kind(z.object({}), (_o, c) => new FileDestination({ path: '-', ...named(c) })),
  webhook: kind(
    z.object({ url: z.url({ protocol: /^https?$/ }), secret: z.string().min(1), headers: headers.optional(), timeout_ms: z.number().int().positive().optional() }),
    (o, c) => new WebhookDestination({ ...camelKeys(o), ...named(c) }),
  ),
  s3: kind(
    z.object({
      bucket: z.string().min(1),
      prefix: z.string().optional(),
      region: z.string().min(1).optional(),
      endpoint: z.url().optional(),
      force_path_style: z.boolean().optional(),
      credentials: z.strictObject({ access_key_id: z.string().min(1), secret_access_key: z.string().min(1), session_token: z.string().min(1).optional() }).optional(),
      gzip: z.boolean().optional(),
      max_attempts: positiveInt.optional(),
      request_checksum_calculation: z.enum(['WHEN_SUPPORTED', 'WHEN_REQUIRED']).optional(),
      timeout_ms: positiveInt.optional(),
    }),
    ({ credentials, ...o }, c) =>
      new S3Destination({
        ...camelKeys(o),
        ...(credentials ? { credentials: camelKeys(credentials) } : {}),
        ...named(c),
      }),
  ),
  datadog: kind(
    z.object({
      api_key: z.string().min(1),
      site: z.string().min(1).optional(),
      url: z.url({ protocol: /^https?$/ }).optional(),
      ddsource: z.string().min(1).optional(),
      service: z.string().min(1).optional(),
      hostname: z.string().min(1).optional(),
      tags: z.array(z.string().min(1)).optional(),
      use_event_time: z.boolean().optional(),
      gzip: z.boolean().optional(),
      max_request_bytes: positiveInt.optional(),
      max_entry_bytes: positiveInt.optional(),
      max_entries_per_request: positiveInt.optional(),
      timeout_ms: positiveInt.optional(),
    }),
    (o, c) => new DatadogDestination({ ...camelKeys(o), ...named(c) }),
  ),
  splunk: kind(
    z.object({
      url: z.url({ protocol: /^https?$/ }),
      token: z.string().min(1),
      index: z.string().min(1).optional(),
      sourcetype: z.string().min(1).optional(),
      source: z.string().min(1).optional(),
      host: z.string().min(1).optional(),
      channel: z.string().min(1).optional(),
      ack: z.boolean().optional(),
      ack_poll_interval_ms: positiveInt.optional(),
      ack_timeout_ms: positiveInt.optional(),
      gzip: z.boolean().optional(),
      max_request_bytes: positiveInt.optional(),
      timeout_ms: positiveInt.optional(),
    }),
    (o, c) => new SplunkHecDestination({ ...camelKeys(o), ...named(c) }),
  ),
  bigquery: kind(
    z.object({
      project_id: z.string().min(1).optional(),
      dataset: z.string().min(1),
      table: z.string().min(1),
      key_filename: z.string().min(1).optional(),
      api_endpoint: z.url().optional(),
      skip_invalid_rows: z.boolean().optional(),
      ignore_unknown_values: z.boolean().optional(),
      max_retries: z.number().int().nonnegative().optional(),
      timeout_ms: positiveInt.optional(),
    }),
    (o, c) =>
      new BigQueryDestination({
        ...camelKeys(o),
        ...(o.key_filename ? { keyFilename: c.resolvePath(o.key_filename) } : {}),
        ...named(c),
      }),
  ),
  kafka: kind(
    z.object({
      topic: z.string().min(1),
      brokers: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]),
      key: z.enum(['subject', 'type', 'id']).optional(),
      client_id: z.string().min(1).optional(),
      ssl: z
        .union([
          z.boolean(),
          z.strictObject({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional(), reject_unauthorized: z.boolean().optional(), servername: z.string().optional() }),
        ])
        .optional(),
      sasl: z.strictObject({ mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']), username: z.string().min(1), password: z.string().min(1) }).optional(),
      compression: z.enum(['none', 'gzip']).optional(),
      connection_timeout_ms: positiveInt.optional(),
      request_timeout_ms: positiveInt.optional(),
      retries: positiveInt.optional(),
      log_level: z.enum(['nothing', 'error', 'warn', 'info', 'debug']).optional(),
    }),
    ({ ssl, ...o }, c) => new KafkaDestination({ ...camelKeys(o), ...(ssl !== undefined ? { ssl: typeof ssl === 'boolean' ? ssl : camelKeys(ssl) } : {}), ...named(c) }),
  ),
  nats: kind(
    z.object({
      subject: z.string().min(1).optional(),
      jetstream: z.boolean().optional(),
      servers: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]).optional(),
      token: z.string().min(1).optional(),
      user: z.string().min(1).optional(),
      pass: z.string().min(1).optional(),
      creds_file: z.string().min(1).optional(),
      timeout_ms: positiveInt.optional(),
    }),
    (o, c) => new NatsDestination({ ...camelKeys(o), ...(o.creds_file ? { credsFile: c.resolvePath(o.creds_file) } : {}), ...named(c) }),
  ),
};

/** A `type:` a `forward.yaml` destination may have. */
export type DestinationType = keyof typeof DESTINATION_TYPES;
