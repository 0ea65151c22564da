import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { NATIVE, type TestBundle } from './bundles.js';

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
  /** The bundle it serves (see test/helpers/bundles.ts); the native one unless given. */
  bundle: TestBundle;
  /** Headers presenting a test key with the bundle's preferred credential: `{ Authorization: 'Bearer …' }` natively. */
  auth(key: TestKeyName): Record<string, string>;
  /** The query parameter presenting a test key as a query token: `{ token: … }` natively. */
  queryAuth(key: TestKeyName): Record<string, string>;
  /** Closes the server and deletes its directory. */
  dispose(): Promise<void>;
}

/**
 * Starts a real server on 127.0.0.1, port 0, with its own SQLite file, response validation on and
 * logs silenced, serving `bundle` (the native one by default) with the test keys in its scope names.
 * `overrides` replaces any config option (`specs` and `keys` included).
 */
export async function startTestServer(overrides: Partial<Config> = {}, bundle: TestBundle = NATIVE): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'specstream-test-'));
  const dbPath = join(dir, 'events.db');
  const specs = overrides.specs ?? bundle.specs;
  // A bundle's specstream.yaml defaults apply as they would for `serve --specs DIR`.
  const base = loadConfig({ argv: specs ? ['--specs', specs] : [], env: {}, cwd: dir });
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
      scopes: key.scopes.map((scope) => (bundle === NATIVE ? scope : bundle.scope(scope))),
      queryToken: 'queryToken' in key ? key.queryToken : true,
    })),
    ...overrides,
  };
  const running = await startServer(config, { logger: createLogger(config.log_level), announce: () => {} });
  return {
    ...running,
    dbPath,
    bundle,
    auth: (key) => (bundle === NATIVE ? { Authorization: `Bearer ${TEST_KEYS[key].secret}` } : bundle.auth(TEST_KEYS[key])),
    queryAuth: (key) => (bundle === NATIVE ? { token: TEST_KEYS[key].secret } : bundle.queryAuth(TEST_KEYS[key])),
    dispose: async () => {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
