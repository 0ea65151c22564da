/** The client commands of the CLI (publish, tail, export, verify) against a real server, run as processes. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { catalog } from '../../src/generated/catalog.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { ids, publish } from '../stream/clients.js';
import { runCli, startCli } from './run-cli.js';

const grant = JSON.stringify(catalog['grant.created'].example);
const parseLines = (text: string): SpecstreamEvent[] => text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as SpecstreamEvent);

describe('specstream CLI', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.dispose();
    server = undefined;
  });

  describe('--help', () => {
    it.each(['serve', 'publish', 'tail', 'export', 'verify', 'forward', 'generate'])('prints usage for %s with exit 0', async (name) => {
      const result = await runCli([name, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: specstream ${name}`);
    });

    it('lists every command', async () => {
      const result = await runCli(['--help']);
      expect(result.code).toBe(0);
      for (const name of ['serve', 'publish', 'tail', 'export', 'verify', 'forward', 'generate']) expect(result.stdout).toContain(`  ${name} `);
    });

    it('exits 2 on an unknown flag', async () => {
      const result = await runCli(['tail', '--nope']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('Usage: specstream tail');
    });
  });

  describe('publish', () => {
    it('publishes one event from flags and prints the envelope', async () => {
      server = await startTestServer();
      const result = await runCli(['publish', '--url', server.url, '--token', 'sk_test_writer', '--type', 'grant.created', '--data', grant, '--subject', 's1']);
      expect(result.code).toBe(0);
      const [event] = parseLines(result.stdout);
      expect(event).toMatchObject({ type: 'grant.created', subject: 's1' });
    });

    it('publishes NDJSON from stdin', async () => {
      server = await startTestServer();
      const input = [1, 2, 3].map((i) => JSON.stringify({ type: 'grant.created', subject: `n${i}`, data: catalog['grant.created'].example })).join('\n');
      const result = await runCli(['publish', '--url', server.url, '--token', 'sk_test_writer'], { input });
      expect(result.code).toBe(0);
      expect(parseLines(result.stdout).map((e) => e.subject)).toEqual(['n1', 'n2', 'n3']);
    });

    it.each([
      ['exits 1 when the server refuses (403)', ['--token', 'sk_test_reader', '--type', 'grant.created', '--data', grant], 1, 'FORBIDDEN'],
      ['exits 1 on a payload the catalog rejects (400)', ['--token', 'sk_test_writer', '--type', 'grant.created', '--data', '{}'], 1, 'VALIDATION_FAILED'],
      ['exits 2 on --data that is not JSON', ['--token', 'sk_test_writer', '--type', 'grant.created', '--data', '{'], 2, 'not valid JSON'],
    ])('%s', async (_name, args, code, text) => {
      server = await startTestServer();
      const result = await runCli(['publish', '--url', server.url, ...args]);
      expect(result.code).toBe(code);
      expect(result.stderr).toContain(text);
    });
  });

  describe('tail', () => {
    it('prints history then live events as human lines, and --json as NDJSON', async () => {
      server = await startTestServer();
      const history = await publish(server, 3);
      const human = startCli(['tail', '--url', server.url, '--token', 'sk_test_reader', '--since-id', history[0]!.id, '--count', '4']);
      const json = startCli(['tail', '--url', server.url, '--token', 'sk_test_reader', '--since-id', history[0]!.id, '--count', '4', '--json', '--transport', 'ws']);
      await human.waitForStdout((text) => text.split('\n').length > 2);
      await json.waitForStdout((text) => text.split('\n').length > 2);
      const live = await publish(server, 2);
      const [h, j] = await Promise.all([human.exited, json.exited]);
      expect(h.code).toBe(0);
      const lines = h.stdout.trim().split('\n');
      expect(lines).toHaveLength(4);
      expect(lines[0]).toContain(history[1]!.id);
      expect(lines[0]).toContain(history[1]!.type);
      expect(j.code).toBe(0);
      expect(ids(parseLines(j.stdout))).toEqual(ids([...history.slice(1), ...live]).slice(0, 4));
    });

    it('exits 0 quietly when its reader goes away (tail | head)', async () => {
      server = await startTestServer();
      const history = await publish(server, 2);
      const tail = startCli(['tail', '--url', server.url, '--token', 'sk_test_reader', '--since-id', history[0]!.id]);
      await tail.waitForStdout((text) => text.includes('\n'));
      tail.child.stdout!.destroy();
      await publish(server, 50);
      const result = await tail.exited;
      expect(result.code).toBe(0);
      expect(result.stderr).not.toContain('EPIPE');
    });

    it('exits 1 on a refused token', async () => {
      server = await startTestServer();
      const result = await runCli(['tail', '--url', server.url, '--token', 'sk_nope']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('AUTH_REQUIRED');
    });
  });

  describe('export', () => {
    it('writes the history range as NDJSON with a progress line when asked', async () => {
      server = await startTestServer();
      const stored = await publish(server, 30);
      const result = await runCli(['export', '--url', server.url, '--token', 'sk_test_reader', '--since-id', stored[4]!.id, '--until-id', stored[24]!.id, '--page-size', '7', '--progress']);
      expect(result.code).toBe(0);
      expect(ids(parseLines(result.stdout))).toEqual(ids(stored.slice(5, 25)));
      expect(result.stderr).toMatch(/20 events {2}\d+\/s\n$/);
    });

    it('exits 0 when its reader goes away (export | head)', async () => {
      server = await startTestServer();
      const stored = await publish(server, 3000);
      const exporter = startCli(['export', '--url', server.url, '--token', 'sk_test_reader', '--since-id', stored[0]!.id, '--page-size', '100']);
      await exporter.waitForStdout((text) => text.includes('\n'));
      exporter.child.stdout!.destroy();
      const result = await exporter.exited;
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
    });

    it('exits 2 without --since or --since-id', async () => {
      const result = await runCli(['export', '--token', 'x']);
      expect(result.code).toBe(2);
    });
  });

  describe('verify', () => {
    let fake: Server | undefined;
    afterEach(() => fake?.close());

    it('passes a Specstream server on both transports', async () => {
      server = await startTestServer({ heartbeat_s: 1, status_s: 1 });
      const stored = await publish(server, 10);
      const result = await runCli(['verify', '--url', server.url, '--token', 'sk_test_reader', '--since-id', stored[0]!.id, '--duration', '3s', '--json']);
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout) as { passed: boolean; reports: { transport: string; events: number; messages: Record<string, number> }[] };
      expect(report.passed).toBe(true);
      expect(report.reports.map((r) => [r.transport, r.events])).toEqual([['sse', 9], ['ws', 9]]);
      expect(report.reports[0]!.messages['sse:sseRetry']).toBe(1);
      expect(report.reports[0]!.messages['sse:sseHeartbeat']).toBeGreaterThanOrEqual(1);
      expect(report.reports[1]!.messages['ws:status']).toBeGreaterThanOrEqual(1);
    });

    it('fails a stream whose frames break the spec or the ordering', async () => {
      const event = (id: string) => ({ ...{ specversion: '1.0', type: 'grant.created', source: '/g', time: '2026-01-01T00:00:00Z', datacontenttype: 'application/json', data: catalog['grant.created'].example }, id });
      const a = 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1X3B';
      const b = 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1X3A';
      fake = createServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write(`id: ${a}\nevent: grant.created\ndata: ${JSON.stringify(event(a))}\n\n`);
        res.write(`id: ${b}\nevent: grant.created\ndata: ${JSON.stringify(event(b))}\n\n`);
        res.write(`event: grant.created\ndata: {"nope":1}\n\n: hello\n\n`);
      });
      fake.listen(0, '127.0.0.1');
      await new Promise((resolve) => fake!.once('listening', resolve));
      const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
      const result = await runCli(['verify', '--url', url, '--transport', 'sse', '--duration', '500ms']);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`event ${b} after ${a}: ids must increase`);
      expect(result.stdout).toContain('sse:sseEvent: missing id: field');
      expect(result.stdout).toContain('comment ": hello" matches 0 messages');
    });
  });
});
