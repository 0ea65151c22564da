import { errors } from '../errors.js';
import { isEventId } from '../store/event-id.js';

const VERSION = 1;

/** An opaque page cursor: the id of the last event of the page. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ v: VERSION, after: lastId })).toString('base64url');
}

/** The id a cursor continues after; INVALID_CURSOR when it is not one this server issued. */
export function decodeCursor(cursor: string): string {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null) {
      const { v, after } = value as { v?: unknown; after?: unknown };
      if (v === VERSION && typeof after === 'string' && isEventId(after)) return after;
    }
  } catch {
    // fall through to the registry error
  }
  throw errors.invalidCursor(undefined, [{ path: '/query/cursor', code: 'INVALID_CURSOR', message: 'is not a cursor from this server' }]);
}
