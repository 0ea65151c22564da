/**
 * Runs the documents' own client code. Each snippet lives in test/examples/snippets/<bundle>/ as the
 * document shows it, except for the changes its header comment lists (the ones today's packages force).
 * At run time only the base URL and the credential are substituted, plus the document's placeholder
 * comments for "handle the event here" (`// Handle event`, `/* ... *\/`), which become a `report(...)` call
 * so the test can see what the handler got. Every substitution must find its text, so a snippet file that
 * drifts from the test fails loudly.
 *
 * Node snippets run in a child process (`node --import snippet-preload.mjs`, plus tsx for TypeScript) and
 * Python snippets with Debian's /usr/bin/python3 (python3-httpx, python3-websockets); every console.log /
 * print call arrives as one JSON line, read by SnippetProcess.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './bundle.js';
import { waitOn } from './server.js';

/** Replace `from` (every occurrence; at least one must exist) with `to`. */
export interface Substitution {
  from: string;
  to: string;
}

/** Debian's Python, with python3-httpx and python3-websockets (installed by .ci/run). */
export const PYTHON = '/usr/bin/python3';

/** Whether Debian's Python with both client libraries is here; CI (.ci/run) installs them, elsewhere the Python tests skip. */
export const hasPythonClients = ((): boolean => {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import httpx, websockets'], { stdio: 'ignore' }).status === 0;
})();

/** Skip Python snippets only on a developer machine without them; with CI=true a missing package fails. */
export const skipWithoutPython = !hasPythonClients && process.env.CI === undefined;

const SNIPPETS = join(ROOT, 'test', 'examples', 'snippets');
const SCRATCH = join(ROOT, '.tmp', 'example-snippets');
const PRELOAD = join(ROOT, 'test', 'examples', 'helpers', 'snippet-preload.mjs');
const WRAPPER = join(ROOT, 'test', 'examples', 'helpers', 'snippet-wrapper.py');

/** The snippet's text with the substitutions applied. */
export function snippetText(bundle: string, file: string, substitutions: readonly Substitution[]): string {
  let text = readFileSync(join(SNIPPETS, bundle, file), 'utf8');
  for (const { from, to } of substitutions) {
    if (!text.includes(from)) throw new Error(`snippets/${bundle}/${file} does not contain ${JSON.stringify(from)}`);
    text = text.split(from).join(to);
  }
  return text;
}

/** One call the snippet made: console.log / print / report, with its arguments as JSON. */
export interface SnippetCall {
  kind: string;
  args: unknown[];
}

/** A snippet running in a child process. */
export class SnippetProcess {
  readonly calls: SnippetCall[] = [];
  stderr = '';
  exitCode: number | null = null;
  exited = false;
  readonly #child: ChildProcess;
  readonly #file: string;
  readonly #listeners = new Set<() => void>();
  #stdout = '';

  /**
   * Spawns `command`. With `raw`, stdout is not read as JSON lines but handed to `raw` chunk by chunk
   * (for a shell snippet such as `curl`, whose output is the stream itself).
   */
  constructor(command: string, args: string[], file: string, env: Record<string, string>, raw?: (chunk: Buffer) => void) {
    this.#file = file;
    // A process group of its own, so stop() also ends what a shell snippet started (bash defers SIGTERM
    // while it waits for curl).
    this.#child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      if (raw) {
        raw(chunk);
        this.#notify();
        return;
      }
      this.#stdout += chunk.toString();
      let newline: number;
      while ((newline = this.#stdout.indexOf('\n')) !== -1) {
        const line = this.#stdout.slice(0, newline);
        this.#stdout = this.#stdout.slice(newline + 1);
        if (line.trim() === '') continue;
        try {
          const parsed = JSON.parse(line) as { '@snippet': string; args: unknown[] };
          this.calls.push({ kind: parsed['@snippet'], args: parsed.args });
        } catch {
          this.calls.push({ kind: 'stdout', args: [line] });
        }
      }
      this.#notify();
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.#notify();
    });
    this.#child.on('exit', (code) => {
      this.exited = true;
      this.exitCode = code;
      this.#notify();
    });
  }

  /** The calls of one kind (`log`, `print`, `report`, `error`, ...). */
  of(kind: string): unknown[][] {
    return this.calls.filter((call) => call.kind === kind).map((call) => call.args);
  }

  /**
   * Waits until `condition` holds. Fails at once if the snippet exits first or reports an uncaught
   * error: a documented client that crashes on a frame is exactly what these tests look for.
   */
  waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    return waitOn(
      this.#listeners,
      () => {
        if (condition()) return true;
        const uncaught = this.of('uncaught');
        if (uncaught.length > 0 || this.exited) {
          throw new Error(`the snippet ${this.exited ? `exited (${this.exitCode})` : 'threw'} before ${what}: ${JSON.stringify(uncaught)}\n${this.stderr}\ncalls: ${JSON.stringify(this.calls).slice(0, 2000)}`);
        }
        return false;
      },
      what,
      timeoutMs,
    );
  }

  /** Resolves with the exit code once the process has exited by itself (deadline `timeoutMs`). */
  async exit(timeoutMs = 15_000): Promise<number | null> {
    await waitOn(this.#listeners, () => this.exited, 'the snippet to exit', timeoutMs);
    return this.exitCode;
  }

  /** Lets a caller re-check its own condition whenever output arrives (see waitOn). */
  get listeners(): Set<() => void> {
    return this.#listeners;
  }

  /** Ends the process and its children (SIGTERM to its process group) and removes its file; safe to call twice. */
  async stop(): Promise<void> {
    const pid = this.#child.pid;
    if (!this.exited && pid !== undefined) {
      const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
      process.kill(-pid, 'SIGTERM');
      await exited;
    } else if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGTERM'); // children left behind by a snippet that exited
      } catch {
        // The group is gone.
      }
    }
    rmSync(this.#file, { force: true });
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

function scratchFile(bundle: string, file: string, text: string): string {
  mkdirSync(SCRATCH, { recursive: true });
  const path = join(SCRATCH, `${bundle}-${randomUUID().slice(0, 8)}-${file}`);
  writeFileSync(path, text);
  return path;
}

/**
 * Runs a JavaScript (`.mjs`) or TypeScript (`.ts`, through tsx) snippet with Node. The file is written
 * under .tmp/ inside the repository, so its imports (`eventsource`, `ws`) resolve to node_modules.
 */
export function runNodeSnippet(bundle: string, file: string, substitutions: readonly Substitution[], env: Record<string, string> = {}): SnippetProcess {
  const path = scratchFile(bundle, file, snippetText(bundle, file, substitutions));
  const args = ['--import', PRELOAD, ...(file.endsWith('.ts') ? ['--import', 'tsx'] : []), path];
  return new SnippetProcess(process.execPath, args, path, env);
}

/** Runs a Python snippet with Debian's python3. */
export function runPythonSnippet(bundle: string, file: string, substitutions: readonly Substitution[], env: Record<string, string> = {}): SnippetProcess {
  const path = scratchFile(bundle, file, snippetText(bundle, file, substitutions));
  return new SnippetProcess(PYTHON, ['-u', WRAPPER, path], path, { PYTHONDONTWRITEBYTECODE: '1', ...env });
}

/**
 * Runs a shell snippet (a `curl` line of the document) with bash, its stdout unbuffered by coreutils'
 * `stdbuf -o0` (the document's commands do not all pass `-N`, and curl buffers a pipe), handing the
 * output to `onOutput` as it arrives.
 */
export function runShellSnippet(
  bundle: string,
  file: string,
  substitutions: readonly Substitution[],
  onOutput: (chunk: Buffer) => void,
  env: Record<string, string> = {},
): SnippetProcess {
  const path = scratchFile(bundle, file, snippetText(bundle, file, substitutions));
  return new SnippetProcess('stdbuf', ['-o0', 'bash', path], path, env, onOutput);
}
