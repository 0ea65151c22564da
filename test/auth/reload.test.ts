import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/test-server.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.js';
import { eventually, openSse, type SseClient } from '../stream/clients.js';
import { claims, sign } from './helpers.js';

const FIRST_SECRET = 'first-jwt-secret-of-at-least-32-bytes!';
const SECOND_SECRET = 'second-jwt-secret-of-at-least-32-bytes';

/** The configuration file, before and after a rotation. */
function configText(keys: string[], jwtSecret: string): string {
  return [`heartbeat_s: 2`, `jwt_secret: "${jwtSecret}"`, 'keys:', ...keys.map((key) => `  - "${key}"`), ''].join('\n');
}

describe('key reload on SIGHUP in a running server process (issue 15)', () => {
  let dir: string;
  let config: string;
  let server: SpawnedServer;
  const target = () => ({ url: server.url }) as TestServer;
  const status = async (authorization: string) => {
    const response = await fetch(`${server.url}/v1/events`, { headers: { Authorization: authorization } });
    await response.body?.cancel();
    return response.status;
  };
  /** Sends SIGHUP and waits for the log line of the `n`th reload outcome. */
  const reload = async (outcome: RegExp, n: number) => {
    server.process.kill('SIGHUP');
    await eventually(() => (server.output().match(new RegExp(outcome.source, 'g')) ?? []).length >= n, 10_000, `reload log ${outcome}`);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-reload-'));
    config = join(dir, 'specstream.yaml');
    writeFileSync(config, configText(['alpha:sk_alpha_secret:events:read', 'stay:sk_stay_secret:events:read'], FIRST_SECRET));
    server = await spawnServer(['--config', config, '--port', '0', '--store', `sqlite:${join(dir, 'events.db')}`]);
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('revokes removed keys and old JWT secrets at once (their streams end with the typed notice), admits new ones, keeps the others', async () => {
    const revokedKey = await openSse(target(), '/v1/events/stream', { Authorization: 'Bearer sk_alpha_secret' });
    const revokedToken = await openSse(target(), '/v1/events/stream', { Authorization: `Bearer ${await sign(FIRST_SECRET, claims({}, 600))}` });
    const kept = await openSse(target(), '/v1/events/stream', { Authorization: 'Bearer sk_stay_secret' });
    for (const client of [revokedKey, revokedToken, kept]) expect(client.status).toBe(200);
    expect(await status('Bearer sk_gamma_secret')).toBe(401);

    writeFileSync(config, configText(['stay:sk_stay_secret:events:read', 'gamma:sk_gamma_secret:events:read'], SECOND_SECRET));
    await reload(/keys and JWT settings reloaded/, 1);

    const revokedNotice = (client: SseClient) => client.frames.at(-1);
    // Ended by the reload itself, well within one heartbeat interval.
    await revokedKey.waitForEnd(2000);
    await revokedToken.waitForEnd(2000);
    for (const client of [revokedKey, revokedToken]) {
      expect(revokedNotice(client)).toMatchObject({ message: 'sseStreamExpired', event: 'stream.expired', data: { code: 'CREDENTIALS_REVOKED' } });
    }
    expect(await status('Bearer sk_gamma_secret')).toBe(200);
    expect(await status('Bearer sk_alpha_secret')).toBe(401);
    expect(await status(`Bearer ${await sign(SECOND_SECRET, claims())}`)).toBe(200);
    expect(await status(`Bearer ${await sign(FIRST_SECRET, claims())}`)).toBe(401);

    // The unchanged key's stream is still open: it gets the next heartbeat.
    const heartbeats = () => kept.frames.filter((f) => f.message === 'sseHeartbeat').length;
    const seen = heartbeats();
    await kept.waitFor(() => heartbeats() > seen, 'a heartbeat after the reload');
    expect(kept.ended).toBe(false);
    kept.close();
    expect(server.output()).toMatch(/"revokedStreams":2/);
  }, 30_000);

  it('keeps the previous keys when the new configuration fails to load, and logs why', async () => {
    const kept = await openSse(target(), '/v1/events/stream', { Authorization: 'Bearer sk_gamma_secret' });
    writeFileSync(config, 'keys: [ "delta:sk_broken_file_secret:events:read"\n');
    await reload(/key reload failed; keeping the previous keys and JWT settings: .*is not valid YAML/, 1);
    writeFileSync(config, configText(['gamma:sk_gamma_secret:events:read'], 'too-short'));
    await reload(/key reload failed; keeping the previous keys and JWT settings: jwt_secret must be at least 32 bytes/, 1);
    expect(await status('Bearer sk_gamma_secret')).toBe(200);
    expect(await status('Bearer sk_stay_secret')).toBe(200);
    expect(kept.ended).toBe(false);
    kept.close();
    // The secrets of the rejected files are not in the log.
    expect(server.output()).not.toContain('too-short');
    expect(server.output()).not.toContain('sk_broken_file_secret');
    expect(server.output()).not.toContain('sk_gamma_secret');
  }, 30_000);
});
