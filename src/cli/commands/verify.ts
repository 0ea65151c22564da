import { loadBundle } from '../../bundle/load-bundle.js';
import { BundleError } from '../../bundle/bundle-error.js';
import { streamQuery } from '../../client/connect.js';
import { ProfileError } from '../../client/errors.js';
import { credentialsFor, operationsOf, type ClientProfile, type OperationProfile } from '../../client/profile.js';
import { createSseParser } from '../../client/sse-parser.js';
import { BundleFrameValidator, type SseFrame } from '../../contract/bundle-frame-validation.js';
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

/** Checks frames against one bundle: the native generated validators, or a bundle's AsyncAPI document. */
export interface FrameChecker {
  sse(frame: SseFrame): FrameResult;
  ws(text: string): FrameResult;
}

/** The native bundle's checker (src/generated/ through frame-validation.ts). */
export const nativeChecker: FrameChecker = {
  sse(frame) {
    if (frame.kind === 'event') return validateSseEvent({ event: frame.event, id: frame.id, data: frame.data });
    if (frame.kind === 'comment') return validateSseComment(frame.text);
    if (frame.kind === 'retry') return validateSseRetry(frame.value);
    return { ok: false, message: 'sse:?', error: `an id: line with no data (${frame.id}) matches no message` };
  },
  ws: (text) => validateWsText(text),
};

interface Run {
  url: string;
  token: string | undefined;
  keyId: string | undefined;
  profile: ClientProfile;
  checker: FrameChecker;
  /** The query by role, sent with each stream operation's own parameter names. */
  options: Parameters<typeof streamQuery>[0];
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
      if (result.id === undefined) {
        if (result.event) report.events++;
        return;
      }
      report.events++;
      if (seen.has(result.id)) fail(`duplicate event ${result.id}`);
      else if (lastId !== undefined && result.id <= lastId) fail(`event ${result.id} after ${lastId}: ids must increase`);
      seen.add(result.id);
      lastId = result.id;
    },
  };
}

/** The stream URL and headers of `op` for the run's query and credentials. */
function request(run: Run, op: OperationProfile): { url: URL; headers: Record<string, string> } {
  const url = new URL(op.path, run.url);
  url.search = streamQuery(run.options, op.query).toString();
  const credentials = credentialsFor(op.auth, { token: run.token, keyId: run.keyId }, op.path);
  for (const [name, value] of Object.entries(credentials.query)) url.searchParams.set(name, value);
  return { url, headers: credentials.headers };
}

async function verifySse(run: Run, op: OperationProfile): Promise<TransportReport> {
  const { report, accept, fail } = recorder('sse');
  const { url, headers } = request(run, op);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), run.durationMs);
  try {
    const response = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: controller.signal });
    if (response.status !== 200 || !response.body) {
      fail(`GET ${url.pathname} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
      return report;
    }
    const type = response.headers.get('content-type') ?? '';
    if (!type.startsWith('text/event-stream')) fail(`content-type is "${type}", not text/event-stream`);
    const parser = createSseParser({
      onEvent: (message) => accept(run.checker.sse({ kind: 'event', ...message })),
      onId: (id) => accept(run.checker.sse({ kind: 'id', id })),
      onComment: (text) => accept(run.checker.sse({ kind: 'comment', text })),
      onRetry: (value) => accept(run.checker.sse({ kind: 'retry', value })),
    });
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      try {
        parser.feed(decoder.decode(chunk.value, { stream: true }));
      } catch (error) {
        fail(`unparseable SSE: ${(error as Error).message}`);
        break;
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) fail(`SSE connection failed: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return report;
}

async function verifyWs(run: Run, op: OperationProfile): Promise<TransportReport> {
  const { report, accept, fail } = recorder('ws');
  const { WebSocket } = await import('ws');
  const { url, headers } = request(run, op);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  await new Promise<void>((resolve) => {
    const socket = new WebSocket(url, { headers });
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
      accept(run.checker.ws(data.toString()));
    });
    socket.on('error', (error) => fail(`WebSocket error: ${error.message}`));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return report;
}

/** Connects to a server for `durationMs` per transport and checks every frame against the bundle and the ordering. */
export async function verify(run: Run, transports: readonly ('sse' | 'ws')[]): Promise<TransportReport[]> {
  const operations = operationsOf(run.profile);
  return Promise.all(transports.map((t) => (t === 'sse' ? verifySse(run, operations.sse!) : verifyWs(run, operations.ws!))));
}

export const verifyCommand = {
  summary: 'Check a live stream (SSE and WebSocket) against the bundle\'s AsyncAPI document (specs/asyncapi.yaml, or --specs DIR) and the ordering guarantees; CI-friendly exit code.',
  usage: 'specstream verify --url URL --token T [--specs DIR] [--duration 30s] [--transport sse|ws|both] [--types LIST] [--since TIME | --since-id ID]',
  help: [
    'Options:',
    ...CLIENT_HELP,
    '  --duration D         how long to watch each transport (default 30s; e.g. 500ms, 2m)',
    '  --transport T        sse, ws or both (default both, concurrently; both means each stream the bundle has)',
    '  --types LIST         comma list of types or globs',
    '  --since TIME / --since-id ID   include history from there (checks the history-to-live seam too)',
    '  --json               print the report as JSON',
    '',
    'Every frame must match exactly one message of the AsyncAPI document (event payloads against',
    'the catalog); event ids must strictly increase with no duplicate. With --specs, the frames are',
    'checked against that bundle\'s document and its generated catalog (`specstream generate --specs DIR`).',
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
    const client = clientOf(values);
    const operations = operationsOf(client.profile);
    const offered = (['sse', 'ws'] as const).filter((t) => operations[t] !== undefined);
    const transports = transport === 'both' ? offered : ([transport] as ['sse'] | ['ws']);
    for (const t of transports) if (!offered.includes(t)) throw new UsageError(`--transport ${t}: the bundle "${client.profile.name}" has no ${t === 'sse' ? 'SSE' : 'WebSocket'} stream`);
    if (transports.length === 0) throw new UsageError(`the bundle "${client.profile.name}" has no stream to verify`);
    const types = typesOf(values.types);
    const options = { ...(types ? { types } : {}), ...(values.since ? { since: values.since } : {}), ...(values['since-id'] ? { sinceId: values['since-id'] } : {}) };
    const checker = client.bundleDir === undefined ? nativeChecker : await bundleChecker(client.bundleDir);
    const durationMs = parseDuration(values.duration ?? '30s');
    const run: Run = { url: client.url, token: client.token, keyId: client.keyId, profile: client.profile, checker, options, durationMs };
    for (const t of transports) {
      try {
        request(run, operations[t]!);
      } catch (error) {
        if (error instanceof ProfileError) throw new UsageError(error.message);
        throw error;
      }
    }
    const reports = await verify(run, transports);
    const passed = reports.every((r) => r.failures.length === 0);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ url: client.url, durationMs, passed, reports })}\n`);
      return passed ? 0 : 1;
    }
    const document = client.bundleDir === undefined ? 'specs/asyncapi.yaml' : `${client.bundleDir.replace(/\/$/, '')}/asyncapi.yaml`;
    const paint = painter(process.stdout);
    const lines = [`specstream verify ${client.url} (${transports.join(', ')}, ${durationMs} ms each)`];
    for (const report of reports) {
      const counts = Object.entries(report.messages).sort().map(([name, n]) => `${name} ${n}`).join(', ') || 'no frames';
      const verdict = report.failures.length === 0 ? paint(32, 'PASS') : paint(31, 'FAIL');
      lines.push(`  ${report.transport.padEnd(4)} ${verdict}  ${report.events} events; ${counts}`);
      for (const failure of report.failures) lines.push(`       - ${failure}`);
    }
    lines.push(passed ? paint(32, `PASS: every frame matches ${document}; ids increase with no duplicate`) : paint(31, 'FAIL'));
    process.stdout.write(`${lines.join('\n')}\n`);
    return passed ? 0 : 1;
  },
};

/** The checker of the bundle in `dir`: its AsyncAPI payloads and generated catalog. */
async function bundleChecker(dir: string): Promise<FrameChecker> {
  try {
    const validator = await BundleFrameValidator.create(loadBundle(dir));
    return { sse: (frame) => validator.sse(frame), ws: (text) => validator.ws(text) };
  } catch (error) {
    if (error instanceof BundleError) throw new UsageError(`--specs ${dir}: ${error.message}`);
    throw error;
  }
}
