/**
 * Read or refuse: every mistake in a bundle is refused with the file, the JSON pointer and what is
 * expected, at load (serve) time, and the CLI prints it as one line per problem with exit code 1.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BundleError } from '../../src/bundle/bundle-error.js';
import { loadBundle } from '../../src/bundle/load-bundle.js';

const partner = fileURLToPath(new URL('../fixtures/bundles/partner/', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];

/** A copy of the partner fixture with `edit(file text) -> file text` applied to one file. */
function brokenCopy(file: 'openapi.yaml' | 'asyncapi.yaml', edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'specstream-bundle-'));
  dirs.push(dir);
  cpSync(partner, dir, { recursive: true });
  const text = readFileSync(join(dir, file), 'utf8');
  const edited = edit(text);
  expect(edited, 'the edit changed the file').not.toBe(text);
  writeFileSync(join(dir, file), edited);
  return dir;
}

function problemsOf(dir: string): string[] {
  try {
    loadBundle(dir);
  } catch (error) {
    expect(error).toBeInstanceOf(BundleError);
    return (error as BundleError).problems.map((p) => `${p.file.replace(/^.*\//, '')}#${p.pointer}: ${p.message}`);
  }
  throw new Error('the bundle loaded');
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadBundle', () => {
  it('loads the native bundle, the fixtures and every example', () => {
    for (const dir of [undefined, partner, join(root, 'examples/audit-log'), join(root, 'examples/grant-events'), join(root, 'examples/admin-actions'), join(root, 'examples/siem-live-tail'), join(root, 'examples/global-events')]) {
      expect(() => loadBundle(dir)).not.toThrow();
    }
  });

  it.each<[string, 'openapi.yaml' | 'asyncapi.yaml', (t: string) => string, string]>([
    [
      'an unknown keyword',
      'openapi.yaml',
      (t) => t.replace('      x-specstream-operation: publish\n', '      x-specstream-operation: publish\n      x-specstream-publish-mode: fast\n'),
      'openapi.yaml#/paths/~1partner~1v2~1publish/post/x-specstream-publish-mode: unknown keyword x-specstream-publish-mode',
    ],
    [
      'an unknown operation role',
      'openapi.yaml',
      (t) => t.replace('x-specstream-operation: stream-sse', 'x-specstream-operation: stream-sses'),
      'openapi.yaml#/paths/~1partner~1v2~1feed/get/x-specstream-operation: expected one of publish, list,',
    ],
    [
      'an operation without a role',
      'openapi.yaml',
      (t) => t.replace('      x-specstream-operation: health\n', ''),
      'openapi.yaml#/paths/~1partner~1health/get: x-specstream-operation is required',
    ],
    [
      'an unknown parameter role',
      'openapi.yaml',
      (t) => t.replace('x-specstream-param: since\n', 'x-specstream-param: start\n'),
      'openapi.yaml#/components/parameters/From/x-specstream-param: expected one of types, since,',
    ],
    [
      'a security requirement naming no scheme',
      'openapi.yaml',
      (t) => t.replace('  - basicAuth: []\n', '  - digestAuth: []\n'),
      'openapi.yaml#/security: digestAuth is not in components.securitySchemes',
    ],
    [
      'an envelope field from a stored field that does not exist',
      'asyncapi.yaml',
      (t) => t.replace('at: $event.time', 'at: $event.timestamp'),
      'asyncapi.yaml#/x-specstream-envelope/fields/at: expected one of $event.id, $event.type, $event.time,',
    ],
    [
      'a stream message without a frame role',
      'asyncapi.yaml',
      (t) => t.replace('      x-specstream-frame: {role: heartbeat}\n', ''),
      'asyncapi.yaml#/components/messages/feedKeepalive: a stream message needs x-specstream-frame',
    ],
    [
      'a catalog message without a payload schema',
      'asyncapi.yaml',
      (t) => t.replace(/(x-specstream-event-type: OrderShipped\n\s+summary: [^\n]+\n)\s+payload:\n(\s{8}[^\n]*\n)+/, '$1'),
      'asyncapi.yaml#/components/messages/OrderShipped/payload: a catalog message needs an object payload schema',
    ],
    [
      'a WebSocket event frame whose `at` is not in its payload',
      'asyncapi.yaml',
      (t) => t.replace('at: /refund,', 'at: /refunds,'),
      'asyncapi.yaml#/components/messages/socketRefund/x-specstream-frame/at: the payload has no property refunds',
    ],
    [
      'a required frame field nothing fills',
      'asyncapi.yaml',
      (t) => t.replace('fields: {at: $stats.ts, backlog: $stats.queue_depth, clients: $stats.subscribers}', 'fields: {at: $stats.ts, backlog: $stats.queue_depth}'),
      'asyncapi.yaml#/components/messages/socketStats/x-specstream-frame/fields: the payload requires clients',
    ],
    [
      'a type no WebSocket event frame carries',
      'asyncapi.yaml',
      (t) => t.replace('types: [OrderPlaced, OrderShipped]', 'types: [OrderPlaced]'),
      'asyncapi.yaml#/channels/socket/messages: no event frame carries OrderShipped',
    ],
    [
      'a query rule on a parameter role the history query does not read',
      'openapi.yaml',
      (t) => t.replace('{rule: requires, param: until, requires: since,', '{rule: requires, param: limit, requires: since,'),
      'openapi.yaml#/components/x-specstream-query-rules/0/param: expected a history parameter role (types, since, until, since_id, until_id, last_event_id)',
    ],
    [
      'a format rule whose format is not its role\'s',
      'openapi.yaml',
      (t) => t.replace('{rule: format, param: since, format: date-time,', '{rule: format, param: since, format: event-id,'),
      'openapi.yaml#/components/x-specstream-query-rules/4/format: expected date-time, the format of since',
    ],
    [
      'an ordered rule between a time and an id',
      'openapi.yaml',
      (t) => t.replace('{rule: ordered, param: since, before: until,', '{rule: ordered, param: since, before: since_id,'),
      'openapi.yaml#/components/x-specstream-query-rules/3/before: expected a role of the same kind as since',
    ],
    [
      'a free-form type name with a space',
      'asyncapi.yaml',
      (t) => t.replace('x-specstream-event-type: OrderPlaced', "x-specstream-event-type: 'Order Placed'"),
      'asyncapi.yaml#/components/messages/OrderPlaced/x-specstream-event-type: expected a type name',
    ],
  ])('refuses %s with the file and pointer', (_name, file, edit, expected) => {
    const problems = problemsOf(brokenCopy(file, edit));
    expect(problems.some((p) => p.startsWith(expected)), problems.join('\n')).toBe(true);
  });

  it('refuses at serve with one line per problem and exit code 1, no stack trace', () => {
    const dir = brokenCopy('openapi.yaml', (t) => t.replace('x-specstream-operation: stream-sse', 'x-specstream-operation: stream-sses'));
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'serve', '--specs', dir, '--port', '0', '--store', 'sqlite::memory:'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/openapi\.yaml#\/paths\/~1partner~1v2~1feed\/get\/x-specstream-operation: expected one of/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses generated code older than the specs with the command that fixes it', async () => {
    const dir = brokenCopy('openapi.yaml', (t) => t.replace('version: 2.0.0', 'version: 2.0.1'));
    const { openServedBundle } = await import('../../src/bundle/served-bundle.js');
    await expect(openServedBundle(dir)).rejects.toThrow(/generated code older than its specs: run `specstream generate --specs /);
  });
});
