/**
 * The packed tarball is the product: `npm pack` (from the `dist/` that `npm run build` wrote), then
 * `npm install --omit=dev <tgz>` into an empty folder, as a user installs it, and from there:
 * `specstream --version`; `specstream serve` from `node_modules/.bin` publishes and streams; the docs
 * portal and the console answer 200 and render in Chromium with no request leaving the server;
 * `specstream/client` and `specstream/destinations` import from an ESM file (the cloud SDKs are not
 * installed, and a cloud destination says which package to add); a small consumer type-checks
 * against the shipped `.d.ts` with the repository's tsc.
 *
 * Slow (the install compiles better-sqlite3), so it is one file with one install.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packTarball } from '../../scripts/check-package.js';
import { launchChromium, offlinePage, skipWithoutChromium } from '../browser/docs-chromium.js';
import { assertDistFresh, ROOT } from './dist.js';

const run = promisify(execFile);
const TOKEN = 'sk_pkg_admin';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; peerDependencies: Record<string, string> };

/** Every package directory under node_modules (scoped ones counted per package), nested ones included. */
function installedPackages(dir: string): string[] {
  const found: string[] = [];
  const walk = (modules: string, prefix: string) => {
    if (!existsSync(modules)) return;
    for (const name of readdirSync(modules)) {
      if (name.startsWith('.')) continue;
      if (name.startsWith('@')) {
        for (const scoped of readdirSync(join(modules, name))) {
          found.push(`${prefix}${name}/${scoped}`);
          walk(join(modules, name, scoped, 'node_modules'), `${prefix}${name}/${scoped}/`);
        }
      } else {
        found.push(`${prefix}${name}`);
        walk(join(modules, name, 'node_modules'), `${prefix}${name}/`);
      }
    }
  };
  walk(join(dir, 'node_modules'), '');
  return found;
}

const CONSUMER_MJS = `
import { createRequire } from 'node:module';
import { connect, createClient } from 'specstream/client';
import * as destinations from 'specstream/destinations';

const [url, token] = process.argv.slice(2);
const client = createClient({ url, token });
const stored = await client.publish({ type: 'grant.created', subject: 'grnt_01JF3K9Y6Q', data: { grantId: 'grnt_01JF3K9Y6Q', userId: 'usr_42', scopes: ['calendar:read'] } });
const streamed = {};
for (const transport of ['sse', 'ws']) {
  const subscription = connect({ url, token, transport, types: ['grant.*'], since: '1970-01-01T00:00:00Z', heartbeatTimeoutMs: 10000 });
  for await (const event of subscription) {
    if (event.id === stored.id) {
      streamed[transport] = event.data.grantId;
      break;
    }
  }
  subscription.close();
}
let missing;
try {
  new destinations.S3Destination({ bucket: 'events' });
} catch (error) {
  missing = { name: error.name, packageName: error.packageName, message: error.message };
}
const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => /@aws-sdk|@google-cloud|kafkajs/.test(p));
console.log(JSON.stringify({ stored: stored.id, streamed, destinations: Object.keys(destinations).sort(), missing, loaded }));
`;

const CONSUMER_TS = `
import { connect, createClient, type SpecstreamEvent } from 'specstream/client';
import { FileDestination, MissingPeerError, type Destination } from 'specstream/destinations';

export async function grantIds(url: string, token: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const event of connect({ url, token, types: ['grant.created'] })) {
    ids.push(event.data.grantId);
    // @ts-expect-error grant.created has no severity: the shipped types narrow data by type
    ids.push(event.data.severity);
  }
  const client = createClient({ url, token });
  await client.publish({ type: 'grant.created', data: { grantId: 'grnt_1', userId: 'usr_1', scopes: ['calendar:read'] } });
  // @ts-expect-error a publish must carry the data its type requires
  await client.publish({ type: 'grant.created', data: { userId: 'usr_1' } });
  return ids;
}

export const sink: Destination = new FileDestination({ path: '-' });
export const isMissingPeer = (error: unknown): boolean => error instanceof MissingPeerError;
export const typeOf = (event: SpecstreamEvent): string => event.type;
`;

describe('the packed tarball, installed with npm install --omit=dev into an empty folder', () => {
  let work: string;
  let app: string;
  let server: ChildProcess | undefined;
  let url: string;
  let output = '';

  beforeAll(async () => {
    assertDistFresh();
    work = mkdtempSync(join(tmpdir(), 'specstream-tarball-'));
    app = join(work, 'app');
    mkdirSync(app);
    const tarball = packTarball(work);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--no-package-lock', tarball], { cwd: app, maxBuffer: 16 * 1024 * 1024 });

    server = spawn(join(app, 'node_modules', '.bin', 'specstream'), ['serve', '--port', '0', '--store', `sqlite:${join(work, 'events.db')}`, '--key', `pkg:${TOKEN}:admin`], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
        if (match?.[1]) resolve(match[1]);
      };
      server!.stdout!.on('data', onData);
      server!.stderr!.on('data', onData);
      server!.once('exit', (code) => reject(new Error(`specstream serve exited with ${code}:\n${output}`)));
    });
  }, 600_000);

  afterAll(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs no devDependency and none of the optional cloud SDKs', () => {
    const installed = installedPackages(app);
    expect(installed).toContain('specstream');
    expect(installed).toContain('better-sqlite3');
    const unwanted = installed.filter((name) => /(^|\/)(tsx|esbuild|typescript|vitest|@redocly\/cli|@esbuild\/.*|kafkajs|@aws-sdk\/client-s3|@google-cloud\/bigquery)$/.test(name));
    expect(unwanted).toEqual([]);
    for (const peer of Object.keys(pkg.peerDependencies)) expect(installed).not.toContain(peer);
  });

  it('ships dist/, specs/ and the prebuilt docs and console assets, and no sources or tests', () => {
    const root = join(app, 'node_modules', 'specstream');
    for (const file of ['dist/cli/main.js', 'dist/client/index.d.ts', 'dist/docs/site/api.html', 'dist/docs/site/stream.html', 'dist/console/assets/sdk.js', 'dist/console/assets/console.js', 'specs/openapi.yaml', 'specs/asyncapi.yaml', 'LICENSE', 'README.md', 'CHANGELOG.md']) {
      expect(existsSync(join(root, file)), file).toBe(true);
    }
    for (const dir of ['src', 'test', 'scripts', 'bench', '.ci']) expect(existsSync(join(root, dir)), dir).toBe(false);
  });

  it('specstream --version prints the package version', async () => {
    const { stdout } = await run(join(app, 'node_modules', '.bin', 'specstream'), ['--version'], { cwd: app });
    expect(stdout.trim()).toBe(pkg.version);
  });

  it('publishes and streams over SSE and WebSocket through specstream/client; specstream/destinations imports without the cloud SDKs', async () => {
    writeFileSync(join(app, 'consumer.mjs'), CONSUMER_MJS);
    const { stdout } = await run(process.execPath, ['consumer.mjs', url, TOKEN], { cwd: app, timeout: 60_000 });
    const result = JSON.parse(stdout) as {
      stored: string;
      streamed: Record<string, string>;
      destinations: string[];
      missing?: { name: string; packageName: string; message: string };
      loaded: string[];
    };
    expect(result.stored).toMatch(/^evt_/);
    expect(result.streamed).toEqual({ sse: 'grnt_01JF3K9Y6Q', ws: 'grnt_01JF3K9Y6Q' });
    expect(result.destinations).toEqual(expect.arrayContaining(['Forwarder', 'FileDestination', 'S3Destination', 'BigQueryDestination', 'KafkaDestination', 'NatsDestination', 'MissingPeerError']));
    expect(result.missing).toMatchObject({ name: 'MissingPeerError', packageName: '@aws-sdk/client-s3' });
    expect(result.missing!.message).not.toContain('\n');
    expect(result.missing!.message).toContain(`npm install @aws-sdk/client-s3@"${pkg.peerDependencies['@aws-sdk/client-s3']}"`);
    expect(result.loaded).toEqual([]);
  }, 90_000);

  it('answers 200 for the docs portal pages and the console', async () => {
    for (const path of ['/docs', '/docs/api.html', '/docs/stream.html', '/docs/catalog.html', '/docs/query-rules.html', '/console', '/console/sdk.js', '/console/console.js']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
      expect((await response.text()).length, path).toBeGreaterThan(100);
    }
  });

  it("answers a bundle's unbuilt Redoc page with the bundle's 404 body, not a 500, and renders its catalog, with no Redocly installed", async () => {
    // A bundle of the team's own (the partner fixture: a docs portal under /partner/docs), copied
    // without any Redoc page built in the clone.
    const bundle = join(work, 'partner');
    cpSync(join(ROOT, 'test', 'fixtures', 'bundles', 'partner'), bundle, { recursive: true, filter: (source) => !source.includes(`${join('generated', 'docs')}`) });
    const child = spawn(join(app, 'node_modules', '.bin', 'specstream'), ['serve', '--specs', bundle, '--port', '0', '--store', `sqlite:${join(work, 'bundle.db')}`, '--key', `pkg:${TOKEN}:admin`], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let log = '';
      const bundleUrl = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          log += chunk.toString();
          const match = /listening on (http:\/\/[^\s"]+)/.exec(log);
          if (match?.[1]) resolve(match[1]);
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
        child.once('exit', (code) => reject(new Error(`specstream serve --specs exited with ${code}:\n${log}`)));
      });
      for (const page of ['api.html', 'stream.html']) {
        const response = await fetch(`${bundleUrl}/partner/docs/${page}`);
        expect(response.status, page).toBe(404);
        const body = (await response.json()) as { problem: string; detail: string };
        expect(body.problem, page).toBe('NOT_FOUND');
        expect(body.detail, page).toContain('Redocly');
      }
      const catalog = await fetch(`${bundleUrl}/partner/docs/catalog.html`);
      expect(catalog.status).toBe(200);
      expect(await catalog.text()).toContain('OrderPlaced');
      expect(existsSync(join(bundle, 'generated', 'docs'))).toBe(false);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }, 60_000);

  it('serves the native Redoc pages whole: the shared Redoc script stored once is put back into each', async () => {
    for (const page of ['api.html', 'stream.html']) {
      const html = await (await fetch(`${url}/docs/${page}`)).text();
      expect(html, page).toContain('export{RedocStandalone,hydrate,init};');
      expect(html, page).not.toContain('specstream:redoc-standalone');
      expect(readFileSync(join(app, 'node_modules', 'specstream', 'dist', 'docs', 'site', page), 'utf8'), page).toContain('specstream:redoc-standalone');
    }
  });

  it('type-checks a consumer against the shipped .d.ts with the repository tsc', async () => {
    writeFileSync(join(app, 'consumer.ts'), CONSUMER_TS);
    const tsconfig = {
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023', 'DOM'], strict: true, skipLibCheck: true, noEmit: true, types: [] },
      files: ['consumer.ts'],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app }).catch((error: { stdout: string }) => error);
    expect(result.stdout).toBe('');
    // The check can fail: the same consumer with a mistake does not compile.
    writeFileSync(join(app, 'consumer.ts'), `${CONSUMER_TS}\nexport const wrong: number = (null as unknown as SpecstreamEvent).type;\n`);
    const broken = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app }).then(
      () => ({ stdout: '' }),
      (error: { stdout: string }) => error,
    );
    expect(broken.stdout).toMatch(/consumer\.ts.*is not assignable to type 'number'/);
  }, 60_000);

  describe.skipIf(skipWithoutChromium)('in Chromium (offline: only the installed server is reachable)', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => browser?.close());

    it.each([
      ['/docs/api.html', () => document.body.innerText.includes('POST\n/v1/events')],
      ['/docs/stream.html', () => document.querySelectorAll('[data-testid="menu-item-label"]').length > 3],
      ['/docs/catalog.html', () => document.querySelector('section[data-type="grant.created"]') !== null],
    ] as const)('renders %s', async (path, rendered) => {
      const { page, blocked } = await offlinePage(browser, url);
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${url}${path}`);
      await page.waitForFunction(rendered, undefined, { timeout: 30_000 });
      expect(errors).toEqual([]);
      expect(blocked).toEqual([]);
      await page.close();
    }, 60_000);

    it('renders /console, which connects with the prebuilt SDK bundle and shows a published event', async () => {
      const { page, blocked } = await offlinePage(browser, url);
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${url}/console`);
      await page.fill('#token', TOKEN);
      await page.click('#connect');
      await page.waitForSelector('body[data-state="open"]', { timeout: 20_000 });
      const response = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'grant.created', data: { grantId: 'grnt_01JF3K9Y7Z', userId: 'usr_7', scopes: ['calendar:read'] } }),
      });
      const event = (await response.json()) as { id: string };
      await page.waitForSelector(`#events li.event[data-id="${event.id}"]`, { timeout: 20_000 });
      expect(errors).toEqual([]);
      expect(blocked).toEqual([]);
      await page.close();
    }, 60_000);
  });
});
