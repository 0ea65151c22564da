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

  it('sends no CORS headers when no origin is configured', async () => {
    server = await startTestServer();
    const response = await fetch(`${server.url}/v1/events`, { headers: { ...server.auth('reader'), Origin: 'https://dashboard.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
