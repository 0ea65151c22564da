import type { Handler } from '../app.js';
import { errors } from '../errors.js';
import { resolveHistoryQuery } from '../query/resolve-history-query.js';

/** `GET /v1/events/stream` (operationId streamEvents): validates like the backfill, then hands over to the hub. */
export const streamEvents: Handler = async (req, res, { deps, principal }) => {
  if (!principal) throw errors.authRequired();
  const query = resolveHistoryQuery(req.query, principal, req.header('Last-Event-ID'));
  await deps.hub.serveSse(req, res, query, principal);
};
