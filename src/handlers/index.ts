import type { Handler } from '../app.js';
import type { OperationRole } from '../bundle/bundle.js';
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
import { issueToken } from './issue-token.js';
import { listEvents } from './list-events.js';
import { publishEvents } from './publish-events.js';
import { streamEvents } from './stream-events.js';
import { streamEventsWebSocket } from './stream-events-web-socket.js';

//** The handler of each built-in role (`x-specstream-operation`): a missing one is a compile error. */
export const handlers: Record<OperationRole, Handler> = {
  publish: publishEvents,
  list: listEvents,
  'get-event': getEvent,
  'stream-sse': streamEvents,
  'stream-ws': streamEventsWebSocket,
  'check-stream': checkStreamAccess,
  catalog: getCatalog,
  health: getHealth,
  readiness: getReadiness,
  metrics: getMetrics,
  spec: getSpec,
  docs: getDocs,
  'docs-page': getDocsPage,
  console: getConsole,
  'console-asset': getConsoleAsset,
  'issue-token': issueToken,
};
