/** The portal's own pages say what the server does: each query-rule example is refused with its code; read scopes are the ones that read. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Principal } from '../../src/auth/principal.js';
import { exampleRequest, readScopes, renderCatalog, renderQueryRules } from '../../src/docs/pages.js';
import { EVENT_TYPES } from '../../src/generated/catalog.js';
import { QUERY_RULES } from '../../src/generated/query.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe('docs pages', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.dispose());

  it.each(QUERY_RULES.map((rule) => [rule.code, exampleRequest(rule)] as const))('the example of %s (%s) is a 400 with that code', async (code, request) => {
    const response = await fetch(`${server.url}${request}`, { headers: server.auth('reader') });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; details?: { code: string }[] };
    expect([body.code, ...(body.details ?? []).map((d) => d.code)]).toContain(code);
  });

  it.each(EVENT_TYPES)('lists for %s only scopes that read it, and every scope reads it', (type) => {
    const scopes = readScopes(type);
    expect(scopes).toContain('admin');
    expect(scopes).toContain(`events:read:${type}`);
    for (const scope of scopes) expect(new Principal('k', [scope], 'bearer').canRead(type)).toBe(true);
  });

  it('renders every type and every rule', () => {
    const catalog = renderCatalog();
    for (const type of EVENT_TYPES) expect(catalog).toContain(`id="${type}"`);
    const rules = renderQueryRules();
    for (const rule of QUERY_RULES) expect(rules).toContain(rule.code);
  });
});
