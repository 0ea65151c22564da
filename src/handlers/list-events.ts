import type { Handler } from '../app.js';
import { envelopeObject } from '../bundle/envelope.js';
import type { JsonObject } from '../bundle/yaml-document.js';
import { errors } from '../errors.js';
import { resolveStreamQuery } from '../bundle/stream-query.js';
import { decodeCursor, encodeCursor } from '../query/cursor.js';

/**
 * `GET /v1/events` (operationId listEvents): ascending, cursor-paginated backfill. Only readable
 * types are read at all, so neither `data` nor `has_more` reveals other types.
 */
export const listEvents: Handler = async (req, res, { deps, operation, principal }) => {
  if (!principal) throw errors.authRequired();
  const query = resolveStreamQuery(deps.served, operation, req, principal);
  const limitParam = operation.params.find((p) => p.role === 'limit')?.name ?? 'limit';
  const cursorParam = operation.params.find((p) => p.role === 'cursor')?.name ?? 'cursor';
  const rawLimit = req.query[limitParam];
  const limit = typeof rawLimit === 'number' ? rawLimit : Number(rawLimit ?? 100);
  const rawCursor = req.query[cursorParam];
  const cursor = typeof rawCursor === 'string' ? decodeCursor(rawCursor) : undefined;

  let afterId = query.afterId;
  if (cursor !== undefined && (afterId === undefined || cursor > afterId)) afterId = cursor;

  const rows = await deps.store.read({
    ...(afterId !== undefined ? { afterId } : {}),
    ...(query.since && cursor === undefined ? { since: query.since } : {}),
    ...(query.untilId !== undefined ? { untilId: query.untilId } : {}),
    ...(query.until !== undefined ? { until: query.until } : {}),
    ...(query.allTypes ? {} : { types: query.types }),
    limit: limit + 1,
  });
  const hasMore = rows.length > limit;
  const data = hasMore ? rows.slice(0, limit) : rows;
  const last = data[data.length - 1];
  const { bundle } = deps.served;
  res.json({
    data: bundle.native ? data : data.map((event) => envelopeObject(bundle.envelope, event as unknown as JsonObject)),
    next_cursor: last ? encodeCursor(last.id) : typeof rawCursor === 'string' ? rawCursor : null,
    has_more: hasMore,
  });
};
