import type { Handler } from '../app.js';
import { renderConsole } from '../console/page.js';

const page = renderConsole();

/** `GET /console` (operationId getConsole): the live console page; it asks for the token itself. */
export const getConsole: Handler = (_req, res) => {
  res.type('text/html; charset=utf-8').send(page);
};
