import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

/** The directory holding `openapi.yaml` and `asyncapi.yaml`. */
export const SPECS_DIR = fileURLToPath(new URL('../../specs/', import.meta.url));

/** What an operation needs of the caller, from `x-specstream-permission`. */
export type Permission = 'public' | 'read' | 'write' | 'admin';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
export type HttpMethod = (typeof METHODS)[number];

/** One operation of the OpenAPI document, as routing and auth need it. */
export interface RouteOperation {
  operationId: string;
  method: HttpMethod;
  /** The OpenAPI path template, e.g. `/v1/events/{id}`. */
  path: string;
  /** The same path in express syntax, e.g. `/v1/events/:id`. */
  expressPath: string;
  permission: Permission;
  /** `sse` or `ws` for streaming operations (`x-specstream-operation` stream-sse or stream-ws). */
  transport?: 'sse' | 'ws';
}

// The parsed document is plain JSON-compatible data; its shape is checked by the linter and codegen.
type OpenApiDocument = {
  paths: Record<string, Record<string, { operationId?: string; [key: string]: unknown }>>;
  [key: string]: unknown;
};

let cached: OpenApiDocument | undefined;

/** The parsed `specs/openapi.yaml` (read once per process). Callers must not mutate it. */
export function loadOpenApiDocument(): OpenApiDocument {
  cached ??= parseYaml(readFileSync(`${SPECS_DIR}openapi.yaml`, 'utf8')) as OpenApiDocument;
  return cached;
}

/**
 * Every operation of the document. Literal paths come before templated ones, so that
 * `/v1/events/stream` is routed before `/v1/events/{id}`.
 */
export function listOperations(document: OpenApiDocument = loadOpenApiDocument()): RouteOperation[] {
  const operations: RouteOperation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Record<string, unknown> | undefined;
      if (!operation) continue;
      const operationId = operation.operationId;
      if (typeof operationId !== 'string') throw new TypeError(`${method.toUpperCase()} ${path} has no operationId`);
      const permission = (operation['x-specstream-permission'] ?? 'read') as Permission;
      const role = operation['x-specstream-operation'];
      const transport = role === 'stream-sse' ? 'sse' : role === 'stream-ws' ? 'ws' : undefined;
      operations.push({
        operationId,
        method,
        path,
        expressPath: path.replace(/\{([^}]+)\}/g, ':$1'),
        permission,
        ...(transport ? { transport } : {}),
      });
    }
  }
  const params = (op: RouteOperation) => (op.path.match(/\{/g) ?? []).length;
  // Express also routes HEAD to a GET route, so an explicit HEAD operation must come first.
  const headFirst = (op: RouteOperation) => (op.method === 'head' ? 0 : 1);
  return operations.sort((a, b) => params(a) - params(b) || headFirst(a) - headFirst(b));
}
