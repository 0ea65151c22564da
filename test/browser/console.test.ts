/**
 * The live console in headless Chromium against a real server: events published through the API
 * appear; the type filter and pause work; stopping the server raises the red banner; restarting
 * it on the same port and database clears the banner and no event is missing or repeated.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { ids, publish } from '../stream/clients.js';
import { launchChromium, offlinePage, screenshotPaths, skipWithoutChromium } from './docs-chromium.js';

const rowIds = (page: Page) => page.$$eval('#events li.event', (rows) => rows.map((row) => (row as HTMLElement).dataset.id!).reverse());
const rowCount = (page: Page, n: number) => page.waitForFunction((want) => document.querySelectorAll('#events li.event').length >= want, n, { timeout: 20_000 });

describe.skipIf(skipWithoutChromium)('live console (headless Chromium)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => browser?.close());

  it.each(['sse', 'ws'] as const)('shows live events over %s, filters, pauses, and survives a server restart with nothing missing', async (transport) => {
    let server: TestServer = await startTestServer({ heartbeat_s: 1, status_s: 1 });
    const servers = [server];
    try {
      const { page, blocked } = await offlinePage(browser, server.url);
      await page.goto(`${server.url}/console`);
      await page.fill('#token', 'sk_test_reader');
      await page.selectOption('#transport', transport);
      await page.click('#connect');
      await page.waitForSelector('body[data-state="open"]', { timeout: 20_000 });
      expect(await page.isHidden('#banner')).toBe(true);

      const first = await publish(server, 5);
      await rowCount(page, 5);
      expect(await rowIds(page)).toEqual(ids(first));

      // Type filter: only grant.created rows stay visible.
      await page.selectOption('#type-filter', 'grant.created');
      const visible = await page.$$eval('#events li.event:not([hidden])', (rows) => rows.map((row) => (row as HTMLElement).dataset.type));
      expect(visible).toEqual(first.filter((e) => e.type === 'grant.created').map((e) => e.type));
      await page.selectOption('#type-filter', '');

      // Pause holds new events back; resume shows them.
      await page.click('#pause');
      const held = await publish(server, 2);
      await page.waitForFunction(() => document.getElementById('count')!.textContent!.includes('2 held'), undefined, { timeout: 20_000 });
      expect(await rowIds(page)).toEqual(ids(first));
      await page.click('#pause');
      await rowCount(page, 7);

      // The server goes away: the banner shows.
      const port = server.port;
      const store = `sqlite:${server.dbPath}`;
      await server.close();
      await page.waitForSelector('#banner:not([hidden])', { timeout: 20_000 });
      expect(await page.textContent('#banner')).toBe('Disconnected — reconnecting');
      for (const path of screenshotPaths(`console-disconnected-${transport}.png`)) await page.screenshot({ path });

      // It comes back on the same port and database; events published before the console reconnects still arrive.
      server = await startTestServer({ port, store, heartbeat_s: 1, status_s: 1 });
      servers.push(server);
      const after = await publish(server, 4);
      await page.waitForSelector('body[data-state="open"]', { timeout: 30_000 });
      await page.waitForSelector('#banner[hidden]', { state: 'attached', timeout: 20_000 });
      await rowCount(page, 11);
      const all = await rowIds(page);
      expect(all).toEqual(ids([...first, ...held, ...after]));
      if (transport === 'sse') for (const path of screenshotPaths('console.png')) await page.screenshot({ path });
      expect(blocked).toEqual([]);
      await page.close();
    } finally {
      for (const s of servers) await s.dispose().catch(() => {});
    }
  }, 90_000);

  it('shows the typed error for a refused token and does not retry', async () => {
    const server = await startTestServer();
    try {
      const { page } = await offlinePage(browser, server.url);
      const streamRequests: string[] = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/v1/events/stream') streamRequests.push(request.method());
      });
      await page.goto(`${server.url}/console`);
      await page.fill('#token', 'sk_not_a_key');
      await page.click('#connect');
      await page.waitForSelector('body[data-state="error"]', { timeout: 20_000 });
      expect(await page.textContent('#status')).toMatch(/^error: /);
      expect(streamRequests).toEqual(['GET']);
      expect(await page.isHidden('#banner')).toBe(true);
      await page.close();
    } finally {
      await server.dispose();
    }
  });
});
