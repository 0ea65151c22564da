/**
 * `specstream forward` as a process, from a forward.yaml, against a real server: events reach the
 * file and webhook destinations, Prometheus metrics are served, SIGTERM saves each destination's
 * position and a restart resumes from it; configuration mistakes exit 2 with the key path.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatAge, renderProgress } from '../../src/cli/commands/forward.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { batch, publishIds, readNdjson, until } from '../destinations/helpers.js';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';
import { runCli, startCli, type CliProcess } from './run-cli.js';

const SECRET = 'whsec_' + Buffer.from('a 32-byte key for the cli test!!').toString('base64');

describe('specstream forward', () => {
  let server: TestServer;
  let dir: string;
  let receiver: Server;
  let hookUrl: string;
  let hooked: SpecstreamEvent[];
  let running: CliProcess[];

  beforeEach(async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'specstream-forward-cli-'));
    hooked = [];
    running = [];
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        hooked.push(...(JSON.parse(body) as SpecstreamEvent[]));
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterEach(async () => {
    for (const cli of running) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    await new Promise((resolve) => receiver.close(resolve));
    await server.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(text: string): string {
    const path = join(dir, 'forward.yaml');
    writeFileSync(path, text);
    return path;
  }

  function start(config: string, env: NodeJS.ProcessEnv = {}): CliProcess {
    const cli = startCli(['forward', '--config', config], { env });
    running.push(cli);
    return cli;
  }

  const config = () => `
url: ${server.url}
token: \${FORWARD_TOKEN}
types: grant.*
checkpoint: state/checkpoint.json
from: { since: "2000-01-01T00:00:00Z" }
metrics: { port: 0 }
destinations:
  - type: file
    name: archive
    path: out/events.ndjson
    batch_size: 50
    flush_interval_ms: 20
  - type: webhook
    url: ${hookUrl}
    secret: \${HOOK_SECRET}
    flush_interval_ms: 20
`;

  it('forwards to a file and a webhook, serves metrics, and resumes from the checkpoint after SIGTERM', async () => {
    const path = writeConfig(config());
    const env = { FORWARD_TOKEN: TEST_KEYS.reader.secret, HOOK_SECRET: SECRET };
    const first = await publishIds(server, batch(30, 'a'));
    let cli = start(path, env);
    await until(() => /metrics on (http:\S+)/.test(cli.stderr()) && /forwarding /.test(cli.stderr()), 'the forwarder to start');
    const metricsUrl = /metrics on (http:\S+)/.exec(cli.stderr())![1]!;
    const out = join(dir, 'out', 'events.ndjson');
    await until(() => readNdjson(out).length >= 30 && hooked.length >= 30, '30 events at both destinations');

    // A destination counts a batch once its send() resolved, which can be after the bytes arrived: poll.
    const metrics = () => fetch(metricsUrl).then((response) => response.text());
    const poll = { timeout: 20_000, interval: 50 };
    await expect.poll(metrics, poll).toContain('specstream_forwarder_events_sent_total{destination="archive"} 30');
    await expect.poll(metrics, poll).toContain(`specstream_forwarder_events_sent_total{destination="webhook:127.0.0.1:${new URL(hookUrl).port}"} 30`);
    await expect.poll(metrics, poll).toMatch(/specstream_forwarder_batch_duration_seconds_count\{destination="archive"\} [1-9]/);

    cli.child.kill('SIGTERM');
    const result = await cli.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('SIGTERM: sending what is queued and saving the checkpoint');
    const saved = JSON.parse(readFileSync(join(dir, 'state', 'checkpoint.json'), 'utf8')) as { positions: Record<string, string> };
    expect(Object.values(saved.positions)).toEqual([first[29], first[29]]);

    const second = await publishIds(server, batch(10, 'b'));
    cli = start(path, env);
    await until(() => readNdjson(out).length >= 40 && hooked.length >= 40, '40 events at both destinations');
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    expect(readNdjson(out).map((e) => e.id)).toEqual([...first, ...second]);
    expect(hooked.map((e) => e.id)).toEqual([...first, ...second]);
  });

  it('on SIGTERM gives up on a destination that never answers after shutdown_timeout_ms, keeping the others\' positions', async () => {
    const hanging = createServer(() => {}); // accepts every request and never answers
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const path = writeConfig(
        config()
          .replace(hookUrl, `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`)
          .replace('metrics: { port: 0 }', 'shutdown_timeout_ms: 300'),
      );
      const ids = await publishIds(server, batch(5, 'h'));
      const cli = start(path, { FORWARD_TOKEN: TEST_KEYS.reader.secret, HOOK_SECRET: SECRET });
      await until(() => readNdjson(join(dir, 'out', 'events.ndjson')).length >= 5, '5 events in the file');
      cli.child.kill('SIGTERM');
      const result = await cli.exited;
      expect(result.code).toBe(0);
      const saved = JSON.parse(readFileSync(join(dir, 'state', 'checkpoint.json'), 'utf8')) as { positions: Record<string, string> };
      expect(saved.positions).toEqual({ archive: ids[4] }); // the webhook acknowledged nothing: it starts over next time
    } finally {
      hanging.closeAllConnections();
      hanging.close();
    }
  });

  it('exits 1 with the server refusal when the token is not accepted', async () => {
    const path = writeConfig(config());
    const result = await runCli(['forward', '--config', path], { env: { FORWARD_TOKEN: 'sk_wrong', HOOK_SECRET: SECRET } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('(401 AUTH_REQUIRED)');
  });

  describe('configuration mistakes exit 2 and name the key', () => {
    it.each([
      ['an unset (or empty) environment variable', { FORWARD_TOKEN: '' }, (c: string) => c, 'token: environment variable FORWARD_TOKEN is not set'],
      ['an unknown destination type', {}, (c: string) => c.replace('type: webhook', 'type: pigeon'), 'destinations[1].type: unknown destination type "pigeon"'],
      ['an unknown key', {}, (c: string) => c.replace('batch_size: 50', 'batch_size: 50\n    batch_sise: 5'), 'destinations[0]: Unrecognized key: "batch_sise"'],
      ['a bad value', {}, (c: string) => c.replace('batch_size: 50', 'batch_size: 0'), 'destinations[0].batch_size: Too small'],
      ['a bad webhook secret', { HOOK_SECRET: 'not-whsec' }, (c: string) => c, 'destinations[1]: webhook secret must start with "whsec_"'],
    ])('%s', async (_, env, edit, message) => {
      const path = writeConfig(edit(config()));
      const result = await runCli(['forward', '--config', path], { env: { FORWARD_TOKEN: 'x', HOOK_SECRET: SECRET, ...env } });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
    });

    it('--check prints the destinations and exits 0 without connecting', async () => {
      const path = writeConfig(config().replace(server.url, 'http://127.0.0.1:9'));
      const result = await runCli(['forward', '--config', path, '--check'], { env: { FORWARD_TOKEN: 'x', HOOK_SECRET: SECRET } });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`${path}: ok`);
      expect(result.stdout).toMatch(/file\s+archive/);
      expect(result.stdout).toMatch(/webhook\s+webhook:127\.0\.0\.1:/);
    });
  });

  it('shows a live progress table on a terminal', async () => {
    const path = writeConfig(config());
    await publishIds(server, batch(12, 'tty'));
    // `script` runs the command on a pseudo-terminal, so stderr is a TTY as it is for a person.
    const command = `FORWARD_TOKEN=${TEST_KEYS.reader.secret} HOOK_SECRET=${SECRET} NO_COLOR=1 ${process.execPath} --import tsx src/cli/main.ts forward --config ${path}`;
    const tty = startScript(command);
    running.push(tty);
    await until(() => /archive\s+12\s+0\s+0\s+0\s+\d/.test(tty.stdout()), 'a progress row for archive with 12 sent', 20_000);
    expect(tty.stdout()).toMatch(/destination\s+sent\s+queued\s+retried\s+dead\s+lag\s+position/);
    tty.child.kill('SIGTERM');
    await tty.exited;
  });
});

/** Runs `command` under `script`, which gives it a pseudo-terminal; everything it prints arrives on stdout. */
function startScript(command: string): CliProcess {
  return startCli([], { env: {} }, ['script', '-qfec', command, '/dev/null']);
}

describe('renderProgress', () => {
  it('aligns one row per destination with lag from the position time', () => {
    const base = { failed: 0, batches: 1, lastBatchLatencyMs: 3, totalBatchLatencyMs: 3 };
    const lines = renderProgress(
      {
        archive: { ...base, sent: 1234567, queued: 3, retried: 0, deadLettered: 0, position: '01JA', positionTime: '2026-01-01T00:00:00.000Z' },
        'webhook:h': { ...base, sent: 5, queued: 0, retried: 12, deadLettered: 1, position: undefined, positionTime: undefined },
      },
      { url: 'http://s', startedAt: Date.parse('2026-01-01T00:00:00Z') - 61_000, now: Date.parse('2026-01-01T00:01:23.500Z'), state: 'running' },
    );
    expect(lines).toEqual([
      'specstream forward  http://s  running 2m24s',
      'destination       sent  queued  retried  dead    lag  position',
      'archive      1,234,567       3        0     0  1m23s  01JA',
      'webhook:h            5       0       12     1      -  -',
    ]);
  });

  it.each([
    [4_200, '4.2s'],
    [83_000, '1m23s'],
    [3_723_000, '1h02m'],
  ])('formatAge(%i) is %s', (ms, text) => expect(formatAge(ms)).toBe(text));
});
