/**
 * `specstream forward` end to end to Amazon S3 (s3rver through the real AWS SDK) and NATS JetStream
 * (the real server), from one forward.yaml with credentials from environment variables.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import S3rver from 's3rver';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/client/index.js';
import { catalog } from '../../src/generated/catalog.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';
import { publishIds, until } from '../destinations/helpers.js';
import { checkNats, NATS_URL, uniqueName } from '../helpers/services.js';
import { startTestServer, TEST_KEYS, type TestServer } from '../helpers/test-server.js';
import { startCli, type CliProcess } from './run-cli.js';

const service = await checkNats();
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

describe.skipIf(service.skip)('specstream forward to S3 and NATS', () => {
  let server: TestServer;
  let dir: string;
  let s3rver: S3rver;
  let s3: S3Client;
  let endpoint: string;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let stream: string;
  let prefix: string;
  let cli: CliProcess | undefined;

  beforeEach(async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'specstream-forward-s3-nats-'));
    s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(dir, 's3'), configureBuckets: [{ name: 'archive' }] });
    const { port } = await s3rver.run();
    endpoint = `http://127.0.0.1:${port}`;
    s3 = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: CREDENTIALS });
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
    prefix = uniqueName('ssfwd');
    stream = uniqueName('SS_FORWARD');
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
  });
  afterEach(async () => {
    if (cli && cli.child.exitCode === null) cli.child.kill('SIGKILL');
    cli = undefined;
    await jsm.streams.delete(stream).catch(() => false);
    await nc.close();
    s3.destroy();
    await s3rver.close();
    await server.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function s3Events(): Promise<SpecstreamEvent[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'archive' }));
    const events: SpecstreamEvent[] = [];
    for (const { Key } of listed.Contents ?? []) {
      const object = await s3.send(new GetObjectCommand({ Bucket: 'archive', Key: Key! }));
      const text = gunzipSync(Buffer.from(await object.Body!.transformToByteArray())).toString('utf8');
      for (const line of text.split('\n').filter(Boolean)) events.push(JSON.parse(line) as SpecstreamEvent);
    }
    return events;
  }

  async function natsEvents(): Promise<{ subject: string; event: SpecstreamEvent }[]> {
    const { state } = await jsm.streams.info(stream);
    const out: { subject: string; event: SpecstreamEvent }[] = [];
    for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq });
      if (message) out.push({ subject: message.subject, event: message.json<SpecstreamEvent>() });
    }
    return out;
  }

  it('delivers every event to both, in order, keyed by date and type in S3 and by type in NATS', async () => {
    const events: NewEvent[] = [];
    for (let i = 0; i < 12; i++) {
      const type = i % 3 === 0 ? 'security.alert' : 'grant.created';
      events.push({ type, subject: `s-${i}`, data: catalog[type].example } as NewEvent);
    }
    const ids = await publishIds(server, events);
    const config = join(dir, 'forward.yaml');
    writeFileSync(
      config,
      `url: ${server.url}
token: \${FORWARD_TOKEN}
checkpoint: checkpoint.json
from: { since: "2000-01-01T00:00:00Z" }
destinations:
  - type: s3
    bucket: archive
    endpoint: ${endpoint}
    force_path_style: true
    region: us-east-1
    credentials: { access_key_id: S3RVER, secret_access_key: "\${S3_SECRET}" }
    batch_size: 50
    flush_interval_ms: 50
  - type: nats
    servers: ${NATS_URL}
    subject: ${prefix}.{type}
    flush_interval_ms: 20
`,
    );
    const forward = startCli(['forward', '--config', config], { env: { FORWARD_TOKEN: TEST_KEYS.reader.secret, S3_SECRET: 'S3RVER' } });
    cli = forward;
    try {
      await until(() => /forwarding /.test(forward.stderr()), 'the forwarder to start', 20_000).catch((error: Error) => {
        throw new Error(`${error.message}; exit ${forward.child.exitCode}, stdout:\n${forward.stdout()}\nstderr:\n${forward.stderr()}`);
      });
      let inS3: SpecstreamEvent[] = [];
      let inNats: { subject: string; event: SpecstreamEvent }[] = [];
      const deadline = Date.now() + 20_000;
      while ((inS3.length < 12 || inNats.length < 12) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        [inS3, inNats] = await Promise.all([s3Events(), natsEvents()]);
      }
      expect(inNats.map((m) => m.event.id)).toEqual(ids);
      expect(inNats.map((m) => m.subject)).toEqual(events.map((e) => `${prefix}.${e.type}`));
      // S3 objects are listed by key (date, then type): compare as sets, and per type in log order.
      expect(inS3.map((e) => e.id).sort()).toEqual([...ids].sort());
      for (const type of ['grant.created', 'security.alert']) {
        expect(inS3.filter((e) => e.type === type).map((e) => e.id)).toEqual(ids.filter((_, i) => events[i]!.type === type));
      }
      const keys = (await s3.send(new ListObjectsV2Command({ Bucket: 'archive' }))).Contents!.map((o) => o.Key!);
      for (const key of keys) expect(key).toMatch(/^events\/dt=\d{4}-\d{2}-\d{2}\/type=(grant\.created|security\.alert)\/evt_[0-9A-Z]{26}-evt_[0-9A-Z]{26}\.ndjson\.gz$/);
    } finally {
      forward.child.kill('SIGTERM');
    }
    const result = await forward.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/stopped: 24 event\(s\) acknowledged/);
  });
});
