import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { redactForLog, redactText, requestSecrets } from '../../src/observability/redact.js';
import { startServer, type RunningServer } from '../../src/server.js';

// Issue 12 item 4: every credential form the server accepts, in any encoding or position, is
// redacted from every log line (request log, error logs with their causes, WebSocket handshakes).
const SECRET = 'sk_redaction_secret_42';
const ENCODED = SECRET.split('').map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('');
const BASIC = Buffer.from(`reader:${SECRET}`).toString('base64');

/** Every form in which the secret could be recognised in a log. */
const FORMS = [SECRET, ENCODED, BASIC, SECRET.slice(3), encodeURIComponent(SECRET)];

function expectNoSecret(text: string): void {
  for (const form of FORMS) expect(text, `the log contains ${form}`).not.toContain(form);
}

describe('log redaction (issue 12 item 4)', () => {
  let running: RunningServer;
  const lines: string[] = [];
  const logged = () => lines.join('');

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    running = await startServer(
      {
        ...loadConfig({ env: {}, argv: [] }),
        port: 0,
        store: 'sqlite::memory:',
        keys: [{ id: 'reader', secret: SECRET, scopes: ['events:read'], queryToken: true }],
      },
      { logger: createLogger('debug', sink), announce: () => {} },
    );
  });
  afterAll(async () => {
    await running.close();
  });

  it.each([
    ['token=', `?token=${SECRET}`, 200],
    ['%74oken= (an encoded name)', `?%74oken=${SECRET}`, 200],
    ['tok%65n= (an encoded name)', `?tok%65n=${SECRET}`, 200],
    ['an encoded value', `?token=${ENCODED}`, 200],
    ['token= after another parameter', `?types=grant.*&token=${SECRET}`, 200],
    ['token= with a fragment', `?token=${SECRET}#x`, 200],
    [';token=', `?;token=${SECRET}`, 401],
    ['TOKEN=', `?TOKEN=${SECRET}`, 401],
    ['access_token=', `?access_token=${SECRET}`, 401],
    ['token inside a declared value', `?types=grant.*;token=${SECRET}`, 401],
    ['the bare secret', `?${SECRET}`, 401],
    ['token= twice', `?token=${SECRET}&token=${SECRET}`, 401],
  ])('a request with %s is logged without the secret', async (_name, query, status) => {
    const before = lines.length;
    const response = await fetch(`${running.url}/v1/events${query}`);
    expect(response.status).toBe(status);
    await response.arrayBuffer();
    const line = lines.slice(before).join('');
    expect(line).toContain('"msg":"request"');
    expectNoSecret(line);
  });

  it.each([
    ['Bearer', { Authorization: `Bearer ${SECRET}` }],
    ['Basic', { Authorization: `Basic ${BASIC}` }],
    ['a lower-case scheme', { Authorization: `bearer ${SECRET}` }],
  ])('a request with an Authorization %s header is logged without the secret', async (_name, headers) => {
    const before = lines.length;
    const response = await fetch(`${running.url}/v1/events`, { headers });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expectNoSecret(lines.slice(before).join(''));
  });

  it('redacts the secret from an unexpected error, its message, stack and cause chain', async () => {
    const store = running.store;
    const read = store.read;
    // An error that quotes the request, as a driver or a URL parser might, with a cause that does too.
    store.read = async () => {
      throw new Error(`read failed for /v1/events?token=${SECRET} (Bearer ${SECRET})`, {
        cause: new Error(`upstream said: ${SECRET}`, { cause: { detail: `key=${SECRET}` } }),
      });
    };
    try {
      const before = lines.length;
      const response = await fetch(`${running.url}/v1/events?token=${SECRET}`);
      expect(response.status).toBe(500);
      await response.arrayBuffer();
      const text = lines.slice(before).join('');
      expect(text).toContain('unexpected error');
      expect(text).toContain('upstream said');
      expectNoSecret(text);
    } finally {
      store.read = read;
    }
  });

  it.each([
    ['token=', `?token=${SECRET}`, true],
    ['%74oken=', `?%74oken=${SECRET}`, true],
    [';token=', `?;token=${SECRET}`, false],
  ])('logs a WebSocket handshake with %s without the secret', async (_name, query, upgrades) => {
    const before = lines.length;
    const outcome = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`${running.url.replace(/^http/, 'ws')}/v1/events/ws${query}`);
      ws.once('open', () => {
        ws.close();
        resolve('open');
      });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(String(res.statusCode));
      });
      ws.once('error', () => resolve('error'));
    });
    expect(outcome === 'open').toBe(upgrades);
    const deadline = Date.now() + 5000;
    while (!lines.slice(before).join('').includes('websocket handshake') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const text = lines.slice(before).join('');
    expect(text).toContain('websocket handshake');
    expectNoSecret(text);
  });

  it('never logged the secret at all', () => {
    expect(logged()).toContain('[REDACTED]');
    expectNoSecret(logged());
  });
});

describe('redactText', () => {
  it.each([
    [`GET /v1/events?token=${SECRET} failed`, 'GET /v1/events?token=[REDACTED] failed'],
    [`url "/x?%74oken=${SECRET}"`, 'url "/x?%74oken=[REDACTED]"'],
    [`a;token=${SECRET};b`, 'a;token=[REDACTED];b'],
    ['types=grant.* limit=5', 'types=grant.* limit=5'],
    ['no pairs here', 'no pairs here'],
  ])('%s', (text, expected) => {
    expect(redactText(text)).toBe(expected);
  });
});

describe('requestSecrets and redactForLog', () => {
  it('finds the Bearer, Basic and query forms and scrubs them from an error chain', () => {
    const secrets = requestSecrets({
      headers: { authorization: `Basic ${BASIC}`, cookie: `theme=dark; session_jwt=${SECRET}x` },
      url: `/v1/events?types=grant.*&x%74ra=${ENCODED}`,
    });
    expect(secrets).toEqual(expect.arrayContaining([SECRET, ENCODED, BASIC, `reader:${SECRET}`, `${SECRET}x`]));
    const error = new Error(`boom ${SECRET}`, { cause: new AggregateError([new Error(`inner ${SECRET}`)], 'many') });
    const out = JSON.stringify(redactForLog(error, secrets));
    expect(out).toContain('inner [REDACTED]');
    expectNoSecret(out);
  });
});
