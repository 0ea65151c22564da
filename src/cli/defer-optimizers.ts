/**
 * Holds V8's compilers back while the server starts, and turns them back on once it listens.
 *
 * Start-up runs code that never runs again: the YAML parser reading the bundle, the bundle loader,
 * module loading. It is hot enough for V8 to compile with Sparkplug (baseline), Maglev (Node 22+)
 * and TurboFan, whose code, compiler zones and the binary's compiler pages then stay resident: about
 * 8 MiB of a server at rest (README "Benchmarks", `npm run bench -- --only=at-rest`). With them off,
 * start-up runs in V8's interpreter (some tens of milliseconds slower); after `listen`, they are on
 * again, and request-handling code is compiled exactly as before.
 *
 * This uses `v8.setFlagsFromString` after V8 started, which V8 does not promise to honour for every
 * flag. These three are read each time V8 decides whether to compile a function (its tiering
 * manager), so turning them off and on again only moves when compilation happens; Node itself starts
 * V8 with `--no-freeze-flags-after-init` so that such changes are allowed. Nothing is changed when
 * the process was started with any compiler flag of its own (`--jitless`, `--no-opt`, ...), so an
 * operator's choice is never overridden.
 */
import { setFlagsFromString } from 'node:v8';

/** V8's compilers that are on by default in this runtime: Maglev from V8 12 (Node 22) on. */
function defaultCompilers(): string[] {
  const v8Major = Number(process.versions.v8.split('.')[0]);
  return v8Major >= 12 ? ['sparkplug', 'maglev', 'turbofan'] : ['sparkplug', 'turbofan'];
}

/** True when the process was given a flag that chooses a V8 compiler (then it is left alone). */
function compilerFlagsGiven(): boolean {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return given.some((flag) => /^--(no-)?(jitless|opt|turbofan|maglev|sparkplug|always-sparkplug)\b/.test(flag.replace(/_/g, '-')));
}

let resume: (() => void) | undefined;

/**
 * Turns V8's default compilers off and returns the function that turns them on again (call it once
 * the server listens; safe to call twice). A second call before that returns the same function, so
 * bin/specstream.js can start deferring before the CLI's modules load and `serve` resume it. When
 * the process chose its own compiler flags, does nothing and returns a function that does nothing.
 */
export function deferOptimizers(): () => void {
  if (resume) return resume;
  if (compilerFlagsGiven()) return () => {};
  const compilers = defaultCompilers();
  for (const name of compilers) setFlagsFromString(`--no-${name}`);
  let resumed = false;
  resume = () => {
    if (resumed) return;
    resumed = true;
    for (const name of compilers) setFlagsFromString(`--${name}`);
  };
  return resume;
}
