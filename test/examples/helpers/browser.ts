/**
 * Runs a document's browser snippet in Debian's Chromium (playwright-core, launched as the other
 * browser tests do): a page is opened on the server's own origin (so the snippet's relative URLs and
 * its WebSocket's Origin are the server's), the snippet is added as a classic <script> exactly as
 * written, and every console call it makes is recorded with its arguments as JSON.
 */
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { launchChromium, skipWithoutChromium } from '../../browser/docs-chromium.js';
import { waitOn } from './server.js';

export { launchChromium, skipWithoutChromium };

/** One console call of the page. */
export interface ConsoleCall {
  kind: string;
  args: unknown[];
}

/** A page running snippets, with its console recorded. */
export class SnippetPage {
  readonly calls: ConsoleCall[] = [];
  readonly pageErrors: string[] = [];
  readonly #listeners = new Set<() => void>();
  #pending: Promise<void> = Promise.resolve();

  private constructor(readonly page: Page) {
    page.on('console', (message) => {
      // Arguments are read in order; jsonValue is asynchronous, so calls are chained.
      this.#pending = this.#pending.then(() => this.#record(message));
    });
    page.on('pageerror', (error) => {
      this.pageErrors.push(error.message);
      this.#notify();
    });
  }

  /** Opens a page on `origin` (its `/healthz`, a same-origin document with no script of its own). */
  static async open(browser: Browser, origin: string): Promise<SnippetPage> {
    const page = await browser.newPage();
    const snippetPage = new SnippetPage(page);
    await page.goto(`${origin}/healthz`);
    return snippetPage;
  }

  /** Runs `code` as a classic script of the page, as if pasted into a <script> element. */
  async run(code: string): Promise<void> {
    await this.page.addScriptTag({ content: code });
  }

  /** The arguments of the console calls of one kind (`log`, `error`, ...). */
  of(kind: string): unknown[][] {
    return this.calls.filter((call) => call.kind === kind).map((call) => call.args);
  }

  /** Waits for `condition`; fails at once on an uncaught page error (a snippet that throws on a frame). */
  waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    return waitOn(
      this.#listeners,
      () => {
        if (this.pageErrors.length > 0) throw new Error(`the page threw before ${what}: ${this.pageErrors.join('; ')}`);
        return condition();
      },
      what,
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    await this.page.close();
  }

  async #record(message: ConsoleMessage): Promise<void> {
    const args: unknown[] = [];
    for (const handle of message.args()) {
      try {
        args.push(await handle.jsonValue());
      } catch {
        args.push(String(handle));
      }
    }
    this.calls.push({ kind: message.type(), args });
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}
