import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every Prometheus metric Specstream exports, on its own registry (so several apps can share a process in tests). */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'specstream_http_requests_total',
    help: 'HTTP requests by operation and status.',
    labelNames: ['operation', 'status'] as const,
    registers: [this.registry],
  });

  readonly eventsPublished = new Counter({
    name: 'specstream_events_published_total',
    help: 'Events stored, by type.',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly publishDuration = new Histogram({
    name: 'specstream_publish_duration_seconds',
    help: 'Time from receiving a publish request to the batch being durable.',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly connections = new Gauge({
    name: 'specstream_connections',
    help: 'Open streams by transport.',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  readonly eventsDelivered = new Counter({
    name: 'specstream_events_delivered_total',
    help: 'Events written to stream subscribers, by transport.',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  readonly subscriberLag = new Histogram({
    name: 'specstream_subscriber_lag_events',
    help: 'Events between a subscriber cursor and the head of the log, sampled at each delivery batch.',
    buckets: [0, 1, 10, 100, 1000, 10_000, 100_000],
    registers: [this.registry],
  });

  readonly drops = new Counter({
    name: 'specstream_dropped_events_total',
    help: 'Events a subscriber missed because it fell behind retention.',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  /** Refused credentials by reason (src/auth/auth-failure.ts `AUTH_FAILURE_REASONS`); never the credential itself. */
  readonly authFailures = new Counter({
    name: 'specstream_auth_failures_total',
    help: 'Requests and streams refused for their credentials, by reason (expired, bad_signature, unknown_key, wrong_audience, ...).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Publish requests refused by the rate limit (429 RATE_LIMITED). */
  readonly rateLimited = new Counter({
    name: 'specstream_rate_limited_total',
    help: 'Publish requests refused with 429 RATE_LIMITED.',
    registers: [this.registry],
  });

  /** Streams ended because their token expired or their credentials were revoked by a reload. */
  readonly streamsExpired = new Counter({
    name: 'specstream_streams_ended_by_credentials_total',
    help: 'Streams ended because their token expired (reason expired) or a key reload revoked their credentials (reason revoked).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
