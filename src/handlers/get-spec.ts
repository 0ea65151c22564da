import { readFileSync } from 'node:fs';
import type { Handler } from '../app.js';
import { errors } from '../errors.js';
import { SPECS_DIR } from '../http/openapi-document.js';

const files = new Map(
  ['openapi.yaml', 'asyncapi.yaml'].map((name) => [name, readFileSync(`${SPECS_DIR}${name}`, 'utf8')] as const),
);

/** `GET /specs/{file}` (operationId getSpec): the documents this server is generated from. */
export const getSpec: Handler = (req, res) => {
  const text = files.get(String(req.params.file));
  if (text === undefined) throw errors.notFound('No such specification document');
  res.type('application/yaml').send(text);
};
