import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter, rateLimitHeaders } from '../../src/auth/rate-limiter.js';
import { publish, type NewEvent } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TEST_KEYS } from '../helpers/test-server.js';
import { runCli } from '../cli/run-cli.js';
import { answer, claims, SECRET, sign, startAuthServer, type AuthServer } from './helpers.js';

const EVENT: NewEvent<'grant.created'> = { type: 'grant.created', data: { grantId: 'grnt_1', userId: 'usr_1', scopes: ['calendar:read'] } };

// draft-ietf-httpapi-ratelimit-headers-11: an sf-list of items, a string naming the policy with
// integer parameters (q, w on the policy; r, t on the current limit).
const POLICY_FIELD = /^"publish";q=\d+;w=\d+$/;
const LIMIT_FIELD = /^"publish";r=\d+;t=\d+$/;

describe('RateLimiter', () => {
  it('is a token bucket: burst at once, then the rate; Retry-After never before the reset', () => {
    const limiter = new RateLimiter();
    const rate = { ratePerS: 2, burst: 3 };
    const at = (ms: number) => limiter.take('k', rate, 1_000_000 + ms)!;
    expect([at(0), at(0), at(0)].map((d) => [d.allowed, d.remaining])).toEqual([[true, 2], [true, 1], [true, 0]]);
    const refused = at(0);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterS: 1, quota: 3, windowS: 2 });
    expect(rateLimitHeaders(refused)).toEqual({ 'RateLimit-Policy': '"publish";q=3;w=2', RateLimit: '"publish";r=0;t=1', 'Retry-After': '1' });
    expect(at(499).allowed).toBe(false);
    expect(at(500)).toMatchObject({ allowed: true, remaining: 0 });
    // A quiet period fills the bucket up to the burst, no further.
    expect(at(60_000)).toMatchObject({ allowed: true, remaining: 2, resetS: 1 });
  });

  it('keeps one bucket per id, and none for an unlimited rate (0)', () => {
    const limiter = new RateLimiter();
    expect(limiter.take('a', { ratePerS: 0, burst: 5 })).toBeUndefined();
    expect(limiter.take('a', { ratePerS: 1, burst: 1 }, 0)!.allowed).toBe(true);
    expect(limiter.take('a', { ratePerS: 1, burst: 1 }, 0)!.allowed).toBe(false);
    expect(limiter.take('b', { ratePerS: 1, burst: 1 }, 0)!.allowed).toBe(true);
    expect(limiter.take('c', { ratePerS: 5, burst: 0 }, 0)).toMatchObject({ quota: 5, windowS: 1 });
  });

  it('forgets full buckets once it holds many, so memory stays bounded', () => {
    const limiter = new RateLimiter();
    for (let i = 0; i < 10_001; i++) limiter.take(`id${i}`, { ratePerS: 1, burst: 2 }, 0);
    // Later, every bucket has refilled: the next new id sweeps them away.
    limiter.take('late', { ratePerS: 1, burst: 2 }, 10_000);
    expect(limiter.size).toBeLessThan(10);
  });
});

describe('publish rate limits (issue 15)', () => {
  let server: AuthServer;
  beforeAll(async () => {
    server = await startAuthServer({
      jwt_secret: SECRET,
      publish_rate_per_s: 1,
      publish_burst: 2,
      keys: [
        ...Object.values(TEST_KEYS).map((key) => ({ id: key.id, secret: key.secret, scopes: [...key.scopes], queryToken: true })),
        { id: 'bulk', secret: 'sk_test_bulk', scopes: ['events:write'], queryToken: true, publishRatePerS: 0 },
        { id: 'slow', secret: 'sk_test_slow', scopes: ['events:write'], queryToken: true, publishRatePerS: 1, publishBurst: 1 },
      ],
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  const post = (secret: string) =>
    fetch(`${server.url}/v1/events`, { method: 'POST', headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' }, body: JSON.stringify(EVENT) });

  it('answers 429 RATE_LIMITED past the burst, with Retry-After and the RateLimit fields; each answer carries them', async () => {
    const answers = [await post('sk_test_writer'), await post('sk_test_writer'), await post('sk_test_writer')];
    expect(answers.map((r) => r.status)).toEqual([201, 201, 429]);
    for (const response of answers) {
      expect(response.headers.get('ratelimit-policy')).toMatch(POLICY_FIELD);
      expect(response.headers.get('ratelimit')).toMatch(LIMIT_FIELD);
    }
    const refused = answers[2]!;
    expect(refused.headers.get('ratelimit-policy')).toBe('"publish";q=2;w=2');
    expect(refused.headers.get('ratelimit')).toBe('"publish";r=0;t=1');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await answer(refused)).toEqual({ status: 429, code: 'RATE_LIMITED' });
    expect(answers[0]!.headers.get('retry-after')).toBeNull();
  });

  it('takes a key’s own limit from its configuration: 0 is unlimited (no fields), another rate replaces the default', async () => {
    const bulk = await Promise.all(Array.from({ length: 5 }, () => post('sk_test_bulk')));
    expect(bulk.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect(bulk[0]!.headers.get('ratelimit')).toBeNull();
    const slow = [await post('sk_test_slow'), await post('sk_test_slow')];
    expect(slow.map((r) => r.status)).toEqual([201, 429]);
    expect(slow[0]!.headers.get('ratelimit-policy')).toBe('"publish";q=1;w=1');
  });

  it('gives each token subject its own bucket', async () => {
    const token = async (sub: string) => sign(SECRET, claims({ sub, scope: 'events:write' }));
    const [alice, bob] = [await token('alice'), await token('bob')];
    expect([(await post(alice)).status, (await post(alice)).status, (await post(alice)).status]).toEqual([201, 201, 429]);
    expect((await post(bob)).status).toBe(201);
  });

  it('reads per-key publish_rate_per_s and publish_burst from specstream.yaml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'specstream-rate-'));
    try {
      writeFileSync(
        join(dir, 'specstream.yaml'),
        'publish_rate_per_s: 10\nkeys:\n  - id: ingest\n    secret: sk_ingest\n    scopes: [events:write]\n    publish_rate_per_s: 500\n    publish_burst: 1000\n',
      );
      const config = loadConfig({ argv: [], env: {}, cwd: dir });
      expect(config.publish_rate_per_s).toBe(10);
      expect(config.keys[0]).toMatchObject({ id: 'ingest', publishRatePerS: 500, publishBurst: 1000 });
      writeFileSync(join(dir, 'specstream.yaml'), 'keys:\n  - id: x\n    secret: s\n    scopes: [events:write]\n    publish_burst: -1\n');
      expect(() => loadConfig({ argv: [], env: {}, cwd: dir })).toThrow(/publish_burst must be a non-negative integer/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the SDK’s publish() waits out Retry-After and succeeds', async () => {
    const statuses: number[] = [];
    const recording: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      statuses.push(response.status);
      return response;
    };
    const options = { url: server.url, token: 'sk_test_slow', fetch: recording };
    // The slow key's bucket may be empty from the test above: the first call may wait too.
    await publish(options, EVENT);
    await publish(options, EVENT);
    expect(statuses.filter((s) => s === 201)).toHaveLength(2);
    expect(statuses).toContain(429);
    // With retries off, the 429 is thrown.
    await expect(publish(options, EVENT, { rateLimitRetries: 0 })).rejects.toMatchObject({ status: 429, code: 'RATE_LIMITED' });
  });

  it('the CLI’s publish waits out Retry-After between batches and exits 0', async () => {
    const limited = async () => {
      const text = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: 'Bearer sk_test_admin' } })).text();
      return Number(/^specstream_rate_limited_total (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const before = await limited();
    // 1001 events are two requests back to back (batches of 1000): the slow key (burst 1) gets a 429 for the second.
    const input = Array.from({ length: 1001 }, () => JSON.stringify(EVENT)).join('\n');
    const result = await runCli(['publish', '--url', server.url, '--token', 'sk_test_slow'], { input });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1001);
    expect(await limited()).toBeGreaterThan(before);
  }, 30_000);
});
