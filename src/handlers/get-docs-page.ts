import type { Handler } from '../app.js';
import { renderBundleCatalog } from '../docs/bundle-pages.js';
import { bundleRedocPage, readRedocPage, redocPage } from '../docs/build.js';
import { renderPage, type DocPage } from '../docs/pages.js';
import { errors } from '../errors.js';

const rendered = new Map<string, string>();

/**
 * `GET /docs/{page}` (operationId getDocsPage): the catalog and query-rules pages are rendered
 * from the generated catalog at first request; the Redoc pages come from the built portal
 * (`npm run docs`), built on first request if missing. A non-native bundle's Redoc pages are built
 * on first request where Redocly is installed, else answered 404 NOT_FOUND saying so (never a 500).
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
    const file = await bundleRedocPage(page, served.bundle.dir);
    if (file === undefined) {
      throw errors.notFound(`The docs page ${page} of this bundle is not built, and Redocly (a devDependency) is not installed here: request it once where it is (a clone after npm install) and copy the bundle's generated/docs/ folder along with it`);
    }
    res.type('text/html; charset=utf-8').send(await readRedocPage(file));
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
  res.type('text/html; charset=utf-8').send(await readRedocPage(file));
};
