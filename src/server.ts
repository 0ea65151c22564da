import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errors } from './errors.js';
import { Authenticator, buildAuthState } from './auth/authenticator.js';
import { generateDevelopmentKey } from './auth/key-ring.js';
import type { KeySpec } from './auth/key-spec.js';
import { reloadAuth, type ReloadResult } from './auth/key-reloader.js';
import { ConfigError, type Config } from './config/load-config.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { admitsAnonymous, credentialsFor } from './bundle/credentials.js';
import { openServedBundle } from './bundle/served-bundle.js';
import { resolveStreamQuery } from './bundle/stream-query.js';
import { trackConnections } from './http/connection-tracker.js';
import { publicOrigin } from './http/origins.js';
import { lazyApp } from './http/lazy-app.js';
import { answerClientErrors, httpServerOptions } from './http/request-limits.js';
import { openStore } from './store/index.js';
import type { Store } from './store/store.js';
import { createStreamHub, type StreamHub } from './stream/index.js';

/** A listening Specstream server. */
export interface RunningServer {
  /** `http://HOST:PORT` with the port actually bound. */
  url: string;
  port: number;
  server: Server;
  store: Store;
  hub: StreamHub;
  logger: Logger;
  /**
   * Re-reads keys and JWT settings (what `SIGHUP` does, src/auth/key-reloader.ts) from `config`, or
   * from `StartServerOptions.reloadConfig`; ends the streams of revoked credentials. Never rejects:
   * a failure keeps the previous settings and is logged and returned.
   */
  reloadAuth(config?: Config): Promise<ReloadResult>;
  /** Closes streams cleanly, stops listening, flushes and closes the store. Safe to call twice. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  logger?: Logger;
  /** Where the generated development key is announced; defaults to stderr. */
  announce?: (line: string) => void;
  /** Reads the configuration again for `reloadAuth()` (the CLI re-reads its file, environment and flags). */
  reloadConfig?: () => Config;
  /**
   * The development key to use when no key is configured, instead of generating and announcing
   * one: `serve --workers` generates it once in the primary, so every worker accepts the same key.
   */
  developmentKey?: KeySpec;
}

/** Opens the store, builds the app and listens on `config.host:config.port`. */
export async function startServer(config: Config, options: StartServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.log_level);
  const announce = options.announce ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Checked before anything is opened: a bad combination of deadlines is a start-up error.
  const serverOptions = httpServerOptions(config);
  publicOrigin(config.public_url);

  // The validators are imported at the first request (src/http/lazy-app.ts): a server at rest does not hold them.
  const served = await openServedBundle(config.specs || undefined, { validators: 'lazy' });
  const grammar = served.bundle.scopes;
  let keys = config.keys;
  let developmentKey: KeySpec | undefined;
  if (keys.length === 0 && !config.allow_anonymous && options.developmentKey !== undefined) {
    developmentKey = options.developmentKey;
    keys = [options.developmentKey];
  } else if (keys.length === 0 && !config.allow_anonymous) {
    const dev = generateDevelopmentKey(grammar);
    developmentKey = dev;
    keys = [dev];
    announce(
      `No API keys configured: generated a development key for this run (scopes ${dev.scopes.join(',')}):\n` +
        `  Authorization: Bearer ${dev.secret}\n` +
        `Configure keys with --key id:secret:scopes, SPECSTREAM_KEYS or specstream.yaml.`,
    );
  }
  const metrics = new Metrics();
  let authState;
  try {
    authState = buildAuthState(config, grammar, keys);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const auth = new Authenticator(authState, grammar, metrics);

  const store = await openStore(config.store, { synchronous: config.sqlite_synchronous, timeoutMs: config.store_timeout_ms });
  const hub = createStreamHub({ store, config, metrics, logger, served });
  // The app is imported and built at the first request (src/http/lazy-app.ts). A plain publish or SSE
  // stream then takes the app's hot paths (src/http/*-shortcut.ts); everything else, express.
  const deps = { config, store, auth, logger, metrics, hub, served };
  const app = lazyApp(
    async () => {
      await served.loadValidators();
      return (await import('./app.js')).createApp(deps);
    },
    served.bundle.errors,
    logger,
  );
  const server = createServer(serverOptions, app.listener);
  answerClientErrors(server, logger);
  const connections = trackConnections(server);

  const wsOperation = served.operation('stream-ws');
  if (wsOperation) {
    hub.attachWebSocket(server, wsOperation.path, async (req: IncomingMessage) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const query = Object.fromEntries(url.searchParams);
      const principal = await auth.authenticate(credentialsFor(wsOperation, req.headers, query), {
        anonymous: admitsAnonymous(served.bundle, wsOperation),
        origin: req.headers.origin,
      });
      if (!principal.readsAnything) throw errors.forbidden();
      await served.loadValidators();
      return { principal, query: resolveStreamQuery(served, wsOperation, { query, headers: req.headers }, principal) };
    });
  }

  // `preload_app`: the first request is not delayed, at the price of the app's memory from the start.
  if (config.preload_app) await app.ready();
  await hub.start();
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  // Scripts and tests wait for this line, so it is printed whatever the log level.
  if (logger.isLevelEnabled('info')) logger.info({ store: store.kind }, `listening on ${url}`);
  else announce(`specstream listening on ${url} (store: ${store.kind})`);

  // Retention passes run in the hub (every retention_interval_s), which then forgets the deleted events.

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await hub.close();
      // A connection becomes idle once its last response is flushed: close each as it does (rather than
      // after the client's keep-alive timeout), and any still busy after 10 s.
      const sweep = setInterval(() => connections.closeIdle(), 25);
      const deadline = setTimeout(() => server.closeAllConnections(), 10_000);
      connections.closeIdle();
      await stopped.finally(() => {
        clearInterval(sweep);
        clearTimeout(deadline);
      });
      await store.close();
      logger.info('stopped');
    })());

  const reload = (next?: Config) =>
    reloadAuth({ auth, hub, grammar, logger, ...(developmentKey ? { developmentKey } : {}) }, () => {
      if (next) return next;
      if (!options.reloadConfig) throw new TypeError('no configuration to reload from (StartServerOptions.reloadConfig)');
      return options.reloadConfig();
    });

  return { url, port, server, store, hub, logger, reloadAuth: reload, close };
}
