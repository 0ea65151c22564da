/**
 * examples/admin-actions against what its document (002 admin-actions) promises: history by
 * since/until or since_id/until_id then live, the three query rules (each a 400), no history without
 * since/since_id, a 200 end at until/until_id, Basic credentials, the slow-client comment. The page has
 * no client code; its "Try It!" request is run with curl. Every frame is validated against
 * examples/admin-actions/asyncapi.yaml.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../helpers/spawn-server.js';
import { operationOf, readEnvelope, type Json } from './helpers/bundle.js';
import { SseRecorder } from './helpers/frames.js';
import { credentials, expectDeclared, SseReader, startExampleServer, validatorFor, type ExampleServer } from './helpers/server.js';
import { runShellSnippet } from './helpers/snippets.js';

const STREAM = '/v2/events/admin-actions';

describe('examples/admin-actions served from its bundle', () => {
  let example: ExampleServer;
  let published: { type: string; data: Json }[];
  /** The three actions as stored, in order. */
  let stored: Json[];
  let basic: string;

  beforeAll(async () => {
    example = await startExampleServer('admin-actions');
    published = [...example.bundle.catalog.values()].map((entry) => ({ type: entry.type, data: entry.examples[0]! }));
    expect(published.map((event) => event.type)).toEqual(['LegacyNote', 'Liquidation', 'TransactionCancel']);
    basic = `Basic ${Buffer.from(`${example.keys.reader.id}:${example.keys.reader.secret}`).toString('base64')}`;
    stored = [];
    for (const event of published) stored.push(await example.publish(event.type, event.data));
  });

  afterAll(async () => {
    await example?.dispose();
  });

  afterEach(async () => {
    await example.waitForIdle();
  });

  /** Runs the page's "Try It!" request with `query`; resolves when curl exits by itself. */
  async function tryIt(query: string): Promise<{ code: number | null; recorder: SseRecorder; output: string }> {
    const recorder = new SseRecorder(validatorFor(example.bundle, 'stream-sse'));
    let output = '';
    const curl = runShellSnippet(
      'admin-actions',
      'try-it.sh',
      [
        { from: 'https://api.example.com', to: example.url },
        { from: 'QUERY', to: query },
        { from: 'BASE64', to: basic.slice('Basic '.length) },
      ],
      (chunk) => {
        output += chunk.toString();
        recorder.push(chunk);
      },
    );
    try {
      const code = await curl.exit();
      return { code, recorder, output };
    } finally {
      await curl.stop();
    }
  }

  it('publishes the three action types; an action on the wire is event_id, at, type and its own fields', () => {
    for (const [index, envelope] of stored.entries()) {
      expect(Object.keys(envelope).slice(0, 3)).toEqual(['event_id', 'at', 'type']);
      expect(readEnvelope(example.bundle.envelope, envelope)).toMatchObject({ type: published[index]!.type, data: published[index]!.data });
    }
  });

  describe('history', () => {
    it('since/until streams the actions in the range as named messages, then ends with 200', async () => {
      const since = String(stored[0]!.at);
      const until = String(stored[2]!.at);
      const { code, recorder } = await tryIt(`since=${since}&until=${until}`);
      expect(code).toBe(0); // --fail-with-body: any status >= 400 would be exit 22
      if (recorder.failure) throw recorder.failure;
      expect(recorder.events.map((frame) => frame.envelope)).toEqual(stored);
      expect(recorder.raw).toContain(`id: ${String(stored[1]!.event_id)}\nevent: Liquidation\ndata: {"event_id":"${String(stored[1]!.event_id)}"`);
    });

    it('since_id/until_id streams the actions after since_id up to until_id, then ends with 200', async () => {
      const { code, recorder } = await tryIt(`since_id=${String(stored[0]!.event_id)}&until_id=${String(stored[2]!.event_id)}`);
      expect(code).toBe(0);
      if (recorder.failure) throw recorder.failure;
      expect(recorder.events.map((frame) => frame.envelope)).toEqual(stored.slice(1));
    });

    it('without since or since_id sends no history: only actions logged after connecting', async () => {
      const base = example.subscribers();
      const reader = await new SseReader(validatorFor(example.bundle, 'stream-sse')).open(`${example.url}${STREAM}`, { Authorization: basic });
      try {
        expect(reader.status).toBe(200);
        await example.waitForSubscribers(base + 1);
        const live = await example.publish(published[1]!.type, published[1]!.data);
        await reader.waitForEvents(1);
        expect(reader.events.map((frame) => frame.envelope)).toEqual([live]);
        expect(reader.frames.map((frame) => frame.role).slice(0, 3)).toEqual(['retry', 'position', 'event']);
      } finally {
        reader.close();
      }
    });

    it.each([
      ['until without since', 'until=2026-01-01T00:00:00Z', 'UNTIL_REQUIRES_SINCE'],
      ['until_id without since_id', 'until_id=evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P', 'UNTIL_ID_REQUIRES_SINCE_ID'],
      ['since with since_id', 'since=2026-01-01T00:00:00Z&since_id=evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P', 'SINCE_EXCLUDES_SINCE_ID'],
      ['since after until', 'since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z', 'SINCE_AFTER_UNTIL'],
    ])('refuses %s with 400 %s, on the stream and on the history list', async (_name, query, code) => {
      for (const role of ['stream-sse', 'list'] as const) {
        const operation = operationOf(example.bundle, role);
        const response = await fetch(`${example.url}${operation.path}?${query}`, { headers: { Authorization: basic } });
        expect(response.status).toBe(400);
        const body = (await response.json()) as Json;
        expect(body.code).toBe(code);
        expectDeclared(example.bundle, operation, 400, body);
      }
    });
  });

  it('lists the same history as paginated JSON (Specstream addition)', async () => {
    const list = operationOf(example.bundle, 'list');
    const response = await fetch(`${example.url}${list.path}?since_id=${String(stored[0]!.event_id)}&until_id=${String(stored[2]!.event_id)}&limit=1`, {
      headers: credentials(example.bundle, list, example.keys.reader).headers,
    });
    expect(response.status).toBe(200);
    const page = (await response.json()) as { data: Json[]; has_more: boolean; next_cursor: string };
    expectDeclared(example.bundle, list, 200, page);
    expect(page.data).toEqual([stored[1]]);
    expect(page.has_more).toBe(true);
    const next = await fetch(`${example.url}${list.path}?since_id=${String(stored[0]!.event_id)}&until_id=${String(stored[2]!.event_id)}&limit=1&cursor=${page.next_cursor}`, {
      headers: { Authorization: basic },
    });
    expect(((await next.json()) as { data: Json[] }).data).toEqual([stored[2]]);
  });

  describe('Basic authentication', () => {
    it('answers a missing credential, wrong Basic credentials or a Bearer token with 401 and a Basic challenge', async () => {
      const wrong = `Basic ${Buffer.from('reader:sk_wrong').toString('base64')}`;
      for (const headers of [{}, { Authorization: wrong }, { Authorization: `Bearer ${example.keys.reader.secret}` }] as Record<string, string>[]) {
        const response = await fetch(`${example.url}${STREAM}`, { headers });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
        expectDeclared(example.bundle, operationOf(example.bundle, 'stream-sse'), 401, await response.json());
      }
    });
  });

  it('tells a client behind retention ": you are reading too slowly, dropped N messages" and continues from the oldest kept action', async () => {
    const small = await startExampleServer('admin-actions', { retention_max_count: 2, retention_interval_s: 1 });
    try {
      const kept: Json[] = [];
      for (let i = 0; i < 5; i++) kept.push(await small.publish(published[i % 3]!.type, published[i % 3]!.data));
      const list = operationOf(small.bundle, 'list');
      const auth = credentials(small.bundle, list, small.keys.reader).headers;
      const deadline = Date.now() + 10_000;
      for (;;) {
        const page = (await (await fetch(`${small.url}${list.path}?since_id=${String(kept[0]!.event_id)}`, { headers: auth })).json()) as { data: Json[] };
        if (page.data.length === 2) break;
        if (Date.now() > deadline) throw new Error(`retention kept ${page.data.length} actions`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const reader = await new SseReader(validatorFor(small.bundle, 'stream-sse')).open(`${small.url}${STREAM}?since_id=${String(kept[0]!.event_id)}`, auth);
      try {
        await reader.waitForEvents(2);
        const notice = reader.frames.find((frame) => frame.role === 'dropped-notice');
        expect(notice).toMatchObject({ comment: 'you are reading too slowly, dropped 2 messages' });
        expect(reader.frames.indexOf(notice!)).toBeLessThan(reader.frames.indexOf(reader.events[0]!));
        expect(reader.events.map((frame) => frame.envelope)).toEqual(kept.slice(3));
      } finally {
        reader.close();
      }
    } finally {
      await small.dispose();
    }
  });

  it('is served by `specstream serve --specs examples/admin-actions` (the README command)', async () => {
    const spawned = await spawnServer(['--specs', example.bundle.dir, '--port', '0', '--store', 'sqlite::memory:', '--key', 'demo:sk_demo_secret:events:read,events:write']);
    try {
      const refused = await fetch(`${spawned.url}${STREAM}`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Basic /);
      const demo = `Basic ${Buffer.from('demo:sk_demo_secret').toString('base64')}`;
      const stored = await fetch(`${spawned.url}/specstream/publish`, {
        method: 'POST',
        headers: { Authorization: demo, 'Content-Type': 'application/json' },
        body: JSON.stringify(published[1]),
      });
      expect(stored.status).toBe(201);
    } finally {
      await spawned.stop();
    }
  }, 30_000);
});
