import { createParser } from 'eventsource-parser';
import { streamQuery } from '../../client/index.js';
import { validateSseComment, validateSseEvent, validateSseRetry, validateWsText, type FrameResult } from '../../contract/frame-validation.js';
import { CLIENT_HELP, CLIENT_OPTIONS, clientOf, painter, parse, parseDuration, typesOf, UsageError } from '../common.js';

/** What one transport's run observed. */
export interface TransportReport {
  transport: 'sse' | 'ws';
  /** Frames per AsyncAPI message, e.g. `sse:sseEvent`. */
  messages: Record<string, number>;
  events: number;
  /** Every contract or ordering violation, in order (at most 50 kept). */
  failures: string[];
}

interface Run {
  url: string;
  token: string | undefined;
  query: URLSearchParams;
  durationMs: number;
}

function recorder(transport: 'sse' | 'ws'): { report: TransportReport; accept(result: FrameResult): void; fail(text: string): void } {
  const report: TransportReport = { transport, messages: {}, events: 0, failures: [] };
  let lastId: string | undefined;
  const seen = new Set<string>();
  const fail = (text: string) => {
    if (report.failures.length < 50) report.failures.push(text);
  };
  return {
    report,
    fail,
    accept(result) {
      report.messages[result.message] = (report.messages[result.message] ?? 0) + 1;
      if (!result.ok) return fail(`${result.message}: ${result.error}`);
      if (result.id === undefined) return;
      report.events++;
      if (seen.has(result.id)) fail(`duplicate event ${result.id}`);
      else if (lastId !== undefined && result.id <= lastId) fail(`event ${result.id} after ${lastId}: ids must increase`);
      seen.add(result.id);
      lastId = result.id;
    },
  };
}

async function verifySse(run: Run): Promise<TransportReport> {
  const { report, accept, fail } = recorder('sse');
  const url = new URL('/v1/events/stream', run.url);
  url.search = run.query.toString();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), run.durationMs);
  try {
    const response = await fetch(url, {
      headers: { Accept: 'text/event-stream', ...(run.token ? { Authorization: `Bearer ${run.token}` } : {}) },
      signal: controller.signal,
    });
    if (response.status !== 200 || !response.body) {
      fail(`GET ${url.pathname} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
      return report;
    }
    const type = response.headers.get('content-type') ?? '';
    if (!type.startsWith('text/event-stream')) fail(`content-type is "${type}", not text/event-stream`);
    const parser = createParser({
      onEvent: (message) => accept(validateSseEvent({ event: message.event, id: message.id, data: message.data })),
      onComment: (comment) => accept(validateSseComment(comment.replace(/^ /, ''))),
      onRetry: (retry) => accept(validateSseRetry(retry)),
      onError: (error) => fail(`unparseable SSE: ${error.message}`),
    });
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      parser.feed(decoder.decode(chunk.value, { stream: true }));
    }
  } catch (error) {
    if (!controller.signal.aborted) fail(`SSE connection failed: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  return report;
}

async function verifyWs(run: Run): Promise<TransportReport> {
  const { report, accept, fail } = recorder('ws');
  const { WebSocket } = await import('ws');
  const url = new URL('/v1/events/ws', run.url);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = run.query.toString();
  await new Promise<void>((resolve) => {
    const socket = new WebSocket(url, { headers: run.token ? { Authorization: `Bearer ${run.token}` } : {} });
    const timer = setTimeout(() => {
      socket.close(1000);
      resolve();
    }, run.durationMs);
    socket.on('unexpected-response', (_req, res) => {
      fail(`GET ${url.pathname} (upgrade) answered ${res.statusCode}`);
      clearTimeout(timer);
      socket.terminate();
      resolve();
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return fail('binary frame (the spec declares JSON text frames)');
      accept(validateWsText(data.toString()));
    });
    socket.on('error', (error) => fail(`WebSocket error: ${error.message}`));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return report;
}

/** Connects to a Specstream-compatible server for `durationMs` per transport and checks every frame and the ordering. */
export async function verify(run: Run, transports: readonly ('sse' | 'ws')[]): Promise<TransportReport[]> {
  return Promise.all(transports.map((t) => (t === 'sse' ? verifySse(run) : verifyWs(run))));
}

export const verifyCommand = {
  summary: 'Check a live stream (SSE and WebSocket) against specs/asyncapi.yaml and the ordering guarantees; CI-friendly exit code.',
  usage: 'specstream verify --url URL --token T [--duration 30s] [--transport sse|ws|both] [--types LIST] [--since TIME | --since-id ID]',
  help: [
    'Options:',
    ...CLIENT_HELP,
    '  --duration D         how long to watch each transport (default 30s; e.g. 500ms, 2m)',
    '  --transport T        sse, ws or both (default both, concurrently)',
    '  --types LIST         comma list of types or globs',
    '  --since TIME / --since-id ID   include history from there (checks the history-to-live seam too)',
    '  --json               print the report as JSON',
    '',
    'Every frame must match exactly one message of the AsyncAPI document (event payloads against',
    'the catalog); event ids must strictly increase with no duplicate.',
    'Exit 0 when everything passes, 1 on any violation or refused connection, 2 on bad usage.',
  ],
  async run(args: string[]): Promise<number> {
    const values = parse(args, {
      ...CLIENT_OPTIONS,
      duration: { type: 'string' },
      transport: { type: 'string' },
      types: { type: 'string' },
      since: { type: 'string' },
      'since-id': { type: 'string' },
      json: { type: 'boolean' },
    });
    const transport = values.transport ?? 'both';
    if (!['sse', 'ws', 'both'].includes(transport)) throw new UsageError('--transport must be sse, ws or both');
    const transports = transport === 'both' ? (['sse', 'ws'] as const) : ([transport] as ['sse'] | ['ws']);
    const client = clientOf(values);
    const types = typesOf(values.types);
    const query = streamQuery({ ...(types ? { types } : {}), ...(values.since ? { since: values.since } : {}), ...(values['since-id'] ? { sinceId: values['since-id'] } : {}) });
    const durationMs = parseDuration(values.duration ?? '30s');
    const reports = await verify({ url: client.url, token: client.token, query, durationMs }, transports);
    const passed = reports.every((r) => r.failures.length === 0);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ url: client.url, durationMs, passed, reports })}\n`);
      return passed ? 0 : 1;
    }
    const paint = painter(process.stdout);
    const lines = [`specstream verify ${client.url} (${transports.join(', ')}, ${durationMs} ms each)`];
    for (const report of reports) {
      const counts = Object.entries(report.messages).sort().map(([name, n]) => `${name} ${n}`).join(', ') || 'no frames';
      const verdict = report.failures.length === 0 ? paint(32, 'PASS') : paint(31, 'FAIL');
      lines.push(`  ${report.transport.padEnd(4)} ${verdict}  ${report.events} events; ${counts}`);
      for (const failure of report.failures) lines.push(`       - ${failure}`);
    }
    lines.push(passed ? paint(32, 'PASS: every frame matches specs/asyncapi.yaml; ids increase with no duplicate') : paint(31, 'FAIL'));
    process.stdout.write(`${lines.join('\n')}\n`);
    return passed ? 0 : 1;
  },
};
