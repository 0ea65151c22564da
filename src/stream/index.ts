import type { ServedBundle } from '../bundle/served-bundle.js';
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
  /** The bundle served: its SSE and WebSocket encoders write every frame. */
  served: ServedBundle;
}

/**
 * Creates the process's stream hub: one tail of `store`, an in-memory ring of recent events
 * (`ring_size`), SSE and WebSocket writers sharing encoded bytes. See hub.ts for how it works.
 */
export function createStreamHub(deps: StreamHubDeps): StreamHub {
  const hub = new Hub(deps);
  const ws = deps.served.encoders.ws ? new WsStreams(hub, deps.config, deps.logger, deps.served) : undefined;
  let closing: Promise<void> | undefined;
  return {
    start: () => hub.start(),
    serveSse: (req, res, query, principal) => {
      const encoder = deps.served.encoders.sse;
      if (!encoder) throw new TypeError('the served bundle has no SSE stream');
      return serveSse(hub, deps.config, encoder, req, res, query, principal);
    },
    attachWebSocket: (server, path, authorize) => {
      if (!ws) throw new TypeError('the served bundle has no WebSocket stream');
      ws.attach(server, path, authorize);
    },
    get subscriberCount() {
      return hub.subscriberCount;
    },
    applyRetention: () => hub.applyRetention(),
    principals: () => hub.principals(),
    endStreams: (select, code, message) => hub.endStreams(select, code, message),
    snapshot: () => hub.snapshot(),
    close: () =>
      (closing ??= (async () => {
        await hub.close();
        await ws?.close();
      })()),
  };
}
