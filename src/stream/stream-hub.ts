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
    authorize: (req: IncomingMessage) => Promise<{ query: ResolvedHistoryQuery; principal: Principal }>,
  ): void;

  /** The principals of the open streams, each once (a key reload checks whether each still holds). */
  principals(): Principal[];

  /**
   * Ends every open stream whose principal `select` picks, with the credential notice (SSE the
   * bundle's `expired` event, WebSocket an `error` frame with `code`, then close 1008). Returns how
   * many ended. Streams opened with a token also end by themselves when it expires (`TOKEN_EXPIRED`).
   */
  endStreams(select: (principal: Principal) => boolean, code: string, message: string): number;

  /** Open streams (SSE and WebSocket). */
  readonly subscriberCount: number;

  /**
   * Runs a retention pass now (the hub also runs one every `retention_interval_s`): deletes what
   * `retention_max_age_s` / `retention_max_count` no longer keep, then forgets from memory every
   * event below the log's oldest retained one, whichever node deleted it. Resolves with how many
   * events this pass deleted; rejects with the store's error.
   */
  applyRetention(): Promise<number>;

  /** A point-in-time view of the hub's memory and of every stream's position, for operators and tests. */
  snapshot(): HubSnapshot;

  /** Ends every stream cleanly (SSE clients may resume elsewhere) and stops tailing. Safe to call twice. */
  close(): Promise<void>;
}

/** What `StreamHub.snapshot` reports. */
export interface HubSnapshot {
  /** The newest id the tail has read (`''` for an empty log). */
  headId: string;
  ring: { length: number; capacity: number; bytes: number };
  /** Events the ledger remembers (ids and types only). */
  ledgerLength: number;
  subscribers: SubscriberSnapshot[];
}

/** One stream in a `HubSnapshot`. */
export interface SubscriberSnapshot {
  transport: 'sse' | 'ws';
  keyId: string;
  /** Everything up to this id has been delivered (or filtered out). */
  cursorId: string;
  /** Reading from the in-memory ring (true) or from the store (false). */
  inRing: boolean;
  /** Waiting for the socket to drain. */
  paused: boolean;
  /** Bytes written but not yet handed to the kernel: what this stream costs in memory beyond its cursor. */
  bufferedBytes: number;
  delivered: number;
  /** Events of its types between its cursor and the head. */
  lag: number;
}
