import type { Handler } from '../app.js';
import { errors } from '../errors.js';
import { resolveStreamQuery } from '../bundle/stream-query.js';

/** `HEAD /v1/events/stream` (operationId checkStreamAccess): 200/400/401/403 without opening a stream. */
export const checkStreamAccess: Handler = (req, res, { deps, operation, principal }) => {
  if (!principal) throw errors.authRequired();
  resolveStreamQuery(deps.served, operation, req, principal);
  res.status(200).end();
};
