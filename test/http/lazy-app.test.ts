import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpecstreamApp } from '../../src/app.js';
import { loadBundle, NATIVE_BUNDLE_DIR } from '../../src/bundle/load-bundle.js';
import { lazyApp } from '../../src/http/lazy-app.js';
import { createLogger } from '../../src/observability/logger.js';

const native = loadBundle(NATIVE_BUNDLE_DIR);
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A logger that keeps its lines, to check what was logged. */
function keptLogger(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

/** A stand-in app that answers 200 with the request's URL (the real app is tested everywhere else). */
function echoApp(): SpecstreamApp {
  const app = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(req.url);
  };
  return Object.assign(app, { shortcut: () => false }) as unknown as SpecstreamApp;
}

async function listen(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('lazyApp', () => {
  it('builds the app once for requests that arrive together, and answers each in turn', async () => {
    let builds = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const lazy = lazyApp(
      async () => {
        builds += 1;
        await gate;
        return echoApp();
      },
      native.errors,
      keptLogger().logger,
    );
    const url = await listen(lazy.listener);
    const answers = Promise.all([1, 2, 3, 4, 5].map((n) => fetch(`${url}/r${n}`).then(async (res) => [res.status, await res.text()])));
    release();
    expect(await answers).toEqual([1, 2, 3, 4, 5].map((n) => [200, `/r${n}`]));
    expect(builds).toBe(1);
    await lazy.ready();
    expect(builds).toBe(1);
  });

  it('answers 500 INTERNAL in the bundle\'s error body when building fails, logs it, and builds again at the next request', async () => {
    let attempts = 0;
    const { logger, lines } = keptLogger();
    const lazy = lazyApp(
      async () => {
        attempts += 1;
        if (attempts === 1) throw new Error('module not found');
        return echoApp();
      },
      native.errors,
      logger,
    );
    const url = await listen(lazy.listener);
    const failed = await fetch(`${url}/first`);
    expect(failed.status).toBe(500);
    expect(failed.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await failed.json()).toEqual({ error: 'Internal server error', code: 'INTERNAL' });
    expect(lines.some((line) => line.msg === 'building the app failed')).toBe(true);
    const retried = await fetch(`${url}/second`);
    expect([retried.status, await retried.text()]).toEqual([200, '/second']);
    expect(attempts).toBe(2);
  });
});
