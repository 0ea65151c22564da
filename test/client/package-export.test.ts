/** `specstream/client` resolves through package.json `exports` to the esbuild output, in plain Node. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildNodeClient } from '../../src/client/build.js';
import { ROOT } from '../codegen/typecheck.js';

describe('package export specstream/client', () => {
  it('imports in plain Node 20 (no tsx) after npm run build:client', async () => {
    await buildNodeClient();
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "const m = await import('specstream/client'); console.log([typeof m.connect, typeof m.publish, typeof m.list, typeof m.createClient].join(','))"],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(out.trim()).toBe('function,function,function,function');
  });
});
