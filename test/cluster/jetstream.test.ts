import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe } from 'vitest';
import { checkNats, NATS_URL, uniqueName } from '../helpers/services.js';
import { describeCluster } from './cluster.suite.js';

const service = await checkNats();

describe.skipIf(service.skip)(`NATS JetStream cluster${service.skip ? ` (skipped: ${service.reason})` : ''}`, () => {
  describeCluster('two Specstream nodes over one JetStream stream', async () => {
    const stream = uniqueName('SS_CLUSTER');
    const server = NATS_URL.replace(/^nats:\/\//, '').split(',')[0]!;
    const [host, port] = server.split(':');
    return {
      url: `${NATS_URL}?stream=${stream}`,
      urlVia: (proxyPort) => `nats://127.0.0.1:${proxyPort}?stream=${stream}`,
      host: host!,
      port: Number(port || 4222),
      cleanup: async () => {
        const nc = await connect({ servers: server });
        try {
          await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
        } finally {
          await nc.close();
        }
      },
    };
  });
});
