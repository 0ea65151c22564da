import { join } from 'node:path';
import type { Handler } from '../app.js';
import { bundleDocsDir, renderBundleCatalog } from '../docs/bundle-pages.js';
import { redocPage } from '../docs/build.js';
import { renderPage, type DocPage } from '../docs/pages.js';
import { errors } from '../errors.js';

const rendered = new Map<string, string>();

/**
 * `GET /docs/{page}` (operationId getDocsPage): the catalog and query-rules pages are rendered
 * from the generated catalog at first request; the Redoc pages come from the built portal
 * (`npm run docs`), built on first request if missing.
 */
export const getDocsPage: Handler = async (req, res, { deps, operation }) => {
  const param = operation.params.find((p) => p.in === 'path')?.name ?? 'page';
  const page = String(req.params[param]) as DocPage;
  const served = deps.served;
  if (!served.bundle.native) {
    if (page === 'catalog.html') {
      res.type('text/html; charset=utf-8').send(renderBundleCatalog(served));
      return;
    }
    if (page !== 'api.html' && page !== 'stream.html') throw errors.notFound('No such docs page');
    const file = await redocPage(page, bundleDocsDir(served), join(served.bundle.dir, page === 'api.html' ? 'openapi.yaml' : 'asyncapi.yaml'));
    res.type('text/html; charset=utf-8');
    await new Promise<void>((resolve, reject) => res.sendFile(file, (error) => (error ? reject(error) : resolve())));
    return;
  }
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
