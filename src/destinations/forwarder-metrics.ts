/**
 * Prometheus metrics of a forwarder, per destination: what `specstream forward` serves on
 * `metrics.port`, and what an application embedding a {@link Forwarder} can add to its own registry.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Forwarder } from './forwarder.js';

/**
 * Registers the forwarder's metrics on `registry` (a new one by default) and gives it. Counters and
 * gauges read `forwarder.metrics()` at scrape time; batch durations are observed as batches are
 * acknowledged. Returns the registry and a function that stops observing.
 */
export function registerForwarderMetrics(forwarder: Forwarder, registry: Registry = new Registry()): { registry: Registry; dispose(): void } {
  const labelNames = ['destination'] as const;
  // prom-client calls `collect` with the metric as `this`; each sets the values from the forwarder's counters.
  const counter = (name: string, help: string, field: 'sent' | 'failed' | 'retried' | 'deadLettered') =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [destination, metrics] of Object.entries(forwarder.metrics())) this.inc({ destination }, metrics[field]);
      },
    });
  counter('specstream_forwarder_events_sent_total', 'Events acknowledged by the destination.', 'sent');
  counter('specstream_forwarder_send_failures_total', 'Failed send attempts (each failed retry counts).', 'failed');
  counter('specstream_forwarder_retries_total', 'Retries scheduled after a failed send.', 'retried');
  counter('specstream_forwarder_events_dead_lettered_total', 'Events the destination rejected for good (written to its dead-letter file).', 'deadLettered');
  new Gauge({
    name: 'specstream_forwarder_queued_events',
    help: 'Events read from the stream and not yet acknowledged by the destination.',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [destination, metrics] of Object.entries(forwarder.metrics())) this.set({ destination }, metrics.queued);
    },
  });
  new Gauge({
    name: 'specstream_forwarder_lag_seconds',
    help: 'Age of the last event the destination acknowledged (its checkpoint position): how far behind the log it is, while events keep coming.',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const [destination, metrics] of Object.entries(forwarder.metrics())) {
        if (metrics.positionTime !== undefined) this.set({ destination }, Math.max(0, (now - Date.parse(metrics.positionTime)) / 1_000));
      }
    },
  });
  const batchDuration = new Histogram({
    name: 'specstream_forwarder_batch_duration_seconds',
    help: 'Time from the first send attempt of a batch to its acknowledgement, retries included.',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const dispose = forwarder.on('batch', (report) => batchDuration.observe({ destination: report.destination }, report.latencyMs / 1_000));
  return { registry, dispose };
}
