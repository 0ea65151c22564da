/**
 * The bundles the engine's stream, resume, filter, permission and contract tests run against
 * (issue 10): the native bundle (`specs/`) and `test/fixtures/bundles/partner`, which differs from it
 * in every dimension a bundle can change (paths, auth, scope names, parameter names, error bodies,
 * envelope, SSE naming, WebSocket wrappers, type names). A suite is written once, as
 * `describe.each(BUNDLE_CASES)`, and:
 *
 * - builds its requests from the bundle's wire profile (src/bundle/wire-profile.ts) and operations:
 *   paths, the credential it prefers, the parameter names of each operation ({@link TestBundle.path});
 * - checks every frame against the bundle's AsyncAPI document (the native one through the generated
 *   validators of test/helpers/frames.ts, any other through test/helpers/bundle-frames.ts);
 * - states what it expects on the wire through {@link TestBundle.wire}: each bundle's frames and
 *   error bodies written out by hand from its documents, so that the server's own encoders are never
 *   the oracle.
 */
import { fileURLToPath } from 'node:url';
import type { Bundle, BundleOperation, OperationRole, ParamRole } from '../../src/bundle/bundle.js';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { wireProfile, type WireProfile } from '../../src/bundle/wire-profile.js';
import { catalog, isEventType } from '../../src/generated/catalog.js';
import { YamlDocument, type JsonObject } from '../../src/bundle/yaml-document.js';

/** An event as a test reads it in any bundle: its id and catalog type, and the envelope exactly as the wire carried it. */
export interface TestEvent {
  id: string;
  type: string;
  /** The bundle's envelope (CloudEvents for the native bundle), as received. */
  envelope: JsonObject;
}

/** A test key: the id (for Basic) and the secret. */
export interface TestCredential {
  id: string;
  secret: string;
}

/** The operations a test addresses by role. */
export type TestOperation = 'sse' | 'ws' | 'head' | 'list' | 'publish' | 'get-event';

/** Query parameters by role (the native names): `{since_id: …, types: …}`. */
export type RoleQuery = Partial<Record<Exclude<ParamRole, 'id' | 'token'>, string>>;

/** What a bundle puts on the wire, written out by hand from its documents. */
export interface WireExpectations {
  sse: {
    /** The exact bytes of the resume-point frame naming `id`. */
    position(id: string): string;
    /** A string found in every resume-point frame and in no other frame (to prove one absent). */
    positionMarker: string;
    /** Field names of the drop notice's data (`x-specstream-frame` fields over `$dropped.*`). */
    dropped: { first: string; last: string; link: string };
  };
  ws: {
    position(id: string): JsonObject;
    end(reason: string): JsonObject;
    error(code: string, message: string): JsonObject;
    /** Field names of the status frame: the stream's lag in events and the key's open streams. */
    statusFields: { depth: string; subscribers: string };
    /** The part of a status frame these engine numbers determine (the fields the bundle carries, the discriminator included). */
    status(stats: { queue_depth: number; queue_max: number; subscribers: number; store: 'ok' | 'unavailable' }): JsonObject;
  };
  /** The JSON body of a registry error without details (a bundle may restyle the body and rename a code). */
  errorBody(code: string, message: string): JsonObject;
  /** The error body field that carries the registry code. */
  codeField: string;
  /** The code a registry error shows on the wire (a bundle may rename one, `x-specstream-errors.codes`). */
  code(registryCode: string): string;
}

/** One bundle the suites run against. */
export interface TestBundle {
  name: 'native' | 'partner';
  /** The `specs` option that serves it; undefined for the native bundle. */
  specs: string | undefined;
  bundle: Bundle;
  profile: WireProfile;
  /** The catalog types the tests use, by the part they play. */
  types: {
    /** What `publish()` cycles through when given no types. */
    cycle: readonly string[];
    /** Two types of one family: the `grants` test key may read and write these only. */
    family: readonly [string, string];
    /** The glob that names the family in the `grants` key's scopes (and in `?types=`). */
    familyGlob: string;
    /** True for a type of the family (written out, not computed with the server's glob matcher). */
    inFamily(type: string): boolean;
    /** A type outside the family. */
    audit: string;
    /** A type outside the family, filtered on alone. */
    alert: string;
    /** Five types, two of them of the family (at 0 and 2), for mixed traffic. */
    mixed: readonly string[];
    /** A `types` filter that mixes a glob and an exact type and leaves a type of the cycle out, and what it selects. */
    filter: { value: string; selects(type: string): boolean };
    /** A catalog type outside the cycle, that only a test asking for it publishes; undefined when every type is in the cycle. */
    quiet: string | undefined;
  };
  /** A native scope of the test keys (`events:read:grant.*`) in this bundle's scope names. */
  scope(native: string): string;
  /** The catalog example of `type`. */
  example(type: string): Record<string, unknown>;
  /** Valid `data` of about `bytes` bytes for the types that can carry padding (see each bundle); the example otherwise. */
  padded(type: string, bytes: number): Record<string, unknown>;
  wire: WireExpectations;
  /** The test event of a wire envelope (REST bodies, WebSocket frames). */
  event(envelope: JsonObject): TestEvent;
  /** Headers presenting `key` with the stream operation's preferred credential (`Authorization` first). */
  auth(key: TestCredential): Record<string, string>;
  /** The query parameter presenting `key` as a query token (`?token=`), for browsers. */
  queryAuth(key: TestCredential): Record<string, string>;
  /** True when the operation declares a query parameter of `role`. */
  offers(op: TestOperation, role: keyof RoleQuery): boolean;
  /** The name of the operation's query parameter of `role`; throws when it declares none. */
  param(op: TestOperation, role: keyof RoleQuery): string;
  /** Every query parameter of the operation with `role` (its aliases), in the document's order. */
  aliases(op: TestOperation, role: keyof RoleQuery): string[];
  /**
   * The operation's path with `query` (by role) and `extra` (by name) as its query string. A value's
   * RFC 3986 reserved characters are percent-encoded unless its parameter has `allowReserved: true`;
   * then only `&`, `#`, `+`, `%` and spaces are (natively `?types=grant.*,security.alert` stays as written).
   */
  path(op: TestOperation, query?: RoleQuery, extra?: Record<string, string>): string;
  /** The `get-event` path of `id`. */
  eventPath(id: string): string;
}

const ROLE_OF: Record<TestOperation, OperationRole> = {
  sse: 'stream-sse',
  ws: 'stream-ws',
  head: 'check-stream',
  list: 'list',
  publish: 'publish',
  'get-event': 'get-event',
};

function encodeReserved(value: string): string {
  return value.replace(/[%&#+ ]/g, (c) => encodeURIComponent(c));
}

/** Every RFC 3986 reserved character percent-encoded (`encodeURIComponent` leaves the sub-delims `!'()*` as they are). */
function encodeStrict(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface Definition {
  name: TestBundle['name'];
  specs: string | undefined;
  types: TestBundle['types'];
  padded(type: string, bytes: number, example: Record<string, unknown>): Record<string, unknown>;
  wire: WireExpectations;
}

function testBundle(definition: Definition): TestBundle {
  // Loaded on first use: every test server imports this module, most never leave the native bundle.
  let loaded: { bundle: Bundle; profile: WireProfile } | undefined;
  const load = () => {
    if (!loaded) {
      const bundle = loadBundle(definition.specs);
      loaded = { bundle, profile: wireProfile(bundle) };
    }
    return loaded;
  };
  const operation = (op: TestOperation): BundleOperation => {
    const role = ROLE_OF[op];
    const { bundle } = load();
    const found = bundle.operations.find((o) => o.role === role && o.types === undefined) ?? bundle.operations.find((o) => o.role === role);
    if (!found) throw new Error(`the ${definition.name} bundle has no ${role} operation`);
    return found;
  };
  const param = (op: TestOperation, role: keyof RoleQuery): string | undefined => operation(op).params.find((p) => p.in === 'query' && p.role === role)?.name;
  /** The query parameters of the operation declared with `allowReserved: true` (OpenAPI 3.1 section 4.8.12.2). */
  const reservedAllowed = (op: TestOperation): Set<string> => {
    const { bundle } = load();
    const { path, method } = operation(op);
    const item = (bundle.openapi.paths as JsonObject)[path] as JsonObject;
    const doc = new YamlDocument('openapi.yaml', bundle.openapi);
    const params = doc.inline([...((item.parameters as unknown[]) ?? []), ...((((item[method] as JsonObject).parameters as unknown[]) ?? []))]) as JsonObject[];
    return new Set(params.filter((p) => p.in === 'query' && p.allowReserved === true).map((p) => String(p.name)));
  };
  const example = (type: string): Record<string, unknown> => {
    // The native examples as the generated catalog has them (what the tests always published).
    if (definition.specs === undefined && isEventType(type)) return catalog[type].example;
    const found = load().bundle.catalog.find((entry) => entry.type === type)?.example;
    if (!found) throw new Error(`${type} has no example in the ${definition.name} bundle`);
    return found;
  };
  const key = (name: 'id' | 'type'): string => {
    const field = load().profile.envelope[name];
    if (field === undefined) throw new Error(`the ${definition.name} envelope carries no ${name}`);
    return field;
  };
  const self: TestBundle = {
    name: definition.name,
    specs: definition.specs,
    get bundle() {
      return load().bundle;
    },
    get profile() {
      return load().profile;
    },
    types: definition.types,
    scope(native) {
      const { scopes } = load().bundle;
      if (native === 'admin') return scopes.admin;
      if (native === 'metrics:read') return native; // not renamed by x-specstream-scopes (docs/bundles.md "Metrics scope")
      const match = /^events:(read|write)(?::(.+))?$/.exec(native);
      if (!match) throw new Error(`no ${definition.name} equivalent of the scope ${native}`);
      const base = match[1] === 'read' ? scopes.read : scopes.write;
      if (match[2] === undefined) return base;
      if (match[2] !== 'grant.*') throw new Error(`no ${definition.name} equivalent of the type glob ${match[2]}`);
      return `${base}${scopes.separator}${definition.types.familyGlob}`;
    },
    example,
    padded: (type, bytes) => definition.padded(type, bytes, example(type)),
    wire: definition.wire,
    event(envelope) {
      return { id: String(envelope[key('id')]), type: String(envelope[key('type')]), envelope };
    },
    auth({ id, secret }) {
      const auth = load().profile.auth[0];
      switch (auth?.kind) {
        case 'bearer':
          return { Authorization: `Bearer ${secret}` };
        case 'basic':
          return { Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` };
        case 'header':
          return { [auth.header]: secret };
        default:
          throw new Error(`the ${definition.name} stream accepts no credential in a header`);
      }
    },
    queryAuth({ secret }) {
      const auth = load().profile.auth.find((a) => a.kind === 'query');
      if (auth?.kind !== 'query') throw new Error(`the ${definition.name} stream accepts no query token`);
      return { [auth.param]: secret };
    },
    offers: (op, role) => param(op, role) !== undefined,
    aliases: (op, role) => operation(op).params.filter((p) => p.in === 'query' && p.role === role).map((p) => p.name),
    param(op, role) {
      const name = param(op, role);
      if (name === undefined) throw new Error(`the ${definition.name} ${ROLE_OF[op]} operation declares no ${role} parameter`);
      return name;
    },
    path(op, query = {}, extra = {}) {
      const pairs = [
        ...Object.entries(query).map(([role, value]) => [self.param(op, role as keyof RoleQuery), value!] as const),
        ...Object.entries(extra),
      ];
      const reserved = reservedAllowed(op);
      const search = pairs.map(([name, value]) => `${name}=${reserved.has(name) ? encodeReserved(value) : encodeStrict(value)}`).join('&');
      return `${operation(op).path}${search === '' ? '' : `?${search}`}`;
    },
    eventPath: (id) => operation('get-event').path.replace(/\{[^}]+\}/, id),
  };
  return self;
}

/** The native bundle: what every test ran against before issue 10, byte for byte. */
export const NATIVE: TestBundle = testBundle({
  name: 'native',
  specs: undefined,
  types: {
    cycle: ['grant.created', 'token.issued', 'security.alert', 'grant.revoked', 'audit_log.created'],
    family: ['grant.created', 'grant.revoked'],
    familyGlob: 'grant.*',
    inFamily: (type) => type.startsWith('grant.'),
    audit: 'audit_log.created',
    alert: 'security.alert',
    mixed: ['grant.created', 'audit_log.created', 'grant.revoked', 'token.issued', 'security.alert'],
    filter: { value: 'grant.*,security.alert', selects: (type) => type.startsWith('grant.') || type === 'security.alert' },
    quiet: 'budget.exhausted',
  },
  // grant.created: a long scope; audit_log.created: a metadata string.
  padded(type, bytes, example) {
    const pad = 'x'.repeat(bytes);
    if (type === 'grant.created') return { ...example, scopes: [`calendar:${pad}`] };
    if (type === 'audit_log.created') return { ...example, metadata: { pad } };
    return example;
  },
  wire: {
    sse: {
      position: (id) => `id: ${id}\nevent: stream.position\ndata: {"id":"${id}"}\n\n`,
      positionMarker: 'position',
      dropped: { first: 'first_missing_id', last: 'last_missing_id', link: 'backfill_url' },
    },
    ws: {
      position: (id) => ({ type: 'position', id }),
      end: (reason) => ({ type: 'end', reason }),
      error: (code, message) => ({ type: 'error', code, message }),
      statusFields: { depth: 'queue_depth', subscribers: 'subscribers' },
      status: ({ queue_depth, queue_max, subscribers, store }) => ({ type: 'status', queue_depth, queue_max, subscribers, store }),
    },
    errorBody: (code, message) => ({ error: message, code }),
    codeField: 'code',
    code: (registryCode) => registryCode,
  },
});

/** test/fixtures/bundles/partner: every dimension differs from the native bundle. */
export const PARTNER: TestBundle = testBundle({
  name: 'partner',
  specs: fileURLToPath(new URL('../fixtures/bundles/partner', import.meta.url)),
  types: {
    cycle: ['OrderPlaced', 'Refund.Issued', 'OrderShipped'],
    family: ['OrderPlaced', 'OrderShipped'],
    familyGlob: 'Order*',
    inFamily: (type) => type === 'OrderPlaced' || type === 'OrderShipped',
    // The catalog has three types: one outside the family plays both parts.
    audit: 'Refund.Issued',
    alert: 'Refund.Issued',
    mixed: ['OrderPlaced', 'Refund.Issued', 'OrderShipped', 'Refund.Issued', 'Refund.Issued'],
    filter: { value: '*Placed,Refund.Issued', selects: (type) => type === 'OrderPlaced' || type === 'Refund.Issued' },
    quiet: undefined,
  },
  // As natively, the first type of the family and the type outside it carry padding (a long order id).
  padded(type, bytes, example) {
    if (type === 'OrderPlaced' || type === 'Refund.Issued') return { ...example, orderId: `ord_${'x'.repeat(bytes)}` };
    return example;
  },
  wire: {
    sse: {
      position: (id) => `id: ${id}\nevent: resume-point\ndata: {"from":"${id}"}\n\n`,
      positionMarker: 'resume-point',
      dropped: { first: 'first', last: 'last', link: 'history' },
    },
    ws: {
      position: (id) => ({ t: 'resume', from: id }),
      end: (reason) => ({ t: 'bye', why: reason }),
      error: (code, message) => ({ t: 'oops', code, text: message }),
      statusFields: { depth: 'backlog', subscribers: 'clients' },
      status: ({ queue_depth, subscribers }) => ({ t: 'stats', backlog: queue_depth, clients: subscribers }),
    },
    errorBody: (code, message) => (code === 'AUTH_REQUIRED' ? { problem: 'NO_PARTNER_KEY', detail: 'A partner key is required' } : { problem: code, detail: message }),
    codeField: 'problem',
    code: (registryCode) => (registryCode === 'AUTH_REQUIRED' ? 'NO_PARTNER_KEY' : registryCode),
  },
});

/** The bundles every parameterised suite runs over. */
export const TEST_BUNDLES: readonly TestBundle[] = [NATIVE, PARTNER];

/** {@link TEST_BUNDLES} as `describe.each` cases: `describe.each(BUNDLE_CASES)('… (%s bundle)', (_name, b) => …)`. */
export const BUNDLE_CASES: readonly (readonly [TestBundle['name'], TestBundle])[] = TEST_BUNDLES.map((b) => [b.name, b] as const);

