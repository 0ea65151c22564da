/**
 * The SDK's types come from src/generated/: code that reads a payload field compiles today, and
 * stops compiling once the field is removed from specs/asyncapi.yaml and the types regenerated.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectTypeOf } from 'vitest';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { generateFiles } from '../../scripts/generate.js';
import { connect, type Envelope, type NewEvent, type SpecstreamEvent, type Subscription } from '../../src/client/index.js';
import { ROOT, typecheck } from '../codegen/typecheck.js';

const fixture = join(ROOT, 'test', 'client', 'fixtures', 'sdk-usage.ts');

describe('SDK type-level contract', () => {
  it('narrows events by type (expectTypeOf)', () => {
    expectTypeOf<Subscription>().toMatchTypeOf<AsyncIterable<SpecstreamEvent>>();
    expectTypeOf<Extract<SpecstreamEvent, { type: 'grant.created' }>['data']['grantId']>().toEqualTypeOf<string>();
    expectTypeOf<NewEvent<'grant.created'>['data']>().toEqualTypeOf<Envelope<'grant.created'>['data']>();
  });

  it('narrows the event type by an array types filter (exact types and trailing globs)', () => {
    type Of<S> = S extends Subscription<infer E> ? E : never;
    const url = 'http://127.0.0.1:1'; // connect() is lazy: nothing is opened until next()
    const subscriptions = {
      exact: connect({ url, types: ['grant.created'] }),
      glob: connect({ url, types: ['grant.*'] }),
      mixed: connect({ url, types: ['token.issued', 'budget.*'] }),
      suffix: connect({ url, types: ['*.created'] }),
      list: connect({ url, types: 'grant.*' }),
      none: connect({ url }),
    };
    expectTypeOf<Of<typeof subscriptions.exact>>().toEqualTypeOf<Envelope<'grant.created'>>();
    expectTypeOf<Of<typeof subscriptions.glob>>().toEqualTypeOf<Envelope<'grant.created'> | Envelope<'grant.revoked'>>();
    expectTypeOf<Of<typeof subscriptions.mixed>>().toEqualTypeOf<Envelope<'token.issued'> | Envelope<'budget.exhausted'> | Envelope<'budget.threshold'>>();
    expectTypeOf<Of<typeof subscriptions.suffix>>().toEqualTypeOf<SpecstreamEvent>();
    expectTypeOf<Of<typeof subscriptions.list>>().toEqualTypeOf<SpecstreamEvent>();
    expectTypeOf<Of<typeof subscriptions.none>>().toEqualTypeOf<SpecstreamEvent>();
    for (const subscription of Object.values(subscriptions)) subscription.close();
  });

  it('compiles partner code against the generated types', () => {
    expect(typecheck([fixture])).toEqual([]);
  });

  it('breaks partner code that reads a field removed from the spec, once regenerated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'specstream-types-'));
    try {
      const spec = parse(readFileSync(join(ROOT, 'specs', 'asyncapi.yaml'), 'utf8')) as {
        components: { messages: Record<string, { payload: { required: string[]; properties: Record<string, unknown> } }> };
      };
      const payload = spec.components.messages['grant.created']!.payload;
      delete payload.properties.grantId;
      payload.required = payload.required.filter((name) => name !== 'grantId');
      const changed = join(dir, 'asyncapi.yaml');
      writeFileSync(changed, stringify(spec));
      const files = await generateFiles({ asyncapi: changed });
      const overrides = new Map([...files].map(([name, text]) => [join(ROOT, 'src', 'generated', name), text]));
      const errors = typecheck([fixture], overrides);
      const line = readFileSync(fixture, 'utf8').split('\n').findIndex((text) => text.includes('GRANT_ID_USE')) + 1;
      expect(errors.map((e) => ({ file: e.file, line: e.line, code: e.code }))).toEqual([{ file: fixture, line, code: 2339 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
