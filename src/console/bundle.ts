/**
 * The console's two scripts, `GET /console/{asset}`:
 * - `sdk.js`: the client SDK as one minified browser ES module (anyone may
 *   `import { connect } from '/console/sdk.js'`; `ws` is left out, browsers have their own WebSocket);
 * - `console.js`: app.ts with its SDK import pointed at `./sdk.js`.
 *
 * The compiled package serves them from `dist/console/assets/`, written by `npm run build`
 * (scripts/build.ts) at install/pack time, so a production install needs no bundler. Run from the
 * TypeScript sources (tests, `tsx`), where no `assets/` folder sits next to this module, they are
 * built in memory with esbuild (a devDependency) once per process, so they always match the source.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The asset names `GET /console/{asset}` serves. */
export const CONSOLE_ASSET_NAMES = ['sdk.js', 'console.js'] as const;
export type ConsoleAsset = (typeof CONSOLE_ASSET_NAMES)[number];

/** Where the prebuilt assets live: `assets/` next to this module (only in the compiled `dist/console/`). */
export const PREBUILT_ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/**
 * Bundles both assets from the TypeScript sources with esbuild (imported here, on demand, so the
 * server never loads it when the assets are prebuilt). Resolves with each asset's JavaScript.
 */
export async function bundleConsoleAssets(): Promise<Record<ConsoleAsset, string>> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error(`console assets are not built (${PREBUILT_ASSETS_DIR} is missing) and esbuild is not installed: run npm run build`);
  }
  const common = { bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent' } as const;
  const [sdk, app] = await Promise.all([
    esbuild.build({ ...common, entryPoints: [fileURLToPath(new URL('../client/index.ts', import.meta.url))], minify: true, external: ['ws'] }),
    esbuild.build({
      ...common,
      entryPoints: [fileURLToPath(new URL('./app.ts', import.meta.url))],
      plugins: [
        {
          name: 'sdk-external',
          setup(b) {
            b.onResolve({ filter: /\/client\/index\.js$/ }, () => ({ path: './sdk.js', external: true }));
          },
        },
      ],
    }),
  ]);
  return { 'sdk.js': sdk.outputFiles[0]!.text, 'console.js': app.outputFiles[0]!.text };
}

let assets: Promise<Record<ConsoleAsset, string>> | undefined;

async function loadAssets(): Promise<Record<ConsoleAsset, string>> {
  try {
    const [sdk, app] = await Promise.all(CONSOLE_ASSET_NAMES.map((name) => readFile(`${PREBUILT_ASSETS_DIR}${name}`, 'utf8')));
    return { 'sdk.js': sdk!, 'console.js': app! };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return bundleConsoleAssets();
  }
}

/** One console asset's JavaScript: read once (prebuilt) or built once (sources), then kept in memory (~60 KB). */
export async function consoleAsset(name: ConsoleAsset): Promise<string> {
  assets ??= loadAssets().catch((error: unknown) => {
    assets = undefined; // a failed build is retried by the next request
    throw error;
  });
  return (await assets)[name];
}

/** The scripts `GET /console/{asset}` serves, each a function resolving with its JavaScript. */
export const CONSOLE_ASSETS: Record<ConsoleAsset, () => Promise<string>> = {
  'sdk.js': () => consoleAsset('sdk.js'),
  'console.js': () => consoleAsset('console.js'),
};
