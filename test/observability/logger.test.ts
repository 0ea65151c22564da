import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger, redactUrl } from '../../src/observability/logger.js';
import { startServer } from '../../src/server.js';

describe('redactUrl', () => {
  it.each([
    ['/v1/events/stream?token=sk_abc&types=grant.*', '/v1/events/stream?token=[REDACTED]&types=grant.*'],
    ['/v1/events?types=a&token=sk_abc', '/v1/events?types=a&token=[REDACTED]'],
    ['/v1/events?types=grant.*&limit=5&since=2026-01-01T00:00:00Z', '/v1/events?types=grant.*&limit=5&since=2026-01-01T00:00:00Z'],
    // Undeclared parameters are not shown: they may be a credential under another name.
    ['/v1/events?notatoken=1', '/v1/events?notatoken=[REDACTED]'],
    ['/v1/events?%74oken=sk_abc', '/v1/events?%74oken=[REDACTED]'],
    ['/v1/events?;token=sk_abc', '/v1/events?;token=[REDACTED]'],
    ['/v1/events?sk_abc', '/v1/events?[REDACTED]'],
    ['/v1/events?types=grant.*;token=sk_abc', '/v1/events?types=[REDACTED]'],
    ['/v1/events?types=a#token=sk_abc', '/v1/events?types=a#[REDACTED]'],
  ])('%s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe('request logs', () => {
  it('never contain a secret, from the query or the Authorization header', async () => {
    const secret = 'sk_log_test_secret';
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const running = await startServer(
      {
        ...loadConfig({ env: {}, argv: [] }),
        port: 0,
        store: 'sqlite::memory:',
        keys: [{ id: 'reader', secret, scopes: ['events:read'], queryToken: true }],
      },
      { logger: createLogger('info', sink), announce: () => {} },
    );
    try {
      await fetch(`${running.url}/v1/events?token=${secret}`);
      await fetch(`${running.url}/v1/events`, { headers: { Authorization: `Bearer ${secret}` } });
    } finally {
      await running.close();
    }
    const all = lines.join('');
    expect(all).toContain('token=[REDACTED]');
    expect(all).not.toContain(secret);
    expect(lines.filter((l) => l.includes('"msg":"request"'))).toHaveLength(2);
  });
});
