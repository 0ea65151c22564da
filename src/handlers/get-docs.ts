import type { Handler } from '../app.js';
import { renderBundleIndex } from '../docs/bundle-pages.js';
import { renderIndex } from '../docs/pages.js';

let nativeIndex: string | undefined;

/** `GET /docs` (role `docs`): the docs portal's index page, for the served bundle. */
export const getDocs: Handler = (_req, res, { deps }) => {
  const html = deps.served.bundle.native ? (nativeIndex ??= renderIndex()) : renderBundleIndex(deps.served);
  res.type('text/html; charset=utf-8').send(html);
};
