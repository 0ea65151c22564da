import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { catalog } from '../../src/generated/catalog.js';
import { call } from '../helpers/openapi-responses.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe('operational endpoints', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('serves the spec files under /specs/', async () => {
    for (const file of ['openapi.yaml', 'asyncapi.yaml']) {
      const response = await call('GET', `${server.url}/specs/${file}`);
      expect(response.status).toBe(200);
      expect(response.body).toBe(readFileSync(new URL(`../../specs/${file}`, import.meta.url), 'utf8'));
    }
    expect((await call('GET', `${server.url}/specs/secrets.yaml`)).status).toBe(400);
  });

  it('exports Prometheus metrics that count published events', async () => {
    await call('POST', `${server.url}/v1/events`, {
      headers: server.auth('writer'),
      body: { type: 'token.issued', data: catalog['token.issued'].example },
    });
    const { status, body } = await call('GET', `${server.url}/metrics`, { headers: server.auth('admin') });
    expect(status).toBe(200);
    expect(String(body)).toMatch(/specstream_events_published_total\{type="token.issued"\} 1/);
    expect(String(body)).toMatch(/specstream_publish_duration_seconds_count 1/);
  });

  it('answers 404 NOT_FOUND and 405 METHOD_NOT_ALLOWED as JSON', async () => {
    const missing = await call('GET', `${server.url}/v2/nothing`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'NOT_FOUND' });
    const wrongMethod = await call('DELETE', `${server.url}/v1/events`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.body).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
  });

  it('answers a plain GET on the WebSocket endpoint with 426', async () => {
    const { status, body } = await call('GET', `${server.url}/v1/events/ws`, { headers: server.auth('reader') });
    expect(status).toBe(426);
    expect(body).toMatchObject({ code: 'UPGRADE_REQUIRED' });
  });

  it('reports the store as unavailable on /readyz once it is closed', async () => {
    const other = await startTestServer();
    await other.store.close();
    const { status, body } = await call('GET', `${other.url}/readyz`);
    expect(status).toBe(503);
    expect(body).toEqual({ status: 'unavailable', checks: { store: 'unavailable' } });
    await other.dispose();
  });
});
