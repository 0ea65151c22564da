/**
 * examples/audit-log, read by the clients of its document (000 audit-log): the two curl commands, the
 * browser EventSource snippets in Chromium and the Node `eventsource` snippet, each with only the base
 * URL and the token changed (and v4's named import). Every frame a test client receives is validated
 * against examples/audit-log/asyncapi.yaml; the published events are the document's own examples.
 */
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../helpers/spawn-server.js';
import type { Json } from './helpers/bundle.js';
import { launchChromium, skipWithoutChromium, SnippetPage } from './helpers/browser.js';
import { SseRecorder, StreamValidator } from './helpers/frames.js';
import { SseReader, startExampleServer, validatorFor, type ExampleServer } from './helpers/server.js';
import { runNodeSnippet, runShellSnippet, snippetText, type SnippetProcess } from './helpers/snippets.js';

const AUTH_REQUIRED_BODY = '{"error":"Admin authentication required","code":"ADMIN_AUTH_REQUIRED"}';

describe('examples/audit-log served from its bundle', () => {
  let example: ExampleServer;
  let published: { type: string; data: Json }[];

  beforeAll(async () => {
    example = await startExampleServer('audit-log');
    published = [...example.bundle.catalog.values()].map((entry) => ({ type: entry.type, data: entry.examples[0]! }));
    expect(published.map((event) => event.type)).toEqual(['audit_log_created', 'internal_audit_log_created']);
  });

  afterAll(async () => {
    await example?.dispose();
  });

  afterEach(async () => {
    await example.waitForIdle();
  });

  async function publishAll(): Promise<void> {
    for (const event of published) await example.publish(event.type, event.data);
  }

  /** The document's events as `{type, data}`, what its handlers parse out of each `data:` line. */
  function expectDocumentEvents(received: unknown[]): void {
    expect(received).toEqual(published.map((event) => ({ type: event.type, data: event.data })));
  }

  describe('the curl commands of "Authentication"', () => {
    it('each receives every published event as an unnamed data frame, alongside a third client (every client gets every event)', async () => {
      const base = example.subscribers();
      const substitutions = [
        { from: 'http://localhost:3100', to: example.url },
        { from: 'your-token', to: example.keys.reader.secret },
      ];
      const header = new SseRecorder(validatorFor(example.bundle, 'stream-sse'));
      const query = new SseRecorder(validatorFor(example.bundle, 'stream-sse'));
      const curls: SnippetProcess[] = [
        runShellSnippet('audit-log', 'curl-header.sh', substitutions, (chunk) => header.push(chunk)),
        runShellSnippet('audit-log', 'curl-query.sh', substitutions, (chunk) => query.push(chunk)),
      ];
      const reader = await new SseReader(validatorFor(example.bundle, 'stream-sse')).open(`${example.url}/api/events`, {
        Authorization: `Bearer ${example.keys.reader.secret}`,
      });
      try {
        expect(reader.status).toBe(200);
        expect(reader.headers['content-type']).toMatch(/^text\/event-stream/);
        expect(reader.headers['cache-control']).toMatch(/no-cache/);
        expect(reader.headers.connection).toBe('keep-alive');
        await example.waitForSubscribers(base + 3);
        await publishAll();
        await reader.waitForEvents(2);
        for (const [curl, recorder] of [
          [curls[0]!, header],
          [curls[1]!, query],
        ] as const) {
          await curl.waitFor(() => {
            if (recorder.failure) throw recorder.failure;
            return recorder.events.length >= 2;
          }, 'two events on curl');
          expectDocumentEvents(recorder.events.map((frame) => frame.envelope));
          // The document's "Event Format": `data: {"type":...,"data":...}`, no `event:` line.
          expect(recorder.raw).toContain(`data: {"type":"audit_log_created","data":`);
          expect(recorder.raw).not.toMatch(/^event:/m);
        }
        expectDocumentEvents(reader.events.map((frame) => frame.envelope));
        // A live-only stream starts with its resume point as an id: line alone (browsers keep it; parsers ignore it).
        expect(reader.frames[0]).toMatchObject({ role: 'retry' });
        expect(reader.frames[1]).toMatchObject({ role: 'position' });
        expect(reader.events.every((frame) => frame.id !== undefined)).toBe(true);
      } finally {
        reader.close();
        for (const curl of curls) await curl.stop();
      }
    });
  });

  describe('the Node.js Support snippet (eventsource v4, named import)', () => {
    it('hands every event to onmessage, parsed into {type, data}', async () => {
      const base = example.subscribers();
      const snippet = runNodeSnippet('audit-log', 'node-support.mjs', [
        { from: 'http://localhost:3100', to: example.url },
        { from: 'your-token', to: example.keys.reader.secret },
        { from: '// Handle event', to: 'report(data);' },
      ]);
      try {
        await example.waitForSubscribers(base + 1);
        await publishAll();
        await snippet.waitFor(() => snippet.of('report').length >= 2, 'two events in the handler');
        const received = snippet.of('report').map((args) => args[0]);
        expectDocumentEvents(received);
        const validator = new StreamValidator(example.bundle, '/api/events');
        for (const envelope of received) validator.envelope(envelope as Json);
        expect(snippet.of('uncaught')).toEqual([]);
      } finally {
        await snippet.stop();
      }
    });
  });

  describe.skipIf(skipWithoutChromium)('the browser snippets in Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await launchChromium();
    });

    afterAll(async () => {
      await browser?.close();
    });

    it('"Example Request (JavaScript)" logs every event from onmessage; the "Browser Support" listener gets none (the page follows "Event Format")', async () => {
      const base = example.subscribers();
      const request = await SnippetPage.open(browser, example.url);
      const support = await SnippetPage.open(browser, example.url);
      try {
        const token = { from: 'your-token', to: example.keys.reader.secret };
        await request.run(snippetText('audit-log', 'browser-example-request.js', [token]));
        await support.run(
          snippetText('audit-log', 'browser-support.js', [token, { from: '// Handle event', to: 'console.log("named listener", data);' }]),
        );
        // A probe beside the documented listener: proves the events reached this page too.
        await support.run('eventSource.onmessage = (event) => console.log("probe", event.type, event.data, event.lastEventId);');
        await example.waitForSubscribers(base + 2);
        await publishAll();

        await request.waitFor(() => request.of('log').length >= 2, 'two events logged');
        const logged = request.of('log');
        expect(logged.map((args) => args[0])).toEqual(['Event:', 'Event:']);
        expectDocumentEvents(logged.map((args) => args[1]));
        // The snippet's onerror logs "SSE error:" (the browser's own console errors, such as a missing favicon, have no arguments).
        expect(request.of('error').filter((args) => args[0] === 'SSE error:')).toEqual([]);

        await support.waitFor(() => support.of('log').filter((args) => args[0] === 'probe').length >= 2, 'two events at the probe');
        const validator = validatorFor(example.bundle, 'stream-sse');
        const probed = support
          .of('log')
          .filter((args) => args[0] === 'probe')
          .map(([, type, data, lastEventId]) => validator.dispatched({ type: String(type), data: String(data), lastEventId: String(lastEventId) }));
        expectDocumentEvents(probed.map((frame) => frame.envelope));
        expect(support.of('log').filter((args) => args[0] === 'named listener')).toEqual([]);
      } finally {
        await request.close();
        await support.close();
      }
    });
  });

  describe('authentication errors', () => {
    it.each([
      ['no credential', '/api/events', {}],
      ['a wrong Bearer token', '/api/events', { Authorization: 'Bearer sk_wrong' }],
      ['a wrong ?token=', '/api/events?token=sk_wrong', {}],
      ['publishing without a key', '/specstream/publish', {}],
      ['metrics without a key', '/metrics', {}],
    ] as const)('answers %s with 401 and exactly the documented body', async (_name, path, headers) => {
      const method = path === '/specstream/publish' ? 'POST' : 'GET';
      const response = await fetch(`${example.url}${path}`, {
        method,
        headers: { Accept: 'text/event-stream', 'Content-Type': 'application/json', ...headers },
        ...(method === 'POST' ? { body: JSON.stringify({ type: published[0]!.type, data: published[0]!.data }) } : {}),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(await response.text()).toBe(AUTH_REQUIRED_BODY);
    });
  });

  describe('what the document leaves to Specstream', () => {
    it('resumes after Last-Event-ID: a reconnecting client gets exactly the events after the last one it saw', async () => {
      const before = example.subscribers();
      const first = await new SseReader(validatorFor(example.bundle, 'stream-sse')).open(`${example.url}/api/events?token=${example.keys.reader.secret}`);
      await example.waitForSubscribers(before + 1);
      await publishAll();
      await first.waitForEvents(2);
      first.close();
      const lastSeen = first.events[0]!.id!;
      const again = await new SseReader(validatorFor(example.bundle, 'stream-sse')).open(`${example.url}/api/events?token=${example.keys.reader.secret}`, {
        'Last-Event-ID': lastSeen,
      });
      try {
        await again.waitForEvents(1);
        expect(again.events[0]!.id).toBe(first.events[1]!.id);
        expect(again.events[0]!.envelope).toEqual(first.events[1]!.envelope);
      } finally {
        again.close();
      }
    });

    it('sends ": heartbeat" every heartbeat_s (30 in the bundle; 1 here)', async () => {
      expect(example.bundle.config.heartbeat_s).toBe(30);
      const fast = await startExampleServer('audit-log', { heartbeat_s: 1 });
      const reader = await new SseReader(validatorFor(fast.bundle, 'stream-sse')).open(`${fast.url}/api/events?token=${fast.keys.reader.secret}`);
      try {
        await reader.waitFor(() => reader.frames.some((frame) => frame.role === 'heartbeat'), 'a heartbeat');
        expect(reader.recorder.raw).toContain('\n: heartbeat\n');
      } finally {
        reader.close();
        await fast.dispose();
      }
    });
  });

  it('is served by `specstream serve --specs examples/audit-log` (the README command)', async () => {
    const spawned = await spawnServer(['--specs', example.bundle.dir, '--port', '0', '--store', 'sqlite::memory:', '--key', 'demo:sk_demo_secret:events:read,events:write']);
    try {
      const refused = await fetch(`${spawned.url}/api/events`);
      expect(refused.status).toBe(401);
      expect(await refused.text()).toBe(AUTH_REQUIRED_BODY);
      const stored = await fetch(`${spawned.url}/specstream/publish`, {
        method: 'POST',
        headers: { Authorization: 'Bearer sk_demo_secret', 'Content-Type': 'application/json' },
        body: JSON.stringify(published[0]),
      });
      expect(stored.status).toBe(201);
      expect(await stored.json()).toEqual(published[0]);
    } finally {
      await spawned.stop();
    }
  }, 30_000);
});
