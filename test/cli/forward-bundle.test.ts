/**
 * `specstream forward` against a server serving a bundle (examples/grant-events): `specs:` in
 * forward.yaml (or `--specs`) makes the forwarder read that bundle's stream, and the file
 * destination receives the bundle's own envelopes ({id, type, createdAt, data}).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readNdjson, until } from '../destinations/helpers.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { startCli, type CliProcess } from './run-cli.js';

const BUNDLE = fileURLToPath(new URL('../../examples/grant-events', import.meta.url));

describe('specstream forward with a bundle', () => {
  let server: TestServer;
  let dir: string;
  let cli: CliProcess | undefined;

  beforeEach(async () => {
    server = await startTestServer({ specs: BUNDLE, keys: [{ id: 'fwd', secret: 'sk_fwd', scopes: ['admin'], queryToken: true }] });
    dir = mkdtempSync(join(tmpdir(), 'specstream-forward-bundle-'));
  });
  afterEach(async () => {
    if (cli && cli.child.exitCode === null) cli.child.kill('SIGKILL');
    await server.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function publish(type: string, data: Record<string, unknown>): Promise<{ id: string }> {
    const response = await fetch(`${server.url}/specstream/publish`, {
      method: 'POST',
      headers: { Authorization: 'Bearer sk_fwd', 'Content-Type': 'application/json' },
      body: JSON.stringify({ type, data }),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string };
  }

  it.each([
    ['specs: in forward.yaml', true],
    ['--specs on the command line', false],
  ])('forwards the bundle envelopes, with %s', async (_how, inFile) => {
    const first = await publish('grant.created', { grantId: 'grnt_01', agentId: 'ag_01', principalId: 'user-1', scopes: ['calendar:read'] });
    const path = join(dir, 'forward.yaml');
    writeFileSync(
      path,
      `url: ${server.url}\ntoken: sk_fwd\n${inFile ? `specs: ${BUNDLE}\n` : ''}checkpoint: state.json\nfrom: { since: "2000-01-01T00:00:00Z" }\ndestinations:\n  - type: file\n    path: out.ndjson\n    flush_interval_ms: 20\n`,
    );
    cli = startCli(['forward', '--config', path, '--no-progress', ...(inFile ? [] : ['--specs', BUNDLE])]);
    const second = await publish('grant.created', { grantId: 'grnt_02', agentId: 'ag_01', principalId: 'user-1', scopes: ['calendar:read'] });
    const out = join(dir, 'out.ndjson');
    await until(() => readNdjson<Record<string, unknown>>(out).length >= 2, 'two forwarded events');
    const events = readNdjson<Record<string, unknown>>(out);
    expect(events.map((e) => e.id)).toEqual([first.id, second.id]);
    for (const event of events) expect(Object.keys(event)).toEqual(['id', 'type', 'createdAt', 'data']);
  }, 60_000);
});
