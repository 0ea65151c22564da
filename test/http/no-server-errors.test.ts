import { afterAll, beforeAll, describe, it } from 'vitest';
import { errors } from '../../src/errors.js';
import { loadOpenApiDocument } from '../../src/http/openapi-document.js';
import { checkNoServerErrors } from '../helpers/no-server-errors.js';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';

// Issue 12 item 7: over every operation of the native document, random queries, headers and
// bodies get a success or a 4xx JSON error with a registered code; never a 5xx, never non-JSON.
describe('no client input produces a 5xx (native bundle)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ body_timeout_ms: 5000 });
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('holds for every operation of specs/openapi.yaml', { timeout: 240_000 }, async () => {
    await checkNoServerErrors(server.url, loadOpenApiDocument(), {
      credentials: [
        { Authorization: `Bearer ${TEST_KEYS.admin.secret}` },
        { Authorization: `Bearer ${TEST_KEYS.grants.secret}` },
        { Authorization: `Basic ${Buffer.from(`reader:${TEST_KEYS.reader.secret}`).toString('base64')}` },
        { Authorization: 'Bearer wrong' },
        { Authorization: 'Basic %%%' },
      ],
      registeredCodes: Object.values(errors).map((definition) => definition.code),
      runsPerOperation: Number(process.env.NO_5XX_RUNS ?? 80),
    });
  });
});
