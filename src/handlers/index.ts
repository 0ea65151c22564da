import type { Handler } from '../app.js';
import type { operations } from '../generated/openapi.js';
import { checkStreamAccess } from './check-stream-access.js';
import { getCatalog } from './get-catalog.js';
import { getConsole } from './get-console.js';
import { getConsoleAsset } from './get-console-asset.js';
import { getDocs } from './get-docs.js';
import { getDocsPage } from './get-docs-page.js';
import { getEvent } from './get-event.js';
import { getHealth } from './get-health.js';
import { getMetrics } from './get-metrics.js';
import { getReadiness } from './get-readiness.js';
import { getSpec } from './get-spec.js';
import { listEvents } from './list-events.js';
import { publishEvents } from './publish-events.js';
import { streamEvents } from './stream-events.js';
import { streamEventsWebSocket } from './stream-events-web-socket.js';

/** Every operation of specs/openapi.yaml, by operationId: a missing one is a compile error. */
export const handlers: Record<keyof operations, Handler> & Record<string, Handler | undefined> = {
  checkStreamAccess,
  getCatalog,
  getConsole,
  getConsoleAsset,
  getDocs,
  getDocsPage,
  getEvent,
  getHealth,
  getMetrics,
  getReadiness,
  getSpec,
  listEvents,
  publishEvents,
  streamEvents,
  streamEventsWebSocket,
};
