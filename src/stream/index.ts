import type { Config } from '../config/load-config.js';
import { errors } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/store.js';
import type { StreamHub } from './stream-hub.js';

export type { StreamHub } from './stream-hub.js';

/** What the hub is built from. */
export interface StreamHubDeps {
  store: Store;
  config: Config;
  metrics: Metrics;
  logger: Logger;
}

/** Creates the process's stream hub. (Placeholder until the live-streams work lands: streams answer 503.) */
export function createStreamHub(_deps: StreamHubDeps): StreamHub {
  return {
    start: async () => {},
    serveSse: async () => {
      throw errors.shuttingDown('Streaming is not available in this build');
    },
    attachWebSocket: () => {},
    subscriberCount: 0,
    close: async () => {},
  };
}
