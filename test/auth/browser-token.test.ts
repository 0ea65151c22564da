/**
 * The partner-backend flow in a real browser (headless Chromium via playwright-core): a page on the
 * partner's origin asks its own backend for a short-lived token (the backend calls
 * `POST /v1/tokens` with its key, bound to the page's origin), opens an `EventSource` with it, and
 * when the stream says `stream.expired` fetches a fresh token and reopens from its last event id.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/generated/catalog.js';
import { validateEventSourceEvent } from '../helpers/frames.js';
import { TEST_KEYS, type TestServer } from '../helpers/test-server.js';
import { ids, publish } from '../stream/clients.js';
import { startAuthServer, type AuthServer } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface PageState {
  events: { type: string; data: string; lastEventId: string }[];
  tokens: number;
  expired: number;
  errors: number;
  closed: boolean;
}

declare global {
  interface Window {
    state_: PageState;
  }
}

/** The partner's site: the page, and `/token`, which mints a token for the page from the partner's backend. */
async function startPartnerSite(api: () => string, body: () => Record<string, unknown>): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/token') {
      void fetch(`${api()}/v1/tokens`, {
        method: 'POST',
        headers: { Authorization: 'Bearer sk_partner_backend', 'Content-Type': 'application/json' },
        body: JSON.stringify(body()),
      }).then(async (answer) => {
        res.writeHead(answer.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(await answer.text());
      });
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>partner dashboard</title>');
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

// Skipped only on a developer machine without Chromium; CI installs it, and there a missing browser fails.
describe.skipIf(!existsSync(CHROMIUM) && process.env.CI === undefined)('browser EventSource with a minted token (headless Chromium)', () => {
  let browser: Browser;
  let api: AuthServer;
  let site: { server: Server; origin: string };
  let tokenBody: Record<string, unknown> = {};

  beforeAll(async () => {
    site = await startPartnerSite(() => api.url, () => tokenBody);
    api = await startAuthServer({
      cors_origins: [site.origin],
      jwt_clock_tolerance_s: 0,
      retry_ms: 100,
      keys: [
        ...Object.values(TEST_KEYS).map((key) => ({ id: key.id, secret: key.secret, scopes: [...key.scopes], queryToken: true })),
        { id: 'partner', secret: 'sk_partner_backend', scopes: ['events:read:grant.*', 'tokens:issue'], queryToken: false },
      ],
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    site?.server.close();
    await api?.dispose();
  });

  it('streams with a 2-second token bound to the page’s origin, across its expiries, every event once and in order', async () => {
    tokenBody = { ttl_s: 2, origin: site.origin, subject: 'usr_42' };
    const page = await browser.newPage();
    await page.goto(site.origin);
    const [marker] = await publish(api as unknown as TestServer, 1, { types: ['grant.created'] });
    await page.evaluate(
      ({ api, types, since }) => {
        const state: PageState = { events: [], tokens: 0, expired: 0, errors: 0, closed: false };
        window.state_ = state;
        let lastId = since;
        const open = async (): Promise<void> => {
          const { access_token: token } = (await (await fetch('/token')).json()) as { access_token: string };
          state.tokens++;
          const source = new EventSource(`${api}/v1/events/stream?token=${encodeURIComponent(token)}&last_event_id=${lastId}`);
          for (const type of types) {
            source.addEventListener(type, (event) => {
              const message = event as MessageEvent<string>;
              lastId = message.lastEventId;
              state.events.push({ type: message.type, data: message.data, lastEventId: message.lastEventId });
            });
          }
          // The typed notice: without it the EventSource would reconnect with the same, expired token.
          source.addEventListener('stream.expired', () => {
            state.expired++;
            source.close();
            void open();
          });
          source.onerror = () => state.errors++;
        };
        void open();
      },
      { api: api.url, types: [...EVENT_TYPES], since: marker!.id },
    );
    const published: string[] = [];
    while ((await page.evaluate(() => window.state_.expired)) < 2) {
      published.push(...ids(await publish(api as unknown as TestServer, 2, { types: ['grant.created', 'grant.revoked'] })));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    published.push(...ids(await publish(api as unknown as TestServer, 2, { types: ['grant.created', 'grant.revoked'] })));
    await page.waitForFunction((n) => window.state_.events.length >= n, published.length, { timeout: 15_000 });
    const state = await page.evaluate(() => window.state_);
    const frames = state.events.map((event) => validateEventSourceEvent(event));
    expect(frames.map((frame) => (frame.message === 'sseEvent' ? frame.id : frame.message))).toEqual(published);
    expect(state.tokens).toBeGreaterThanOrEqual(3);
    await page.close();
  }, 60_000);

  it('refuses a token bound to another origin: the page’s EventSource fails and no stream opens', async () => {
    tokenBody = { ttl_s: 60, origin: 'https://another-dashboard.example' };
    const page = await browser.newPage();
    await page.goto(site.origin);
    await page.evaluate((api) => {
      window.state_ = { events: [], tokens: 0, expired: 0, errors: 0, closed: false };
      void (async () => {
        const { access_token: token } = (await (await fetch('/token')).json()) as { access_token: string };
        const source = new EventSource(`${api}/v1/events/stream?token=${encodeURIComponent(token)}`);
        source.onerror = () => {
          window.state_.errors++;
          window.state_.closed = source.readyState === EventSource.CLOSED;
        };
      })();
    }, api.url);
    await page.waitForFunction(() => window.state_.closed, undefined, { timeout: 10_000 });
    expect(api.hub.subscriberCount).toBe(0);
    expect(api.lines.join('')).toMatch(/"status":403/);
    await page.close();
  }, 30_000);
});
