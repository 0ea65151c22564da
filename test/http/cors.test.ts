import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe('CORS', () => {
  let server: TestServer;
  afterEach(async () => {
    await server.dispose();
  });

  it('allows only the configured origins', async () => {
    server = await startTestServer({ cors_origins: ['https://dashboard.example'] });
    const allowed = await fetch(`${server.url}/v1/events`, { headers: { ...server.auth('reader'), Origin: 'https://dashboard.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://dashboard.example');
    const other = await fetch(`${server.url}/v1/events`, { headers: { ...server.auth('reader'), Origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a preflight for publishing with the headers a browser needs', async () => {
    server = await startTestServer({ cors_origins: ['https://dashboard.example'] });
    const preflight = await fetch(`${server.url}/v1/events`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://dashboard.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type,idempotency-key',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key');
  });

  it.each([
    ['an EventSource polyfill', 'GET', '/v1/events/stream', 'cache-control,last-event-id,x-requested-with,accept'],
    ['a polyfill that sends Pragma', 'GET', '/v1/events/stream', 'pragma,cache-control'],
    ['the backfill with credentials', 'GET', '/v1/events', 'authorization'],
  ])('answers a preflight from %s with every header it asks for', async (_name, method, path, requested) => {
    server = await startTestServer({ cors_origins: ['https://dashboard.example'] });
    const preflight = await fetch(`${server.url}${path}`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://dashboard.example', 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': requested },
    });
    expect(preflight.status).toBe(204);
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    for (const header of requested.split(',')) expect(allowed).toContain(header);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://dashboard.example');
  });

  it('sends no CORS headers when no origin is configured', async () => {
    server = await startTestServer();
    const response = await fetch(`${server.url}/v1/events`, { headers: { ...server.auth('reader'), Origin: 'https://dashboard.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
