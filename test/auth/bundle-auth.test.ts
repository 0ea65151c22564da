import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialsFor, parseCookies } from '../../src/bundle/credentials.js';
import { loadBundle, NATIVE_BUNDLE_DIR, parseBundle } from '../../src/bundle/load-bundle.js';
import { wireProfile } from '../../src/bundle/wire-profile.js';
import { redactJwts, redactText, redactUrl } from '../../src/observability/redact.js';

const OPENAPI = readFileSync(join(NATIVE_BUNDLE_DIR, 'openapi.yaml'), 'utf8');
const ASYNCAPI = readFileSync(join(NATIVE_BUNDLE_DIR, 'asyncapi.yaml'), 'utf8');

describe('bundles: cookie schemes, the issue-token role and the expired frame (issue 15)', () => {
  const bundle = loadBundle();
  const op = (operationId: string) => bundle.operations.find((o) => o.operationId === operationId)!;

  it('reads an apiKey scheme in a cookie, declared on read operations only', () => {
    expect(op('listEvents').schemes).toContainEqual({ kind: 'apiKey', name: 'cookieAuth', in: 'cookie', param: 'specstream_token' });
    expect(op('streamEvents').schemes.map((s) => s.name)).toEqual(['bearerAuth', 'tokenQuery', 'basicAuth', 'cookieAuth']);
    expect(op('publishEvents').schemes.map((s) => s.name)).not.toContain('cookieAuth');
    expect(op('issueToken')).toMatchObject({ role: 'issue-token', permission: 'read', method: 'post', path: '/v1/tokens' });
  });

  it('collects cookies only for an operation with a cookie scheme', () => {
    const headers = { cookie: 'a=1; specstream_token="eyJ.x.y"; a=2' };
    expect(credentialsFor(op('listEvents'), headers, {}).cookies).toEqual({ a: '1', specstream_token: 'eyJ.x.y' });
    expect(credentialsFor(op('publishEvents'), headers, {}).cookies).toBeUndefined();
    expect(parseCookies(['x=1', 'y=2;z'])).toEqual({ x: '1', y: '2' });
  });

  it('never offers the cookie to SDK clients (a browser’s cookie jar is not a credential they send)', () => {
    expect(wireProfile(bundle).auth.map((a) => a.kind)).toEqual(['bearer', 'basic', 'query']);
  });

  it('reads the SSE expired frame: its event name and field map over $error', () => {
    const expired = bundle.channels.sse!.sse.find((frame) => frame.role === 'expired');
    expect(expired).toMatchObject({ role: 'expired', event: 'stream.expired' });
    expect(wireProfile(bundle).sse?.expiredEvent).toBe('stream.expired');
  });

  it('refuses an apiKey scheme anywhere else, and an expired frame mapping what does not exist, with the file and pointer', () => {
    const badScheme = OPENAPI.replace('      in: cookie\n', '      in: body\n');
    expect(() => parseBundle('x', { openapi: badScheme, asyncapi: ASYNCAPI })).toThrow(
      'x/openapi.yaml#/components/securitySchemes/cookieAuth: supported schemes: http bearer, http basic, apiKey in query, header or cookie',
    );
    const badFrame = ASYNCAPI.replace('x-specstream-frame: {role: expired}', 'x-specstream-frame: {role: expired, fields: {code: $error.nope}}');
    expect(() => parseBundle('x', { openapi: OPENAPI, asyncapi: badFrame })).toThrow(/x\/asyncapi\.yaml#\/components\/messages\/sseStreamExpired\/x-specstream-frame\/fields/);
  });
});

describe('JWT redaction', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
  it.each([
    ['a path', () => redactUrl(`/v1/events/${jwt}`), '/v1/events/[REDACTED]'],
    ['a message', () => redactText(`bad token ${jwt} given`), 'bad token [REDACTED] given'],
    ['a cookie header quoted in text', () => redactJwts(`specstream_token=${jwt}; theme=dark`), 'specstream_token=[REDACTED]; theme=dark'],
  ])('replaces a JWT in %s', (_name, redact, expected) => {
    expect(redact()).toBe(expected);
  });
});
