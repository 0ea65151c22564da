/**
 * One worker of `serve --workers`: a complete server (startServer) on the port the workers share,
 * on the log they share. With a SQLite file, its commits are told to the primary, which tells the
 * other workers, whose hubs then read the log at once instead of at the next poll (1 s).
 * PostgreSQL and NATS JetStream wake every process themselves (LISTEN/NOTIFY, consumers).
 */
import cluster from 'node:cluster';
import type { Config } from '../config/load-config.js';
import { createLogger } from '../observability/logger.js';
import { startServer, type RunningServer, type StartServerOptions } from '../server.js';
import { SqliteStore } from '../store/store-sqlite.js';
import { coalescingSender, isMessage, type HelloMessage, type InitMessage, type ListeningMessage } from './messages.js';

/** Says `hello` to the primary and waits for its `init` message. */
function initFromPrimary(send: (message: HelloMessage) => boolean): Promise<InitMessage> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (!isMessage(message, 'init')) return;
      process.off('message', onMessage);
      resolve(message);
    };
    process.on('message', onMessage);
    send({ specstream: 'hello' });
  });
}

/**
 * Runs this process as a worker (`cluster.isWorker`): asks the primary for its `init`, starts the
 * server (log lines carry `worker`: the cluster's worker id), wires the wake-ups and tells the
 * primary it listens. Rejects as `startServer` does. When the primary goes away (its IPC channel
 * closes), the server closes and the process exits.
 */
export async function runWorker(config: Config, options: StartServerOptions = {}): Promise<RunningServer> {
  if (!cluster.isWorker || process.send === undefined) throw new TypeError('runWorker: not a cluster worker');
  const send = process.send.bind(process);
  const init = await initFromPrimary(send);
  const logger = (options.logger ?? createLogger(config.log_level)).child({ worker: cluster.worker!.id });
  const running = await startServer(config, {
    ...options,
    logger,
    // The primary announces the development key and the address, once.
    announce: () => {},
    ...(init.developmentKey !== undefined ? { developmentKey: init.developmentKey } : {}),
  });
  const { store } = running;
  if (store instanceof SqliteStore) {
    store.onCommitted(coalescingSender((message, callback) => send(message, undefined, {}, callback)));
    process.on('message', (message: unknown) => {
      if (isMessage(message, 'appended')) store.checkForAppends();
    });
  }
  process.once('disconnect', () => {
    void running.close().finally(() => process.exit(0));
  });
  const listening: ListeningMessage = { specstream: 'listening', url: running.url, store: store.kind };
  // Told after the caller's code that follows `await runWorker()` (its signal handlers) has run:
  // the primary may send SIGTERM as soon as every worker listens.
  setImmediate(() => send(listening));
  return running;
}
