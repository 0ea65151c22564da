#!/usr/bin/env node
// The `specstream` command: runs the compiled CLI (dist/, built by `npm run build`, which `npm install`
// in a clone and `npm pack` run through `prepare`). Plain node, no TypeScript toolchain at run time.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
