/** `npm run docs`: builds the docs portal into docs-site/ (or the directory given as the first argument). */
import { buildDocs, docsDir } from '../src/docs/build.js';

const files = await buildDocs(process.argv[2] ?? docsDir());
for (const file of files) process.stdout.write(`wrote ${file}\n`);
