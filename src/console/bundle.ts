/**
 * The console's two scripts, built with esbuild once per process at first request (~100 ms) and
 * kept in memory: `sdk.js` is the client SDK as one browser ES module (anyone may
 * `import { connect } from '/console/sdk.js'`), `console.js` is app.ts with its SDK import pointed
 * at `./sdk.js`. Built at start-up rather than committed, so they always match the source.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { browserBundle } from '../client/build.js';

let app: Promise<string> | undefined;

/** console.js: the console app as an ES module importing `./sdk.js`. */
export function consoleBundle(): Promise<string> {
  app ??= build({
    entryPoints: [fileURLToPath(new URL('./app.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'silent',
    plugins: [
      {
        name: 'sdk-external',
        setup(b) {
          b.onResolve({ filter: /\/client\/index\.js$/ }, () => ({ path: './sdk.js', external: true }));
        },
      },
    ],
  }).then((result) => result.outputFiles[0]!.text);
  return app;
}

/** The scripts `GET /console/{asset}` serves. */
export const CONSOLE_ASSETS = { 'sdk.js': browserBundle, 'console.js': consoleBundle } as const;
