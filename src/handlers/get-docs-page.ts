import type { Handler } from '../app.js';
import { redocPage } from '../docs/build.js';
import { renderPage, type DocPage } from '../docs/pages.js';
import { errors } from '../errors.js';

const rendered = new Map<string, string>();

/**
 * `GET /docs/{page}` (operationId getDocsPage): the catalog and query-rules pages are rendered
 * from the generated catalog at first request; the Redoc pages come from the built portal
 * (`npm run docs`), built on first request if missing.
 */
export const getDocsPage: Handler = async (req, res) => {
  const page = String(req.params.page) as DocPage;
  if (page === 'catalog.html' || page === 'query-rules.html') {
    let html = rendered.get(page);
    if (html === undefined) rendered.set(page, (html = renderPage(page)));
    res.type('text/html; charset=utf-8').send(html);
    return;
  }
  if (page !== 'api.html' && page !== 'stream.html') throw errors.notFound('No such docs page');
  const file = await redocPage(page);
  res.type('text/html; charset=utf-8');
  await new Promise<void>((resolve, reject) => res.sendFile(file, (error) => (error ? reject(error) : resolve())));
};
