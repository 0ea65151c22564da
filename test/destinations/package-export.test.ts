/** `specstream/destinations` resolves through package.json `exports` to the compiled output (`npm run build`), in plain Node. */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertDistFresh, ROOT } from '../package/dist.js';

describe('package export specstream/destinations', () => {
  beforeAll(() => assertDistFresh());

  it('imports in plain Node (no tsx) from dist/, without loading the cloud SDKs', () => {
    const script = [
      "const m = await import('specstream/destinations');",
      "const names = ['Forwarder', 'FileCheckpoint', 'FileDestination', 'WebhookDestination', 'S3Destination', 'BigQueryDestination', 'KafkaDestination', 'NatsDestination', 'loadForwardConfig', 'registerForwarderMetrics', 'EventSource', 'DatadogDestination', 'SplunkDestination'];",
      'console.log(names.map((n) => `${n}:${typeof m[n]}`).join(","));',
      // A destination's client library is imported by that destination, on first use, not by the package.
      "const { createRequire } = await import('node:module');",
      "const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => /@aws-sdk|@google-cloud|kafkajs/.test(p));",
      'console.log(`loaded:${loaded.length}`);',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual([
      'Forwarder:function,FileCheckpoint:function,FileDestination:function,WebhookDestination:function,S3Destination:function,BigQueryDestination:function,KafkaDestination:function,NatsDestination:function,loadForwardConfig:function,registerForwarderMetrics:function,EventSource:function,DatadogDestination:function,SplunkDestination:function',
      'loaded:0',
    ]);
  });
});
