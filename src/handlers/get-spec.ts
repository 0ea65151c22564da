import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Handler } from '../app.js';
import { errors } from '../errors.js';

const SPEC_FILES = ['openapi.yaml', 'asyncapi.yaml'] as const;
const cache = new Map<string, string>();

/** `GET /specs/{file}` (role `spec`): the served bundle's own `openapi.yaml` or `asyncapi.yaml`, as it is on disk. */
export const getSpec: Handler = (req, res, { deps, operation }) => {
  const param = operation.params.find((p) => p.in === 'path')?.name ?? 'file';
  const name = String(req.params[param]);
  if (!(SPEC_FILES as readonly string[]).includes(name)) throw errors.notFound('No such specification document');
  const path = join(deps.served.bundle.dir, name);
  let text = cache.get(path);
  if (text === undefined) {
    text = readFileSync(path, 'utf8');
    cache.set(path, text);
  }
  res.type('application/yaml').send(text);
};
