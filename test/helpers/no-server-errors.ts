/**
 * A property-based check that no client input produces a 5xx or a non-JSON error, over every
 * operation of an OpenAPI 3.1 document: random query strings (declared and undeclared names,
 * duplicates, malformed escapes, numbers such as `Infinity`), headers (content types, charsets,
 * content codings, credentials, resume points) and bodies (examples, mutations, arbitrary JSON,
 * broken JSON, compressed and mislabelled bodies, deep nesting). Every answer must be a success
 * (1xx-3xx), or a 4xx whose body is JSON with a registered code (HEAD: no body).
 *
 * It takes the server's URL and the document, so it runs over any spec bundle a server serves.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { expect } from 'vitest';

type Json = Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** What `checkNoServerErrors` needs besides the server and the document. */
export interface NoServerErrorsOptions {
  /** Header sets a caller may present; one is chosen per request (the empty set included). */
  credentials: Record<string, string>[];
  /**
   * Codes a 4xx body may carry: the registry's. The document's own are added: the `code` of every
   * `x-specstream-query-rules` item and every code an `x-specstream-errors` body declares (`code: {const}`).
   */
  registeredCodes: Iterable<string>;
  /** Finds the code in an error body, given every registered code; defaults to `body.code`. */
  errorCode?: (body: unknown, codes: ReadonlySet<string>) => string | undefined;
  /** Requests per operation; defaults to 60. */
  runsPerOperation?: number;
  /** fast-check seed, for a reproducible run. */
  seed?: number;
  /** Operations to skip, as `METHOD /path` (e.g. a route that needs an upgrade). */
  skip?: string[];
}

/** One operation of the document. */
interface Operation {
  method: (typeof METHODS)[number];
  path: string;
  parameters: Json[];
  bodyExamples: unknown[];
  hasBody: boolean;
  websocket: boolean;
}

/** A request to send. */
interface Sample {
  method: string;
  target: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

/** The outcome of one request. */
interface Outcome {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Runs the property over every operation of `document` against the server at `baseUrl`. */
export async function checkNoServerErrors(baseUrl: string, document: unknown, options: NoServerErrorsOptions): Promise<void> {
  const doc = document as Json;
  const codes = new Set(options.registeredCodes);
  for (const code of documentCodes(doc)) codes.add(code);
  const errorCode = options.errorCode ?? ((body: unknown) => (body as { code?: unknown } | null)?.code as string | undefined);
  const operations = listOperations(doc).filter((op) => !options.skip?.includes(`${op.method.toUpperCase()} ${op.path}`));
  expect(operations.length, 'the document declares no operation').toBeGreaterThan(0);
  for (const operation of operations) {
    await fc.assert(
      fc.asyncProperty(sampleFor(operation, doc, options.credentials), async (sample) => {
        const outcome = await send(baseUrl, sample);
        const label = `${sample.method} ${sample.target.slice(0, 300)} ${JSON.stringify(sample.headers).slice(0, 300)} -> ${outcome.status} ${outcome.body.slice(0, 300)}`;
        expect(outcome.status, label).toBeGreaterThanOrEqual(100);
        expect(outcome.status, label).toBeLessThan(500);
        if (outcome.status < 400 || sample.method === 'HEAD') return;
        expect(outcome.headers['content-type'] ?? '', label).toContain('json');
        const code = errorCode(JSON.parse(outcome.body), codes);
        expect(code !== undefined && codes.has(code), `${label}: code ${code} is not registered`).toBe(true);
      }),
      { numRuns: options.runsPerOperation ?? 60, ...(options.seed !== undefined ? { seed: options.seed } : {}), endOnFailure: false },
    );
  }
}

/** The error codes a document declares itself (see NoServerErrorsOptions.registeredCodes). */
function documentCodes(doc: Json): string[] {
  const found: string[] = [];
  const walk = (node: unknown, within: 'rules' | 'errors' | undefined, key: string | undefined, depth: number) => {
    if (depth > 12 || node === null || typeof node !== 'object') {
      if (within !== undefined && key === 'code' && typeof node === 'string') found.push(node);
      return;
    }
    const resolved = resolve(doc, node);
    if (resolved === null || typeof resolved !== 'object') return;
    for (const [k, value] of Object.entries(resolved as Json)) {
      const scope = k === 'x-specstream-query-rules' ? 'rules' : k === 'x-specstream-errors' ? 'errors' : within;
      if (within === 'errors' && key === 'code' && k === 'const' && typeof value === 'string') found.push(value);
      walk(value, scope, Array.isArray(resolved) ? key : k, depth + 1);
    }
  };
  walk(doc, undefined, undefined, 0);
  return found;
}

function listOperations(doc: Json): Operation[] {
  const out: Operation[] = [];
  for (const [path, rawItem] of Object.entries((doc.paths ?? {}) as Json)) {
    const item = resolve(doc, rawItem) as Json;
    for (const method of METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const parameters = [...((item.parameters as unknown[]) ?? []), ...((op.parameters as unknown[]) ?? [])].map((p) => resolve(doc, p) as Json);
      const requestBody = resolve(doc, op.requestBody) as Json | undefined;
      const media = ((requestBody?.content as Json | undefined)?.['application/json'] ?? undefined) as Json | undefined;
      const bodyExamples = [
        ...(media?.example !== undefined ? [media.example] : []),
        ...Object.values((media?.examples as Json | undefined) ?? {}).map((example) => (resolve(doc, example) as Json).value),
      ];
      const role = op['x-specstream-operation'];
      out.push({
        method,
        path,
        parameters,
        bodyExamples,
        hasBody: requestBody !== undefined,
        websocket: op['x-specstream-transport'] === 'ws' || role === 'stream-ws',
      });
    }
  }
  return out;
}

function resolve(doc: Json, node: unknown): unknown {
  let current = node;
  for (let hops = 0; hops < 10; hops++) {
    const ref = (current as { $ref?: unknown } | undefined)?.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/')) return current;
    current = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((at, key) => (at as Json | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return current;
}

/** Printable ASCII without space: what a request target may carry. */
const targetChar = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));
const headerChar = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code));

/** Values that have broken parsers before, and random ones. */
const hostileValue = fc.oneof(
  fc.constantFrom(
    '', 'Infinity', '-Infinity', 'NaN', '1e400', '-1', '0', '1', '100', '1000', '1001', '1.5', '0x10', '99999999999999999999999',
    '%', '%zz', '%E0%A4%A', '%00', '%FF%FE', '%C0%AF', '*', '************x', `${'*'.repeat(40)}x`, 'grant.*', '*.created', ',', ',,',
    'evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ', 'evt_00000000000000000000000000', 'evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ', 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1J3P',
    '2026-01-01T00:00:00Z', '2026-01-01T00:00:00.5471Z', '2026-02-30T00:00:00Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z',
    '__proto__', 'constructor', 'true', 'null', '[]', '{}', 'a'.repeat(2000), '%2525', '+', '%2B', ';', '=', '==',
  ),
  fc.array(targetChar, { maxLength: 40 }).map((chars) => chars.join('').replace(/[#&]/g, '')),
);

function queryArbitrary(op: Operation): fc.Arbitrary<string> {
  const declared = op.parameters.filter((p) => p.in === 'query').map((p) => String(p.name));
  const name = fc.oneof(
    { weight: 4, arbitrary: declared.length > 0 ? fc.constantFrom(...declared) : fc.constant('q') },
    { weight: 1, arbitrary: fc.constantFrom('token', '%74oken', ';token', 'types[]', 'limit[a]', '__proto__', 'x', '%zz', '') },
    { weight: 1, arbitrary: fc.array(targetChar, { maxLength: 10 }).map((chars) => chars.join('').replace(/[#&=]/g, '')) },
  );
  const pair = fc.tuple(name, hostileValue, fc.boolean()).map(([n, v, encode]) => `${n}=${encode ? encodeURIComponent(v) : v}`);
  return fc.array(pair, { maxLength: 6 }).map((pairs) => (pairs.length === 0 ? '' : `?${pairs.join('&')}`));
}

function pathArbitrary(op: Operation, doc: Json): fc.Arbitrary<string> {
  const names = [...op.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
  if (names.length === 0) return fc.constant(op.path);
  const values = names.map((name) => {
    const schema = resolve(doc, op.parameters.find((p) => p.in === 'path' && p.name === name)?.schema) as Json | undefined;
    const known = [...((schema?.enum as unknown[]) ?? []), ...((schema?.examples as unknown[]) ?? [])].map(String);
    const safe = hostileValue.map((v) => v.replace(/[/?#]/g, ''));
    return known.length > 0 ? fc.oneof(fc.constantFrom(...known), safe) : safe;
  });
  return fc.tuple(...values).map((chosen) => {
    let path = op.path;
    names.forEach((name, i) => {
      path = path.replace(`{${name}}`, chosen[i] === '' ? 'x' : chosen[i]!);
    });
    return path;
  });
}

function headersArbitrary(op: Operation, credentials: Record<string, string>[]): fc.Arbitrary<Record<string, string>> {
  const headerParams = op.parameters.filter((p) => p.in === 'header').map((p) => String(p.name));
  const random = fc.array(headerChar, { maxLength: 60 }).map((chars) => chars.join('').trim());
  return fc
    .record(
      {
        credential: fc.constantFrom({}, ...credentials),
        contentType: fc.constantFrom(
          'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16',
          'application/json; charset=x', 'text/plain', 'application/cloudevents+json', 'multipart/form-data; boundary=x', '', 'application/json;;;',
        ),
        contentEncoding: fc.constantFrom('identity', 'gzip', 'deflate', 'br', 'zstd', 'gzip, gzip', 'x-gzip', 'compress', 'GZIP'),
        accept: fc.constantFrom('*/*', 'text/event-stream', 'application/json', 'text/html', 'application/xml'),
        declared: fc.array(fc.tuple(headerParams.length > 0 ? fc.constantFrom(...headerParams) : fc.constant('X-Unknown'), fc.oneof(hostileValue.map((v) => v.replace(/[^\x20-\x7e]/g, '')), random))),
        upgrade: op.websocket ? fc.boolean() : fc.constant(false),
      },
      { requiredKeys: ['credential', 'accept', 'declared', 'upgrade'] },
    )
    .map((h) => {
      const headers: Record<string, string> = { ...h.credential, Accept: h.accept };
      if (h.contentType !== undefined && h.contentType !== '') headers['Content-Type'] = h.contentType;
      if (h.contentEncoding !== undefined) headers['Content-Encoding'] = h.contentEncoding;
      for (const [name, value] of h.declared) headers[name] = value;
      if (h.upgrade) Object.assign(headers, { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' });
      return headers;
    });
}

function bodyArbitrary(op: Operation): fc.Arbitrary<{ bytes: Buffer; coding: 'as-labelled' | 'plain' } | undefined> {
  if (!op.hasBody && op.method !== 'post') return fc.constant(undefined);
  const examples = op.bodyExamples.length > 0 ? op.bodyExamples : [{}];
  const text = fc.oneof(
    fc.constantFrom(...examples).map((example) => JSON.stringify(example)),
    fc.constantFrom(...examples).chain((example) => mutate(example)).map((value) => JSON.stringify(value)),
    fc.json({ maxDepth: 4 }),
    fc.constantFrom('', '{', '[', 'nul', '{"a":1,}', '\u0000', '"\\ud800"', `${'['.repeat(5000)}${']'.repeat(5000)}`, '{"__proto__":{"x":1}}', '1e400', '[]', '{}'),
    fc.array(targetChar, { maxLength: 50 }).map((chars) => chars.join('')),
  );
  return fc.option(fc.tuple(text, fc.constantFrom('as-labelled', 'plain') as fc.Arbitrary<'as-labelled' | 'plain'>), { nil: undefined, freq: 6 }).map(
    (chosen) => (chosen === undefined ? undefined : { bytes: Buffer.from(chosen[0]), coding: chosen[1] }),
  );
}

/** The example with one member removed, replaced by a value of another type, or an extra member. */
function mutate(example: unknown): fc.Arbitrary<unknown> {
  if (example === null || typeof example !== 'object' || Array.isArray(example)) return fc.constant(example);
  const keys = Object.keys(example);
  const replacement = fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 20 }), fc.constant([]), fc.constant({}), fc.double());
  return fc.oneof(
    keys.length > 0 ? fc.constantFrom(...keys).map((key) => Object.fromEntries(Object.entries(example).filter(([k]) => k !== key))) : fc.constant(example),
    keys.length > 0 ? fc.tuple(fc.constantFrom(...keys), replacement).map(([key, value]) => ({ ...example, [key]: value })) : fc.constant(example),
    fc.tuple(fc.string({ maxLength: 10 }), replacement).map(([key, value]) => ({ ...example, [key]: value })),
  );
}

function sampleFor(op: Operation, doc: Json, credentials: Record<string, string>[]): fc.Arbitrary<Sample> {
  return fc
    .record({ path: pathArbitrary(op, doc), query: queryArbitrary(op), headers: headersArbitrary(op, credentials), body: bodyArbitrary(op) })
    .map(({ path, query, headers, body }) => {
      const coding = headers['Content-Encoding'];
      let bytes = body?.bytes;
      if (bytes !== undefined && body?.coding === 'as-labelled') {
        if (coding === 'gzip' || coding === 'x-gzip') bytes = gzipSync(bytes);
        else if (coding === 'deflate') bytes = deflateSync(bytes);
        else if (coding === 'br') bytes = brotliCompressSync(bytes);
      }
      return { method: op.method.toUpperCase(), target: `${path}${query}`, headers, body: bytes };
    });
}

/** Sends one request; for a success, reads no further than the status and headers (a stream never ends). */
function send(baseUrl: string, sample: Sample): Promise<Outcome> {
  const url = new URL(baseUrl);
  return new Promise((resolvePromise, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      method: sample.method,
      path: sample.target,
      headers: { ...sample.headers, ...(sample.body !== undefined ? { 'Content-Length': String(sample.body.length) } : {}) },
      timeout: 15_000,
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status < 400) {
        res.destroy();
        resolvePromise({ status, headers: res.headers, body: '' });
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolvePromise({ status, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 15 s to ${sample.method} ${sample.target.slice(0, 200)}`)));
    req.on('error', reject);
    req.end(sample.body);
  });
}
