import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';

/** Secrets of the keys every test server has. */
export const TEST_KEYS = {
  admin: { id: 'admin', secret: 'sk_test_admin', scopes: ['admin'] },
  reader: { id: 'reader', secret: 'sk_test_reader', scopes: ['events:read'] },
  writer: { id: 'writer', secret: 'sk_test_writer', scopes: ['events:write'] },
  grants: { id: 'grants', secret: 'sk_test_grants', scopes: ['events:read:grant.*', 'events:write:grant.*'] },
  noquery: { id: 'noquery', secret: 'sk_test_noquery', scopes: ['events:read'], queryToken: false },
} as const;

export type TestKeyName = keyof typeof TEST_KEYS;

export interface TestServer extends RunningServer {
  /** The SQLite file backing this server. */
  dbPath: string;
  /** `{ Authorization: 'Bearer …' }` for a test key. */
  auth(key: TestKeyName): Record<string, string>;
  /** Closes the server and deletes its directory. */
  dispose(): Promise<void>;
}

/**
 * Starts a real server on 127.0.0.1, port 0, with its own SQLite file, response validation on and
 * logs silenced. `overrides` replaces any config option.
 */
export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'specstream-test-'));
  const dbPath = join(dir, 'events.db');
  // A bundle's specstream.yaml defaults apply as they would for `serve --specs DIR`.
  const base = loadConfig({ argv: overrides.specs ? ['--specs', overrides.specs] : [], env: {}, cwd: dir });
  const config: Config = {
    ...base,
    host: '127.0.0.1',
    port: 0,
    store: `sqlite:${dbPath}`,
    response_validation: true,
    log_level: 'silent',
    keys: Object.values(TEST_KEYS).map((key) => ({
      id: key.id,
      secret: key.secret,
      scopes: [...key.scopes],
      queryToken: 'queryToken' in key ? key.queryToken : true,
    })),
    ...overrides,
  };
  const running = await startServer(config, { logger: createLogger(config.log_level), announce: () => {} });
  return {
    ...running,
    dbPath,
    auth: (key) => ({ Authorization: `Bearer ${TEST_KEYS[key].secret}` }),
    dispose: async () => {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
