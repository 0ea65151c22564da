import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadProfile } from '../../client/load-profile.js';
import { loadForwardConfig, type ForwardConfig } from '../../destinations/forward-config.js';
import { Forwarder } from '../../destinations/forwarder.js';
import { registerForwarderMetrics } from '../../destinations/forwarder-metrics.js';
import type { DestinationMetrics } from '../../destinations/lane.js';
import { painter, parse, UsageError } from '../common.js';

/** `1234567` → `1,234,567`. */
const count = (n: number) => n.toLocaleString('en-US');

/** `83_000` ms → `1m23s`; under a minute with one decimal (`4.2s`). */
export function formatAge(ms: number): string {
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const s = Math.floor(ms / 1_000);
  const h = Math.floor(s / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * The progress table shown on a TTY: one row per destination with what it acknowledged, what waits,
 * retries, dead letters, and its lag (age of the last event it acknowledged).
 */
export function renderProgress(metrics: Record<string, DestinationMetrics>, context: { url: string; startedAt: number; now: number; state: string }): string[] {
  const header = ['destination', 'sent', 'queued', 'retried', 'dead', 'lag', 'position'];
  const rows = Object.entries(metrics).map(([name, m]) => [
    name,
    count(m.sent),
    count(m.queued),
    count(m.retried),
    count(m.deadLettered),
    m.positionTime === undefined ? '-' : formatAge(Math.max(0, context.now - Date.parse(m.positionTime))),
    m.position ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [`specstream forward  ${context.url}  ${context.state} ${formatAge(context.now - context.startedAt)}`, line(header), ...rows.map(line)];
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

export const forwardCommand = {
  summary: 'Forward the stream to destinations (file, webhook, S3, NATS, Kafka, Datadog, Splunk, BigQuery) at least once.',
  usage: 'specstream forward [--config forward.yaml] [--specs DIR] [--check] [--no-progress]',
  help: [
    'Options:',
    '  --config FILE        the forward configuration (SPECSTREAM_FORWARD_CONFIG; default ./forward.yaml)',
    '  --specs DIR          the bundle the server serves (or `specs:` in forward.yaml, SPECSTREAM_SPECS); default native',
    '  --check              check the configuration (and its environment variables), print the destinations, exit',
    '  --no-progress        no live progress table, even on a terminal',
    '',
    'Each destination resumes from its own position in the checkpoint file. SIGTERM or Ctrl-C sends what is',
    'queued, saves the checkpoint and exits 0 (waiting at most shutdown_timeout_ms; a second signal exits at once).',
    'Exit 1 if the server refuses the token or the types; 2 on a bad command line or configuration.',
  ],
  async run(args: string[]): Promise<number> {
    const values = parse(args, { config: { type: 'string' }, specs: { type: 'string' }, check: { type: 'boolean' }, 'no-progress': { type: 'boolean' } });
    const file = values.config ?? process.env.SPECSTREAM_FORWARD_CONFIG ?? 'forward.yaml';
    if (values.config === undefined && !existsSync(file)) throw new UsageError(`no ${file} here: pass --config FILE`);
    const config = loadForwardConfig(file);
    const specs = values.specs ?? config.specs ?? process.env.SPECSTREAM_SPECS;
    if (specs) config.forwarder.profile = await loadProfile({ specs });
    const note = painter(process.stderr);
    if (values.check) {
      process.stdout.write(describe(config));
      return 0;
    }
    return forward(config, { progress: process.stderr.isTTY === true && !values['no-progress'], note });
  },
};

function describe(config: ForwardConfig): string {
  const lines = [`${config.path}: ok`, `  from ${config.forwarder.url}${config.forwarder.types ? ` (types ${config.forwarder.types.join(',')})` : ''}, checkpoint ${config.forwarder.checkpoint}`];
  for (const { type, destination } of config.destinations) lines.push(`  ${type.padEnd(9)} ${destination.name}`);
  return `${lines.join('\n')}\n`;
}

async function forward(config: ForwardConfig, output: { progress: boolean; note: (code: number, text: string) => string }): Promise<number> {
  const { note } = output;
  const forwarder = new Forwarder({
    ...config.forwarder,
    onWarning: (destination, error) => {
      if (output.progress) return; // the table shows retries and dead letters; warnings would scroll it away
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(note(33, `warning ${message.startsWith(`${destination}: `) ? message : `${destination}: ${message}`}\n`));
    },
  });
  for (const { destination, options } of config.destinations) forwarder.addDestination(destination, options);

  let metricsServer: Server | undefined;
  if (config.metrics) {
    const { registry } = registerForwarderMetrics(forwarder);
    metricsServer = createServer((request, response) => {
      if (request.url !== '/metrics') {
        response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'only /metrics is served here', code: 'NOT_FOUND' }));
        return;
      }
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => response.writeHead(500).end(),
      );
    });
    const address = await listen(metricsServer, config.metrics.port, config.metrics.host);
    process.stderr.write(`metrics on http://${address.address}:${address.port}/metrics\n`);
  }

  const startedAt = Date.now();
  try {
    await forwarder.start();
  } catch (error) {
    metricsServer?.close();
    throw error;
  }
  process.stderr.write(
    note(32, `forwarding ${config.forwarder.url} to ${config.destinations.length} destination(s), checkpoint ${config.forwarder.checkpoint}\n`),
  );

  let drawn = 0;
  const draw = () => {
    const lines = renderProgress(forwarder.metrics(), { url: config.forwarder.url, startedAt, now: Date.now(), state: forwarder.state });
    // Move up over the previous table and clear to the end of the screen, then redraw.
    process.stderr.write(`${drawn > 0 ? `\u001b[${drawn}A` : ''}\u001b[0J${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const ticker = output.progress ? setInterval(draw, 1_000) : undefined;

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write(note(31, `${signal} again: exiting without waiting (unacknowledged events will be sent again on the next start)\n`));
      process.exit(1);
    }
    process.stderr.write(`${signal}: sending what is queued and saving the checkpoint (at most ${formatAge(config.shutdownTimeoutMs)})\n`);
    void forwarder.stop({ timeoutMs: config.shutdownTimeoutMs }).catch(() => {});
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await forwarder.stopped;
    return 0;
  } finally {
    clearInterval(ticker);
    if (output.progress) draw();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    metricsServer?.close();
    const total = Object.values(forwarder.metrics()).reduce((sum, m) => sum + m.sent, 0);
    process.stderr.write(`stopped: ${count(total)} event(s) acknowledged; positions ${JSON.stringify(forwarder.positions())}\n`);
    // A destination abandoned at the shutdown timeout may still hold a socket or a reconnect timer:
    // the checkpoint is saved, so exit even if one does (an idle process exits before this fires).
    setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
  }
}
