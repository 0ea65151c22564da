/**
 * The browser's own EventSource and WebSocket (headless Chromium, driven by playwright-core)
 * against a real server, from a page on another origin allowed by `cors_origins`. Every frame
 * the page receives is sent back and validated against the AsyncAPI document.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/generated/catalog.js';
import { validateEventSourceEvent, validateWsFrame } from '../helpers/frames.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { ids, publish } from '../stream/clients.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface PageFrames {
  sse: { type: string; data: string; lastEventId: string }[];
  ws: string[];
  wsClose?: { code: number; reason: string };
  sseOpens: number;
}

declare global {
  interface Window {
    frames_: PageFrames;
  }
}

/** A page origin of its own: an empty HTML page on another port. */
async function startPageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>partner dashboard</title>');
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Opens an EventSource (every catalog type listened to) and a WebSocket in the page. */
async function openStreams(page: Page, api: string, query: string): Promise<void> {
  await page.evaluate(
    ({ api, query, types }) => {
      const frames: PageFrames = { sse: [], ws: [], sseOpens: 0 };
      window.frames_ = frames;
      const source = new EventSource(`${api}/v1/events/stream?${query}`);
      source.onopen = () => frames.sseOpens++;
      for (const type of types) {
        source.addEventListener(type, (event) => {
          const message = event as MessageEvent<string>;
          frames.sse.push({ type: message.type, data: message.data, lastEventId: message.lastEventId });
        });
      }
      const ws = new WebSocket(`${api.replace(/^http/, 'ws')}/v1/events/ws?${query}`);
      ws.onmessage = (event) => frames.ws.push(String(event.data));
      ws.onclose = (event) => (frames.wsClose = { code: event.code, reason: event.reason });
    },
    { api, query, types: [...EVENT_TYPES] },
  );
}

async function framesOf(page: Page): Promise<PageFrames> {
  return page.evaluate(() => window.frames_);
}

// Skipped only on a developer machine without Chromium; CI (.ci/run) installs it, and there a missing browser fails.
describe.skipIf(!existsSync(CHROMIUM) && process.env.CI === undefined)('browser EventSource and WebSocket (headless Chromium)', () => {
  let browser: Browser;
  let pages: { server: Server; origin: string };

  beforeAll(async () => {
    pages = await startPageServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    pages?.server.close();
  });

  it('receives history then live events on both, and EventSource resumes with Last-Event-ID after a restart', async () => {
    let server: TestServer = await startTestServer({ cors_origins: [pages.origin], retry_ms: 100, heartbeat_s: 1 });
    const dbPath = server.dbPath;
    const servers = [server];
    try {
      const page = await browser.newPage();
      await page.goto(pages.origin);
      const history = await publish(server, 10);
      await openStreams(page, server.url, `token=sk_test_reader&since_id=${history[1]!.id}`);
      const live = await publish(server, 10);
      await page.waitForFunction(() => window.frames_.sse.length >= 18 && window.frames_.ws.length >= 18, undefined, { timeout: 10_000 });

      // The server goes away and comes back on the same port: the EventSource reconnects by itself.
      await server.close();
      server = await startTestServer({ port: server.port, store: `sqlite:${dbPath}`, cors_origins: [pages.origin], retry_ms: 100 });
      servers.push(server);
      const after = await publish(server, 5);
      await page.waitForFunction(() => window.frames_.sse.length >= 23 && window.frames_.sseOpens >= 2, undefined, { timeout: 10_000 });

      const frames = await framesOf(page);
      const sseEvents = frames.sse.map((event) => validateEventSourceEvent(event));
      const wsFrames = frames.ws.map((text) => validateWsFrame(text));
      expect(sseEvents.map((frame) => (frame.message === 'sseEvent' ? frame.id : frame.message))).toEqual(ids([...history.slice(2), ...live, ...after]));
      const wsEvents = wsFrames.flatMap((frame) => (frame.type === 'event' ? [frame.event.id] : []));
      expect(wsEvents).toEqual(ids([...history.slice(2), ...live]));
      // The WebSocket was told the server was shutting down.
      expect(wsFrames.at(-1)).toEqual({ type: 'end', reason: 'shutdown' });
      expect(frames.wsClose?.code).toBe(1001);
      await page.close();
    } finally {
      for (const running of servers.reverse()) await running.close();
      await servers[0]!.dispose();
    }
  }, 60_000);

  it('refuses a WebSocket from an origin outside cors_origins', async () => {
    const server = await startTestServer({ cors_origins: ['https://someone-else.example'] });
    try {
      const page = await browser.newPage();
      await page.goto(pages.origin);
      await page.evaluate((api) => {
        window.frames_ = { sse: [], ws: [], sseOpens: 0 };
        const ws = new WebSocket(`${api.replace(/^http/, 'ws')}/v1/events/ws?token=sk_test_reader`);
        ws.onclose = (event) => (window.frames_.wsClose = { code: event.code, reason: event.reason });
      }, server.url);
      await page.waitForFunction(() => window.frames_.wsClose !== undefined, undefined, { timeout: 10_000 });
      expect((await framesOf(page)).wsClose?.code).toBe(1006);
      expect(server.hub.subscriberCount).toBe(0);
      await page.close();
    } finally {
      await server.dispose();
    }
  }, 30_000);
});
