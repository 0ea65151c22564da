/**
 * One connection attempt of a subscription, as the transports (sse-attempt.ts, ws-attempt.ts) see
 * it, and what they yield: the bundle's frames read back into events, resume points, drop notices
 * and status frames.
 */
import type { ClientProfile, OperationProfile } from './profile.js';

/** Events a subscription was told it will never see (it fell behind the server's retention). */
export interface DroppedNotice {
  count: number;
  first_missing_id?: string;
  last_missing_id?: string;
  /** SSE only: a backfill path that would have listed them while they were retained. */
  backfill_url?: string;
}

/** What an attempt yields. */
export type Item =
  /** The server accepted the stream (yielded once, before anything else). */
  | { kind: 'opened' }
  /** An event: the wire envelope, its id (envelope or SSE `id:`) and its type when known. */
  | { kind: 'event'; event: unknown; id: string | undefined; type: string | undefined }
  | { kind: 'dropped'; notice: DroppedNotice }
  | { kind: 'status'; frame: unknown }
  /** A live-only stream's resume point (SSE position event or id-only block, WS position frame). */
  | { kind: 'position'; id: string }
  /** The stream's credentials ended (SSE `expired` frame): the attempt ends and the subscription reconnects at once with a fresh token. */
  | { kind: 'expired'; code: string };

/** What the subscription gives an attempt. */
export interface Attempt {
  profile: ClientProfile;
  /** The stream operation. */
  op: OperationProfile;
  /** The stream URL with the query (credentials in the query excluded for WebSocket: see `browserQuery`). */
  url: URL;
  headers: Record<string, string>;
  /** The credential as query parameters, for a WebSocket that cannot send headers (a browser); throws ProfileError when the bundle takes none. */
  browserQuery(): Record<string, string>;
  /** The HEAD request's URL and headers, when there is a HEAD operation. */
  check: { url: URL; headers: Record<string, string> } | undefined;
  signal: AbortSignal;
  heartbeatTimeoutMs: number;
  /** Called once the server accepted the stream. */
  opened(): void;
  /** Called when the server says the stream is over (204, or `end` with `until_reached`). */
  finish(): void;
  /** Aborts this attempt as dead (silence past the heartbeat timeout). */
  stale(): void;
}

/** The notice of a dropped frame whose fields are named by `fields` (what each wire key carries). */
export function droppedNotice(frame: Record<string, unknown>, fields: Record<string, string> | undefined): DroppedNotice {
  const read = (name: string) => frame[fields?.[name] ?? name];
  const notice: DroppedNotice = { count: Number(read('count') ?? 0) };
  for (const name of ['first_missing_id', 'last_missing_id', 'backfill_url'] as const) {
    const value = read(name);
    if (typeof value === 'string') notice[name] = value;
  }
  return notice;
}
