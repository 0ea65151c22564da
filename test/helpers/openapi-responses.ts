import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';
import { listOperations, loadOpenApiDocument, type RouteOperation } from '../../src/http/openapi-document.js';

// The OpenAPI document is plain JSON data; schemas inside it are JSON Schema 2020-12 objects.
type Json = Record<string, unknown>;

const document = loadOpenApiDocument() as unknown as Json;
const operations = listOperations();
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);

/** Resolves local `$ref`s (`#/components/...`) recursively; the document has no cycles. */
function deref(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(deref);
  if (node === null || typeof node !== 'object') return node;
  const ref = (node as Json).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((at, key) => (at as Json)[key.replace(/~1/g, '/').replace(/~0/g, '~')], document);
    return deref(target);
  }
  return Object.fromEntries(Object.entries(node as Json).map(([key, value]) => [key, deref(value)]));
}

function findOperation(method: string, path: string): RouteOperation | undefined {
  const m = method.toLowerCase();
  return operations.find(
    (op) => (op.method === m || (m === 'head' && op.method === 'get')) && new RegExp(`^${op.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
  );
}

/**
 * Asserts that a response is one the OpenAPI document declares: the status is listed for the
 * operation and a JSON body validates against its schema. Returns the parsed body.
 */
export async function expectDeclaredResponse(method: string, url: string, response: Response): Promise<unknown> {
  const path = new URL(url).pathname;
  const text = await response.text();
  const operation = findOperation(method, path);
  const contentType = response.headers.get('content-type') ?? '';
  const body: unknown = contentType.includes('json') && text ? JSON.parse(text) : text;
  if (!operation) {
    // Undeclared routes answer with the error schema (404/405).
    expect([404, 405], `${method} ${path} is not in the spec`).toContain(response.status);
    validate(deref((document.components as Json).schemas as Json) as Json, 'Error', body, `${method} ${path}`);
    return body;
  }
  const spec = (document.paths as Json)[operation.path] as Json;
  const responses = deref(((spec[operation.method] as Json).responses as Json)) as Json;
  const declared = responses[String(response.status)] as Json | undefined;
  expect(declared, `${method} ${path} answered ${response.status}, which the spec does not declare (body: ${text.slice(0, 200)})`).toBeDefined();
  const schema = ((declared?.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema;
  if (schema && method.toUpperCase() !== 'HEAD') {
    expect(contentType, `${method} ${path} ${response.status} content type`).toContain('application/json');
    const check = ajv.compile(schema as Json);
    expect(check(body), `${method} ${path} ${response.status} body: ${ajv.errorsText(check.errors)}`).toBe(true);
  }
  return body;
}

function validate(schemas: Json, name: string, body: unknown, label: string): void {
  const check = ajv.compile(schemas[name] as Json);
  expect(check(body), `${label} body: ${ajv.errorsText(check.errors)}`).toBe(true);
}

/** fetch + expectDeclaredResponse: every test request goes through the contract. */
export async function call(
  method: string,
  url: string,
  init: { headers?: Record<string, string>; body?: unknown; rawBody?: string } = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
  const status = response.status;
  const responseHeaders = response.headers;
  const parsed = await expectDeclaredResponse(method, url, response);
  return { status, headers: responseHeaders, body: parsed };
}
