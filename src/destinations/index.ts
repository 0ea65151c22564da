/**
 * Destinations (`specstream/destinations`): forward a Specstream stream to other
 * systems at least once. See {@link Forwarder}, and {@link EventSource} for the API of
 * `@grantex/destinations` (`EventSource`, `EventDestination`, `GrantexEvent`, `SplunkDestination`).
 */
export { FileCheckpoint, MemoryCheckpoint, oldestPosition, type Checkpoint, type Positions } from './checkpoint.js';
export {
  errorForStatus,
  isRetryableStatus,
  parseRetryAfter,
  PermanentError,
  resolveDestinationOptions,
  RetryableError,
  retryDelay,
  type AnyDestination,
  type BatchingOptions,
  type Destination,
  type DestinationOptions,
  type EventDestination,
  type ResolvedDestinationOptions,
  type RetryBackoffOptions,
} from './destination.js';
export { FileDestination, type FileDestinationOptions } from './file-destination.js';
export { defaultCheckpointPath, EventSource, type EventSourceOptions } from './event-source.js';
export { MAX_SPEC_BYTES, serverProfile, SPEC_TIMEOUT_MS, type ServerProfileOptions } from './server-profile.js';
export { SplunkDestination, type SplunkDestinationOptions } from './splunk-destination.js';
export { eventData, eventTime, NATIVE_ENVELOPE_KEYS, type EnvelopeKeys, type GrantexEvent, type WireEvent } from './wire-event.js';
export { Forwarder, START_TIMEOUT_MS, type BatchReport, type DestinationMetrics, type ForwarderOptions, type ForwarderState, type StopOptions } from './forwarder.js';
export { signWebhook, WebhookDestination, webhookMessageId, type WebhookDestinationOptions } from './webhook-destination.js';
export { ForwardConfigError, interpolateEnv, loadForwardConfig, parseForwardConfig, type ForwardConfig } from './forward-config.js';
export { DESTINATION_TYPES, type DestinationType } from './forward-destinations.js';
export { registerForwarderMetrics } from './forwarder-metrics.js';
export { MissingPeerError } from './optional-peer.js';
export { S3Destination, s3Objects, type S3DestinationOptions, type S3Object } from './s3-destination.js';
export { BigQueryDestination, bigQueryRow, bigQueryTableSchema, type BigQueryDestinationOptions, type BigQueryField, type BigQueryRow } from './bigquery-destination.js';
export {
  KafkaDestination,
  kafkaTopic,
  toKafkaMessage,
  type KafkaDestinationOptions,
  type KafkaKeyAttribute,
  type KafkaMappingOptions,
  type KafkaProducerLike,
  type KafkaRecord,
  type KafkaSaslOptions,
} from './kafka-destination.js';
export { NatsDestination, natsSubject, toNatsMessage, type NatsDestinationOptions, type NatsMessage } from './nats-destination.js';
export { DATADOG_LIMITS, DatadogDestination, datadogLogEntry, type DatadogDestinationOptions, type DatadogLogEntry, type DatadogLogOptions } from './datadog-destination.js';
export { SplunkHecDestination, splunkHecEvent, type SplunkHecDestinationOptions, type SplunkHecEvent, type SplunkHecEventOptions } from './splunk-hec-destination.js';
