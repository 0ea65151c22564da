import type { Handler } from '../app.js';
import { renderIndex } from '../docs/pages.js';

const index = renderIndex();

/** `GET /docs` (operationId getDocs): the docs portal's index page. */
export const getDocs: Handler = (_req, res) => {
  res.type('text/html; charset=utf-8').send(index);
};
