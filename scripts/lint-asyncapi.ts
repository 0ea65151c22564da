/**
 * Lints specs/asyncapi.yaml with @asyncapi/parser (its Spectral rulesets): prints every
 * diagnostic and exits 1 when one is an error. Warnings, infos and hints are printed but pass.
 *
 *   tsx scripts/lint-asyncapi.ts [FILE]
 */
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic, parseAsyncApi } from './lib/asyncapi.js';

const DEFAULT_FILE = fileURLToPath(new URL('../specs/asyncapi.yaml', import.meta.url));

async function main(): Promise<number> {
  const file = resolve(process.argv[2] ?? DEFAULT_FILE);
  const shown = relative(process.cwd(), file) || file;
  const { document, diagnostics } = await parseAsyncApi(file);
  const sorted = [...diagnostics].sort(
    (a, b) => a.severity - b.severity || a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character,
  );
  for (const diagnostic of sorted) console.log(formatDiagnostic(shown, diagnostic));
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0).length;
  const warnings = diagnostics.filter((diagnostic) => diagnostic.severity === 1).length;
  if (errors > 0 || !document) {
    console.error(`${shown}: ${errors} error(s), ${warnings} warning(s).`);
    return 1;
  }
  console.log(`${shown}: valid AsyncAPI ${document.version()} (${warnings} warning(s), ${diagnostics.length - warnings} other note(s)).`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack ?? error.message : error);
    process.exit(1);
  },
);
