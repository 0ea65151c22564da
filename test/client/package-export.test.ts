/** `specstream/client` resolves through package.json `exports` to the compiled output (`npm run build`), in plain Node. */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertDistFresh, ROOT } from '../package/dist.js';

describe('package export specstream/client', () => {
  beforeAll(() => assertDistFresh());

  it('imports in plain Node (no tsx) from dist/', () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "const m = await import('specstream/client'); console.log([typeof m.connect, typeof m.publish, typeof m.list, typeof m.createClient].join(','))"],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(out.trim()).toBe('function,function,function,function');
  });
});
