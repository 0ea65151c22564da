/**
 * Reads a bundle folder (docs/bundles.md) and checks every `x-specstream-*` keyword: read or
 * refuse. A bad bundle throws one BundleError listing every problem with its file and JSON
 * Pointer; nothing here throws a bare TypeError for a mistake in the files.
 */
import { existsSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  Bundle,
  BundleOperation,
  BundleParam,
  CatalogType,
  EnvelopeSpec,
  ErrorStyle,
  FrameTemplate,
  HistoryRole,
  OperationRole,
  ParamRole,
  Permission,
  QueryRule,
  ScopeNames,
  SecurityScheme,
  SseFrameSpec,
  StreamChannel,
  WsFrameSpec,
} from './bundle.js';
import { HISTORY_ROLES, OPERATION_ROLES, PARAM_ROLES } from './bundle.js';
import { compileTypeGlob } from '../catalog/type-glob.js';
import { BundleError, pointerTo, ProblemList } from './bundle-error.js';
import { compileFieldMap, type SourceGroup } from './field-map.js';
import { findExtensions, isObject, YamlDocument, type JsonObject } from './yaml-document.js';

/** The native bundle: the repository's (or the installed package's) `specs/` folder. */
export const NATIVE_BUNDLE_DIR = fileURLToPath(new URL('../../specs/', import.meta.url)).replace(/[\\/]$/, '');

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** Where each keyword may appear. */
const OPENAPI_KEYWORDS: Record<string, RegExp> = {
  'x-specstream-operation': /^\/paths\/[^/]+\/[a-z]+$/,
  'x-specstream-permission': /^\/paths\/[^/]+\/[a-z]+$/,
  'x-specstream-query-rules': /^(\/paths\/[^/]+\/[a-z]+|\/components)$/,
  'x-specstream-param': /\/parameters\/[^/]+$/,
  'x-specstream-scopes': /^$/,
  'x-specstream-errors': /^$/,
};
const ASYNCAPI_KEYWORDS: Record<string, RegExp> = {
  'x-specstream-event-type': /\/messages\/[^/]+$/,
  'x-specstream-sse': /(\/messages\/[^/]+|^\/channels\/[^/]+)$/,
  'x-specstream-ws': /^\/channels\/[^/]+$/,
  'x-specstream-frame': /\/messages\/[^/]+$/,
  'x-specstream-envelope': /^$/,
};

/** Parameter names that take a role without `x-specstream-param` (the native bundle's names). */
const DEFAULT_PARAM_ROLES: Record<string, ParamRole> = {
  'query:types': 'types',
  'query:since': 'since',
  'query:until': 'until',
  'query:since_id': 'since_id',
  'query:until_id': 'until_id',
  'query:last_event_id': 'last_event_id',
  'query:lastEventId': 'last_event_id',
  'query:lastEventID': 'last_event_id',
  'header:last-event-id': 'last_event_id',
  'query:limit': 'limit',
  'query:cursor': 'cursor',
  'path:id': 'id',
};

const DEFAULT_PERMISSION: Record<OperationRole, Permission> = {
  publish: 'write',
  list: 'read',
  'get-event': 'read',
  'stream-sse': 'read',
  'stream-ws': 'read',
  'check-stream': 'read',
  catalog: 'public',
  health: 'public',
  readiness: 'public',
  metrics: 'public',
  spec: 'public',
  docs: 'public',
  'docs-page': 'public',
  console: 'public',
  'console-asset': 'public',
  // The handler also requires the `tokens:issue` scope (or admin): src/handlers/issue-token.ts.
  'issue-token': 'read',
};

const NATIVE_SCOPES: ScopeNames = { read: 'events:read', write: 'events:write', admin: 'admin', separator: ':' };

/** An event type name (docs/bundles.md). */
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

const cache = new Map<string, Bundle>();

/**
 * Loads the bundle in `dir` (default: the native `specs/`). Results are cached per folder: a
 * bundle is read once per process. Throws BundleError for any problem.
 */
export function loadBundle(dir: string = NATIVE_BUNDLE_DIR): Bundle {
  const absolute = resolve(dir);
  const cached = cache.get(absolute);
  if (cached) return cached;
  const bundle = readBundle(absolute);
  cache.set(absolute, bundle);
  return bundle;
}

function readBundle(dir: string): Bundle {
  const shown = (file: string) => {
    const rel = relative(process.cwd(), join(dir, file));
    return rel.startsWith('..') ? join(dir, file) : rel;
  };
  const openapiDoc = YamlDocument.read(join(dir, 'openapi.yaml'), shown('openapi.yaml'));
  const asyncapiDoc = YamlDocument.read(join(dir, 'asyncapi.yaml'), shown('asyncapi.yaml'));
  const defaultsPath = join(dir, 'specstream.yaml');
  const defaultsDoc = existsSync(defaultsPath) ? YamlDocument.read(defaultsPath, shown('specstream.yaml')) : undefined;
  return buildBundle(dir, openapiDoc, asyncapiDoc, defaultsDoc);
}

/**
 * A bundle from the texts of its documents (e.g. fetched from a server's `GET /specs/{file}`),
 * named `name` in messages. Throws BundleError like `loadBundle`.
 */
export function parseBundle(name: string, texts: { openapi: string; asyncapi: string; defaults?: string }): Bundle {
  return buildBundle(
    name,
    YamlDocument.parse(texts.openapi, `${name}/openapi.yaml`),
    YamlDocument.parse(texts.asyncapi, `${name}/asyncapi.yaml`),
    texts.defaults === undefined ? undefined : YamlDocument.parse(texts.defaults, `${name}/specstream.yaml`),
  );
}

function buildBundle(dir: string, openapiDoc: YamlDocument, asyncapiDoc: YamlDocument, defaultsDoc: YamlDocument | undefined): Bundle {
  const oa = new ProblemList(openapiDoc.file);
  const aa = oa.forFile(asyncapiDoc.file);

  if (openapiDoc.root.openapi !== '3.1.0') oa.add('/openapi', 'expected openapi: 3.1.0');
  if (asyncapiDoc.root.asyncapi !== '3.0.0') aa.add('/asyncapi', 'expected asyncapi: 3.0.0');
  checkKeywordPlaces(openapiDoc, OPENAPI_KEYWORDS, oa);
  checkKeywordPlaces(asyncapiDoc, ASYNCAPI_KEYWORDS, aa);

  const catalog = readCatalog(asyncapiDoc, aa);
  const typeNames = catalog.map((entry) => entry.type);
  const schemes = readSecuritySchemes(openapiDoc, oa);
  const operations = readOperations(openapiDoc, schemes, typeNames, oa);
  const scopes = readScopes(openapiDoc, oa);
  const errors = readErrors(openapiDoc, oa);
  const envelope = readEnvelope(asyncapiDoc, catalog, aa);
  const channels = readChannels(asyncapiDoc, operations, typeNames, aa);

  if (oa.problems.length > 0) throw new BundleError(oa.problems);
  const info = isObject(openapiDoc.root.info) ? openapiDoc.root.info : {};
  const native = resolve(dir) === resolve(NATIVE_BUNDLE_DIR);
  return {
    dir,
    name: native ? 'specstream' : basename(dir),
    native,
    title: typeof info.title === 'string' ? info.title : basename(dir),
    openapi: openapiDoc.root,
    asyncapi: asyncapiDoc.root,
    operations,
    scopes,
    errors,
    envelope,
    catalog,
    channels,
    defaults: defaultsDoc?.root ?? {},
  };
}

function checkKeywordPlaces(doc: YamlDocument, allowed: Record<string, RegExp>, problems: ProblemList): void {
  for (const found of findExtensions(doc.root)) {
    const place = allowed[found.key];
    if (!place) {
      problems.add(found.pointer, `unknown keyword ${found.key}; known: ${Object.keys(allowed).join(', ')}`);
    } else if (!place.test(found.parent)) {
      problems.add(found.pointer, `${found.key} is not read here (see docs/bundles.md for where it goes)`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

function readSecuritySchemes(doc: YamlDocument, problems: ProblemList): Map<string, SecurityScheme> {
  const schemes = new Map<string, SecurityScheme>();
  const components = isObject(doc.root.components) ? doc.root.components : {};
  const declared = isObject(components.securitySchemes) ? components.securitySchemes : {};
  for (const [name, raw] of Object.entries(declared)) {
    const at = pointerTo('/components/securitySchemes', name);
    const { node } = doc.deref(raw, at, (p, m) => problems.add(p, m));
    if (!isObject(node)) continue;
    const scheme = typeof node.scheme === 'string' ? node.scheme.toLowerCase() : undefined;
    if (node.type === 'http' && scheme === 'bearer') schemes.set(name, { kind: 'bearer', name });
    else if (node.type === 'http' && scheme === 'basic') schemes.set(name, { kind: 'basic', name });
    else if (node.type === 'apiKey' && (node.in === 'query' || node.in === 'header' || node.in === 'cookie') && typeof node.name === 'string') {
      schemes.set(name, { kind: 'apiKey', name, in: node.in, param: node.name });
    } else {
      problems.add(at, 'supported schemes: http bearer, http basic, apiKey in query, header or cookie');
    }
  }
  return schemes;
}

function readOperations(
  doc: YamlDocument,
  schemes: Map<string, SecurityScheme>,
  typeNames: readonly string[],
  problems: ProblemList,
): BundleOperation[] {
  const operations: BundleOperation[] = [];
  const paths = isObject(doc.root.paths) ? doc.root.paths : {};
  const operationIds = new Set<string>();
  const readRules = new Map<string, QueryRule[]>();
  for (const [path, rawItem] of Object.entries(paths)) {
    const itemPointer = pointerTo('/paths', path);
    const { node: item } = doc.deref(rawItem, itemPointer, (p, m) => problems.add(p, m));
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const at = pointerTo(itemPointer, method);
      const operationId = op.operationId;
      if (typeof operationId !== 'string') {
        problems.add(at, 'every operation needs an operationId');
        continue;
      }
      if (operationIds.has(operationId)) problems.add(`${at}/operationId`, `operationId ${operationId} is used twice`);
      operationIds.add(operationId);
      const role = readRole(op['x-specstream-operation'], `${at}/x-specstream-operation`, typeNames, problems);
      if (!role) continue;
      const permission = op['x-specstream-permission'] ?? DEFAULT_PERMISSION[role.role];
      if (!['public', 'read', 'write', 'admin'].includes(permission as string)) {
        problems.add(`${at}/x-specstream-permission`, 'expected public, read, write or admin');
        continue;
      }
      const params = readParams(doc, [...asArray(item.parameters, `${itemPointer}/parameters`), ...asArray(op.parameters, `${at}/parameters`)], problems);
      const security = readSecurity(op.security ?? doc.root.security, op.security ? `${at}/security` : '/security', schemes, problems);
      if (permission !== 'public' && security.schemes.length === 0 && !security.anonymous) {
        problems.add(at, `a ${permission as string} operation needs a security requirement (or {} for anonymous callers)`);
      }
      operations.push({
        operationId,
        method,
        path,
        expressPath: path.replace(/\{([^}]+)\}/g, ':$1'),
        role: role.role,
        permission: permission as Permission,
        ...(role.types ? { types: role.types } : {}),
        params,
        schemes: security.schemes,
        anonymous: security.anonymous,
        optionalAuth: security.optional,
        queryRules: readQueryRules(doc, op['x-specstream-query-rules'], `${at}/x-specstream-query-rules`, readRules, problems),
      });
    }
  }
  const templated = (op: BundleOperation) => (op.path.match(/\{/g) ?? []).length;
  // Literal paths before templated ones; an explicit HEAD before the GET express also routes HEAD to.
  const headFirst = (op: BundleOperation) => (op.method === 'head' ? 0 : 1);
  return operations.sort((a, b) => templated(a) - templated(b) || headFirst(a) - headFirst(b));
}

function asArray(value: unknown, pointer: string): Array<{ node: unknown; pointer: string }> {
  if (!Array.isArray(value)) return [];
  return value.map((node, index) => ({ node, pointer: `${pointer}/${index}` }));
}

function readRole(
  value: unknown,
  pointer: string,
  typeNames: readonly string[],
  problems: ProblemList,
): { role: OperationRole; types?: string[] } | undefined {
  if (value === undefined) {
    problems.add(pointer.replace(/\/x-specstream-operation$/, ''), `x-specstream-operation is required: one of ${OPERATION_ROLES.join(', ')}`);
    return undefined;
  }
  const role = isObject(value) ? value.role : value;
  if (typeof role !== 'string' || !(OPERATION_ROLES as readonly string[]).includes(role)) {
    problems.add(isObject(value) ? `${pointer}/role` : pointer, `expected one of ${OPERATION_ROLES.join(', ')}`);
    return undefined;
  }
  if (!isObject(value)) return { role: role as OperationRole };
  for (const key of Object.keys(value)) if (key !== 'role' && key !== 'types') problems.add(`${pointer}/${key}`, 'expected only role and types');
  if (value.types === undefined) return { role: role as OperationRole };
  if (!Array.isArray(value.types) || value.types.some((t) => typeof t !== 'string')) {
    problems.add(`${pointer}/types`, 'expected a list of catalog types or globs');
    return undefined;
  }
  const types = value.types as string[];
  types.forEach((glob, index) => {
    if (!typeNames.some((type) => compileTypeGlob(glob)(type))) problems.add(`${pointer}/types/${index}`, `${glob} matches no catalog type`);
  });
  return { role: role as OperationRole, types };
}

function readParams(doc: YamlDocument, raw: Array<{ node: unknown; pointer: string }>, problems: ProblemList): BundleParam[] {
  const params: BundleParam[] = [];
  for (const { node: rawNode, pointer } of raw) {
    const { node, pointer: at } = doc.deref(rawNode, pointer, (p, m) => problems.add(p, m));
    if (!isObject(node) || typeof node.name !== 'string') continue;
    const where = node.in;
    if (where !== 'query' && where !== 'header' && where !== 'path' && where !== 'cookie') continue;
    let role: ParamRole | undefined;
    const declared = node['x-specstream-param'];
    if (declared !== undefined) {
      if (typeof declared !== 'string' || !(PARAM_ROLES as readonly string[]).includes(declared)) {
        problems.add(`${at}/x-specstream-param`, `expected one of ${PARAM_ROLES.join(', ')}`);
      } else role = declared as ParamRole;
    } else {
      role = DEFAULT_PARAM_ROLES[`${where}:${where === 'header' ? node.name.toLowerCase() : node.name}`];
    }
    params.push({ name: node.name, in: where, ...(role ? { role } : {}), ...(node.allowReserved === true ? { allowReserved: true as const } : {}) });
  }
  return params;
}

function readSecurity(
  value: unknown,
  pointer: string,
  schemes: Map<string, SecurityScheme>,
  problems: ProblemList,
): { schemes: SecurityScheme[]; anonymous: boolean; optional: boolean } {
  if (value === undefined) return { schemes: [], anonymous: false, optional: false };
  if (!Array.isArray(value)) {
    problems.add(pointer, 'expected a list of security requirements');
    return { schemes: [], anonymous: false, optional: false };
  }
  const accepted: SecurityScheme[] = [];
  let anonymous = value.length === 0;
  let optional = false;
  value.forEach((requirement, index) => {
    if (!isObject(requirement)) return;
    const names = Object.keys(requirement);
    if (names.length === 0) {
      anonymous = true;
      optional = true;
    }
    if (names.length > 1) problems.add(`${pointer}/${index}`, 'a requirement naming several schemes at once (AND) is not supported; list them separately (OR)');
    for (const name of names) {
      const scheme = schemes.get(name);
      if (!scheme) problems.add(pointer, `${name} is not in components.securitySchemes`);
      else if (!accepted.includes(scheme)) accepted.push(scheme);
    }
  });
  return { schemes: accepted, anonymous, optional };
}

function readScopes(doc: YamlDocument, problems: ProblemList): ScopeNames {
  const value = doc.root['x-specstream-scopes'];
  if (value === undefined) return NATIVE_SCOPES;
  const scopes = { ...NATIVE_SCOPES };
  if (!isObject(value)) {
    problems.add('/x-specstream-scopes', 'expected {read, write, admin, separator}');
    return scopes;
  }
  for (const [key, name] of Object.entries(value)) {
    if (!(key in scopes)) problems.add(`/x-specstream-scopes/${key}`, 'expected only read, write, admin and separator');
    else if (typeof name !== 'string' || name === '' || /[\s,]/.test(name)) problems.add(`/x-specstream-scopes/${key}`, 'expected a scope name without spaces or commas');
    else scopes[key as keyof ScopeNames] = name;
  }
  return scopes;
}

function readErrors(doc: YamlDocument, problems: ProblemList): ErrorStyle {
  const value = doc.root['x-specstream-errors'];
  const style: { body?: ErrorStyle['body']; codes: Map<string, { status?: number; body?: ErrorStyle['body'] }> } = { codes: new Map() };
  if (value === undefined) return style;
  if (!isObject(value)) {
    problems.add('/x-specstream-errors', 'expected {body, codes}');
    return style;
  }
  const groups: SourceGroup[] = ['error'];
  for (const key of Object.keys(value)) if (key !== 'body' && key !== 'codes') problems.add(`/x-specstream-errors/${key}`, 'expected only body and codes');
  if (value.body !== undefined) style.body = compileFieldMap(value.body, '/x-specstream-errors/body', groups, problems);
  if (value.codes !== undefined) {
    if (!isObject(value.codes)) problems.add('/x-specstream-errors/codes', 'expected a map of registry code -> {status, body}');
    else {
      for (const [code, entry] of Object.entries(value.codes)) {
        const at = pointerTo('/x-specstream-errors/codes', code);
        if (!/^[A-Z][A-Z0-9_]*$/.test(code)) problems.add(at, 'expected an UPPER_SNAKE registry code');
        if (!isObject(entry)) {
          problems.add(at, 'expected {status, body}');
          continue;
        }
        const override: { status?: number; body?: ErrorStyle['body'] } = {};
        if (entry.status !== undefined) {
          if (typeof entry.status !== 'number' || entry.status < 400 || entry.status > 599) problems.add(`${at}/status`, 'expected a 4xx or 5xx status');
          else override.status = entry.status;
        }
        if (entry.body !== undefined) override.body = compileFieldMap(entry.body, `${at}/body`, groups, problems);
        style.codes.set(code, override);
      }
    }
  }
  return style;
}

/** Roles whose values are RFC 3339 times, and roles whose values are event ids. */
const TIME_ROLES: readonly HistoryRole[] = ['since', 'until'];
const ID_ROLES: readonly HistoryRole[] = ['since_id', 'until_id', 'last_event_id'];
const ROLES_EXPECTED = `a history parameter role (${HISTORY_ROLES.join(', ')})`;

function isHistoryRole(value: unknown): value is HistoryRole {
  return typeof value === 'string' && (HISTORY_ROLES as readonly string[]).includes(value);
}

/**
 * An operation's `x-specstream-query-rules` (usually `{$ref: '#/components/x-specstream-query-rules'}`),
 * each rule checked against the roles it names, so that what codegen compiles cannot contradict
 * the engine (a `format` other than its role's, an `ordered` rule between a time and an id, ...).
 * `read` holds the lists already read, by pointer: a shared list is checked (and its problems
 * reported) once.
 */
function readQueryRules(doc: YamlDocument, raw: unknown, at: string, read: Map<string, QueryRule[]>, problems: ProblemList): QueryRule[] {
  if (raw === undefined) return [];
  const { node, pointer } = doc.deref(raw, at, (p, m) => problems.add(p, m));
  const known = read.get(pointer);
  if (known) return known;
  const rules: QueryRule[] = [];
  read.set(pointer, rules);
  if (!Array.isArray(node)) {
    problems.add(pointer, 'expected a list of rules');
    return rules;
  }
  node.forEach((raw, index) => {
    const rule = readQueryRule(raw, `${pointer}/${index}`, problems);
    if (rule) rules.push(rule);
  });
  return rules;
}

function readQueryRule(rule: unknown, at: string, problems: ProblemList): QueryRule | undefined {
  if (!isObject(rule)) {
    problems.add(at, 'expected {rule, param, code, message, ...}');
    return undefined;
  }
  const expected = (key: string, what: string): undefined => {
    problems.add(`${at}/${key}`, `expected ${what}`);
    return undefined;
  };
  const { param, code, message } = rule;
  const validParam = isHistoryRole(param);
  const validCode = typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code);
  const validMessage = typeof message === 'string' && message !== '';
  if (!validParam) expected('param', ROLES_EXPECTED);
  if (!validCode) expected('code', 'an UPPER_SNAKE error code');
  if (!validMessage) expected('message', 'a non-empty message (the 400 answer says it)');
  if (!validParam || !validCode || !validMessage) return undefined;
  const other = (key: 'requires' | 'excludes' | 'before'): HistoryRole | undefined => {
    const value = rule[key];
    return isHistoryRole(value) ? value : expected(key, ROLES_EXPECTED);
  };
  const kindOf = (role: HistoryRole) => (TIME_ROLES.includes(role) ? 'date-time' : ID_ROLES.includes(role) ? 'event-id' : undefined);
  switch (rule.rule) {
    // Keys in the spec's order, so that the generated rules read like the spec.
    case 'requires': {
      const requires = other('requires');
      return requires ? { rule: 'requires', param, requires, code, message } : undefined;
    }
    case 'excludes': {
      const excludes = other('excludes');
      return excludes ? { rule: 'excludes', param, excludes, code, message } : undefined;
    }
    case 'ordered': {
      const before = other('before');
      if (!before) return undefined;
      if (kindOf(param) === undefined || kindOf(param) !== kindOf(before)) {
        return expected('before', `a role of the same kind as ${param} (two of ${TIME_ROLES.join(', ')}, or two of ${ID_ROLES.join(', ')})`);
      }
      return { rule: 'ordered', param, before, code, message };
    }
    case 'format': {
      const format = kindOf(param);
      if (format === undefined) return expected('param', `one of ${[...TIME_ROLES, ...ID_ROLES].join(', ')} (a format rule checks a time or an event id)`);
      if (rule.format !== format) return expected('format', `${format}, the format of ${param}`);
      return { rule: 'format', param, format, code, message };
    }
    case 'catalog':
      if (param !== 'types') return expected('param', 'types (a catalog rule checks the types parameter)');
      return { rule: 'catalog', param, code, message };
    default:
      return expected('rule', 'requires (with requires), excludes (with excludes), ordered (with before), format (date-time|event-id) or catalog');
  }
}

// ---------------------------------------------------------------------------------------------
// AsyncAPI

/** Every message of the document with its pointer: components.messages and channels' inline ones. */
function allMessages(doc: YamlDocument): Array<{ key: string; node: JsonObject; pointer: string }> {
  const found: Array<{ key: string; node: JsonObject; pointer: string }> = [];
  const components = isObject(doc.root.components) ? doc.root.components : {};
  const messages = isObject(components.messages) ? components.messages : {};
  for (const [key, node] of Object.entries(messages)) {
    if (isObject(node)) found.push({ key, node, pointer: pointerTo('/components/messages', key) });
  }
  return found;
}

function readCatalog(doc: YamlDocument, problems: ProblemList): CatalogType[] {
  const catalog: CatalogType[] = [];
  const seen = new Set<string>();
  for (const { key, node, pointer } of allMessages(doc)) {
    const type = node['x-specstream-event-type'];
    if (type === undefined) continue;
    if (typeof type !== 'string' || !TYPE_NAME.test(type) || type.length > 128) {
      problems.add(`${pointer}/x-specstream-event-type`, 'expected a type name matching ^[A-Za-z][A-Za-z0-9_.-]*$ (at most 128 characters)');
      continue;
    }
    if (seen.has(type)) problems.add(`${pointer}/x-specstream-event-type`, `event type ${type} is declared twice`);
    seen.add(type);
    const schema = doc.inline(node.payload);
    if (!isObject(schema) || schema.type !== 'object') {
      problems.add(`${pointer}/payload`, 'a catalog message needs an object payload schema (the schema of data)');
      continue;
    }
    const examples = Array.isArray(node.examples) ? node.examples : [];
    const first = examples[0];
    const example = isObject(first) && isObject(first.payload) ? first.payload : undefined;
    catalog.push({
      type,
      message: key,
      title: typeof node.title === 'string' ? node.title : type,
      summary: typeof node.summary === 'string' ? node.summary : (typeof node.title === 'string' ? node.title : type),
      ...(typeof node.description === 'string' ? { description: node.description } : {}),
      deprecated: node.deprecated === true,
      schema,
      ...(example ? { example } : {}),
    });
  }
  if (catalog.length === 0) problems.add('/components/messages', 'no message carries x-specstream-event-type: the catalog is empty');
  return catalog.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

function readEnvelope(doc: YamlDocument, catalog: readonly CatalogType[], problems: ProblemList): EnvelopeSpec {
  const value = doc.root['x-specstream-envelope'];
  if (value === undefined || value === 'cloudevents') return { preset: 'cloudevents' };
  if (!isObject(value) || !isObject(value.fields) || Object.keys(value).length !== 1) {
    problems.add('/x-specstream-envelope', 'expected cloudevents or {fields: {wire field: expression}}');
    return { preset: 'cloudevents' };
  }
  const map = compileFieldMap(value.fields, '/x-specstream-envelope/fields', ['event'], problems);
  if (map.spread !== undefined && map.spread !== '$event.data') {
    problems.add('/x-specstream-envelope/fields/...', 'only $event.data can be spread');
  }
  if (map.spread === '$event.data') {
    // A data property with the name of a mapped field would be overwritten or overwrite it.
    for (const entry of catalog) {
      const properties = isObject(entry.schema.properties) ? Object.keys(entry.schema.properties) : [];
      for (const name of properties) {
        if (map.expressions.has(name)) {
          problems.add(`/x-specstream-envelope/fields/${name}`, `clashes with property ${name} of ${entry.type}'s data, which is spread at the top level`);
        }
      }
    }
  }
  return { preset: 'fields', map };
}

function readChannels(
  doc: YamlDocument,
  operations: readonly BundleOperation[],
  typeNames: readonly string[],
  problems: ProblemList,
): Bundle['channels'] {
  const result: Bundle['channels'] = {};
  const channels = isObject(doc.root.channels) ? doc.root.channels : {};
  for (const kind of ['sse', 'ws'] as const) {
    const role = kind === 'sse' ? 'stream-sse' : 'stream-ws';
    const streamOps = operations.filter((op) => op.role === role);
    const paths = new Set(streamOps.map((op) => op.path));
    if (paths.size > 1) problems.forFile(doc.file).add('/channels', `several ${role} paths (${[...paths].join(', ')}); a bundle has at most one`);
    const [path] = paths;
    if (path === undefined) continue;
    const matches = Object.entries(channels).filter(([, channel]) => isObject(channel) && channel.address === path);
    if (matches.length !== 1) {
      problems.add('/channels', `the ${role} operation at ${path} needs exactly one channel with address: ${path} describing its frames`);
      continue;
    }
    const [[id, channel]] = matches as [[string, JsonObject]];
    const at = pointerTo('/channels', id);
    result[kind] = readChannel(doc, id, channel, at, kind, typeNames, problems);
  }
  return result;
}

function readChannel(
  doc: YamlDocument,
  id: string,
  channel: JsonObject,
  at: string,
  kind: 'sse' | 'ws',
  typeNames: readonly string[],
  problems: ProblemList,
): StreamChannel {
  const out: StreamChannel = { id, address: channel.address as string, kind, sse: [], ws: [] };
  const channelSse = channel['x-specstream-sse'];
  let naming: 'type' | 'none' = 'type';
  let idLines = true;
  if (channelSse !== undefined) {
    if (kind !== 'sse' || !isObject(channelSse)) problems.add(`${at}/x-specstream-sse`, 'expected {event: type|none, id: true|false} on the SSE channel');
    else {
      for (const [key, value] of Object.entries(channelSse)) {
        if (key === 'event' && (value === 'type' || value === 'none')) naming = value;
        else if (key === 'id' && typeof value === 'boolean') idLines = value;
        else problems.add(`${at}/x-specstream-sse/${key}`, 'expected event: type|none or id: true|false');
      }
    }
  }
  if (channel['x-specstream-ws'] !== undefined && (kind !== 'ws' || !isObject(channel['x-specstream-ws']))) {
    problems.add(`${at}/x-specstream-ws`, 'x-specstream-ws: {} marks the WebSocket channel');
  }
  const messages = isObject(channel.messages) ? channel.messages : {};
  const claimed = new Set<string>();
  let catchAll = false;
  for (const [key, raw] of Object.entries(messages)) {
    const { node, pointer } = doc.deref(raw, pointerTo(at, 'messages', key), (p, m) => problems.add(p, m));
    if (!isObject(node)) continue;
    const frame = node['x-specstream-frame'];
    if (!isObject(frame) || typeof frame.role !== 'string') {
      problems.add(pointer, 'a stream message needs x-specstream-frame: {role: ...}');
      continue;
    }
    const payload = doc.inline(node.payload);
    if (payload === undefined) {
      problems.add(pointer, 'a frame message needs a payload schema');
      continue;
    }
    const messageSse = isObject(node['x-specstream-sse']) ? (node['x-specstream-sse'] as JsonObject) : {};
    const framePointer = `${pointer}/x-specstream-frame`;
    if (kind === 'sse') {
      const spec = readSseFrame(key, frame, framePointer, payload, messageSse, naming, idLines, problems);
      if (spec) out.sse.push(spec);
    } else {
      const spec = readWsFrame(key, frame, framePointer, payload, typeNames, problems);
      if (!spec) continue;
      if (spec.role === 'event') {
        if (spec.types === undefined) {
          if (catchAll) problems.add(framePointer, 'only one event frame may carry the types no other frame claims');
          catchAll = true;
        } else for (const type of spec.types) {
          if (claimed.has(type)) problems.add(`${framePointer}/types`, `${type} is carried by two event frames`);
          claimed.add(type);
        }
      }
      out.ws.push(spec);
    }
  }
  const events = kind === 'sse' ? out.sse.filter((f) => f.role === 'event') : out.ws.filter((f) => f.role === 'event');
  if (events.length === 0) problems.add(`${at}/messages`, 'the stream declares no message with x-specstream-frame role event');
  if (kind === 'sse' && events.length > 1) problems.add(`${at}/messages`, 'an SSE stream has exactly one event message');
  if (kind === 'ws' && !catchAll) {
    const uncovered = typeNames.filter((type) => !claimed.has(type));
    if (uncovered.length > 0) problems.add(`${at}/messages`, `no event frame carries ${uncovered.join(', ')}`);
  }
  const roles = (kind === 'sse' ? out.sse : out.ws).map((f) => f.role).filter((r) => r !== 'event');
  const duplicate = roles.find((role, index) => roles.indexOf(role) !== index);
  if (duplicate) problems.add(`${at}/messages`, `two messages with role ${duplicate}`);
  return out;
}

function expectKeys(frame: JsonObject, keys: readonly string[], pointer: string, problems: ProblemList): void {
  for (const key of Object.keys(frame)) if (!keys.includes(key)) problems.add(`${pointer}/${key}`, `expected only ${keys.join(', ')}`);
}

function constText(payload: unknown): string | undefined {
  return isObject(payload) && typeof payload.const === 'string' ? payload.const : undefined;
}

function readSseFrame(
  message: string,
  frame: JsonObject,
  pointer: string,
  payload: unknown,
  messageSse: JsonObject,
  channelNaming: 'type' | 'none',
  channelId: boolean,
  problems: ProblemList,
): SseFrameSpec | undefined {
  const role = frame.role;
  const eventName = typeof messageSse.event === 'string' ? messageSse.event : undefined;
  switch (role) {
    case 'event': {
      expectKeys(frame, ['role'], pointer, problems);
      const naming = eventName === '*' ? 'type' : eventName !== undefined ? { name: eventName } : channelNaming;
      const id = messageSse.id === 'required' ? true : messageSse.id === 'none' ? false : channelId;
      return { role, message, naming, id };
    }
    case 'retry':
      expectKeys(frame, ['role'], pointer, problems);
      return { role, message };
    case 'position': {
      expectKeys(frame, ['role', 'form'], pointer, problems);
      const form = frame.form ?? (eventName ? 'event' : 'id-only');
      if (form !== 'event' && form !== 'id-only') {
        problems.add(`${pointer}/form`, 'expected event or id-only');
        return undefined;
      }
      if (form === 'event' && !eventName) problems.add(pointer, 'a position frame of form event needs x-specstream-sse: {event: <name>} on its message');
      const properties = isObject(payload) && isObject(payload.properties) ? Object.keys(payload.properties) : [];
      return { role, message, form, ...(eventName ? { event: eventName } : {}), field: properties[0] ?? 'id' };
    }
    case 'heartbeat':
    case 'error': {
      expectKeys(frame, ['role'], pointer, problems);
      const text = constText(payload);
      if (text === undefined || /[\r\n]/.test(text)) {
        problems.add(pointer.replace(/\/x-specstream-frame$/, '/payload'), `a ${role} comment's payload is {type: string, const: <one line of text>}`);
        return undefined;
      }
      return { role, message, text };
    }
    case 'dropped-notice': {
      expectKeys(frame, ['role'], pointer, problems);
      const pattern = isObject(payload) && typeof payload.pattern === 'string' ? payload.pattern : '';
      const match = /^\^(.*)\[0-9\]\+(.*)\$$/.exec(pattern);
      if (!match) {
        problems.add(pointer.replace(/\/x-specstream-frame$/, '/payload'), 'the dropped-notice payload is {type: string, pattern: ^<text>[0-9]+<text>$}');
        return undefined;
      }
      const unescape = (text: string) => text.replace(/\\(.)/g, '$1');
      return { role, message, prefix: unescape(match[1]!), suffix: unescape(match[2]!) };
    }
    case 'expired': {
      // A stream whose token expired, or whose credentials a reload revoked, ends after this frame.
      expectKeys(frame, ['role', 'fields'], pointer, problems);
      const fields = frame.fields ?? { code: '$error.code', message: '$error.message' };
      return { role, message, ...(eventName ? { event: eventName } : {}), map: compileFieldMap(fields, `${pointer}/fields`, ['error'], problems) };
    }
    case 'dropped': {
      expectKeys(frame, ['role', 'fields'], pointer, problems);
      const fields = frame.fields ?? { count: '$dropped.count', first_missing_id: '$dropped.first_missing_id', last_missing_id: '$dropped.last_missing_id', backfill_url: '$dropped.backfill_url' };
      return { role, message, ...(eventName ? { event: eventName } : {}), map: compileFieldMap(fields, `${pointer}/fields`, ['dropped'], problems) };
    }
    default:
      problems.add(`${pointer}/role`, 'expected event, retry, position, heartbeat, dropped-notice, dropped, expired or error');
      return undefined;
  }
}

const WS_GROUPS: Record<string, SourceGroup[]> = {
  position: ['stream'],
  status: ['stats'],
  end: ['end'],
  dropped: ['dropped'],
  error: ['error'],
};

function readWsFrame(
  message: string,
  frame: JsonObject,
  pointer: string,
  payload: unknown,
  typeNames: readonly string[],
  problems: ProblemList,
): WsFrameSpec | undefined {
  const role = frame.role;
  const properties = isObject(payload) && isObject(payload.properties) ? payload.properties : {};
  const constant = Object.entries(properties).find(([, schema]) => isObject(schema) && 'const' in schema);
  const discriminator = constant ? { discriminator: { key: constant[0], value: (constant[1] as JsonObject).const } } : {};
  if (role === 'event') {
    expectKeys(frame, ['role', 'at', 'types'], pointer, problems);
    const at = frame.at ?? '';
    if (typeof at !== 'string' || (at !== '' && !/^\/[^/]+$/.test(at))) {
      problems.add(`${pointer}/at`, "expected '' (the frame is the envelope) or /<property>");
      return undefined;
    }
    let types: string[] | undefined;
    if (frame.types !== undefined) {
      if (!Array.isArray(frame.types) || frame.types.some((t) => typeof t !== 'string' || !typeNames.includes(t))) {
        problems.add(`${pointer}/types`, `expected a list of catalog types (${typeNames.join(', ')})`);
        return undefined;
      }
      types = frame.types as string[];
    }
    const template = frameTemplate(payload, at, pointer, problems);
    if (!template) return undefined;
    return { role, message, ...(types ? { types } : {}), template, at: at.slice(1), ...(at === '' ? {} : discriminator) };
  }
  const groups = typeof role === 'string' ? WS_GROUPS[role] : undefined;
  if (!groups) {
    problems.add(`${pointer}/role`, 'expected event, position, status, end, dropped or error');
    return undefined;
  }
  expectKeys(frame, ['role', 'fields', 'every'], pointer, problems);
  // Constants of the payload schema (the discriminator) come first, then the declared fields.
  const fields: JsonObject = {};
  for (const [key, schema] of Object.entries(properties)) if (isObject(schema) && 'const' in schema) fields[key] = { const: schema.const };
  if (frame.fields !== undefined && !isObject(frame.fields)) problems.add(`${pointer}/fields`, 'expected a field map');
  Object.assign(fields, isObject(frame.fields) ? frame.fields : {});
  const map = compileFieldMap(fields, `${pointer}/fields`, groups, problems);
  const required = isObject(payload) && Array.isArray(payload.required) ? (payload.required as string[]) : [];
  for (const name of required) {
    if (!(name in fields)) problems.add(`${pointer}/fields`, `the payload requires ${name}; map it (fields) or make it a const`);
  }
  let everyMs: number | undefined;
  if (frame.every !== undefined) {
    if (role !== 'status' || typeof frame.every !== 'number' || frame.every <= 0) problems.add(`${pointer}/every`, 'every (seconds, > 0) is for status frames');
    else everyMs = frame.every * 1000;
  }
  return { role: role as 'position', message, map, ...(everyMs !== undefined ? { everyMs } : {}), ...discriminator };
}

/** The event frame's JSON around the envelope, from the payload's properties in order. */
function frameTemplate(payload: unknown, at: string, pointer: string, problems: ProblemList): FrameTemplate | undefined {
  if (at === '') return { before: '', after: '' };
  const target = at.slice(1);
  const properties = isObject(payload) && isObject(payload.properties) ? payload.properties : undefined;
  if (!properties || !(target in properties)) {
    problems.add(`${pointer}/at`, `the payload has no property ${target}`);
    return undefined;
  }
  const parts: string[] = [];
  let before: string | undefined;
  for (const [key, schema] of Object.entries(properties)) {
    if (key === target) {
      before = `{${parts.map((p) => `${p},`).join('')}${JSON.stringify(key)}:`;
      parts.length = 0;
      continue;
    }
    if (isObject(schema) && 'const' in schema) parts.push(`${JSON.stringify(key)}:${JSON.stringify(schema.const)}`);
    else problems.add(`${pointer}/at`, `property ${key} of the frame is neither a const nor the envelope`);
  }
  return { before: before!, after: `${parts.map((p) => `,${p}`).join('')}}` };
}
