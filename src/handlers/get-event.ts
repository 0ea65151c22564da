import type { Handler } from '../app.js';
import { errors } from '../errors.js';
import { requireEventId } from '../query/event-id-param.js';

/**
 * `GET /v1/events/{id}` (operationId getEvent): an unreadable type is reported as not found; an id
 * no server could have issued (`evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ`) is 400 INVALID_EVENT_ID.
 */
export const getEvent: Handler = async (req, res, { deps, principal }) => {
  if (!principal) throw errors.authRequired();
  const event = await deps.store.get(requireEventId(req.params.id, '/params/id', 'id'));
  if (!event || !principal.canRead(event.type)) throw errors.eventNotFound();
  res.json(event);
};
