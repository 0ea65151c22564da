import type { Handler } from '../app.js';
import { catalog, EVENT_TYPES } from '../generated/catalog.js';

const body = {
  data: EVENT_TYPES.map((type) => {
    const entry = catalog[type];
    return {
      type,
      summary: entry.summary,
      ...(entry.description ? { description: entry.description } : {}),
      schema: entry.schema,
      example: entry.example,
      read_scopes: ['admin', 'events:read', ...readScopesFor(type)],
    };
  }),
};

/** The narrower scopes that read `type`: `events:read:grant.created`, `events:read:grant.*`. */
function readScopesFor(type: string): string[] {
  const segments = type.split('.');
  const globs = segments.slice(0, -1).map((_, i) => `events:read:${segments.slice(0, i + 1).join('.')}.*`);
  return [...globs, `events:read:${type}`];
}

/** `GET /v1/catalog` (operationId getCatalog): every type with its schema, example and read scopes. */
export const getCatalog: Handler = (_req, res) => {
  res.json(body);
};
