/**
 * The forwarding package of the grant-events document (001, "@grantex/destinations Package"): its
 * "Basic Usage", "Custom Destinations" and "Graceful Shutdown" code, kept in
 * test/examples/snippets/grant-events/destinations-*.ts with only the import specifier changed, runs
 * against a real server serving examples/grant-events, with only the URLs and keys changed at run
 * time. Datadog and Splunk are the fake receivers of test/destinations/fakes (written from the
 * vendors' documentation); the Datadog intake's fixed host is routed to its fake by a preload
 * (fixtures/program-preload.mjs), as a hosts-file entry would.
 *
 * The three snippets make one program, as the page means them: the custom destination's class, the
 * basic usage up to `await source.start()`, the shutdown handler (which must be registered before that
 * `await`, which only returns once stopped), `source.addDestination(new MyDestination())`, then the
 * `await`. The snippet's `// Forward to your system` becomes `report(event)`, so the test sees what
 * the custom destination received. In the tests the specifier resolves to src/ (as every test
 * imports the source); test/destinations/package-export.test.ts checks the same names in dist/.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultCheckpointPath, EventSource, SplunkDestination, DatadogDestination, type EventDestination, type GrantexEvent } from '../../src/destinations/index.js';
import { typecheck } from '../codegen/typecheck.js';
import type { Json } from '../examples/helpers/bundle.js';
import { startExampleServer, type ExampleServer } from '../examples/helpers/server.js';
import { SnippetProcess } from '../examples/helpers/snippets.js';
import { FakeDatadogIntake } from './fakes/datadog-intake.js';
import { FakeSplunkHec } from './fakes/splunk-hec.js';
import { until } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SNIPPETS = join(ROOT, 'test', 'examples', 'snippets', 'grant-events');
const SNIPPET_PRELOAD = join(ROOT, 'test', 'examples', 'helpers', 'snippet-preload.mjs');
const PROGRAM_PRELOAD = join(ROOT, 'test', 'destinations', 'fixtures', 'program-preload.mjs');
const PACKAGE_SOURCE = pathToFileURL(join(ROOT, 'src', 'destinations', 'index.ts')).href;
const DATADOG_INTAKE_ORIGIN = 'https://http-intake.logs.datadoghq.com';
const DD_API_KEY = 'dd_test_api_key_0123456789abcdef';
const HEC_TOKEN = '11111111-2222-3333-4444-555555555555';

/** The types Basic Usage subscribes to, and one it does not. */
const SUBSCRIBED = ['grant.created', 'grant.revoked', 'token.issued'];

function snippet(file: string): string {
  return readFileSync(join(SNIPPETS, file), 'utf8');
}

/** Replaces every occurrence of `from` (which must occur). */
function substitute(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`snippet does not contain ${JSON.stringify(from)}`);
  return text.split(from).join(to);
}

/** The three snippets as one program (see the file comment), with the URLs changed. */
function documentedProgram(urls: { server: string; hec: string }): string {
  const custom = substitute(snippet('destinations-custom.ts'), '// Forward to your system', 'report(event);');
  const basic = substitute(substitute(snippet('destinations-basic-usage.ts'), 'https://api.grantex.dev', urls.server), 'https://splunk.example.com:8088', urls.hec);
  const startLine = 'await source.start();';
  const [beforeStart, afterStart] = basic.split(startLine);
  if (afterStart === undefined || afterStart.trim() !== '') throw new Error('Basic Usage no longer ends with `await source.start();`');
  // The shutdown snippet's own type-checking preamble (import type, declare) is not part of the program.
  const shutdown = snippet('destinations-graceful-shutdown.ts')
    .split('\n')
    .filter((line) => !line.startsWith('import type ') && !line.startsWith('declare const source'))
    .join('\n');
  const program = [custom, beforeStart, shutdown, 'source.addDestination(new MyDestination());', startLine, ''].join('\n');
  return substitute(program, "'specstream/destinations'", JSON.stringify(PACKAGE_SOURCE));
}

/** The grant-events catalog example of `type` (the document's own for grant.created). */
function exampleData(example: ExampleServer, type: string): Json {
  const entry = [...example.bundle.catalog.values()].find((candidate) => candidate.type === type);
  if (!entry) throw new Error(`no catalog type ${type}`);
  return entry.examples[0]!;
}

/** Publishes one event of each type, in order; gives the stored envelopes. */
async function publishAll(example: ExampleServer, types: readonly string[]): Promise<Json[]> {
  const stored: Json[] = [];
  for (const type of types) stored.push(await example.publish(type, exampleData(example, type)));
  return stored;
}

/** The HEC `time` of an envelope: its `createdAt` in epoch seconds, milliseconds as the fraction. */
const hecTime = (envelope: Json) => Date.parse(String(envelope.createdAt)) / 1_000;

/** A custom destination as the page's interface describes it, recording what it got. */
class RecordingDestination implements EventDestination {
  readonly received: GrantexEvent[] = [];
  flushes = 0;
  closes = 0;
  constructor(
    readonly name: string,
    readonly batchSize?: number,
    readonly flushIntervalMs?: number,
  ) {}
  async send(events: GrantexEvent[]): Promise<void> {
    this.received.push(...events);
  }
  async flush(): Promise<void> {
    this.flushes += 1;
  }
  async close(): Promise<void> {
    this.closes += 1;
  }
}

describe('@grantex/destinations API (EventSource) against examples/grant-events', () => {
  let example: ExampleServer;
  let datadog: FakeDatadogIntake;
  let hec: FakeSplunkHec;
  let dir: string;

  beforeAll(async () => {
    example = await startExampleServer('grant-events');
  });
  afterAll(async () => {
    await example?.dispose();
  });
  beforeEach(async () => {
    datadog = await FakeDatadogIntake.start(DD_API_KEY);
    hec = await FakeSplunkHec.start({ token: HEC_TOKEN });
    dir = mkdtempSync(join(tmpdir(), 'specstream-grantex-'));
  });
  afterEach(async () => {
    await datadog?.close();
    await hec?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs the page's Basic Usage, Custom Destinations and Graceful Shutdown: events reach Datadog, Splunk and the custom destination; SIGTERM flushes and exits 0", async () => {
    const base = example.subscribers();
    const file = join(dir, 'program.mts');
    writeFileSync(file, documentedProgram({ server: example.url, hec: hec.url }));
    const program = new SnippetProcess(
      process.execPath,
      ['--import', SNIPPET_PRELOAD, '--import', 'tsx', '--import', PROGRAM_PRELOAD, file],
      file,
      {
        GRANTEX_API_KEY: example.keys.reader.secret,
        DD_API_KEY,
        SPLUNK_HEC_TOKEN: HEC_TOKEN,
        SPECSTREAM_TEST_ROUTES: JSON.stringify({ [DATADOG_INTAKE_ORIGIN]: new URL(datadog.url).origin }),
        SPECSTREAM_TEST_CWD: dir,
      },
    );
    try {
      // One SSE subscription per destination, each live from the start.
      await waitFor(program, () => example.subscribers() >= base + 3, 'the three destinations to subscribe');
      const stored = await publishAll(example, ['grant.created', 'budget.threshold', 'grant.revoked', 'token.issued']);
      const expected = stored.filter((envelope) => SUBSCRIBED.includes(String(envelope.type)));
      expect(expected).toHaveLength(3);

      await waitFor(program, () => program.of('report').length >= 3 && datadog.accepted().length >= 3 && hec.accepted().length >= 3, 'three events at each destination');
      // The custom destination got GrantexEvent objects: {id, type, createdAt, data}, as the stream sent them.
      const reported = program.of('report').map((args) => args[0] as Json);
      expect(reported).toEqual(expected);
      for (const event of reported) expect(Object.keys(event)).toEqual(['id', 'type', 'createdAt', 'data']);
      // Datadog: one log per event, the envelope whole, its date the event's createdAt.
      const logs = datadog.accepted();
      expect(logs.map((log) => log.specstream)).toEqual(expected);
      expect(logs.map((log) => log.date)).toEqual(expected.map((envelope) => envelope.createdAt));
      expect(logs.map((log) => log.ddtags)).toEqual(expected.map((envelope) => `type:${String(envelope.type)}`));
      expect(datadog.requests.every((request) => request.headers['dd-api-key'] === DD_API_KEY)).toBe(true);
      // Splunk: one HEC event per event, the envelope as `event`, its time the event's createdAt.
      expect(hec.accepted().map((event) => event.event)).toEqual(expected);
      expect(hec.accepted().map((event) => event.time)).toEqual(expected.map(hecTime));

      // More events, then SIGTERM at once: the documented handler's stop() delivers whatever is still queued.
      const late = await publishAll(example, ['grant.created', 'token.issued']);
      await program.stop();
      expect(program.exitCode).toBe(0);
      expect(program.of('uncaught')).toEqual([]);
      const all = [...expected, ...late];
      expect(program.of('report').map((args) => args[0])).toEqual(all);
      expect(datadog.accepted().map((log) => log.specstream)).toEqual(all);
      expect(hec.accepted().map((event) => event.event)).toEqual(all);

      // The default checkpoint file, under the program's working directory, holds each destination's last id.
      const expectedPath = defaultCheckpointPath(example.url, SUBSCRIBED, realpathSync(dir));
      expect(readdirSync(join(dir, '.specstream'))).toEqual([basename(expectedPath)]);
      const saved = JSON.parse(readFileSync(expectedPath, 'utf8')) as { positions: Record<string, string> };
      const lastId = String(all[all.length - 1]!.id);
      expect(saved.positions).toEqual({ datadog: lastId, [`splunk:${new URL(hec.url).host}`]: lastId, 'my-destination': lastId });
    } finally {
      await program.stop();
    }
  }, 60_000);

  it('start() resolves only once stop() has flushed the queued events and closed the destinations', async () => {
    const base = example.subscribers();
    const custom = new RecordingDestination('recorder', 1_000, 600_000);
    // After an event of this test rather than 'live': the live start is the server's clock in whole seconds, which may take in the previous test's last events.
    const [marker] = await publishAll(example, ['budget.exhausted']);
    const from = { sinceId: String(marker!.id) };
    const source = new EventSource({ url: example.url, apiKey: example.keys.reader.secret, types: ['grant.*'], checkpoint: join(dir, 'checkpoint.json'), from });
    // Batches of 1 000 and an interval of ten minutes: nothing leaves before stop().
    source.addDestination(new DatadogDestination({ apiKey: DD_API_KEY, url: datadog.url, batchSize: 1_000, flushIntervalMs: 600_000 }));
    source.addDestination(new SplunkDestination({ hecUrl: hec.url, hecToken: HEC_TOKEN, batchSize: 1_000, flushIntervalMs: 600_000 }));
    source.addDestination(custom);
    let settled: 'resolved' | 'rejected' | undefined;
    const running = source.start().then(
      () => (settled = 'resolved'),
      () => (settled = 'rejected'),
    );
    await example.waitForSubscribers(base + 3);
    const stored = await publishAll(example, ['grant.created', 'grant.revoked', 'token.issued']);
    const expected = stored.filter((envelope) => String(envelope.type).startsWith('grant.'));
    await until(() => Object.values(source.metrics()).every((metrics) => metrics.queued === expected.length), 'the events queued at every destination');
    expect(datadog.requests).toHaveLength(0);
    expect(hec.requests).toHaveLength(0);
    expect(custom.received).toHaveLength(0);
    expect(settled).toBeUndefined();

    await source.stop();
    await running;
    expect(settled).toBe('resolved');
    expect(datadog.accepted().map((log) => log.specstream)).toEqual(expected);
    expect(hec.accepted().map((event) => event.event)).toEqual(expected);
    expect(custom.received).toEqual(expected);
    expect(custom.flushes).toBe(1);
    expect(custom.closes).toBe(1);
    expect(example.subscribers()).toBe(base);
  });

  it('resumes from its checkpoint: a restart delivers what was published while stopped, and nothing twice', async () => {
    const checkpoint = join(dir, 'checkpoint.json');
    const [marker] = await publishAll(example, ['budget.exhausted']);
    const from = { sinceId: String(marker!.id) }; // only for the first run: the second resumes from its checkpoint
    const run = async (events: string[]) => {
      const base = example.subscribers();
      const custom = new RecordingDestination('recorder', 1, 0);
      const source = new EventSource({ url: example.url, apiKey: example.keys.reader.secret, types: ['grant.created'], checkpoint, from });
      source.addDestination(custom);
      const running = source.start();
      await example.waitForSubscribers(base + 1);
      const stored = await publishAll(example, events);
      return { custom, source, running, stored };
    };
    const first = await run(['grant.created']);
    await until(() => first.custom.received.length === 1, 'the first event');
    await first.source.stop();
    await first.running;
    const whileStopped = await publishAll(example, ['grant.created', 'grant.created']);
    const second = await run(['grant.created']);
    await until(() => second.custom.received.length === 3, 'the events published while stopped, then the new one');
    await second.source.stop();
    await second.running;
    expect(first.custom.received).toEqual(first.stored);
    expect(second.custom.received).toEqual([...whileStopped, ...second.stored]);
  });

  it('start() rejects when the server refuses the key, and stop() after that resolves', async () => {
    const source = new EventSource({ url: example.url, apiKey: 'sk_not_a_key', checkpoint: false });
    source.addDestination(new RecordingDestination('recorder'));
    await expect(source.start()).rejects.toMatchObject({ status: 401 });
    await expect(source.stop()).resolves.toBeUndefined();
  });

  it('stop() before start() makes start() resolve at once without connecting', async () => {
    const base = example.subscribers();
    const custom = new RecordingDestination('recorder');
    const source = new EventSource({ url: example.url, apiKey: example.keys.reader.secret, checkpoint: false });
    source.addDestination(custom);
    await source.stop();
    await expect(source.start()).resolves.toBeUndefined();
    expect(example.subscribers()).toBe(base);
    expect(() => source.addDestination(new RecordingDestination('late'))).toThrow(TypeError);
  });

  it('refuses a destination without the interface, a bad batchSize, and a second start()', async () => {
    const source = new EventSource({ url: example.url, checkpoint: false });
    expect(() => source.addDestination({ name: 'broken', send: async () => {} } as unknown as EventDestination)).toThrow(/send`, `flush` and `close`/);
    expect(() => new DatadogDestination({ apiKey: DD_API_KEY, batchSize: 0 })).toThrow(RangeError);
    expect(() => new SplunkDestination({ hecUrl: 'not a url', hecToken: HEC_TOKEN })).toThrow(/hecUrl/);
    expect(() => new SplunkDestination({ hecUrl: hec.url, hecToken: '' })).toThrow(/hecToken/);
    await expect(source.start()).rejects.toThrow(/no destination/);
  });

  it('defaults the checkpoint to ./.specstream/checkpoint-<hash of URL and types>.json', () => {
    const a = new EventSource({ url: 'http://127.0.0.1:8080', types: ['grant.revoked', 'grant.created'] });
    const b = new EventSource({ url: 'http://127.0.0.1:8080/', types: ['grant.created', 'grant.revoked'] });
    const c = new EventSource({ url: 'http://127.0.0.1:8080', types: ['grant.created'] });
    expect(a.checkpointPath).toMatch(/[/\\]\.specstream[/\\]checkpoint-[0-9a-f]{16}\.json$/);
    expect(a.checkpointPath!.startsWith(process.cwd())).toBe(true);
    expect(b.checkpointPath).toBe(a.checkpointPath);
    expect(c.checkpointPath).not.toBe(a.checkpointPath);
    expect(new EventSource({ url: 'http://127.0.0.1:8080', checkpoint: false }).checkpointPath).toBeUndefined();
    expect(existsSync(a.checkpointPath!)).toBe(false); // nothing is written before start()
  });
});

describe('the snippets type-check against the package types', () => {
  it('compiles Basic Usage, Custom Destinations and Graceful Shutdown with only the import specifier changed, and refuses a destination without flush()', () => {
    const files = ['destinations-basic-usage.ts', 'destinations-custom.ts', 'destinations-graceful-shutdown.ts'].map((file) => join(SNIPPETS, file));
    const source = join(ROOT, 'src', 'destinations', 'index.js');
    // `specstream/destinations` resolves through package.json exports to dist/ (built by npm test); here to src/.
    const overrides = new Map(files.map((file) => [file, readFileSync(file, 'utf8').split("'specstream/destinations'").join(JSON.stringify(source))]));
    for (const [file, text] of overrides) expect(text, file).toContain(JSON.stringify(source));
    // The same custom destination without its flush() no longer implements EventDestination (compiled in the same program).
    const broken = join(SNIPPETS, 'destinations-custom-without-flush.ts');
    const custom = overrides.get(files[1]!)!;
    const withoutFlush = custom.replace(/ {2}async flush\(\): Promise<void> \{[^}]*\}\n/, '');
    expect(withoutFlush).not.toBe(custom);
    overrides.set(broken, withoutFlush);
    const errors = typecheck([...files, broken], overrides);
    expect(errors.filter((error) => error.file !== broken)).toEqual([]);
    expect(errors.filter((error) => error.file === broken).map((error) => error.message)).toEqual([expect.stringMatching(/MyDestination.*EventDestination[\s\S]*flush/)]);
  }, 180_000);
});

/** Waits for `condition`, re-checked on every line of output and every 50 ms, failing early if the program dies. */
async function waitFor(program: SnippetProcess, condition: () => boolean, what: string): Promise<void> {
  const timer = setInterval(() => {
    for (const listener of [...program.listeners]) listener();
  }, 50);
  try {
    await program.waitFor(condition, what, 20_000);
  } finally {
    clearInterval(timer);
  }
}
