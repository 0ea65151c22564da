#!/usr/bin/env node
// The `specstream` command: runs the compiled CLI (dist/, built by `npm run build`, which `npm install`
// in a clone and `npm pack` run through `prepare`). Plain node, no TypeScript toolchain at run time.
import { deferOptimizers } from '../dist/cli/defer-optimizers.js';

// `serve` holds V8's compilers back from here until it listens, module loading included
// (src/cli/defer-optimizers.ts); so the CLI is imported after this line, not hoisted above it.
if (process.argv[2] === 'serve') deferOptimizers();
const { main } = await import('../dist/cli/main.js');

process.exitCode = await main(process.argv.slice(2));
