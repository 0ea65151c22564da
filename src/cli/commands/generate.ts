import { parse } from '../common.js';

/** The part of scripts/generate.ts this command runs. */
interface Codegen {
  runGenerate(
    options: { specs?: string | undefined },
    write: { out(text: string): void; err(text: string): void },
  ): Promise<number>;
}

/**
 * Loads scripts/generate.ts. Codegen is development tooling: it reads the specs with
 * `@asyncapi/parser` and is written in TypeScript, both devDependencies of a clone (the server
 * itself runs the generated JavaScript and needs neither). From the compiled CLI (dist/) it
 * registers tsx first. The specifier is a variable so that tsc does not compile scripts/ into dist/.
 */
async function loadCodegen(): Promise<Codegen> {
  const script = new URL('../../../scripts/generate.ts', import.meta.url).href;
  try {
    if (!import.meta.url.endsWith('.ts')) {
      const loader = 'tsx/esm/api';
      const { register } = (await import(loader)) as { register(): unknown };
      register();
    }
    return (await import(script)) as Codegen;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND') throw error;
    const detail = (error as Error).message.split('\n')[0];
    throw new Error(
      `generate runs in a clone of the repository after npm install (it needs scripts/ and the devDependencies tsx and @asyncapi/parser): ${detail}`,
    );
  }
}

/**
 * `specstream generate [--specs DIR]`: writes a spec bundle's generated code into DIR/generated/
 * (`index.js`, plain ESM importing only zod, and `index.d.ts`); with the native `specs/`, or without
 * `--specs`, what `npm run generate` does. Exit 0 when written, 1 when a bundle is refused (one line
 * per problem: `FILE#POINTER: what is wrong; expected ...`), 2 on bad usage.
 */
export const generateCommand = {
  summary: "Generate a spec bundle's types and validators into DIR/generated/ (no --specs: src/generated/ and examples/).",
  usage: 'specstream generate [--specs DIR]',
  help: [
    'Options:',
    '  --specs DIR          a bundle folder (openapi.yaml, asyncapi.yaml): writes DIR/generated/index.js and index.d.ts;',
    '                       specs/ (the native bundle) writes src/generated/',
    '',
    'Without --specs: src/generated/ and every bundle of examples/ and test/fixtures/bundles/ (npm run generate).',
    'A bad bundle is refused with one line per problem (file#JSON-pointer: what is expected) and nothing is written.',
    'Commit the generated files; `npm run check:generated` fails when they are stale. Needs a clone of the repository.',
    'Exit 0 when written, 1 when a bundle is refused, 2 on bad usage.',
  ],
  async run(args: string[]): Promise<number> {
    const values = parse(args, { specs: { type: 'string' } });
    const codegen = await loadCodegen();
    return codegen.runGenerate(
      { specs: values.specs },
      { out: (text) => process.stdout.write(`${text}\n`), err: (text) => process.stderr.write(`${text}\n`) },
    );
  },
};
