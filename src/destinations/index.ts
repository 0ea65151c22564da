/**
 * Destinations (`specstream/destinations`): forward a Specstream stream to other
 * systems at least once. See {@link Forwarder}.
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
  type Destination,
  type DestinationOptions,
  type ResolvedDestinationOptions,
  type RetryBackoffOptions,
} from './destination.js';
export { FileDestination, type FileDestinationOptions } from './file-destination.js';
export { Forwarder, type BatchReport, type DestinationMetrics, type ForwarderOptions, type ForwarderState, type StopOptions } from './forwarder.js';
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
