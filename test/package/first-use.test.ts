/**
 * What the compiled server loads at start and at its first request (memory at rest, README
 * "Benchmarks"): started as `npm start` starts it, with a module-load hook (node:module `register`)
 * that appends the URL of every module loaded to a file. At rest the app (express, the OpenAPI
 * validator, zod and the generated validators, jose, the handlers) is not loaded; the first
 * requests, all arriving together, build it once and are each answered as the app answers them; a
 * WebSocket stream as the very first contact loads the validators it needs; `--preload-app` builds
 * the app before the server listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { assertDistFresh, ROOT } from './dist.js';

const SECRET = 'sk_first_use_admin';
const AUTH = { authorization: `Bearer ${SECRET}` };
/** Modules of the app and its validators, which a server at rest must not have loaded. */
const LOADED_AT_FIRST_USE = ['/node_modules/express/', '/node_modules/express-openapi-validator/', '/node_modules/zod/', '/node_modules/jose/', '/dist/app.js', '/dist/handlers/', '/dist/generated/events.js', '/dist/generated/query.js'];

let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  assertDistFresh();
  dir = mkdtempSync(join(tmpdir(), 'specstream-first-use-'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.SPECSTREAM_TEST_LOADED, url + '\\n');
  return next(url, context);
}
`,
  );
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the compiled server with the load hook; resolves with its URL and the file of loaded module URLs. */
async function start(name: string, extra: string[] = []): Promise<{ url: string; loaded: () => string[] }> {
  const loadedFile = join(dir, `${name}.loaded`);
  writeFileSync(loadedFile, '');
  const child = spawn(
    process.execPath,
    ['--import', pathToFileURL(join(dir, 'register.mjs')).href, join(ROOT, 'bin', 'specstream.js'), 'serve', '--port', '0', '--store', `sqlite:${join(dir, `${name}.db`)}`, '--key', `fu:${SECRET}:admin`, ...extra],
    { env: { ...process.env, SPECSTREAM_TEST_LOADED: loadedFile }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${output}`)));
  });
  return { url, loaded: () => readFileSync(loadedFile, 'utf8').split('\n').filter(Boolean) };
}

const grant = (n: number) => ({ type: 'grant.created', data: { grantId: `grnt_${n}`, userId: 'u1', scopes: ['read'] } });

describe('the compiled server at rest and at first use', () => {
  it('loads the app at the first requests, which all get the app\'s answers', async () => {
    const server = await start('http');
    const atRest = server.loaded();
    expect(atRest.some((url) => url.endsWith('/dist/server.js'))).toBe(true);
    for (const part of LOADED_AT_FIRST_USE) expect(atRest.filter((url) => url.includes(part))).toEqual([]);

    // First contact: publishes, a list, a refused query and an undeclared path, all at once.
    const post = (n: number) =>
      fetch(`${server.url}/v1/events`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(grant(n)) });
    const [published1, published2, listed, refused, missing] = await Promise.all([
      post(1),
      post(2),
      fetch(`${server.url}/v1/events?limit=10`, { headers: AUTH }),
      fetch(`${server.url}/v1/events?since=yesterday`, { headers: AUTH }),
      fetch(`${server.url}/v1/nothing-here`, { headers: AUTH }),
    ]);
    expect([published1.status, published2.status]).toEqual([201, 201]);
    expect(listed.status).toBe(200);
    expect(Array.isArray(((await listed.json()) as { data: unknown[] }).data)).toBe(true);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { code: string }).code).toBe('INVALID_TIMESTAMP');
    expect(missing.status).toBe(404);

    const after = await (await fetch(`${server.url}/v1/events?limit=10`, { headers: AUTH })).json() as { data: Array<{ data: { grantId: string } }> };
    expect(after.data.map((event) => event.data.grantId).sort()).toEqual(['grnt_1', 'grnt_2']);
    const loaded = server.loaded();
    for (const part of ['/dist/app.js', '/node_modules/zod/', '/node_modules/express/']) expect(loaded.some((url) => url.includes(part))).toBe(true);
  });

  it('builds the app before listening with --preload-app', async () => {
    const server = await start('preload', ['--preload-app']);
    const atRest = server.loaded();
    for (const part of ['/dist/app.js', '/node_modules/express/', '/node_modules/zod/']) expect(atRest.some((url) => url.includes(part))).toBe(true);
    const listed = await fetch(`${server.url}/v1/events`, { headers: AUTH });
    expect(listed.status).toBe(200);
  });

  it('serves a WebSocket stream as the very first contact', async () => {
    const server = await start('ws');
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/events/ws?types=grant.*`, { headers: AUTH });
    type Frame = { type: string; event?: { type: string; data: { grantId?: string } } };
    const frames: Frame[] = [];
    const waitForFrame = (predicate: (frame: Frame) => boolean) =>
      new Promise<Frame>((resolve, reject) => {
        const found = frames.find(predicate);
        if (found) return resolve(found);
        const onMessage = (text: Buffer) => {
          const frame = JSON.parse(text.toString()) as Frame;
          if (predicate(frame)) {
            ws.off('message', onMessage);
            resolve(frame);
          }
        };
        ws.on('message', onMessage);
        ws.once('close', (code) => reject(new Error(`closed with ${code}`)));
      });
    ws.on('message', (text: Buffer) => frames.push(JSON.parse(text.toString()) as Frame));
    ws.once('unexpected-response', (_req, res) => frames.push({ type: `refused ${res.statusCode}` }));
    // A live-only stream announces its start position once it is subscribed.
    const position = await waitForFrame((frame) => frame.type === 'position' || frame.type.startsWith('refused'));
    expect(position.type).toBe('position');
    const first = waitForFrame((frame) => frame.type === 'event');
    const published = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(grant(7)) });
    expect(published.status).toBe(201);
    const delivered = await first;
    expect(delivered.event?.type).toBe('grant.created');
    expect(delivered.event?.data.grantId).toBe('grnt_7');
    ws.close();
  });
});
