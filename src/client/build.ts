/**
 * Builds the SDK as JavaScript with esbuild (a pinned devDependency):
 * - `dist/client/index.js`: ESM for Node 20 (what `specstream/client` exports; `eventsource-parser`
 *   and `ws` stay imports);
 * - `browserBundle()`: one self-contained ES module for browsers, made in memory (the console
 *   serves it from `GET /console/sdk.js`, built once at start-up), `ws` left out since browsers have
 *   their own WebSocket.
 *
 * Run `npm run build:client` (tsx src/client/build.ts) before publishing the package.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = fileURLToPath(new URL('./index.ts', import.meta.url));

/** Writes the Node build to `outDir` (default `dist/client`); resolves with the written file. */
export async function buildNodeClient(outDir = `${ROOT}dist/client`): Promise<string> {
  await build({
    entryPoints: [ENTRY],
    outfile: `${outDir}/index.js`,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['eventsource-parser', 'ws'],
    logLevel: 'silent',
  });
  return `${outDir}/index.js`;
}

let browser: Promise<string> | undefined;

/** The SDK as one browser ES module (minified), built once per process and cached. */
export function browserBundle(): Promise<string> {
  browser ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    external: ['ws'],
    logLevel: 'silent',
  }).then((result) => result.outputFiles[0]!.text);
  return browser;
}

if ((process.argv[1] ?? '').endsWith('client/build.ts')) {
  process.stdout.write(`wrote ${await buildNodeClient()}\n`);
}
