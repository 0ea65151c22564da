/**
 * Node only: the SDK profile of a bundle folder (`specs: DIR`) or of a server's spec texts
 * (`specsFromServer`). It reads files with the bundle loader, which imports `node:fs`, so the
 * browser build of the SDK never imports this module: `load-profile.ts` loads it on demand.
 */
import type { Bundle, BundleOperation, OperationRole } from '../bundle/bundle.js';
import { BundleError } from '../bundle/bundle-error.js';
import type { FieldMap } from '../bundle/field-map.js';
import { loadBundle, parseBundle } from '../bundle/load-bundle.js';
import { wireProfile, type ClientAuth } from '../bundle/wire-profile.js';
import { ProfileError } from './errors.js';
import type { ClientProfile, FrameFields, OperationProfile, QueryRole } from './profile.js';

const QUERY_ROLES: readonly QueryRole[] = ['types', 'since', 'until', 'since_id', 'until_id', 'last_event_id', 'limit', 'cursor'];
const AUTH_ORDER: Record<ClientAuth['kind'], number> = { bearer: 0, basic: 1, header: 2, query: 3, none: 4 };

/** The SDK profile of a loaded bundle: its wire profile plus per-operation details. */
export function clientProfile(bundle: Bundle): ClientProfile {
  const find = (role: OperationRole) => bundle.operations.find((op) => op.role === role && op.types === undefined) ?? bundle.operations.find((op) => op.role === role);
  const operations: NonNullable<ClientProfile['operations']> = {};
  const sse = find('stream-sse');
  if (sse) operations.sse = operationProfile(sse);
  const ws = find('stream-ws');
  if (ws) operations.ws = operationProfile(ws);
  const head = find('check-stream');
  if (head) operations.head = operationProfile(head);
  const publish = find('publish');
  if (publish) {
    const batch = batchForm(bundle, publish);
    operations.publish = { ...operationProfile(publish), ...(batch ? { batch } : {}) };
  }
  operations.lists = bundle.operations.filter((op) => op.role === 'list').map(operationProfile);

  const fields: NonNullable<ClientProfile['fields']> = {};
  const dropped = bundle.channels.sse?.sse.find((frame) => frame.role === 'dropped');
  if (dropped?.role === 'dropped') fields.sseDropped = fieldsOf(dropped.map);
  for (const frame of bundle.channels.ws?.ws ?? []) {
    if (frame.role === 'event' || frame.role === 'status') continue;
    const key = ({ position: 'wsPosition', end: 'wsEnd', dropped: 'wsDropped', error: 'wsError' } as const)[frame.role];
    fields[key] = fieldsOf(frame.map);
  }

  const profile: ClientProfile = { ...wireProfile(bundle), operations, fields };
  if (bundle.envelope.preset === 'fields') {
    const { map } = bundle.envelope;
    const keys: Record<string, string> = {};
    for (const field of map.fields) if (field.kind === 'value') keys[field.key] = map.expressions.get(field.key) ?? 'const';
    profile.envelopeMap = { keys, ...(map.spread !== undefined ? { spread: map.spread } : {}) };
  }
  return profile;
}

/**
 * The profile of the bundle in `dir` (read once per process).
 *
 * @throws ProfileError `INVALID_BUNDLE` with the loader's file#pointer lines when the bundle is refused.
 */
export function loadClientProfile(dir: string): ClientProfile {
  return refusedAsProfileError(() => clientProfile(loadBundle(dir)));
}

/**
 * The profile of a bundle given as the texts of its documents (a server's `GET /specs/openapi.yaml`
 * and `/specs/asyncapi.yaml`); `name` names it in messages.
 *
 * @throws ProfileError `INVALID_BUNDLE` when the documents are not a bundle the loader accepts.
 */
export function parseClientProfile(name: string, texts: { openapi: string; asyncapi: string }): ClientProfile {
  return refusedAsProfileError(() => clientProfile(parseBundle(name, texts)));
}

function refusedAsProfileError(work: () => ClientProfile): ClientProfile {
  try {
    return work();
  } catch (error) {
    if (error instanceof BundleError) throw new ProfileError('INVALID_BUNDLE', `the bundle is refused:\n${error.message}`, { cause: error });
    throw error;
  }
}

function operationProfile(op: BundleOperation): OperationProfile {
  // A cookie scheme is the browser's cookie jar (same-site dashboards), not a credential the SDK sends.
  const auth: ClientAuth[] = op.schemes
    .filter((scheme) => scheme.kind !== 'apiKey' || scheme.in !== 'cookie')
    .map((scheme): ClientAuth => {
      if (scheme.kind === 'bearer' || scheme.kind === 'basic') return { kind: scheme.kind };
      return scheme.in === 'query' ? { kind: 'query', param: scheme.param } : { kind: 'header', header: scheme.param };
    });
  if (op.anonymous || auth.length === 0) auth.push({ kind: 'none' });
  auth.sort((a, b) => AUTH_ORDER[a.kind] - AUTH_ORDER[b.kind]);
  const query: OperationProfile['query'] = {};
  let resumeHeader: string | undefined;
  for (const param of op.params) {
    if (param.in === 'header' && param.role === 'last_event_id') resumeHeader ??= param.name;
    if (param.in !== 'query' || param.role === undefined || !(QUERY_ROLES as readonly string[]).includes(param.role)) continue;
    query[param.role as QueryRole] ??= param.name;
  }
  return { path: op.path, auth, query, ...(resumeHeader ? { resumeHeader } : {}), ...(op.types ? { types: [...op.types] } : {}) };
}

/** `{count: 'count', ...}` from a frame's field map: what each wire key carries, by source name. */
function fieldsOf(map: FieldMap): FrameFields {
  const fields: FrameFields = {};
  for (const [key, expression] of map.expressions) {
    const name = expression.split('.')[1];
    if (name !== undefined) fields[name] ??= key;
  }
  return fields;
}

/** How the publish operation's request body takes a batch: a JSON array, `{events: [...]}`, or not at all. */
function batchForm(bundle: Bundle, op: BundleOperation): 'array' | 'events' | undefined {
  const root = bundle.openapi;
  const operation = deref(root, (deref(root, root.paths) as Record<string, unknown> | undefined)?.[op.path]) as Record<string, unknown> | undefined;
  const body = deref(root, (deref(root, operation?.[op.method]) as Record<string, unknown> | undefined)?.requestBody) as Record<string, unknown> | undefined;
  const content = deref(root, body?.content) as Record<string, unknown> | undefined;
  const media = deref(root, content?.['application/json']) as Record<string, unknown> | undefined;
  const schema = deref(root, media?.schema) as Record<string, unknown> | undefined;
  const alternatives = [schema, ...['oneOf', 'anyOf'].flatMap((key) => (Array.isArray(schema?.[key]) ? (schema[key] as unknown[]) : []))]
    .map((node) => deref(root, node) as Record<string, unknown> | undefined)
    .filter((node): node is Record<string, unknown> => node !== undefined && node !== null && typeof node === 'object');
  if (alternatives.some((node) => node.type === 'array')) return 'array';
  if (alternatives.some((node) => typeof node.properties === 'object' && node.properties !== null && 'events' in node.properties)) return 'events';
  return undefined;
}

/** Follows local `$ref`s (`#/components/...`, RFC 6901) from `node`; at most 32 hops. */
function deref(root: Record<string, unknown>, node: unknown): unknown {
  let current = node;
  for (let hops = 0; hops < 32 && current !== null && typeof current === 'object' && typeof (current as { $ref?: unknown }).$ref === 'string'; hops++) {
    const ref = (current as { $ref: string }).$ref;
    if (!ref.startsWith('#/')) return undefined;
    current = ref
      .slice(2)
      .split('/')
      .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((at, token) => (at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[token] : undefined), root);
  }
  return current;
}
