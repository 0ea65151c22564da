import type { Handler } from '../app.js';
import { envelopeObject } from '../bundle/envelope.js';
import type { JsonObject } from '../bundle/yaml-document.js';
import { compileTypeGlob } from '../catalog/type-glob.js';
import { errors } from '../errors.js';
import { requireEventId } from '../query/event-id-param.js';

/**
 * `GET /v1/events/{id}` (operationId getEvent): an unreadable type is reported as not found; an id
 * no server could have issued (`evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ`) is 400 INVALID_EVENT_ID.
 */
export const getEvent: Handler = async (req, res, { deps, operation, principal }) => {
  if (!principal) throw errors.authRequired();
  const idParam = operation.params.find((p) => p.role === 'id')?.name ?? 'id';
  const event = await deps.store.get(requireEventId(req.params[idParam], `/params/${idParam}`, idParam));
  if (!event || !principal.canRead(event.type)) throw errors.eventNotFound();
  const { bundle } = deps.served;
  const inScope = deps.served.catalog.has(event.type) && (operation.types === undefined || operation.types.some((glob) => compileTypeGlob(glob)(event.type)));
  if (!inScope) throw errors.eventNotFound();
  res.json(bundle.native ? event : envelopeObject(bundle.envelope, event as unknown as JsonObject));
};
