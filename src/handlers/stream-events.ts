import type { Handler } from '../app.js';
import { errors } from '../errors.js';
import { resolveStreamQuery } from '../bundle/stream-query.js';

/**
 * `GET /v1/events/stream` (operationId streamEvents): validates like the backfill, then hands over
 * to the hub. Not an async function, so that an open stream keeps no suspended frame of it; it
 * throws (synchronously) the query's 400/403, and returns the hub's promise of the stream's end.
 */
export const streamEvents: Handler = (req, res, { deps, operation, principal }) => {
  if (!principal) throw errors.authRequired();
  const query = resolveStreamQuery(deps.served, operation, req, principal);
  return deps.hub.serveSse(req, res, query, principal);
};
