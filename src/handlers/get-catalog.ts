import type { Handler } from '../app.js';
import type { ScopeNames } from '../bundle/bundle.js';
import type { ServedBundle } from '../bundle/served-bundle.js';

const bodies = new WeakMap<ServedBundle, unknown>();

/** The catalog body of a bundle, built once. */
function catalogBody(served: ServedBundle): unknown {
  let body = bodies.get(served);
  if (body === undefined) {
    const { catalog, bundle } = served;
    body = {
      data: catalog.types.map((type) => {
        const entry = catalog.entries[type]!;
        return {
          type,
          summary: entry.summary,
          ...(entry.description ? { description: entry.description } : {}),
          schema: entry.schema,
          example: entry.example,
          read_scopes: [...new Set(['admin', bundle.scopes.admin, bundle.scopes.read, ...readScopesFor(type, bundle.scopes)])],
        };
      }),
    };
    bodies.set(served, body);
  }
  return body;
}

/** The per-type read scopes that cover `type`: every dotted prefix glob, then the type itself. */
function readScopesFor(type: string, scopes: ScopeNames): string[] {
  const prefix = `${scopes.read}${scopes.separator}`;
  const segments = type.split('.');
  const globs = segments.slice(0, -1).map((_, i) => `${prefix}${segments.slice(0, i + 1).join('.')}.*`);
  return [...globs, `${prefix}${type}`];
}

/** `GET /v1/catalog` (role `catalog`): every event type with its schema, example and read scopes. */
export const getCatalog: Handler = (_req, res, { deps }) => {
  res.json(catalogBody(deps.served));
};
