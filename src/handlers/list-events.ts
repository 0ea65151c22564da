import type { Handler } from '../app.js';
import { errors } from '../errors.js';
import { resolveHistoryQuery } from '../query/resolve-history-query.js';
import { decodeCursor, encodeCursor } from '../query/cursor.js';

/**
 * `GET /v1/events` (operationId listEvents): ascending, cursor-paginated backfill. Only readable
 * types are read at all, so neither `data` nor `has_more` reveals other types.
 */
export const listEvents: Handler = async (req, res, { deps, principal }) => {
  if (!principal) throw errors.authRequired();
  const query = resolveHistoryQuery(req.query, principal);
  const limit = typeof req.query.limit === 'number' ? req.query.limit : Number(req.query.limit ?? 100);
  const cursor = typeof req.query.cursor === 'string' ? decodeCursor(req.query.cursor) : undefined;

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
  res.json({
    data,
    next_cursor: last ? encodeCursor(last.id) : typeof req.query.cursor === 'string' ? req.query.cursor : null,
    has_more: hasMore,
  });
};
