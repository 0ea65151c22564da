/**
 * A bundle's query rules are served from its generated code (`queryCheckers` in
 * `DIR/generated/index.js`), never read from its `openapi.yaml` at run time: generated code whose
 * rules no longer match the spec is refused at start with the command that fixes it, and the
 * answers follow the generated code.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { generateBundle } from '../../scripts/generate.js';
import { BundleError } from '../../src/bundle/bundle-error.js';
import { openServedBundle } from '../../src/bundle/served-bundle.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const partner = fileURLToPath(new URL('../fixtures/bundles/partner/', import.meta.url));
const KEY = { id: 'root1', secret: 'sk_partner_root', scopes: ['root'], queryToken: true };
const SPEC_MESSAGE = '`to` requires `from`';
const dirs: string[] = [];
const servers: TestServer[] = [];

/** A copy of the partner fixture (its generated code included), each in a folder of its own: the loader caches a folder per process. */
function copyOfPartner(): string {
  const dir = mkdtempSync(join(tmpdir(), 'specstream-generated-query-'));
  dirs.push(dir);
  cpSync(partner, dir, { recursive: true });
  return dir;
}

/** Replaces every occurrence of `from` in `dir/file`; fails unless there was at least `atLeast`. */
function replaceIn(dir: string, file: string, from: string, to: string, atLeast = 1): void {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  expect(text.split(from).length - 1).toBeGreaterThanOrEqual(atLeast);
  writeFileSync(path, text.replaceAll(from, to));
}

/** The answer of the partner bundle's history list to `to` without `from` (UNTIL_REQUIRES_SINCE). */
async function untilWithoutSince(dir: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const server = await startTestServer({ specs: dir, keys: [KEY] });
  servers.push(server);
  const response = await fetch(`${server.url}/partner/v2/history?to=2026-01-01T00:00:00Z`, { headers: { 'X-Partner-Key': KEY.secret } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The one line a refused start prints, or a failure when the bundle is served. */
async function refusal(dir: string): Promise<string> {
  const error = await openServedBundle(dir).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BundleError);
  const message = (error as BundleError).message;
  expect(message.split('\n')).toHaveLength(1);
  return message;
}

afterEach(async () => {
  for (const server of servers.splice(0)) await server.dispose();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the query rules of a served bundle', { timeout: 90_000 }, () => {
  it('answer with the code and message of the spec through the committed generated code', async () => {
    const { status, body } = await untilWithoutSince(copyOfPartner());
    expect(status).toBe(400);
    expect(body).toMatchObject({ problem: 'UNTIL_REQUIRES_SINCE', detail: SPEC_MESSAGE });
  });

  it('are the generated ones: a rule changed in generated/index.js alone is what the server answers', async () => {
    const dir = copyOfPartner();
    // The rule's data and its compiled check both carry the message; BUNDLE_HASH still matches the specs.
    replaceIn(dir, 'generated/index.js', `'${SPEC_MESSAGE}'`, "'generated: `to` needs `from`'", 2);
    const { status, body } = await untilWithoutSince(dir);
    expect(status).toBe(400);
    expect(body).toMatchObject({ problem: 'UNTIL_REQUIRES_SINCE', detail: 'generated: `to` needs `from`' });
  });

  it('refuses to start when a rule changed in openapi.yaml since the code was generated, and serves the new rule once regenerated', async () => {
    const dir = copyOfPartner();
    replaceIn(dir, 'openapi.yaml', `message: '${SPEC_MESSAGE}'`, "message: '`to` needs `from` now'");
    expect(await refusal(dir)).toMatch(/^\S*generated#: the bundle has generated code older than its specs: run `specstream generate --specs \S+`$/);

    await generateBundle(dir);
    const { status, body } = await untilWithoutSince(dir);
    expect(status).toBe(400);
    expect(body).toMatchObject({ problem: 'UNTIL_REQUIRES_SINCE', detail: '`to` needs `from` now' });
  });

  it('refuses to start on generated code without query checkers (from an older generator), naming the command', async () => {
    const dir = copyOfPartner();
    replaceIn(dir, 'generated/index.js', 'export const queryCheckers', 'const queryCheckers');
    expect(await refusal(dir)).toMatch(
      /^\S*generated#: the bundle has generated code without the query checker of \w+ \(written by an older Specstream\): run `specstream generate --specs \S+`$/,
    );
  });
});
