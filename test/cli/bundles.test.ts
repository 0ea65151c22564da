/**
 * The client commands with `--specs DIR` (or SPECSTREAM_SPECS) against real servers serving the
 * example bundles: publish through the bundle's publish path with its credentials, tail and export
 * its wire envelopes, and verify its frames against the bundle's AsyncAPI document.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BUNDLE_KEYS, startBundleServer, type BundleServer } from '../client/bundle-server.js';
import { publish, type WireEvent } from '../../src/client/index.js';
import { runCli, startCli } from './run-cli.js';

const lines = (text: string): WireEvent[] => text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as WireEvent);

describe('client commands with --specs', () => {
  let running: BundleServer | undefined;
  afterEach(async () => {
    await running?.dispose();
    running = undefined;
  });
  const writer = () => ({ url: running!.server.url, token: BUNDLE_KEYS.writer, specs: running!.dir });

  it('publish sends to the bundle publish path and prints its envelope; SPECSTREAM_SPECS works like --specs', async () => {
    running = await startBundleServer('grant-events');
    const data = JSON.stringify(running.example('grant.created'));
    const flag = await runCli(['publish', '--url', running.server.url, '--token', BUNDLE_KEYS.writer, '--specs', running.dir, '--type', 'grant.created', '--data', data]);
    expect(flag.code).toBe(0);
    const env = await runCli(['publish', '--url', running.server.url, '--token', BUNDLE_KEYS.writer, '--type', 'grant.created', '--data', data], { env: { SPECSTREAM_SPECS: running.dir } });
    expect(env.code).toBe(0);
    for (const result of [flag, env]) expect(Object.keys(lines(result.stdout)[0]!)).toEqual(['id', 'type', 'createdAt', 'data']);
  });

  it('publish and export take Basic credentials (--key-id), and say so when only a token is given', async () => {
    running = await startBundleServer('admin-actions');
    const data = JSON.stringify({ ...running.example('Liquidation'), reason: 'cli' });
    const base = ['--url', running.server.url, '--specs', running.dir];
    const bare = await runCli(['publish', ...base, '--token', BUNDLE_KEYS.writer, '--type', 'Liquidation', '--data', data]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('NO_CREDENTIAL_SCHEME');
    const published = await runCli(['publish', ...base, '--key-id', 'writer', '--token', BUNDLE_KEYS.writer, '--type', 'Liquidation', '--data', data]);
    expect(published.code).toBe(0);
    const [stored] = lines(published.stdout);
    expect(stored).toMatchObject({ type: 'Liquidation', reason: 'cli' });
    const exported = await runCli(['export', ...base, '--key-id', 'reader', '--token', BUNDLE_KEYS.reader, '--since-id', 'evt_00000000000000000000000000']);
    expect(exported.code).toBe(0);
    expect(lines(exported.stdout)).toEqual([stored]);
  });

  it('tail prints the unnamed audit-log events, with ids from the id: lines', async () => {
    running = await startBundleServer('audit-log');
    const audit = (n: number) => ({ type: 'audit_log_created', data: { ...running!.example('audit_log_created'), auditLogId: n } });
    for (const n of [1, 2]) await publish(writer(), audit(n));
    const base = ['tail', '--url', running.server.url, '--token', BUNDLE_KEYS.reader, '--specs', running.dir, '--since-id', 'evt_00000000000000000000000000', '--count', '2'];
    const [json, human] = await Promise.all([runCli([...base, '--json']), runCli(base)]);
    expect(json.code).toBe(0);
    expect(lines(json.stdout)).toEqual([audit(1), audit(2)]);
    expect(human.code).toBe(0);
    const rows = human.stdout.trim().split('\n');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^- {2}audit_log_created +evt_[0-9A-Z]{26} {2}- {2}\{"auditLogId":1,/);
  });

  it('tail and export read the SIEM bundle anonymously: WebSocket frames, and both lists merged in log order', async () => {
    running = await startBundleServer('siem-live-tail', { allow_anonymous: true, anonymous_scopes: ['events:read'] });
    const stored: WireEvent[] = [];
    for (const type of ['event', 'alert', 'event'] as const) stored.push(await publish(writer(), { type, data: running.example(type) }));
    const exported = await runCli(['export', '--url', running.server.url, '--specs', running.dir, '--since-id', 'evt_00000000000000000000000000']);
    expect(exported.code).toBe(0);
    expect(lines(exported.stdout)).toEqual(stored);
    const tail = startCli(['tail', '--url', running.server.url, '--specs', running.dir, '--json', '--count', '1']);
    await running.waitForStreams(1);
    const live = await publish(writer(), { type: 'alert', data: running.example('alert') });
    const result = await tail.exited;
    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toEqual([live]);
    expect(result.stderr).toContain('connected (ws)');
  });

  it('verify passes a server serving the bundle, on each of its streams, id-only resume point included', async () => {
    running = await startBundleServer('audit-log', { heartbeat_s: 1 });
    for (const n of [1, 2, 3]) await publish(writer(), { type: 'audit_log_created', data: { ...running.example('audit_log_created'), auditLogId: n } });
    const live = await runCli(['verify', '--url', running.server.url, '--token', BUNDLE_KEYS.reader, '--specs', running.dir, '--duration', '1500ms', '--json']);
    expect(live.code).toBe(0);
    const liveReport = JSON.parse(live.stdout) as { passed: boolean; reports: { transport: string; messages: Record<string, number> }[] };
    expect(liveReport.reports.map((r) => r.transport)).toEqual(['sse']);
    expect(liveReport.reports[0]!.messages).toMatchObject({ 'sse:position': 1, 'sse:retry': 1 });
    const history = await runCli(['verify', '--url', running.server.url, '--token', BUNDLE_KEYS.reader, '--specs', running.dir, '--since-id', 'evt_00000000000000000000000000', '--duration', '1s']);
    expect(history.code).toBe(0);
    expect(history.stdout).toContain('sse  PASS  3 events');
    expect(history.stdout).toContain(`PASS: every frame matches ${running.dir}/asyncapi.yaml`);
  });

  it('verify checks WebSocket frames of the bundle (grant-events: bare envelopes) and fails them against another bundle', async () => {
    running = await startBundleServer('grant-events');
    await publish(writer(), { type: 'grant.created', data: running.example('grant.created') });
    const args = ['verify', '--url', running.server.url, '--token', BUNDLE_KEYS.reader, '--since-id', 'evt_00000000000000000000000000', '--duration', '1s', '--json'];
    const right = await runCli([...args, '--specs', running.dir]);
    expect(right.code).toBe(0);
    const report = JSON.parse(right.stdout) as { reports: { transport: string; events: number }[] };
    expect(report.reports.map((r) => [r.transport, r.events])).toEqual([['sse', 1], ['ws', 1]]);
    // The same server checked against the native bundle: its envelope is not CloudEvents.
    const wrong = await runCli(args);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('"passed":false');
  });

  it('refuses a folder that is not a bundle with exit 2 and the loader\'s reason', async () => {
    const result = await runCli(['tail', '--specs', 'test/cli', '--url', 'http://127.0.0.1:1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--specs test/cli');
    expect(result.stderr).toContain('openapi.yaml');
  });
});
