/**
 * A loaded spec bundle: everything a client sees, read from a bundle folder (docs/bundles.md).
 * The engine (store, hub, fan-out) is the same for every bundle; this object tells it the paths,
 * auth, scope names, parameter names, error bodies, envelope and frames.
 */
import type { FieldMap } from './field-map.js';
import type { JsonObject } from './yaml-document.js';

/** The built-in behaviour an operation runs (`x-specstream-operation`). */
export const OPERATION_ROLES = [
  'publish',
  'list',
  'get-event',
  'stream-sse',
  'stream-ws',
  'check-stream',
  'catalog',
  'health',
  'readiness',
  'metrics',
  'spec',
  'docs',
  'docs-page',
  'console',
  'console-asset',
  'issue-token',
] as const;
export type OperationRole = (typeof OPERATION_ROLES)[number];

/**
 * The roles whose operations read a history query (`types`, `since`, ..., the resume point): each
 * such operation has a compiled checker in the bundle's generated `queryCheckers`.
 */
export const QUERY_OPERATION_ROLES = ['list', 'stream-sse', 'stream-ws', 'check-stream'] as const satisfies readonly OperationRole[];

/** What an operation needs of the caller. */
export type Permission = 'public' | 'read' | 'write' | 'admin';

/** What a parameter means (`x-specstream-param`). */
export const PARAM_ROLES = ['types', 'since', 'until', 'since_id', 'until_id', 'last_event_id', 'token', 'limit', 'cursor', 'id'] as const;
export type ParamRole = (typeof PARAM_ROLES)[number];

/** The roles the history query reads and its rules are written against (limit and cursor belong to the list handler). */
export const HISTORY_ROLES = ['types', 'since', 'until', 'since_id', 'until_id', 'last_event_id'] as const;
export type HistoryRole = (typeof HISTORY_ROLES)[number];

/** A parameter of an operation with its role (undefined: an ordinary parameter the engine ignores). */
export interface BundleParam {
  name: string;
  in: 'query' | 'header' | 'path' | 'cookie';
  role?: ParamRole;
  /** `allowReserved: true` (OpenAPI 3.1 section 4.8.12.2): the value may hold reserved characters (`,`, `*`, `:`) unencoded. */
  allowReserved?: true;
}

/** One accepted way to authenticate (`components.securitySchemes`). */
export type SecurityScheme =
  | { kind: 'bearer'; name: string }
  | { kind: 'basic'; name: string }
  | { kind: 'apiKey'; name: string; in: 'query' | 'header' | 'cookie'; param: string };

/** One operation of the bundle's OpenAPI document, as routing, auth and handlers need it. */
export interface BundleOperation {
  operationId: string;
  method: 'get' | 'put' | 'post' | 'delete' | 'patch' | 'head' | 'options';
  /** The OpenAPI path template, e.g. `/v1/events/{id}`. */
  path: string;
  /** The same path in express syntax, e.g. `/v1/events/:id`. */
  expressPath: string;
  role: OperationRole;
  permission: Permission;
  /** Type globs the operation is restricted to, or undefined for the whole catalog. */
  types?: readonly string[];
  params: readonly BundleParam[];
  /** Accepted schemes, in the document's order. */
  schemes: readonly SecurityScheme[];
  /** True when a caller without credentials is accepted (as the anonymous principal). */
  anonymous: boolean;
  /** True when `security` lists an empty requirement `{}` beside others: credentials are optional. */
  optionalAuth: boolean;
  /**
   * The operation's `x-specstream-query-rules` (a `$ref` resolved), in the spec's order; empty when
   * it declares none. Codegen compiles them into the bundle's `queryCheckers`; the server runs
   * the generated checker, never these.
   */
  queryRules: readonly QueryRule[];
}

/** The bundle's scope names (`x-specstream-scopes`). */
export interface ScopeNames {
  read: string;
  write: string;
  admin: string;
  /** Between `read`/`write` and a type glob: `events:read:grant.*`. */
  separator: string;
}

/**
 * A rule between query parameters (`x-specstream-query-rules`), written against parameter roles:
 * the generator's input (scripts/lib/emit-query.ts), which emits the same type as `QueryRule`.
 */
export type QueryRule =
  | { rule: 'requires'; param: HistoryRole; requires: HistoryRole; code: string; message: string }
  | { rule: 'excludes'; param: HistoryRole; excludes: HistoryRole; code: string; message: string }
  | { rule: 'ordered'; param: HistoryRole; before: HistoryRole; code: string; message: string }
  | { rule: 'format'; param: HistoryRole; format: 'date-time' | 'event-id'; code: string; message: string }
  | { rule: 'catalog'; param: HistoryRole; code: string; message: string };

/** How errors become bodies (`x-specstream-errors`). */
export interface ErrorStyle {
  /** The default body map over `$error.*`; undefined means the native registry body. */
  body?: FieldMap;
  /** Per registry code: a replacement status and/or body. */
  codes: ReadonlyMap<string, { status?: number; body?: FieldMap }>;
}

/** How a stored event appears on the wire (`x-specstream-envelope`). */
export type EnvelopeSpec = { preset: 'cloudevents' } | { preset: 'fields'; map: FieldMap };

/** One SSE frame kind, as the bundle declares it. */
export type SseFrameSpec =
  | { role: 'event'; message: string; naming: 'type' | 'none' | { name: string }; id: boolean }
  | { role: 'retry'; message: string }
  | { role: 'position'; message: string; form: 'event' | 'id-only'; event?: string; field: string }
  | { role: 'heartbeat'; message: string; text: string }
  | { role: 'dropped-notice'; message: string; prefix: string; suffix: string }
  | { role: 'dropped'; message: string; event?: string; map: FieldMap }
  | { role: 'expired'; message: string; event?: string; map: FieldMap }
  | { role: 'error'; message: string; text: string };

/** One WebSocket frame kind, as the bundle declares it. */
export type WsFrameSpec = (
  | { role: 'event'; message: string; types?: readonly string[]; template: FrameTemplate; at: string }
  | { role: 'position' | 'status' | 'end' | 'dropped' | 'error'; message: string; map: FieldMap; everyMs?: number }
) & {
  /** The payload's first `const` property (the frame's discriminator), if any. */
  discriminator?: { key: string; value: unknown };
};

/**
 * An event frame's layout from its payload schema: properties in order, each a constant or the
 * envelope (`at`). `at: ''` means the frame is the envelope itself.
 */
export interface FrameTemplate {
  /** JSON text before the envelope, e.g. `{"type":"event","event":`; empty for a bare envelope. */
  before: string;
  /** JSON text after it, e.g. `}`. */
  after: string;
}

/** A stream channel of the AsyncAPI document bound to a `stream-sse` or `stream-ws` operation. */
export interface StreamChannel {
  /** The channel's key in `channels`. */
  id: string;
  address: string;
  kind: 'sse' | 'ws';
  sse: SseFrameSpec[];
  ws: WsFrameSpec[];
}

/** One event type of the catalog. */
export interface CatalogType {
  type: string;
  /** The message key in the AsyncAPI document. */
  message: string;
  title: string;
  summary: string;
  description?: string;
  deprecated: boolean;
  /** JSON Schema of `data`, refs inlined. */
  schema: JsonObject;
  /** An example `data`. */
  example?: JsonObject;
}

/** A loaded bundle. */
export interface Bundle {
  /** The bundle folder, absolute. */
  dir: string;
  /** The folder's name (`audit-log`), or `specstream` for the native bundle. */
  name: string;
  native: boolean;
  title: string;
  openapi: JsonObject;
  asyncapi: JsonObject;
  operations: readonly BundleOperation[];
  scopes: ScopeNames;
  errors: ErrorStyle;
  envelope: EnvelopeSpec;
  catalog: readonly CatalogType[];
  /** Channels by kind (at most one of each: the bundle's SSE and WebSocket streams). */
  channels: { sse?: StreamChannel; ws?: StreamChannel };
  /** `specstream.yaml` of the bundle: configuration defaults. */
  defaults: JsonObject;
}
