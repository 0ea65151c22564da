/**
 * `npm run test:contract`: an independent contract tester. Starts a Specstream server on a free
 * port with a fresh SQLite file and runs Specmatic (its jar, via `java -jar`, so a failure is a
 * non-zero exit) against specs/openapi.yaml with generative (negative) tests on. Every status the
 * server returns must be declared in the spec for this to pass.
 *
 * Not exercised here: `GET /v1/events/stream` (an endless SSE body Specmatic cannot read to the
 * end); the stream's frames are contract-tested against the AsyncAPI document by the vitest suite.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/observability/logger.js';
import { startServer } from '../src/server.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SECRET = 'sk_contract_test';

const dir = mkdtempSync(join(tmpdir(), 'specstream-contract-'));
const server = await startServer(
  {
    ...loadConfig({ argv: [], env: {}, cwd: dir }),
    port: 0,
    store: `sqlite:${join(dir, 'events.db')}`,
    log_level: 'warn',
    response_validation: true,
    keys: [{ id: 'contract', secret: SECRET, scopes: ['admin'], queryToken: true }],
  },
  { logger: createLogger('warn'), announce: () => {} },
);

/**
 * Runs the Specmatic jar once; resolves with its exit code. Asynchronous: the server runs in this
 * process and must keep answering while Specmatic runs.
 */
async function specmatic(label: string, args: string[], env: Record<string, string>): Promise<number> {
  console.log(`\n== Specmatic: ${label} ==`);
  const child = spawn(
    'java',
    [
      '-jar',
      join(ROOT, 'node_modules/specmatic/specmatic.jar'),
      'test',
      join(ROOT, 'specs/openapi.yaml'),
      `--testBaseURL=${server.url}`,
      `--examples=${join(ROOT, 'test/contract/examples')}`,
      `--overlay-file=${join(ROOT, 'test/contract/specmatic-overlay.yaml')}`,
      ...args,
    ],
    {
      cwd: dir,
      stdio: 'inherit',
      env: {
        ...process.env,
        ...env,
        // Specmatic reads a credential for each security scheme from a variable named after it.
        bearerAuth: SECRET,
        tokenQuery: SECRET,
        basicAuth: Buffer.from(`contract:${SECRET}`).toString('base64'),
      },
    },
  );
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? 1;
}

// Operations whose valid requests depend on more than their OpenAPI schemas: the publish body's
// `data` must match the catalog payload of its `type` (in the AsyncAPI document), and the history
// query obeys cross-parameter rules (`x-specstream-query-rules`) that OpenAPI cannot express, and
// the scopes a token may carry depend on the catalog and the caller's own (`POST /v1/tokens`).
// Specmatic's generated *positive* variants of these ignore that, so their positive tests come
// from the hand-written examples only; their generated *negative* tests still run.
const refined = "(PATH='/v1/events' && METHOD='POST') || (PATH='/v1/events' && METHOD='GET') || PATH='/v1/events/stream' || PATH='/v1/tokens'";

let status = 1;
try {
  const generative = await specmatic(
    'generative tests (positive and negative), examples for every operation',
    ['--strict', `--filter=!(STATUS<'300' && (${refined}))`],
    { SPECMATIC_GENERATIVE_TESTS: 'true', MAX_TEST_REQUEST_COMBINATIONS: '1' },
  );
  const examples = await specmatic('example-driven tests of the refined operations', ['--strict', `--filter=${refined}`], {});
  status = generative === 0 && examples === 0 ? 0 : 1;
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(status === 0 ? 'contract tests passed' : `contract tests failed (exit ${status})`);
process.exit(status);
