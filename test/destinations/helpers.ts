/** Shared helpers of the destination tests: publishing, waiting with deadlines, recording destinations. */
import { existsSync, readFileSync } from 'node:fs';
import type { NewEvent } from '../../src/client/index.js';
import type { Destination } from '../../src/destinations/destination.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { catalog } from '../../src/generated/catalog.js';
import { TEST_KEYS, type TestServer } from '../helpers/test-server.js';

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
