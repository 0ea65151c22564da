/**
 * Emits src/generated/openapi.ts with openapi-typescript (`paths`, `components`, `operations`).
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { generatedHeader } from './header.js';

/** openapi-typescript prints 4-space indentation; the repo uses 2. Only leading spaces change. */
function reindent(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const leading = /^ */.exec(line)![0].length;
      return ' '.repeat(Math.floor(leading / 4) * 2 + (leading % 4)) + line.slice(leading);
    })
    .join('\n');
}

export async function emitOpenApiTypes(file: string): Promise<string> {
  const ast = await openapiTS(pathToFileURL(resolve(file)), { silent: true });
  const body = reindent(astToString(ast)).trimEnd();
  return `${generatedHeader('specs/openapi.yaml')}${body}\n`;
}
