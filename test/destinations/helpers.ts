/** Shared helpers of the destination tests: publishing, waiting with deadlines, recording destinations, a forwarder end to end. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { NewEvent } from '../../src/client/index.js';
import { MemoryCheckpoint } from '../../src/destinations/checkpoint.js';
import type { Destination, DestinationOptions } from '../../src/destinations/destination.js';
import { Forwarder, type ForwarderOptions } from '../../src/destinations/forwarder.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { catalog } from '../../src/generated/catalog.js';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';

/** `n` grant.created events with subjects `<tag>-0` … */
export function batch(n: number, tag: string): NewEvent[] {
  return Array.from({ length: n }, (_, i) => ({ type: 'grant.created', subject: `${tag}-${i}`, data: catalog['grant.created'].example }) as NewEvent);
}

/** Publishes with a plain fetch as the writer key; gives the stored ids in order. */
export async function publishIds(server: TestServer, events: NewEvent[]): Promise<string[]> {
  const response = await fetch(new URL('/v1/events', server.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TEST_KEYS.writer.secret}` },
    body: JSON.stringify(events),
  });
  if (!response.ok) throw new Error(`publish answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { data: SpecstreamEvent[] };
  return body.data.map((event) => event.id);
}

/** Polls `condition` until it holds, failing after `timeoutMs` with `what`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The parsed complete lines of an NDJSON file (none when it does not exist); a line still being written is left out. */
export function readNdjson<T = SpecstreamEvent>(path: string): T[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.pop(); // '' after the final newline, or a line not yet complete
  return lines.filter((line) => line !== '').map((line) => JSON.parse(line) as T);
}

/** A destination that records what it acknowledged; `fail` decides per call whether to throw instead. */
export class RecordingDestination implements Destination {
  readonly received: SpecstreamEvent[] = [];
  calls = 0;
  closed = 0;
  constructor(
    readonly name: string,
    private readonly fail: (events: readonly SpecstreamEvent[], call: number) => Error | undefined = () => undefined,
  ) {}
  async send(events: readonly SpecstreamEvent[]): Promise<void> {
    const error = this.fail(events, this.calls++);
    if (error) throw error;
    this.received.push(...events);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {
    this.closed += 1;
  }
}

/** What {@link useForwarderHarness} gives the tests of its `describe`; `server` and `dir` are the current test's. */
export interface ForwarderHarness {
  /** A real server, started before each test and disposed after it. */
  readonly server: TestServer;
  /** An empty temporary directory (`specstream-<tag>-…`), made before each test and removed after it. */
  readonly dir: string;
  /**
   * Builds a forwarder that reads `server` as the reader key from the start of the log, with a
   * {@link MemoryCheckpoint} (`forwarderOptions` replace any of these); adds `destination` with
   * `options` laid over a short flush interval and quick retries (`flushIntervalMs: 10`,
   * `maxRetries: 3`, `backoff: { initialMs: 5, maxMs: 50 }`); and starts it. The forwarder is stopped
   * after the test, unless the test stopped it already.
   */
  start(destination: Destination, options?: DestinationOptions, forwarderOptions?: Partial<ForwarderOptions>): Promise<Forwarder>;
}

/**
 * Registers `beforeEach`/`afterEach` hooks that give every test a real server and a temporary
 * directory, and stop the test's forwarder, dispose the server and remove the directory after it.
 * Call it inside a `describe`; `tag` names the directory.
 */
export function useForwarderHarness(tag: string): ForwarderHarness {
  let server: TestServer | undefined;
  let dir: string | undefined;
  let forwarder: Forwarder | undefined;
  beforeEach(async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), `specstream-${tag}-`));
  });
  afterEach(async () => {
    await forwarder?.stop().catch(() => {});
    forwarder = undefined;
    await server?.dispose();
    server = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const current = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useForwarderHarness(${JSON.stringify(tag)}): ${what} exists only while a test runs`);
    return value;
  };
  return {
    get server() {
      return current(server, 'the server');
    },
    get dir() {
      return current(dir, 'the directory');
    },
    async start(destination, options = {}, forwarderOptions = {}) {
      const url = current(server, 'the server').url;
      forwarder = new Forwarder({ url, token: TEST_KEYS.reader.secret, checkpoint: new MemoryCheckpoint(), from: { since: '2000-01-01T00:00:00Z' }, ...forwarderOptions });
      forwarder.addDestination(destination, { flushIntervalMs: 10, maxRetries: 3, backoff: { initialMs: 5, maxMs: 50 }, ...options });
      await forwarder.start();
      return forwarder;
    },
  };
}

/** A loopback port nothing listens on (bound, then released): connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
