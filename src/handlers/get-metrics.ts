import type { Handler } from '../app.js';
import type { Principal } from '../auth/principal.js';
import { errors } from '../errors.js';
import { EVENT_TYPES } from '../generated/catalog.js';

/** The scope that lets a key read `GET /metrics` (as `admin` does). */
export const METRICS_SCOPE = 'metrics:read';

/**
 * `GET /metrics` (operationId getMetrics): Prometheus text exposition, for a key with
 * `metrics:read` or `admin`, presented like any other credential (Bearer, Basic or `?token=`).
 * The metrics count events and streams of every type (`specstream_events_published_total` has a
 * `type` label), so a key limited to some event types (`events:read:<glob>`, `events:write:<glob>`)
 * is refused even with `metrics:read`: it would learn about types it may not
 * read. Without credentials the anonymous scopes apply (`allow_anonymous` with `metrics:read` in
 * `anonymous_scopes` makes the metrics public, explicitly).
 * @throws AUTH_REQUIRED (401) without valid credentials; FORBIDDEN (403) without the scope, or for
 *   a key limited by type
 */
export const getMetrics: Handler = async (req, res, { deps }) => {
  const token = typeof req.query.token === 'string' ? req.query.token : undefined;
  const principal = await deps.auth.authenticate({ authorization: req.headers.authorization, token });
  if (!mayReadMetrics(principal)) {
    throw errors.forbidden(
      principal.scopes.includes(METRICS_SCOPE)
        ? 'Metrics count events of every type: a key limited to some event types may not read them'
        : `Metrics need a key with the ${METRICS_SCOPE} scope`,
    );
  }
  const text = await deps.metrics.registry.metrics();
  res.type(deps.metrics.registry.contentType).send(text);
};

/** `admin`, or `metrics:read` on a key whose event scopes (if any) cover every type. */
function mayReadMetrics(principal: Principal): boolean {
  if (principal.isAdmin) return true;
  if (!principal.scopes.includes(METRICS_SCOPE)) return false;
  const limitedReads = principal.readsAnything && !EVENT_TYPES.every((type) => principal.canRead(type));
  const limitedWrites = principal.writesAnything && !EVENT_TYPES.every((type) => principal.canWrite(type));
  return !limitedReads && !limitedWrites;
}
