import type { Handler } from '../app.js';

/** `GET /healthz` (operationId getHealth): the process answers. */
export const getHealth: Handler = (_req, res) => {
  res.json({ status: 'ok' });
};
