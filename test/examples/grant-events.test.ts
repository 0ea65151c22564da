/**
 * examples/grant-events, read by the clients of its document (001 grant-events): both curl lines, the
 * TypeScript `fetch` reader, the Python `httpx` reader, the TypeScript `ws` client and the Python
 * `websockets` client, each with only the base URL and the API key changed (plus the `ws` import the page
 * leaves out and websockets 10.4's `extra_headers`). Every frame a test client receives is validated
 * against examples/grant-events/asyncapi.yaml; the published events are the catalog's examples (the
 * document's own for grant.created).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../helpers/spawn-server.js';
import { operationOf, type Json } from './helpers/bundle.js';
import { SseRecorder } from './helpers/frames.js';
import { credentials, expectDeclared, SseReader, startExampleServer, validatorFor, WsReader, type ExampleServer } from './helpers/server.js';
import { runNodeSnippet, runPythonSnippet, runShellSnippet, skipWithoutPython, type SnippetProcess, type Substitution } from './helpers/snippets.js';

const DOCUMENT_HOST = 'https://api.grantex.dev';

describe('examples/grant-events served from its bundle', () => {
  let example: ExampleServer;
  let published: { type: string; data: Json }[];

  beforeAll(async () => {
    // Pings and the (undeclared) status cadence every second, so "nothing but events" is checked over
    // whole intervals (see the WebSocket tests).
    example = await startExampleServer('grant-events', { heartbeat_s: 1, status_s: 1 });
    published = [...example.bundle.catalog.values()].map((entry) => ({ type: entry.type, data: entry.examples[0]! }));
    expect(published.map((event) => event.type)).toEqual(['grant.created', 'grant.revoked', 'token.issued', 'budget.threshold', 'budget.exhausted']);
    expect(published[0]!.data).toEqual({ grantId: 'grnt_01...', agentId: 'ag_01...', principalId: 'user-123', scopes: ['calendar:read'] });
  });

  afterAll(async () => {
    await example?.dispose();
  });

  afterEach(async () => {
    await example.waitForIdle();
  });

  const env = (): Record<string, string> => ({ GRANTEX_API_KEY: example.keys.reader.secret });
  const http = (): Substitution => ({ from: DOCUMENT_HOST, to: example.url });
  const ws = (): Substitution => ({ from: 'wss://api.grantex.dev', to: example.url.replace(/^http/, 'ws') });

  /** Publishes the five events once `n` more subscribers than `base` are listening; returns the stored envelopes. */
  async function publishWhenListening(base: number, n: number): Promise<Json[]> {
    await example.waitForSubscribers(base + n);
    const stored: Json[] = [];
    for (const event of published) stored.push(await example.publish(event.type, event.data));
    return stored;
  }

  /** What the documented handlers print for each event: `event.type, event.data`. */
  function printed(events: { type: string; data: Json }[]): unknown[][] {
    return events.map((event) => [event.type, event.data]);
  }

  it('answers publish with the event as the streams send it: {id, type, createdAt, data}', async () => {
    const stored = await example.publish(published[0]!.type, published[0]!.data);
    expect(Object.keys(stored)).toEqual(['id', 'type', 'createdAt', 'data']);
    expect(stored).toMatchObject({ type: 'grant.created', data: published[0]!.data });
    expect(String(stored.id)).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('publishes a batch (a JSON array) all-or-nothing, answered as {data: [events in the bundle envelope]}', async () => {
    const publish = operationOf(example.bundle, 'publish');
    const response = await fetch(`${example.url}${publish.path}`, {
      method: 'POST',
      headers: { ...credentials(example.bundle, publish, example.keys.writer).headers, 'Content-Type': 'application/json' },
      body: JSON.stringify(published),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { data: Json[] };
    expectDeclared(example.bundle, publish, 201, body);
    expect(body.data.map((event) => [event.type, event.data])).toEqual(printed(published));
    const refused = await fetch(`${example.url}${publish.path}`, {
      method: 'POST',
      headers: { ...credentials(example.bundle, publish, example.keys.writer).headers, 'Content-Type': 'application/json' },
      body: JSON.stringify([published[0], { type: 'grant.created', data: { grantId: 'nope' } }]),
    });
    expect(refused.status).toBe(400);
    expectDeclared(example.bundle, publish, 400, await refused.json());
  });

  describe('SSE: GET /v1/events/stream', () => {
    it('both curl lines receive the events as named SSE messages with id lines, the second only the types it asks for', async () => {
      const base = example.subscribers();
      const all = new SseRecorder(validatorFor(example.bundle, 'stream-sse'));
      const filtered = new SseRecorder(validatorFor(example.bundle, 'stream-sse'));
      const curls = [
        runShellSnippet('grant-events', 'curl-stream.sh', [http()], (chunk) => all.push(chunk), env()),
        runShellSnippet('grant-events', 'curl-types.sh', [http()], (chunk) => filtered.push(chunk), env()),
      ];
      try {
        const stored = await publishWhenListening(base, 2);
        await waitForRecorder(curls[0]!, all, 5);
        await waitForRecorder(curls[1]!, filtered, 2);
        expect(all.events.map((frame) => frame.envelope)).toEqual(stored);
        expect(filtered.events.map((frame) => frame.envelope)).toEqual(stored.slice(0, 2));
        expect(all.raw).toContain(`id: ${String(stored[0]!.id)}\nevent: grant.created\ndata: {"id":"${String(stored[0]!.id)}","type":"grant.created","createdAt":`);
        // Every data: line of the stream is an event: the resume point is an id: line alone, notices are comments.
        const dataLines = all.raw.split('\n').filter((line) => line.startsWith('data:'));
        expect(dataLines).toHaveLength(all.events.length);
      } finally {
        for (const curl of curls) await curl.stop();
      }
    });

    it('the TypeScript fetch reader prints type and data of each event, and nothing else', async () => {
      const base = example.subscribers();
      const raw = await new SseReader(validatorFor(example.bundle, 'stream-sse')).open(`${example.url}/v1/events/stream`, {
        Authorization: `Bearer ${example.keys.reader.secret}`,
      });
      const snippet = runNodeSnippet('grant-events', 'fetch-reader.ts', [http()], env());
      try {
        await publishWhenListening(base, 2);
        await snippet.waitFor(() => snippet.of('log').length >= 5, 'five events printed');
        await raw.waitForEvents(5);
        // A heartbeat interval after the last event: anything else the stream sent would have been printed by now.
        await raw.waitFor(() => raw.frames.slice(raw.frames.indexOf(raw.events[4]!)).some((frame) => frame.role === 'heartbeat'), 'a heartbeat after the events');
        expect(snippet.of('log')).toEqual(printed(published));
        expect(snippet.of('uncaught')).toEqual([]);
      } finally {
        raw.close();
        await snippet.stop();
      }
    });

    it.skipIf(skipWithoutPython)('the Python httpx reader prints type and data of each event (no frame it cannot index)', async () => {
      const base = example.subscribers();
      const snippet = runPythonSnippet('grant-events', 'httpx_stream.py', [http()], env());
      try {
        await publishWhenListening(base, 1);
        await snippet.waitFor(() => snippet.of('print').length >= 5, 'five events printed');
        expect(snippet.of('print')).toEqual(printed(published));
        expect(snippet.stderr).toBe('');
      } finally {
        await snippet.stop();
      }
    });

    it('answers a missing or wrong key with 401 and a Bearer challenge, and an unknown type with 400', async () => {
      for (const headers of [{}, { Authorization: 'Bearer sk_wrong' }] as Record<string, string>[]) {
        const response = await fetch(`${example.url}/v1/events/stream`, { headers });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
        expect(await response.json()).toMatchObject({ code: 'AUTH_REQUIRED' });
      }
      const unknown = await fetch(`${example.url}/v1/events/stream?types=grant.nope`, { headers: { Authorization: `Bearer ${example.keys.reader.secret}` } });
      expect(unknown.status).toBe(400);
      expect(await unknown.json()).toMatchObject({ code: 'UNKNOWN_EVENT_TYPE' });
    });
  });

  describe('WebSocket: GET /v1/events/ws', () => {
    /** A raw reader beside each snippet: every message validated, and proof that only events came. */
    async function rawReader(): Promise<WsReader> {
      const reader = new WsReader(validatorFor(example.bundle, 'stream-ws'), `${example.url.replace(/^http/, 'ws')}/v1/events/ws`, {
        Authorization: `Bearer ${example.keys.reader.secret}`,
      });
      await reader.opened();
      return reader;
    }

    /** Two server pings (heartbeat_s 1) after the events: a status_s interval passed with no other message. */
    async function twoPingsLater(reader: WsReader): Promise<void> {
      const pings = reader.pings;
      await reader.waitFor(() => reader.pings >= pings + 2, 'two pings');
      expect(reader.frames.every((frame) => frame.role === 'event')).toBe(true);
    }

    it('the TypeScript ws client prints type and data of each event: every message is the bare event', async () => {
      const base = example.subscribers();
      const raw = await rawReader();
      const snippet = runNodeSnippet('grant-events', 'ws-client.ts', [ws()], env());
      try {
        const stored = await publishWhenListening(base, 2);
        await snippet.waitFor(() => snippet.of('log').length >= 5, 'five events printed');
        await raw.waitFor(() => raw.events.length >= 5, 'five events');
        expect(raw.events.map((frame) => frame.envelope)).toEqual(stored);
        await twoPingsLater(raw);
        expect(snippet.of('log')).toEqual(printed(published));
        expect(snippet.of('uncaught')).toEqual([]);
      } finally {
        raw.close();
        await snippet.stop();
      }
    });

    it.skipIf(skipWithoutPython)('the Python websockets client prints type and data of each event (no message it cannot index)', async () => {
      const base = example.subscribers();
      const raw = await rawReader();
      const snippet = runPythonSnippet('grant-events', 'websockets_client.py', [ws()], env());
      try {
        await publishWhenListening(base, 2);
        await snippet.waitFor(() => snippet.of('print').length >= 5, 'five events printed');
        await raw.waitFor(() => raw.events.length >= 5, 'five events');
        await twoPingsLater(raw);
        expect(snippet.of('print')).toEqual(printed(published));
        expect(snippet.stderr).toBe('');
      } finally {
        raw.close();
        await snippet.stop();
      }
    });
  });

  it('is served by `specstream serve --specs examples/grant-events` (the README command)', async () => {
    const spawned = await spawnServer(['--specs', example.bundle.dir, '--port', '0', '--store', 'sqlite::memory:', '--key', 'demo:sk_demo_secret:events:read,events:write']);
    try {
      const stored = await fetch(`${spawned.url}/specstream/publish`, {
        method: 'POST',
        headers: { Authorization: 'Bearer sk_demo_secret', 'Content-Type': 'application/json' },
        body: JSON.stringify(published[0]),
      });
      expect(stored.status).toBe(201);
      expect(await stored.json()).toMatchObject({ type: 'grant.created', data: published[0]!.data });
      expect((await fetch(`${spawned.url}/v1/events/stream`)).status).toBe(401);
    } finally {
      await spawned.stop();
    }
  }, 30_000);
});

/** Waits for `n` events in a recorder fed by a process's output, failing on a frame error or an early exit. */
async function waitForRecorder(process: SnippetProcess, recorder: SseRecorder, n: number): Promise<void> {
  await process.waitFor(() => {
    if (recorder.failure) throw recorder.failure;
    return recorder.events.length >= n;
  }, `${n} events`);
}
