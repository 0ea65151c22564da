/**
 * Helpers of the auth tests: signing JWTs with `jose` (every algorithm family), a JWKS served over
 * real HTTP (and one that never answers), and a server whose log lines the test can read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { loadConfig, type Config } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { TEST_KEYS } from '../helpers/test-server.js';

/** A shared secret long enough for HS256 (32 bytes). */
export const SECRET = 'test-secret-of-at-least-thirty-two-bytes';

/** A key pair of one algorithm, with its public JWK (kid, alg) and SPKI PEM. */
export interface TestKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
  pem: string;
}

/** Generates a key pair for `alg` (RS256, PS256, ES256, ES384, EdDSA ...). */
export async function testKey(alg: string, kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk, pem: await exportSPKI(publicKey) };
}

/** Claims valid now: `exp` in `ttlS` seconds, `iat` now, plus `claims`. */
export function claims(extra: JWTPayload = {}, ttlS = 300): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { sub: 'partner', scope: 'events:read', iat: now, exp: now + ttlS, ...extra };
}

/** Signs `payload` with `key` (a TestKey, or a secret string for HS256) and header extras. */
export async function sign(key: TestKey | string, payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  if (typeof key === 'string') {
    return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...header }).sign(new TextEncoder().encode(key));
  }
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

/** An unsigned token (`alg: none`, RFC 7519 section 6): header and claims, empty signature. */
export function unsigned(payload: JWTPayload): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

/** A JWKS served over HTTP on 127.0.0.1; `keys` may be replaced (key rotation); `requests` counts fetches. */
export class JwksServer {
  keys: JWK[];
  requests = 0;
  url = '';
  readonly #server: Server;

  constructor(keys: JWK[]) {
    this.keys = keys;
    this.#server = createServer((_req, res) => {
      this.requests++;
      res.writeHead(200, { 'Content-Type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: this.keys }));
    });
  }

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await new Promise((resolve) => this.#server.once('listening', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/.well-known/jwks.json`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** A TCP server that accepts connections and never answers: a JWKS host that hangs. */
export class SilentServer {
  url = '';
  readonly #sockets = new Set<Socket>();
  readonly #server: TcpServer = createTcpServer((socket) => {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
  });

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await new Promise((resolve) => this.#server.once('listening', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/jwks.json`;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** A running server with the test keys, its log lines, and its temporary folder. */
export interface AuthServer extends RunningServer {
  lines: string[];
  /** `{ Authorization: 'Bearer …' }` for a test key (as TestServer has). */
  auth(key: keyof typeof TEST_KEYS): Record<string, string>;
  dir: string;
  dispose(): Promise<void>;
}

/** Starts a server on port 0 with the test keys (test/helpers/test-server.ts), `overrides`, and a captured info log. */
export async function startAuthServer(overrides: Partial<Config> = {}): Promise<AuthServer> {
  const dir = mkdtempSync(join(tmpdir(), 'specstream-auth-'));
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const config: Config = {
    ...loadConfig({ argv: [], env: {}, cwd: dir }),
    host: '127.0.0.1',
    port: 0,
    store: `sqlite:${join(dir, 'events.db')}`,
    response_validation: true,
    keys: Object.values(TEST_KEYS).map((key) => ({ id: key.id, secret: key.secret, scopes: [...key.scopes], queryToken: 'queryToken' in key ? key.queryToken : true })),
    ...overrides,
  };
  const running = await startServer(config, { logger: createLogger('info', sink), announce: () => {} });
  return {
    ...running,
    lines,
    dir,
    auth: (key) => ({ Authorization: `Bearer ${TEST_KEYS[key].secret}` }),
    dispose: async () => {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `{code, status}` of a JSON error answer, for compact assertions. */
export async function answer(response: Response): Promise<{ status: number; code: string | undefined }> {
  const text = await response.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { code?: string }).code;
  } catch {
    code = undefined;
  }
  return { status: response.status, code };
}
