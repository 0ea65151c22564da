/**
 * src/cli/defer-optimizers.ts in a process of its own (V8 flags are per process): a hot function is
 * not optimized while the compilers are held back, and is once they are on again; a process started
 * with its own compiler flag keeps it. The compiled module is used (`npm run build`), as
 * bin/specstream.js uses it; `%GetOptimizationStatus` needs `--allow-natives-syntax`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertDistFresh, ROOT } from '../package/dist.js';

const run = promisify(execFile);

// Warms `hot` until V8 optimizes it (bit 16 of the status: optimized) or 40 rounds pass, before and after resuming.
const CHILD = `
const { deferOptimizers } = await import(process.argv[2]);
function hot(x) { let s = 0; for (let i = 0; i < 50; i++) s += (x * i) % 7; return s; }
const optimized = () => (%GetOptimizationStatus(hot) & 16) !== 0;
async function warm() {
  for (let round = 0; round < 40 && !optimized(); round++) {
    for (let i = 0; i < 20000; i++) hot(i);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
const resume = deferOptimizers();
const again = deferOptimizers();
await warm();
const during = optimized();
resume();
await warm();
console.log(JSON.stringify({ during, after: optimized(), same: again === resume }));
`;

let dir: string;
let script: string;
const moduleUrl = pathToFileURL(join(ROOT, 'dist', 'cli', 'defer-optimizers.js')).href;

async function child(flags: string[]): Promise<{ during: boolean; after: boolean; same: boolean }> {
  const { stdout } = await run(process.execPath, ['--allow-natives-syntax', ...flags, script, moduleUrl], { timeout: 60_000 });
  return JSON.parse(stdout) as { during: boolean; after: boolean; same: boolean };
}

beforeAll(() => {
  assertDistFresh();
  dir = mkdtempSync(join(tmpdir(), 'specstream-defer-'));
  script = join(dir, 'child.mjs');
  writeFileSync(script, CHILD);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('deferOptimizers', () => {
  it('holds optimization back until resumed, then optimizes as usual', async () => {
    expect(await child([])).toEqual({ during: false, after: true, same: true });
  });

  it('leaves a process started with its own compiler flag as it was', async () => {
    // Resuming must not turn the optimizing compilers on behind the operator's back (Maglev is on by
    // default from Node 22, so both are named).
    const result = await child(['--no-opt', '--no-maglev']);
    expect(result.after).toBe(false);
  });
});
