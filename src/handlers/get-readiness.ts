import type { Handler } from '../app.js';

/** `GET /readyz` (operationId getReadiness): 200 when the store answers, 503 otherwise. */
export const getReadiness: Handler = async (_req, res, { deps }) => {
  const store = await deps.store.ping().then(
    () => 'ok' as const,
    () => 'unavailable' as const,
  );
  res.status(store === 'ok' ? 200 : 503).json({ status: store, checks: { store } });
};
