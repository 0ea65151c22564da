import { errors, type ErrorDetail } from '../errors.js';
import { isEventId } from '../store/event-id.js';

/** The issue for a value that is not an event id the server could have issued, or undefined when it is one. */
export function eventIdIssue(value: string, path: string, name: string): ErrorDetail | undefined {
  if (isEventId(value)) return undefined;
  return { path, code: 'INVALID_EVENT_ID', message: `\`${name}\` must be an event id (evt_ + 26-character ULID, first character 0-7)` };
}

/**
 * `value` when it is an event id the server could have issued (`evt_` + a ULID whose first
 * character is 0-7); otherwise 400 INVALID_EVENT_ID naming `path` (a JSON Pointer such as
 * `/params/id`). Used for every id a client gives: path parameters, resume points, `since_id`/`until_id`.
 */
export function requireEventId(value: unknown, path: string, name: string): string {
  const text = typeof value === 'string' ? value : '';
  const issue = eventIdIssue(text, path, name);
  if (issue) throw errors.invalidEventId(issue.message, [issue]);
  return text;
}
