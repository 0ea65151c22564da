import { afterAll, describe, it } from 'vitest';
import { errors } from '../../src/errors.js';
import { BUNDLE_NAMES } from '../examples/helpers/bundle.js';
import { startExampleServer, type ExampleServer } from '../examples/helpers/server.js';
import { checkNoServerErrors } from '../helpers/no-server-errors.js';

const CODES = new Set(Object.values(errors).map((definition) => definition.code));

/** A bundle may put the code anywhere in its error body (x-specstream-errors): the first registered code found. */
function findCode(body: unknown, codes: ReadonlySet<string>, depth = 0): string | undefined {
  if (typeof body === 'string') return codes.has(body) ? body : undefined;
  if (body === null || typeof body !== 'object' || depth > 4) return undefined;
  for (const value of Object.values(body)) {
    const found = findCode(value, codes, depth + 1);
    if (found) return found;
  }
  return undefined;
}

// Issue 12 item 7: the same property over every operation of every example bundle.
describe.each(BUNDLE_NAMES.map((name) => [name]))('no client input produces a 5xx (bundle %s)', (name) => {
  let example: ExampleServer | undefined;
  afterAll(async () => {
    await example?.dispose();
  });

  it('holds for every operation of its openapi.yaml', { timeout: 240_000 }, async () => {
    example = await startExampleServer(name, { body_timeout_ms: 5000 });
    const { admin, reader } = example.keys;
    await checkNoServerErrors(example.url, example.bundle.openapi, {
      credentials: [
        { Authorization: `Bearer ${admin.secret}` },
        { Authorization: `Basic ${Buffer.from(`${admin.id}:${admin.secret}`).toString('base64')}` },
        { Authorization: `Basic ${Buffer.from(`${reader.id}:${reader.secret}`).toString('base64')}` },
        { Authorization: 'Bearer wrong' },
      ],
      registeredCodes: CODES,
      errorCode: findCode,
      runsPerOperation: Number(process.env.NO_5XX_RUNS ?? 40),
    });
  });
});
