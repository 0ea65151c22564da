import type { Handler } from '../app.js';
import { errors } from '../errors.js';
import { resolveHistoryQuery } from '../query/resolve-history-query.js';

/** `HEAD /v1/events/stream` (operationId checkStreamAccess): 200/400/401/403 without opening a stream. */
export const checkStreamAccess: Handler = (req, res, { principal }) => {
  if (!principal) throw errors.authRequired();
  resolveHistoryQuery(req.query, principal, req.header('Last-Event-ID'));
  res.status(200).end();
};
