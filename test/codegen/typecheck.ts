/**
 * Type-checks fixture files with the TypeScript compiler API and the repo's tsconfig options,
 * optionally replacing a file's text in memory (so a test can compile a variant of a fixture
 * without writing it into the tree).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One compiler error, positioned in its file. */
export interface CompileError {
  file: string;
  /** 1-based. */
  line: number;
  code: number;
  message: string;
}

function compilerOptions(): ts.CompilerOptions {
  const configPath = resolve(ROOT, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile.bind(ts.sys));
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  return { ...parsed.options, noEmit: true };
}

/**
 * Compiles `files` (absolute paths) as a program of their own and returns every error, in any
 * file. `overrides` maps absolute paths to replacement text.
 */
export function typecheck(files: string[], overrides: ReadonlyMap<string, string> = new Map()): CompileError[] {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options, true);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => overrides.get(resolve(name)) ?? readFile(name);
  host.fileExists = (name) => overrides.has(resolve(name)) || fileExists(name);
  host.getSourceFile = (name, languageVersion, onError, shouldCreate) => {
    const text = overrides.get(resolve(name));
    if (text !== undefined) return ts.createSourceFile(name, text, languageVersion, true);
    return getSourceFile(name, languageVersion, onError, shouldCreate);
  };
  const program = ts.createProgram({ rootNames: files, options, host });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const position =
      diagnostic.file && diagnostic.start !== undefined
        ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
        : { line: -1, character: 0 };
    return {
      file: diagnostic.file ? resolve(diagnostic.file.fileName) : '',
      line: position.line + 1,
      code: diagnostic.code,
      message: ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
    };
  });
}
