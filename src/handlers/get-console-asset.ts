import type { Handler } from '../app.js';
import { CONSOLE_ASSETS } from '../console/bundle.js';
import { errors } from '../errors.js';

/** `GET /console/{asset}` (operationId getConsoleAsset): `sdk.js` (the SDK as an ES module) or `console.js`. */
export const getConsoleAsset: Handler = async (req, res) => {
  const asset = String(req.params.asset);
  const bundle = Object.hasOwn(CONSOLE_ASSETS, asset) ? CONSOLE_ASSETS[asset as keyof typeof CONSOLE_ASSETS] : undefined;
  if (!bundle) throw errors.notFound('No such console asset');
  res.type('text/javascript; charset=utf-8').set('Cache-Control', 'no-cache').send(await bundle());
};
