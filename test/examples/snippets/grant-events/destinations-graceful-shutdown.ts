// 001 grant-events, "@grantex/destinations Package > Graceful Shutdown", as documented. It uses the
// `source` of "Basic Usage": the test runs it inside that program, before `await source.start()`
// (test/destinations/grantex-facade.test.ts); on its own it declares `source` so that it type-checks.
import type { EventSource } from 'specstream/destinations';

declare const source: EventSource;

process.on('SIGTERM', async () => {
  await source.stop();
  process.exit(0);
});
