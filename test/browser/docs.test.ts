/**
 * The docs portal in headless Chromium with the network cut off (only the server under test is
 * reachable): every catalog type and every operation of specs/openapi.yaml is found, the AsyncAPI
 * page renders its messages, and a screenshot is saved.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildDocs } from '../../src/docs/build.js';
import { readScopes } from '../../src/docs/pages.js';
import { EVENT_TYPES } from '../../src/generated/catalog.js';
import { ROOT } from '../codegen/typecheck.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { launchChromium, offlinePage, screenshotPaths, skipWithoutChromium } from './docs-chromium.js';

interface Operation {
  operationId: string;
  summary: string;
  tags?: string[];
  method: string;
  path: string;
}

function operations(): Operation[] {
  const spec = parse(readFileSync(join(ROOT, 'specs', 'openapi.yaml'), 'utf8')) as { paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>> };
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([, op]) => typeof op?.operationId === 'string')
      .map(([method, op]) => ({ ...op, method, path })),
  );
}

function asyncApiMessages(): string[] {
  const spec = parse(readFileSync(join(ROOT, 'specs', 'asyncapi.yaml'), 'utf8')) as { components: { messages: Record<string, { title?: string; name?: string }> } };
  return Object.values(spec.components.messages).map((m) => m.title ?? m.name ?? '');
}

describe.skipIf(skipWithoutChromium)('docs portal (headless Chromium, offline)', () => {
  let browser: Browser;
  let server: TestServer;
  let dir: string;
  const previous = process.env.SPECSTREAM_DOCS_DIR;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-docs-'));
    await buildDocs(dir);
    process.env.SPECSTREAM_DOCS_DIR = dir;
    server = await startTestServer();
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
    if (previous === undefined) delete process.env.SPECSTREAM_DOCS_DIR;
    else process.env.SPECSTREAM_DOCS_DIR = previous;
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every catalog type with its schema, example and read scopes', async () => {
    const { page, blocked } = await offlinePage(browser, server.url);
    await page.goto(`${server.url}/docs`);
    for (const type of EVENT_TYPES) await expect(page.locator(`a.tag[href="/docs/catalog.html#${type}"]`).textContent()).resolves.toBe(type);
    await page.click('text=Event catalog');
    await page.waitForURL(/catalog\.html$/);
    for (const type of EVENT_TYPES) {
      const section = page.locator(`section[data-type="${type}"]`);
      await expect(section.isVisible()).resolves.toBe(true);
      const text = (await section.textContent()) ?? '';
      expect(text).toContain('Schema of data');
      expect(text).toContain(`"type": "${type}"`);
      for (const scope of readScopes(type)) expect(text).toContain(scope);
    }
    for (const path of screenshotPaths('docs-portal.png')) await page.screenshot({ path });
    expect(blocked).toEqual([]);
    await page.close();
  });

  it('renders every operation of the HTTP API with Redoc, offline', async () => {
    const { page, blocked } = await offlinePage(browser, server.url);
    await page.goto(`${server.url}/docs/api.html`);
    await page.waitForSelector('[data-testid="menu-item-label"]', { timeout: 20_000 });
    await page.waitForFunction(() => document.body.innerText.includes('POST\n/v1/events'), undefined, { timeout: 20_000 });
    const overview = await page.evaluate(() => document.body.innerText);
    // Redoc lists each tag's operations by method and path, and their summaries once the tag is opened in the menu.
    let seen = overview;
    const spec = parse(readFileSync(join(ROOT, 'specs', 'openapi.yaml'), 'utf8')) as { tags: { name: string }[] };
    for (const tag of spec.tags) {
      await page.locator('[data-testid="menu-item-label"]', { hasText: new RegExp(`^${tag.name}$`) }).first().click();
      await page.waitForFunction((t) => document.body.innerText.split('\n').includes(t), operations().find((op) => op.tags?.includes(tag.name))!.summary, { timeout: 10_000 });
      seen += await page.evaluate(() => document.body.innerText);
    }
    expect(operations().filter((op) => !seen.includes(op.summary)).map((op) => op.operationId)).toEqual([]);
    expect(operations().filter((op) => !overview.includes(`${op.method.toUpperCase()}\n${op.path}`)).map((op) => op.operationId)).toEqual([]);
    for (const path of screenshotPaths('docs-api.png')) await page.screenshot({ path });
    expect(blocked).toEqual([]);
    await page.close();
  });

  it('renders the AsyncAPI 3.0 stream frames and catalog messages, offline', async () => {
    const { page, blocked } = await offlinePage(browser, server.url);
    await page.goto(`${server.url}/docs/stream.html`);
    const titles = asyncApiMessages();
    await page.waitForSelector('[data-testid="menu-item-label"]', { timeout: 20_000 });
    expect(await page.locator('[data-testid="menu-item-label"]').allInnerTexts()).toEqual(
      expect.arrayContaining([expect.stringContaining('Event catalog'), expect.stringContaining('Server-Sent Events stream'), expect.stringContaining('WebSocket stream')]),
    );
    await page.waitForFunction((t) => document.body.innerText.includes(t), titles[0]!, { timeout: 20_000 });
    // Each channel shows one message at a time, with a dropdown listing all of them: open each dropdown.
    const dropdowns = page.locator('[data-testid="dropdown"] button[aria-haspopup="menu"]');
    expect(await dropdowns.count()).toBe(3);
    let text = '';
    for (let i = 0; i < 3; i++) {
      await dropdowns.nth(i).click();
      await page.waitForSelector('[role="menu"], [role="menuitem"]', { timeout: 10_000 });
      text += await page.evaluate(() => document.body.innerText);
      await page.keyboard.press('Escape');
    }
    // Choosing another message renders it.
    await dropdowns.nth(0).click();
    await page.locator('[role="menuitem"]', { hasText: 'Security alert' }).first().click();
    await page.waitForFunction(() => document.body.innerText.includes('Payload') && document.querySelector('[id*="m=security.alert"]') !== null, undefined, { timeout: 10_000 });
    expect(titles.filter((title) => !text.includes(title))).toEqual([]);
    expect(blocked).toEqual([]);
    await page.close();
  });

  it('explains each query rule with an example', async () => {
    const { page } = await offlinePage(browser, server.url);
    await page.goto(`${server.url}/docs/query-rules.html`);
    const text = await page.evaluate(() => document.body.innerText);
    for (const code of ['UNTIL_REQUIRES_SINCE', 'UNTIL_ID_REQUIRES_SINCE_ID', 'SINCE_EXCLUDES_SINCE_ID', 'SINCE_AFTER_UNTIL', 'UNKNOWN_EVENT_TYPE']) expect(text).toContain(code);
    await page.close();
  });
});
