/**
 * Destinations (`specstream/destinations`, in progress): forward a Specstream stream to other
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
