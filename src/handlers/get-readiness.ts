import type { Handler } from '../app.js';
import { describeFailure } from '../store/describe-failure.js';
import type { Store } from '../store/store.js';

/** The ping in flight per store: concurrent probes share it, so probing cannot pile up store calls. */
const inFlight = new WeakMap<Store, Promise<'ok' | 'unavailable'>>();

/**
 * `GET /readyz` (operationId getReadiness): 200 when the store answers within
 * `readiness_timeout_ms` (default 1500 ms), 503 otherwise, whatever the backend does (a hung
 * database is reported, not waited for). Concurrent probes share one ping; a failure is logged
 * (warn) with its cause, once per ping.
 */
export const getReadiness: Handler = async (_req, res, { deps }) => {
  const { store, logger, config } = deps;
  let ping = inFlight.get(store);
  if (ping === undefined) {
    ping = store.ping().then(
      () => 'ok' as const,
      (error: unknown) => {
        logger.warn({ failure: describeFailure(error) }, 'readiness: the store did not answer');
        return 'unavailable' as const;
      },
    );
    const shared = ping;
    inFlight.set(store, shared);
    void shared.finally(() => {
      if (inFlight.get(store) === shared) inFlight.delete(store);
    });
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'unavailable'>((resolve) => {
    timer = setTimeout(() => resolve('unavailable'), config.readiness_timeout_ms);
  });
  const status = await Promise.race([ping, deadline]).finally(() => clearTimeout(timer));
  res.status(status === 'ok' ? 200 : 503).json({ status, checks: { store: status } });
};
