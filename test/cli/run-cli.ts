/** Runs the CLI as its own process (as `npx specstream` does) and collects its output and exit code. */
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from '../codegen/typecheck.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI process still running, for commands that follow a stream. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout satisfies `condition`; rejects after `timeoutMs`. */
  waitForStdout(condition: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  exited: Promise<CliResult>;
}

/**
 * Starts the CLI with `args`; `command` replaces the whole command line (e.g. to run it under
 * `script` for a terminal), in which case `args` is ignored.
 */
export function startCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}, command?: string[]): CliProcess {
  const [file, ...rest] = command ?? [process.execPath, '--import', 'tsx', 'src/cli/main.ts', ...args];
  const child = spawn(file!, rest, {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', SPECSTREAM_URL: '', SPECSTREAM_TOKEN: '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const listener of listeners) listener();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  const exited = new Promise<CliResult>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForStdout(condition, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!condition(stdout)) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve(stdout);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for CLI output; stdout:\n${stdout}\nstderr:\n${stderr}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => {
          if (listeners.has(check)) {
            clearTimeout(timer);
            listeners.delete(check);
            condition(stdout) ? resolve(stdout) : reject(new Error(`CLI exited; stdout:\n${stdout}\nstderr:\n${stderr}`));
          }
        });
        check();
      });
    },
  };
}

/** Runs the CLI to completion. */
export function runCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return startCli(args, options).exited;
}
