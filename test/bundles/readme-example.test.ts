/**
 * README "Serving your own API" shows a complete bundle: its three files must be exactly
 * test/fixtures/bundles/readme-example/, and that bundle must serve what the README's session shows.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const dir = fileURLToPath(new URL('../fixtures/bundles/readme-example/', import.meta.url));
const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

/** The fenced block that follows the line `` `my-api/<file>` `` in the README. */
function readmeBlock(file: string): string {
  const start = readme.indexOf(`\`my-api/${file}\`\n\`\`\`yaml\n`);
  expect(start, `README shows my-api/${file}`).toBeGreaterThanOrEqual(0);
  const body = readme.slice(readme.indexOf('\n', readme.indexOf('```yaml', start)) + 1);
  return body.slice(0, body.indexOf('```'));
}

describe('README bundle example', () => {
  it.each(['openapi.yaml', 'asyncapi.yaml', 'specstream.yaml'])('shows %s exactly as the fixture holds it', (file) => {
    expect(readmeBlock(file)).toBe(readFileSync(`${dir}${file}`, 'utf8'));
  });

  describe('served', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer({ specs: dir, keys: [{ id: 'demo', secret: 'sk_demo', scopes: ['events:read', 'events:write'], queryToken: true }] });
    });
    afterAll(async () => {
      await server?.dispose();
    });

    it('streams a published event unnamed with its id line, in the declared envelope', async () => {
      const controller = new AbortController();
      const response = await fetch(`${server.url}/orders/events`, { headers: { Authorization: 'Bearer sk_demo' }, signal: controller.signal });
      expect(response.status).toBe(200);
      const published = await fetch(`${server.url}/orders/events`, {
        method: 'POST',
        headers: { Authorization: 'Bearer sk_demo', 'Content-Type': 'application/json' },
        body: JSON.stringify({ type: 'OrderPlaced', data: { orderId: 'ord_1', total: 12.5 } }),
      });
      expect(published.status).toBe(201);
      const event = (await published.json()) as { id: string; type: string; at: string; data: unknown };
      expect(Object.keys(event)).toEqual(['id', 'type', 'at', 'data']);
      const reader = response.body!.getReader();
      let text = '';
      const expected = `id: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`;
      while (!text.includes(expected)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      controller.abort();
      expect(text).toBe(expected);
    });

    it('answers 401 with the declared error body and a Bearer challenge', async () => {
      const response = await fetch(`${server.url}/orders/events`);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="specstream"');
      expect(await response.json()).toEqual({ message: 'Authentication required' });
    });
  });
});
