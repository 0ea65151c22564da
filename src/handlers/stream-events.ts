import type { Handler } from '../app.js';
import { errors } from '../errors.js';
import { resolveStreamQuery } from '../bundle/stream-query.js';

/** `GET /v1/events/stream` (operationId streamEvents): validates like the backfill, then hands over to the hub. */
export const streamEvents: Handler = async (req, res, { deps, operation, principal }) => {
  if (!principal) throw errors.authRequired();
  const query = resolveStreamQuery(deps.served, operation, req, principal);
  await deps.hub.serveSse(req, res, query, principal);
};
