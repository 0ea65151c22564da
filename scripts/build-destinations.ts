/**
 * Builds `specstream/destinations` as JavaScript with esbuild: `dist/destinations/index.js`, ESM for
 * Node 20. Every npm package stays an import (the AWS, BigQuery, Kafka and NATS clients are loaded
 * only by the destination that uses them). Run by `npm run build:destinations` and on `prepack`.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Writes the build to `outDir` (default `dist/destinations`); resolves with the written file. */
export async function buildNodeDestinations(outDir = `${ROOT}dist/destinations`): Promise<string> {
  await build({
    entryPoints: [`${ROOT}src/destinations/index.ts`],
    outfile: `${outDir}/index.js`,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  });
  return `${outDir}/index.js`;
}

if ((process.argv[1] ?? '').endsWith('build-destinations.ts')) {
  process.stdout.write(`wrote ${await buildNodeDestinations()}\n`);
}
