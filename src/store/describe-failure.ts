import { redactUrl } from '../observability/logger.js';

/** One link of an error's `cause` chain as it may be logged. */
export interface FailureLink {
  name: string;
  /** A registry code, a SQLSTATE, a NATS/JetStream or system error code. */
  code?: string;
  message: string;
}

const MAX_LINKS = 5;
const MAX_MESSAGE = 300;

/**
 * An error and its `cause` chain (at most 5 links) reduced to what may be logged: each link's
 * name, code and message (cut to 300 characters), with credentials in URLs (`//user:pass@`) and
 * `token=` values redacted. Fields that can carry event data or statement text (PostgreSQL's
 * `detail`, `where`, `internalQuery`; a NATS message's payload) are left out.
 */
export function describeFailure(error: unknown): FailureLink[] {
  const links: FailureLink[] = [];
  const seen = new Set<unknown>();
  for (let at = error; at !== undefined && at !== null && links.length < MAX_LINKS && !seen.has(at); ) {
    seen.add(at);
    if (!(at instanceof Error)) {
      links.push({ name: typeof at, message: redact(String(at)) });
      break;
    }
    const code = (at as { code?: unknown }).code;
    links.push({
      name: at.name,
      ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
      message: redact(at.message),
    });
    at = at.cause;
  }
  return links;
}

function redact(message: string): string {
  return redactUrl(message.replace(/\/\/[^/@\s]*@/g, '//[REDACTED]@')).slice(0, MAX_MESSAGE);
}
