/**
 * examples/global-events against its document (004 global-events): the documented curl (unchanged but
 * for the address, with anonymous reading turned on, and with a Bearer token when it is off), frames with
 * `data:` (the resource event itself), `event:` (its `@type`) and `id:`; resuming by the `Last-Event-Id`
 * header or query parameter; `HEAD /v1/events` answering 200 with `events/read`, 403 without it, and
 * opening no stream. Every frame is validated against examples/global-events/asyncapi.yaml; the
 * published events are the document's four payloads (without `@type`, which the stream adds).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../helpers/spawn-server.js';
import type { Json } from './helpers/bundle.js';
import { SseRecorder } from './helpers/frames.js';
import { SseReader, startExampleServer, validatorFor, type ExampleServer } from './helpers/server.js';
import { runShellSnippet, type Substitution } from './helpers/snippets.js';

describe('examples/global-events served from its bundle', () => {
  let example: ExampleServer;
  let published: { type: string; data: Json }[];
  /** The document's events as its page shows them: the payload with its @type. */
  let documented: Json[];

  beforeAll(async () => {
    example = await startExampleServer('global-events');
    published = [...example.bundle.catalog.values()].map((entry) => ({ type: entry.type, data: entry.examples[0]! }));
    expect(published.map((event) => event.type)).toEqual(['RealmCreated', 'AclReplaced', 'ResourceCreated', 'PermissionsReplaced']);
    documented = published.map((event) => ({ ...event.data, '@type': event.type }));
  });

  afterAll(async () => {
    await example?.dispose();
  });

  afterEach(async () => {
    await example.waitForIdle();
  });

  const address = (server: { url: string }): Substitution => ({ from: 'http://localhost:8080', to: server.url });
  const bearer = (key: { secret: string }) => ({ Authorization: `Bearer ${key.secret}` });

  async function publishAll(target: ExampleServer): Promise<Json[]> {
    const stored: Json[] = [];
    for (const event of published) stored.push(await target.publish(event.type, event.data));
    return stored;
  }

  it('publishes the document\'s payloads; each is answered as the stream sends it, the payload with its @type', async () => {
    const stored = await publishAll(example);
    expect(stored).toEqual(documented);
  });

  it('serves the documented curl as it is (no credential) when anonymous reading is on: data, event and id on every event', async () => {
    const open = await startExampleServer('global-events', { allow_anonymous: true });
    const recorder = new SseRecorder(validatorFor(open.bundle, 'stream-sse'));
    const base = open.subscribers();
    const curl = runShellSnippet('global-events', 'curl.sh', [address(open)], (chunk) => recorder.push(chunk));
    try {
      await open.waitForSubscribers(base + 1);
      await publishAll(open);
      await curl.waitFor(() => {
        if (recorder.failure) throw recorder.failure;
        return recorder.events.length >= 4;
      }, 'four events');
      expect(recorder.events.map((frame) => frame.envelope)).toEqual(documented);
      expect(recorder.events.map((frame) => frame.type)).toEqual(published.map((event) => event.type));
      const realm = recorder.events[0]!;
      expect(recorder.raw).toContain(`id: ${realm.id}\nevent: RealmCreated\ndata: {"@context":["https://bluebrain.github.io/nexus/contexts/metadata.json"`);
    } finally {
      await curl.stop();
      await open.dispose();
    }
  });

  describe('with anonymous access off (the bundle\'s default)', () => {
    it('answers the documented curl with 401, and serves it with a Bearer token', async () => {
      const refused = await fetch(`${example.url}/v1/events`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
      const recorder = new SseRecorder(validatorFor(example.bundle, 'stream-sse'));
      const base = example.subscribers();
      const curl = runShellSnippet(
        'global-events',
        'curl.sh',
        [address(example), { from: 'curl "', to: `curl -H "Authorization: Bearer ${example.keys.reader.secret}" "` }],
        (chunk) => recorder.push(chunk),
      );
      try {
        await example.waitForSubscribers(base + 1);
        await publishAll(example);
        await curl.waitFor(() => {
          if (recorder.failure) throw recorder.failure;
          return recorder.events.length >= 4;
        }, 'four events');
        expect(recorder.events.map((frame) => frame.envelope)).toEqual(documented);
      } finally {
        await curl.stop();
      }
    });

    it.each([
      ['the Last-Event-Id header (what a reconnecting EventSource sends)', (id: string) => ({ path: '/v1/events', headers: { 'Last-Event-Id': id } })],
      ['the Last-Event-Id query parameter', (id: string) => ({ path: `/v1/events?Last-Event-Id=${id}`, headers: {} })],
    ])('resumes right after the event named by %s', async (_name, request) => {
      const before = example.subscribers();
      const first = await new SseReader(validatorFor(example.bundle, 'stream-sse')).open(`${example.url}/v1/events`, bearer(example.keys.reader));
      await example.waitForSubscribers(before + 1);
      await publishAll(example);
      await first.waitForEvents(4);
      first.close();
      const { path, headers } = request(first.events[1]!.id!);
      const again = await new SseReader(validatorFor(example.bundle, 'stream-sse')).open(`${example.url}${path}`, { ...bearer(example.keys.reader), ...headers });
      try {
        await again.waitForEvents(2);
        expect(again.events.map((frame) => frame.id)).toEqual(first.events.slice(2).map((frame) => frame.id));
        expect(again.events.map((frame) => frame.envelope)).toEqual(documented.slice(2));
      } finally {
        again.close();
      }
    });

    it('checks the permission with HEAD /v1/events: 200 with events/read, 403 with only events/write, 401 without a credential, and no stream', async () => {
      const before = example.subscribers();
      const cases: [Record<string, string>, number][] = [
        [bearer(example.keys.reader), 200],
        [bearer(example.keys.admin), 200],
        [bearer(example.keys.writer), 403],
        [{}, 401],
      ];
      for (const [headers, status] of cases) {
        const response = await fetch(`${example.url}/v1/events`, { method: 'HEAD', headers });
        expect(response.status, JSON.stringify(headers)).toBe(status);
        expect(await response.text()).toBe('');
      }
      expect(example.subscribers()).toBe(before);
      expect(example.keys.writer.scopes).toEqual(['events/write']);
    });

    it('refuses a stream to a key holding only events/write, and a publish to one holding only events/read', async () => {
      const stream = await fetch(`${example.url}/v1/events`, { headers: bearer(example.keys.writer) });
      expect(stream.status).toBe(403);
      const publish = await fetch(`${example.url}/specstream/publish`, {
        method: 'POST',
        headers: { ...bearer(example.keys.reader), 'Content-Type': 'application/json' },
        body: JSON.stringify(published[0]),
      });
      expect(publish.status).toBe(403);
    });
  });

  it('is served by `specstream serve --specs examples/global-events` with the bundle\'s scope names', async () => {
    const spawned = await spawnServer([
      '--specs',
      example.bundle.dir,
      '--port',
      '0',
      '--store',
      'sqlite::memory:',
      '--key',
      'reader:sk_demo_reader:events/read',
      '--key',
      'writer:sk_demo_writer:events/write',
    ]);
    try {
      expect((await fetch(`${spawned.url}/v1/events`, { method: 'HEAD', headers: { Authorization: 'Bearer sk_demo_reader' } })).status).toBe(200);
      expect((await fetch(`${spawned.url}/v1/events`, { method: 'HEAD', headers: { Authorization: 'Bearer sk_demo_writer' } })).status).toBe(403);
    } finally {
      await spawned.stop();
    }
  }, 30_000);
});
