/**
 * Headless Chromium for the docs and console browser tests, launched as test/browser/streams.test.ts
 * does (Debian's /usr/bin/chromium with the flags of TOOLCHAIN.md, via playwright-core). Pages are
 * kept offline: any request that does not go to the server under test is aborted and recorded.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../codegen/typecheck.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Skipped only on a developer machine without Chromium; in CI (.ci/run installs it) a missing browser fails. */
export const skipWithoutChromium = !existsSync(CHROMIUM) && process.env.CI === undefined;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A page whose requests may only go to `origin`; returns the list of blocked URLs. */
export async function offlinePage(browser: Browser, origin: string): Promise<{ page: Page; blocked: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const blocked: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  return { page, blocked };
}

/**
 * Where screenshots go: test-results/ (ignored by git); with UPDATE_SCREENSHOTS=1 also docs/, the
 * copies the README shows.
 */
export function screenshotPaths(name: string): string[] {
  const dirs = [join(ROOT, 'test-results')];
  if (process.env.UPDATE_SCREENSHOTS === '1') dirs.push(join(ROOT, 'docs'));
  for (const dir of dirs) mkdirSync(dir, { recursive: true });
  return dirs.map((dir) => join(dir, name));
}
