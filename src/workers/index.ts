/**
 * `serve --workers N`: N server processes on one port sharing one log (node:cluster). primary.ts
 * supervises and relays wake-ups; worker.ts is one server. See README "Workers".
 */
export { runPrimary, type Primary, type PrimaryOptions } from './primary.js';
export { runWorker } from './worker.js';
export { isWorker, workerCount } from './role.js';
