/** forward.yaml: env interpolation, snake_case options mapped onto each destination, paths, mistakes. */
import { describe, expect, it } from 'vitest';
import { interpolateEnv, parseForwardConfig } from '../../src/destinations/forward-config.js';
import { camelKeys } from '../../src/destinations/forward-destinations.js';

const base = { url: 'http://127.0.0.1:8080', token: 't' };

describe('interpolateEnv', () => {
  it.each([
    ['${A}', 'a'],
    ['x-${A}-${B:-dflt}', 'x-a-dflt'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['$${A}', '${A}'],
    ['no vars', 'no vars'],
  ])('%s gives %s', (text, want) => expect(interpolateEnv(text, { A: 'a', EMPTY: '' })).toBe(want));

  it('walks arrays and objects and names the key of an unset variable', () => {
    expect(interpolateEnv({ a: ['${A}', 1, true], b: { c: '${A}' } }, { A: 'v' })).toEqual({ a: ['v', 1, true], b: { c: 'v' } });
    expect(() => interpolateEnv({ destinations: [{ secret: '${NOPE}' }] }, {})).toThrow('destinations[0].secret: environment variable NOPE is not set');
  });
});

describe('camelKeys', () => {
  it('renames snake_case keys one level deep and drops undefined values', () => {
    expect(camelKeys({ force_path_style: true, max_attempts: 2, region: undefined, nested_obj: { a_b: 1 } })).toEqual({ forcePathStyle: true, maxAttempts: 2, nestedObj: { a_b: 1 } });
  });
});

describe('parseForwardConfig', () => {
  it('applies defaults and resolves relative paths against the file directory', () => {
    const config = parseForwardConfig({ ...base, types: 'grant.*, token.*', destinations: [{ type: 'file', path: 'out/e.ndjson', dead_letter_path: 'dead.ndjson', max_retries: 'infinite' }] }, { baseDir: '/srv/fwd' });
    expect(config.forwarder).toEqual({ url: base.url, token: 't', types: ['grant.*', 'token.*'], checkpoint: '/srv/fwd/forward.checkpoint.json', from: 'live', transport: 'sse' });
    expect(config.shutdownTimeoutMs).toBe(30_000);
    expect(config.destinations[0]!.destination.name).toBe('file:/srv/fwd/out/e.ndjson');
    expect(config.destinations[0]!.options).toEqual({ deadLetterPath: '/srv/fwd/dead.ndjson', maxRetries: Infinity });
  });

  it('maps every destination type, with names from `name` or the destination default', () => {
    const config = parseForwardConfig({
      ...base,
      from: { since_id: 'evt_1' },
      destinations: [
        { type: 'stdout' },
        { type: 'webhook', url: 'https://h.example/in', secret: 'whsec_' + Buffer.from('k'.repeat(32)).toString('base64'), timeout_ms: 500, batch_size: 10, backoff: { initial_ms: 5, max_ms: 50 } },
        { type: 's3', bucket: 'b', prefix: 'p', credentials: { access_key_id: 'AK', secret_access_key: 'SK' }, force_path_style: true, endpoint: 'http://127.0.0.1:9000' },
        { type: 'bigquery', project_id: 'proj', dataset: 'd', table: 't', name: 'warehouse' },
        { type: 'kafka', brokers: 'k1:9092,k2:9092', topic: 'events.{type}', ssl: { reject_unauthorized: false }, sasl: { mechanism: 'plain', username: 'u', password: 'p' } },
        { type: 'nats', subject: 'out.{type}', jetstream: false },
        { type: 'datadog', api_key: 'dd', site: 'datadoghq.eu', tags: ['env:prod'], use_event_time: false },
        { type: 'splunk', url: 'https://splunk.example:8088', token: 'hec', index: 'events', ack: true, ack_timeout_ms: 1000 },
      ],
    });
    expect(config.forwarder.from).toEqual({ sinceId: 'evt_1' });
    expect(config.destinations.map((d) => [d.type, d.destination.name])).toEqual([
      ['stdout', 'stdout'],
      ['webhook', 'webhook:h.example'],
      ['s3', 's3:b/p'],
      ['bigquery', 'warehouse'],
      ['kafka', 'kafka:events.{type}'],
      ['nats', 'nats:out.{type}'],
      ['datadog', 'datadog'],
      ['splunk', 'splunk:splunk.example:8088'],
    ]);
    expect(config.destinations[1]!.options).toEqual({ batchSize: 10, backoff: { initialMs: 5, maxMs: 50 } });
  });

  it.each([
    ['no destinations', { ...base, destinations: [] }, 'destinations: Too small'],
    ['a url that is not http', { ...base, url: 'ftp://x', destinations: [{ type: 'stdout' }] }, 'url: Invalid URL'],
    ['an unknown top-level key', { ...base, destinatons: [], destinations: [{ type: 'stdout' }] }, 'Unrecognized key: "destinatons"'],
    ['a missing required option', { ...base, destinations: [{ type: 's3' }] }, 'destinations[0].bucket: Invalid input'],
    ['a bad kafka topic', { ...base, destinations: [{ type: 'kafka', brokers: 'k:1', topic: 'bad topic!' }] }, 'destinations[0]: '],
    ['two destinations with one name', { ...base, destinations: [{ type: 'stdout' }, { type: 'stdout' }] }, 'two destinations are named "stdout"'],
    ['transport: ws (its events would queue without bound)', { ...base, transport: 'ws', destinations: [{ type: 'stdout' }] }, 'transport: transport "ws" is not supported: a forwarder reads SSE only'],
  ])('rejects %s', (_, raw, message) => {
    expect(() => parseForwardConfig(raw, { path: 'forward.yaml' })).toThrow(message);
  });
});
