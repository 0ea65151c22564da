import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/auth/key-ring.js';
import { Principal } from '../../src/auth/principal.js';

describe('KeyRing', () => {
  const ring = new KeyRing([
    { id: 'r', secret: 'sr', scopes: ['events:read:grant.*'], queryToken: true },
    { id: 'h', secretSha256: createHash('sha256').update('hashed-secret').digest('hex'), scopes: ['admin'], queryToken: false },
  ]);

  it('authenticates a key configured by hash only', () => {
    expect(ring.authenticate({ authorization: 'Bearer hashed-secret' }).keyId).toBe('h');
  });

  it('prefers the header over ?token=', () => {
    expect(ring.authenticate({ authorization: 'Bearer sr', token: 'hashed-secret' }).keyId).toBe('r');
  });

  it('throws AUTH_REQUIRED for unknown schemes', () => {
    expect(() => ring.authenticate({ authorization: 'Digest abc' })).toThrow(expect.objectContaining({ code: 'AUTH_REQUIRED' }));
  });

  it('lets anonymous callers in only when configured', () => {
    expect(() => ring.authenticate({})).toThrow(expect.objectContaining({ code: 'AUTH_REQUIRED' }));
    const open = new KeyRing([], { anonymousScopes: ['events:read:grant.*'] });
    expect(open.authenticate({}).canRead('grant.created')).toBe(true);
  });

  it('rejects duplicate ids', () => {
    expect(() => new KeyRing([
      { id: 'x', secret: 'a', scopes: ['admin'], queryToken: true },
      { id: 'x', secret: 'b', scopes: ['admin'], queryToken: true },
    ])).toThrow(TypeError);
  });
});

describe('Principal', () => {
  it.each([
    [['events:read'], 'security.alert', true, false],
    [['events:read:grant.*'], 'grant.revoked', true, false],
    [['events:read:grant.*'], 'security.alert', false, false],
    [['events:write:admin.*'], 'admin.liquidation', false, true],
    [['admin'], 'internal_audit_log.created', true, true],
    [['events:read:*.created'], 'resource.created', true, false],
  ])('%j on %s: read %s, write %s', (scopes, type, read, write) => {
    const principal = new Principal('k', scopes, 'bearer');
    expect(principal.canRead(type)).toBe(read);
    expect(principal.canWrite(type)).toBe(write);
  });
});
