// `prepare` (run by `npm install`/`npm ci` in a clone and by `npm pack`): builds dist/ with
// `npm run build`. Plain JavaScript because it must also run where the devDependencies are absent
// (`npm ci --omit=dev` in a clone): there it builds nothing and says so, since the TypeScript
// toolchain is not installed; a production install comes from the packed tarball, which ships dist/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../node_modules/tsx/package.json', import.meta.url)) || !existsSync(new URL('../node_modules/typescript/package.json', import.meta.url))) {
  process.stderr.write('specstream prepare: devDependencies are not installed, so dist/ was not built (install from the packed tarball, or run npm ci with dev dependencies)\n');
  process.exit(0);
}
const npm = process.env.npm_execpath;
const result = npm ? spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' }) : spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
