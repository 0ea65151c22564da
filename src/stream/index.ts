import type { Config } from '../config/load-config.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/store.js';
import { Hub } from './hub.js';
import { serveSse } from './sse-writer.js';
import type { StreamHub } from './stream-hub.js';
import { WsStreams } from './ws-server.js';

export type { StreamHub } from './stream-hub.js';

/** What the hub is built from. */
export interface StreamHubDeps {
  store: Store;
  config: Config;
  metrics: Metrics;
  logger: Logger;
}

/**
 * Creates the process's stream hub: one tail of `store`, an in-memory ring of recent events
 * (`ring_size`), SSE and WebSocket writers sharing encoded bytes. See hub.ts for how it works.
 */
export function createStreamHub(deps: StreamHubDeps): StreamHub {
  const hub = new Hub(deps);
  const ws = new WsStreams(hub, deps.config, deps.logger);
  let closing: Promise<void> | undefined;
  return {
    start: () => hub.start(),
    serveSse: (req, res, query, principal) => serveSse(hub, deps.config, req, res, query, principal),
    attachWebSocket: (server, path, authorize) => ws.attach(server, path, authorize),
    get subscriberCount() {
      return hub.subscriberCount;
    },
    applyRetention: () => hub.applyRetention(),
    snapshot: () => hub.snapshot(),
    close: () =>
      (closing ??= (async () => {
        await hub.close();
        await ws.close();
      })()),
  };
}
