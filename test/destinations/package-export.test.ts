/** `specstream/destinations` resolves through package.json `exports` to the esbuild output, in plain Node. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildNodeDestinations } from '../../scripts/build-destinations.js';
import { ROOT } from '../codegen/typecheck.js';

describe('package export specstream/destinations', () => {
  it('imports in plain Node 20 (no tsx) after npm run build:destinations, without loading the cloud SDKs', async () => {
    await buildNodeDestinations();
    const script = [
      "const m = await import('specstream/destinations');",
      "const names = ['Forwarder', 'FileCheckpoint', 'FileDestination', 'WebhookDestination', 'S3Destination', 'BigQueryDestination', 'KafkaDestination', 'NatsDestination', 'loadForwardConfig', 'registerForwarderMetrics'];",
      'console.log(names.map((n) => `${n}:${typeof m[n]}`).join(","));',
      // A destination's client library is imported by that destination, on first use, not by the package.
      "const { createRequire } = await import('node:module');",
      "const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => /@aws-sdk|@google-cloud|kafkajs/.test(p));",
      'console.log(`loaded:${loaded.length}`);',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual([
      'Forwarder:function,FileCheckpoint:function,FileDestination:function,WebhookDestination:function,S3Destination:function,BigQueryDestination:function,KafkaDestination:function,NatsDestination:function,loadForwardConfig:function,registerForwarderMetrics:function',
      'loaded:0',
    ]);
  });
});
