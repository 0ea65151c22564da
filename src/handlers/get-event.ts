import type { Handler } from '../app.js';
import { errors } from '../errors.js';

/** `GET /v1/events/{id}` (operationId getEvent): an unreadable type is reported as not found. */
export const getEvent: Handler = async (req, res, { deps, principal }) => {
  if (!principal) throw errors.authRequired();
  const event = await deps.store.get(String(req.params.id));
  if (!event || !principal.canRead(event.type)) throw errors.eventNotFound();
  res.json(event);
};
