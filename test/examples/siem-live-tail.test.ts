/**
 * examples/siem-live-tail, read by the client of its document (003 siem-live-tail): the dashboard's
 * `switch (msg.type)` WebSocket client in Chromium, with only the server address changed and its
 * `/* ... *\/` placeholders logging what each case got; and the REST backfill the widgets call first.
 * Every WebSocket message is validated against examples/siem-live-tail/asyncapi.yaml; the published
 * records are the document's examples (without their `id`, which Specstream assigns).
 */
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../helpers/spawn-server.js';
import { operationOf, readEnvelope, type Json } from './helpers/bundle.js';
import { launchChromium, skipWithoutChromium, SnippetPage } from './helpers/browser.js';
import { expectDeclared, startExampleServer, validatorFor, WsReader, type ExampleServer } from './helpers/server.js';
import { snippetText } from './helpers/snippets.js';

const STATUS_FIELDS = ['type', 'ts', 'throughput_eps', 'queue_depth', 'queue_max', 'receivers', 'detectors'];

describe('examples/siem-live-tail served from its bundle', () => {
  let example: ExampleServer;
  let record: { event: Json; alert: Json };

  beforeAll(async () => {
    example = await startExampleServer('siem-live-tail');
    record = { event: example.bundle.catalog.get('event')!.examples[0]!, alert: example.bundle.catalog.get('alert')!.examples[0]! };
  });

  afterAll(async () => {
    await example?.dispose();
  });

  afterEach(async () => {
    await example.waitForIdle();
  });

  const wsUrl = (): string => `${example.url.replace(/^http/, 'ws')}/api/v1/ws`;

  /** Stores the document's event and alert; returns them as the wire shows them ({id, ...record}). */
  async function publishBoth(): Promise<{ event: Json; alert: Json }> {
    return { event: await example.publish('event', record.event), alert: await example.publish('alert', record.alert) };
  }

  it('stores the document\'s records and answers each as {id, ...record}', async () => {
    const stored = await publishBoth();
    for (const type of ['event', 'alert'] as const) {
      expect(Object.keys(stored[type])[0]).toBe('id');
      expect(readEnvelope(example.bundle.envelope, stored[type]).data).toEqual(record[type]);
    }
  });

  describe.skipIf(skipWithoutChromium)('the dashboard client in Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await launchChromium();
    });

    afterAll(async () => {
      await browser?.close();
    });

    it('reaches each case of its switch on two dashboards at once: event, alert and status with the documented fields', async () => {
      const base = example.subscribers();
      const pages = [await SnippetPage.open(browser, example.url), await SnippetPage.open(browser, example.url)];
      try {
        const code = snippetText('siem-live-tail', 'dashboard.js', [
          { from: 'ws://127.0.0.1:8080', to: example.url.replace(/^http/, 'ws') },
          { from: '/* ... */', to: 'console.log(msg.type, msg);' },
        ]);
        for (const page of pages) await page.run(code);
        await example.waitForSubscribers(base + 2);
        const stored = await publishBoth();
        const validator = validatorFor(example.bundle, 'stream-ws');
        for (const page of pages) {
          const cases = (type: string) => page.of('log').filter((args) => args[0] === type).map((args) => args[1] as Json);
          await page.waitFor(() => cases('event').length >= 1 && cases('alert').length >= 1 && cases('status').length >= 1, 'every case');
          for (const [, msg] of page.of('log')) validator.wsMessage(JSON.stringify(msg));
          expect(cases('event')).toEqual([{ type: 'event', event: stored.event }]);
          expect(cases('alert')).toEqual([{ type: 'alert', alert: stored.alert }]);
          // What the widgets read: the documented fields, not undefined.
          const event = cases('event')[0]!.event as Json;
          expect([event.message, event.severity, event.template, event.anomaly_score]).toEqual(['Failed password for root from 10.0.1.42', 13, 'Failed password for <*> from <*>', 0.87]);
          expect((cases('alert')[0]!.alert as Json).dedup_key).toBe('sigma:ssh_brute_force:10.0.1.42');
          const status = cases('status')[0]!;
          expect(Object.keys(status)).toEqual(STATUS_FIELDS);
          expect(page.of('log').every((args) => ['event', 'alert', 'status'].includes(String(args[0])))).toBe(true);
        }
      } finally {
        for (const page of pages) await page.close();
      }
    });
  });

  describe('the WebSocket, read raw', () => {
    it('needs no credential, replays nothing, and sends a status every status_s with the engine\'s state', async () => {
      await publishBoth(); // stored before connecting: never replayed
      const base = example.subscribers();
      const reader = new WsReader(validatorFor(example.bundle, 'stream-ws'), wsUrl());
      try {
        await reader.opened();
        expect(reader.refused).toBeUndefined();
        await reader.waitFor(() => reader.frames.filter((frame) => frame.role === 'status').length >= 2, 'two status messages');
        expect(reader.events).toEqual([]);
        await example.waitForSubscribers(base + 1);
        const stored = await publishBoth();
        await reader.waitFor(() => reader.events.length >= 2, 'the event and the alert');
        expect(reader.events.map((frame) => [frame.type, frame.envelope])).toEqual([
          ['event', stored.event],
          ['alert', stored.alert],
        ]);
        const status = reader.frames.find((frame) => frame.role === 'status') as { frame: Json };
        expect(Object.keys(status.frame)).toEqual(STATUS_FIELDS);
        expect(Object.keys(status.frame.receivers as Json).length).toBeGreaterThan(0);
        expect(Object.keys(status.frame.detectors as Json).length).toBeGreaterThan(0);
        expect(reader.frames.every((frame) => ['status', 'event'].includes(frame.role))).toBe(true);
      } finally {
        reader.close();
      }
    });

    it('refuses anonymous publishing with 401 (reading is anonymous, writing needs a key)', async () => {
      const response = await fetch(`${example.url}/specstream/publish`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ type: 'alert', data: record.alert }),
      });
      expect(response.status).toBe(401);
      expectDeclared(example.bundle, operationOf(example.bundle, 'publish'), 401, await response.json());
    });
  });

  it('keeps /metrics (counts of every type) from anonymous readers: 403 without metrics:read, 200 for admin', async () => {
    const anonymous = await fetch(`${example.url}/metrics`);
    expect(anonymous.status).toBe(403);
    expectDeclared(example.bundle, operationOf(example.bundle, 'metrics'), 403, await anonymous.json());
    const admin = await fetch(`${example.url}/metrics`, { headers: { Authorization: `Bearer ${example.keys.admin.secret}` } });
    expect(admin.status).toBe(200);
    expect(await admin.text()).toContain('specstream_events_published_total');
  });

  describe('the REST backfill a widget calls before the WebSocket', () => {
    it.each([
      ['/api/v1/events', 'event'],
      ['/api/v1/alerts', 'alert'],
    ] as const)('GET %s?since=… lists only %s records, oldest first, with no credential', async (path, type) => {
      const since = new Date(Date.now() - 1000).toISOString();
      const stored = await publishBoth();
      const response = await fetch(`${example.url}${path}?since=${since}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as { data: Json[] };
      expectDeclared(example.bundle, operationOf(example.bundle, 'list', path), 200, page);
      expect(page.data.length).toBeGreaterThan(0);
      expect(page.data.at(-1)).toEqual(stored[type]);
      const schema = example.bundle.catalog.get(type)!;
      for (const item of page.data) expect(schema.validate(readEnvelope(example.bundle.envelope, item).data), JSON.stringify(item)).toBe(true);
    });
  });

  it('is served anonymously by `specstream serve --specs examples/siem-live-tail` (the bundle turns anonymous reading on)', async () => {
    const spawned = await spawnServer(['--specs', example.bundle.dir, '--port', '0', '--store', 'sqlite::memory:', '--key', 'pipeline:sk_demo_secret:events:write']);
    try {
      const reader = new WsReader(validatorFor(example.bundle, 'stream-ws'), `${spawned.url.replace(/^http/, 'ws')}/api/v1/ws`);
      try {
        await reader.opened();
        expect(reader.refused).toBeUndefined();
        await reader.waitFor(() => reader.frames.some((frame) => frame.role === 'status'), 'a status message');
      } finally {
        reader.close();
      }
      expect((await fetch(`${spawned.url}/api/v1/alerts?since=2026-01-01T00:00:00Z`)).status).toBe(200);
    } finally {
      await spawned.stop();
    }
  }, 30_000);
});
