import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Config } from '../config/load-config.js';

/** The number of server processes `config.workers` asks for: itself, or one per core for 0. */
export function workerCount(config: Pick<Config, 'workers'>): number {
  return config.workers === 0 ? availableParallelism() : config.workers;
}

/** True in a worker process of `serve --workers` (a cluster worker). */
export function isWorker(): boolean {
  return cluster.isWorker;
}
