import type { Handler } from '../app.js';
import { errors, SpecstreamError, type ErrorDetail } from '../errors.js';
import { envelopeObject } from '../bundle/envelope.js';
import type { JsonObject } from '../bundle/yaml-document.js';
import { jsonFingerprint } from '../store/canonical-json.js';
import { describeFailure } from '../store/describe-failure.js';
import type { AppendResult, NewEvent } from '../store/store.js';
import { zodIssuesToDetails } from '../http/zod-details.js';

// The request body was checked by `checkJsonBody` (depth, characters, `__proto__`) and validated
// against NewEvent | NewEventBatch by the OpenAPI validator, or the same checks of the publish hot
// path (src/http/publish-shortcut.ts), which calls this handler with Node's request and response:
// only their own properties are used here.
interface NewEventBody {
  type: string;
  source?: string;
  subject?: string;
  datacontenttype?: string;
  data: Record<string, unknown>;
}

/**
 * `POST /v1/events` (operationId publishEvents): validates each event's type against the catalog
 * and its data against the generated schema, checks write scopes, and stores the batch atomically.
 * What is stored (and acknowledged) is the validated value: the `data` the catalog's validator
 * returned, not the request body.
 */
export const publishEvents: Handler = async (req, res, { deps, principal }) => {
  if (!principal) throw errors.authRequired();
  const started = process.hrtime.bigint();
  const body = req.body as NewEventBody | NewEventBody[];
  const isBatch = Array.isArray(body);
  const items = isBatch ? body : [body];

  const details: ErrorDetail[] = [];
  let unknownType = false;
  const forbidden = new Set<string>();
  const events: NewEvent[] = [];
  items.forEach((item, index) => {
    const at = isBatch ? `/${index}` : '';
    const schema = deps.served.catalog.dataSchema(item.type);
    if (!schema) {
      unknownType = true;
      details.push({ path: `${at}/type`, code: 'UNKNOWN_EVENT_TYPE', message: `"${item.type}" is not in the catalog` });
      return;
    }
    if (!principal.canWrite(item.type)) forbidden.add(item.type);
    const result = schema.safeParse(item.data);
    if (!result.success) {
      details.push(...zodIssuesToDetails(result.error.issues, `${at}/data`));
      return;
    }
    events.push({
      type: item.type,
      source: item.source ?? `/${item.type.split('.')[0]}`,
      ...(item.subject !== undefined ? { subject: item.subject } : {}),
      data: result.data as Record<string, unknown>,
    });
  });
  if (unknownType) throw errors.unknownEventType(undefined, details);
  if (details.length > 0) throw errors.validationFailed(undefined, details);
  if (forbidden.size > 0) throw errors.forbidden(`This key may not publish ${[...forbidden].sort().join(', ')}`);

  // Node joins repeated headers with ", ", as express's `req.header` returns them.
  const key = req.headers['idempotency-key'] as string | undefined;
  let result: AppendResult;
  try {
    result = await deps.store.append(
      events,
      key === undefined
        ? undefined
        : {
            idempotencyKey: `${principal.keyId}:${key}`,
            // Of the validated request as a JSON value (RFC 8785), not of its text: a retry that
            // writes the same value with members in another order is the same request.
            fingerprint: jsonFingerprint({ batch: isBatch, events }),
          },
    );
  } catch (error) {
    // The client sees only the code; the operator sees why (the cause chain, never event data).
    if (error instanceof SpecstreamError && error.status >= 500) {
      deps.logger.warn({ failure: describeFailure(error), events: events.length }, 'publish: the store failed');
    }
    throw isBatch ? error : singleEventPaths(error);
  }

  deps.metrics.publishDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
  else for (const event of result.events) deps.metrics.eventsPublished.inc({ type: event.type });
  const { bundle } = deps.served;
  const stored = bundle.native ? result.events : result.events.map((event) => envelopeObject(bundle.envelope, event as unknown as JsonObject));
  // What express's `res.status(201).json(...)` writes, without express: the publish hot path
  // (src/http/publish-shortcut.ts) calls this handler with Node's own response.
  res.statusCode = 201;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(isBatch ? { data: stored } : stored[0]));
};

/**
 * The store names an event by its index in the call (`/0/subject`); a single-event request has no
 * index in its body, so its paths lose the `/0`.
 */
function singleEventPaths(error: unknown): unknown {
  if (!(error instanceof SpecstreamError) || error.details === undefined) return error;
  const details = error.details.map((detail) => ({ ...detail, path: detail.path.replace(/^\/0(?=\/|$)/, '') }));
  return new SpecstreamError(error.code, error.status, error.message, details, { cause: error.cause });
}
