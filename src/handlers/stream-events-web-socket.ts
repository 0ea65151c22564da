import type { Handler } from '../app.js';
import { errors } from '../errors.js';

/**
 * `GET /v1/events/ws` (operationId streamEventsWebSocket) without an `Upgrade` header: a 426.
 * Upgrades never reach express; the hub's WebSocket server takes them (see StreamHub.attachWebSocket).
 */
export const streamEventsWebSocket: Handler = () => {
  throw errors.upgradeRequired();
};
