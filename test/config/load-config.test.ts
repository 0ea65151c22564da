import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';

function dirWith(yaml?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'specstream-config-'));
  if (yaml !== undefined) writeFileSync(join(dir, 'specstream.yaml'), yaml);
  return dir;
}

describe('loadConfig', () => {
  it('has laptop defaults', () => {
    const config = loadConfig({ argv: [], env: {}, cwd: dirWith() });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8080, store: 'sqlite:./data/events.db', heartbeat_s: 30, status_s: 5, keys: [] });
  });

  it('layers file < environment < flags', () => {
    const cwd = dirWith('port: 9000\nheartbeat_s: 10\nstatus_s: 7\n');
    const config = loadConfig({ argv: ['--heartbeat-s', '3'], env: { SPECSTREAM_PORT: '9100', SPECSTREAM_HEARTBEAT_S: '5' }, cwd });
    expect(config.status_s).toBe(7);
    expect(config.port).toBe(9100);
    expect(config.heartbeat_s).toBe(3);
  });

  it('honours PORT and HOST, below SPECSTREAM_PORT', () => {
    expect(loadConfig({ env: { PORT: '7000', HOST: '0.0.0.0' }, cwd: dirWith() })).toMatchObject({ port: 7000, host: '0.0.0.0' });
    expect(loadConfig({ env: { PORT: '7000', SPECSTREAM_PORT: '7001' }, cwd: dirWith() }).port).toBe(7001);
  });

  it('reads --config and SPECSTREAM_CONFIG', () => {
    const dir = dirWith();
    writeFileSync(join(dir, 'other.yaml'), 'port: 1234\n');
    expect(loadConfig({ argv: ['--config', 'other.yaml'], env: {}, cwd: dir }).port).toBe(1234);
    expect(loadConfig({ env: { SPECSTREAM_CONFIG: join(dir, 'other.yaml') }, cwd: dirWith() }).port).toBe(1234);
  });

  it('parses keys from flags, SPECSTREAM_KEYS and YAML', () => {
    const fromFlags = loadConfig({ argv: ['--key', 'a:s1:events:read', '--key', 'b:s2:events:read:grant.*,events:write'], env: {}, cwd: dirWith() });
    expect(fromFlags.keys).toEqual([
      { id: 'a', secret: 's1', scopes: ['events:read'], queryToken: true },
      { id: 'b', secret: 's2', scopes: ['events:read:grant.*', 'events:write'], queryToken: true },
    ]);
    const fromEnv = loadConfig({ env: { SPECSTREAM_KEYS: 'a:s1:admin;b:s2:events:read' }, cwd: dirWith() });
    expect(fromEnv.keys.map((k) => k.id)).toEqual(['a', 'b']);
    const fromYaml = loadConfig({
      env: {},
      cwd: dirWith('keys:\n  - "a:s1:admin"\n  - id: browser\n    secret: s2\n    scopes: [events:read]\n    query_token: false\n'),
    });
    expect(fromYaml.keys[1]).toEqual({ id: 'browser', secret: 's2', scopes: ['events:read'], queryToken: false });
  });

  it('accepts --flag=value and bare boolean flags', () => {
    const config = loadConfig({ argv: ['--port=0', '--allow-anonymous', '--cors-origins', 'https://a.example,https://b.example'], env: {}, cwd: dirWith() });
    expect(config.port).toBe(0);
    expect(config.allow_anonymous).toBe(true);
    expect(config.cors_origins).toEqual(['https://a.example', 'https://b.example']);
  });

  it.each([
    [['--port', 'eighty'], /port must be an integer/],
    [['--port', '70000'], /port must be at most 65535/],
    [['--nope', '1'], /unknown flag --nope/],
    [['--key', 'justid'], /id:secret:scope/],
    [['--key', 'a:s:events:delete'], /unknown scope/],
    [['--sqlite-synchronous', 'OFF'], /one of NORMAL, FULL/],
  ])('rejects %j', (argv, message) => {
    expect(() => loadConfig({ argv, env: {}, cwd: dirWith() })).toThrow(ConfigError);
    expect(() => loadConfig({ argv, env: {}, cwd: dirWith() })).toThrow(message);
  });

  it('rejects unknown options in the file', () => {
    expect(() => loadConfig({ env: {}, cwd: dirWith('prot: 1\n') })).toThrow(/unknown option "prot"/);
  });
});
