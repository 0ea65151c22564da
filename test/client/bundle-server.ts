/**
 * A real server serving an example bundle (examples/<name>), with a reader and a writer key in the
 * bundle's scope names, behind a TCP proxy the tests cut to make the server drop every stream.
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle } from '../../src/bundle/bundle.js';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import type { Config } from '../../src/config/load-config.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The secrets of the keys every bundle server has. */
export const BUNDLE_KEYS = { reader: 'sk_bundle_reader', writer: 'sk_bundle_writer' } as const;

export interface BundleServer {
  bundle: Bundle;
  /** The bundle folder, absolute. */
  dir: string;
  server: TestServer;
  /** The proxy in front of `server`: clients connect to `proxy.url`; `proxy.cut()` drops them. */
  proxy: TcpProxy;
  /** A catalog type's example data. */
  example(type: string): Record<string, unknown>;
  /** Resolves once the server has at least `n` open streams (deadline 10 s). */
  waitForStreams(n: number): Promise<void>;
  dispose(): Promise<void>;
}

/** Starts a server for `examples/<name>` with keys `reader` and `writer` (scopes named as the bundle names them). */
export async function startBundleServer(name: string, overrides: Partial<Config> = {}): Promise<BundleServer> {
  const dir = isAbsolute(name) ? name : join(ROOT, 'examples', name);
  const bundle = loadBundle(dir);
  const { read, write } = bundle.scopes;
  const server = await startTestServer({
    specs: dir,
    keys: [
      { id: 'reader', secret: BUNDLE_KEYS.reader, scopes: [read], queryToken: true },
      { id: 'writer', secret: BUNDLE_KEYS.writer, scopes: [write], queryToken: true },
    ],
    ...overrides,
  });
  const proxy = await startTcpProxy(server.url);
  return {
    bundle,
    dir,
    server,
    proxy,
    example(type) {
      const entry = bundle.catalog.find((candidate) => candidate.type === type);
      if (!entry?.example) throw new Error(`${name} has no example for ${type}`);
      return entry.example;
    },
    async waitForStreams(n) {
      const deadline = Date.now() + 10_000;
      while (server.hub.subscriberCount < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} streams (${server.hub.subscriberCount} open)`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async dispose() {
      await proxy.close();
      await server.dispose();
    },
  };
}

/** Resolves once `condition()` holds; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
