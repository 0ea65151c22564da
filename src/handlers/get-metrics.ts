import type { Handler } from '../app.js';

/** `GET /metrics` (operationId getMetrics): Prometheus text exposition. */
export const getMetrics: Handler = async (_req, res, { deps }) => {
  const text = await deps.metrics.registry.metrics();
  res.type(deps.metrics.registry.contentType).send(text);
};
