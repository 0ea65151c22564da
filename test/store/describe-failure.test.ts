import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../src/store/describe-failure.js';
import { errors } from '../../src/errors.js';

describe('describeFailure', () => {
  it('gives each link of the cause chain, without credentials or event data', () => {
    const pgError = Object.assign(new Error('connect ECONNREFUSED, url postgres://app:hunter2@db:5432/x?token=sk_live_1'), {
      code: 'ECONNREFUSED',
      detail: 'Key (subject)=(secret-subject) already exists.',
      where: 'SQL statement "INSERT ..."',
    });
    const failure = errors.storeUnavailable(undefined, undefined, { cause: pgError });

    const links = describeFailure(failure);

    expect(links).toEqual([
      { name: 'SpecstreamError', code: 'STORE_UNAVAILABLE', message: 'The event store is unavailable; nothing was stored' },
      { name: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED, url postgres://[REDACTED]@db:5432/x?token=[REDACTED]' },
    ]);
    expect(JSON.stringify(links)).not.toMatch(/hunter2|sk_live_1|secret-subject/);
  });

  it('stops at 5 links and on cycles, and cuts long messages', () => {
    const a = new Error('x'.repeat(1000));
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const links = describeFailure(b);
    expect(links).toHaveLength(2);
    expect(links[1]!.message).toHaveLength(300);
    expect(describeFailure('plain')).toEqual([{ name: 'string', message: 'plain' }]);
  });
});
