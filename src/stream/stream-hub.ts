import type { IncomingMessage, Server } from 'node:http';
import type { Request, Response } from 'express';
import type { Principal } from '../auth/principal.js';
import type { ResolvedHistoryQuery } from '../query/resolve-history-query.js';

/**
 * The streaming side of the server: one tail of the store per process, subscribers as cursors
 * into the log, SSE and WebSocket writers sharing encoded bytes.
 */
export interface StreamHub {
  /** Starts tailing the store. Resolves once listening. */
  start(): Promise<void>;

  /**
   * Serves `GET /v1/events/stream` for an authenticated, validated request: writes the SSE
   * response until the client leaves, `until` is reached, or the hub closes.
   */
  serveSse(req: Request, res: Response, query: ResolvedHistoryQuery, principal: Principal): Promise<void>;

  /**
   * Handles WebSocket upgrades for `path` on `server`. `authorize` validates the upgrade request
   * exactly as the HTTP pipeline does and throws a registry error to refuse it before upgrading.
   */
  attachWebSocket(
    server: Server,
    path: string,
    authorize: (req: IncomingMessage) => { query: ResolvedHistoryQuery; principal: Principal },
  ): void;

  /** Open streams (SSE and WebSocket). */
  readonly subscriberCount: number;

  /** Ends every stream cleanly (SSE clients may resume elsewhere) and stops tailing. Safe to call twice. */
  close(): Promise<void>;
}
