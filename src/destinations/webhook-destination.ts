/**
 * POSTs each batch as a JSON array, signed by the Standard Webhooks scheme
 * (https://www.standardwebhooks.com/, spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
 */
import { createHash, createHmac } from 'node:crypto';
import type { SpecstreamEvent } from '../generated/events.js';
import { batchingOf, errorForStatus, RetryableError, type BatchingOptions, type Destination } from './destination.js';

/** Options of {@link WebhookDestination}. */
export interface WebhookDestinationOptions extends BatchingOptions {
  /** The receiver's URL. */
  url: string;
  /** The signing secret: `whsec_` followed by base64 of the key bytes (24 to 64 bytes recommended). */
  secret: string;
  /** Defaults to `webhook:<url's host>`. */
  name?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** A request taking longer than this counts as a retryable failure. Defaults to 10 000 ms. */
  timeoutMs?: number;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
  /** The clock, in ms since the epoch; defaults to `Date.now` (tests pass a fixed one). */
  now?: () => number;
}

/**
 * Signs `id.timestamp.body` with HMAC-SHA256 under the key of a `whsec_` secret; gives the
 * `webhook-signature` header value `v1,<base64>`.
 * @throws TypeError on a secret without the `whsec_` prefix or with an empty key
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  if (!secret.startsWith('whsec_')) throw new TypeError('webhook secret must start with "whsec_"');
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  if (key.length === 0) throw new TypeError('webhook secret has an empty key');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * The `webhook-id` of a batch: derived from its first and last event ids, so a re-delivered batch
 * carries the same id and a receiver can drop the repeat.
 */
export function webhookMessageId(events: readonly SpecstreamEvent[]): string {
  const first = events[0]?.id ?? '';
  const last = events[events.length - 1]?.id ?? '';
  return `msg_${createHash('sha256').update(`${first}\n${last}\n${events.length}`).digest('hex').slice(0, 32)}`;
}

/**
 * Each `send` is one POST of the batch as a JSON array with `webhook-id`, `webhook-timestamp`
 * (seconds) and `webhook-signature`. A 2xx acknowledges; 408, 429 and 5xx (with `Retry-After`),
 * network errors and timeouts are retryable; any other status is permanent. `flush` has nothing to
 * do: a 2xx is the receiver's acknowledgement.
 */
export class WebhookDestination implements Destination {
  readonly name: string;
  /** From the options (`batchSize`, `flushIntervalMs`): how the forwarder batches for it unless `addDestination` says otherwise. */
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;
  readonly #options: WebhookDestinationOptions;
  #closed = false;

  /** @throws TypeError without `url`, or with a bad secret */
  constructor(options: WebhookDestinationOptions) {
    if (typeof options.url !== 'string' || options.url === '') throw new TypeError('WebhookDestination: `url` is required');
    signWebhook(options.secret, 'check', 0, ''); // validates the secret now rather than at the first send
    this.#options = options;
    this.name = options.name ?? `webhook:${new URL(options.url).host}`;
    ({ batchSize: this.batchSize, flushIntervalMs: this.flushIntervalMs } = batchingOf(options, 'WebhookDestination'));
  }

  async send(events: readonly SpecstreamEvent[]): Promise<void> {
    if (this.#closed) throw new Error(`${this.name}: send() after close()`);
    const body = JSON.stringify(events);
    const id = webhookMessageId(events);
    const timestamp = Math.floor((this.#options.now ?? Date.now)() / 1_000);
    const fetchImpl = this.#options.fetch ?? globalThis.fetch.bind(globalThis);
    let response: Response;
    try {
      response = await fetchImpl(this.#options.url, {
        method: 'POST',
        headers: {
          ...this.#options.headers,
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(this.#options.secret, id, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      throw new RetryableError(`${this.name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    await response.arrayBuffer().catch(() => undefined); // drain, so the connection is reused
    if (!response.ok) throw errorForStatus(response.status, response.headers, this.name);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
  }
}
