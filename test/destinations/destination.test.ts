import { describe, expect, it } from 'vitest';
import { errorForStatus, isRetryableStatus, parseRetryAfter, PermanentError, resolveDestinationOptions, RetryableError, retryDelay } from '../../src/destinations/destination.js';

describe('destination', () => {
  describe('isRetryableStatus', () => {
    it.each([
      [400, false],
      [401, false],
      [404, false],
      [408, true],
      [413, false],
      [429, true],
      [500, true],
      [503, true],
    ])('classifies %i as retryable=%s', (status, want) => {
      expect(isRetryableStatus(status)).toBe(want);
    });
  });

  describe('errorForStatus', () => {
    it('gives a RetryableError with Retry-After for 429', () => {
      const error = errorForStatus(429, new Headers({ 'retry-after': '3' }), 'webhook');
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).retryAfterMs).toBe(3_000);
      expect(error.message).toBe('webhook answered 429');
    });
    it('gives a PermanentError with the status for 422', () => {
      const error = errorForStatus(422, new Headers(), 'webhook');
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as PermanentError).status).toBe(422);
    });
  });

  describe('parseRetryAfter', () => {
    it('reads seconds and HTTP dates', () => {
      const now = Date.parse('2026-03-01T00:00:00Z');
      expect(parseRetryAfter('2', now)).toBe(2_000);
      expect(parseRetryAfter('Sun, 01 Mar 2026 00:00:05 GMT', now)).toBe(5_000);
      expect(parseRetryAfter('Sat, 28 Feb 2026 00:00:05 GMT', now)).toBe(0);
      expect(parseRetryAfter('soon', now)).toBeUndefined();
      expect(parseRetryAfter(null, now)).toBeUndefined();
    });
  });

  describe('retryDelay', () => {
    const backoff = { initialMs: 100, maxMs: 1_000, random: () => 1 };
    it('doubles with equal jitter up to maxMs', () => {
      expect([0, 1, 2, 3, 4].map((n) => retryDelay(n, backoff))).toEqual([100, 200, 400, 800, 1_000]);
      expect(retryDelay(0, { ...backoff, random: () => 0 })).toBe(50);
    });
    it('honours Retry-After, capped at maxMs', () => {
      expect(retryDelay(0, backoff, 700)).toBe(700);
      expect(retryDelay(0, backoff, 5_000)).toBe(1_000);
    });
  });

  describe('resolveDestinationOptions', () => {
    it('applies the defaults', () => {
      const resolved = resolveDestinationOptions();
      expect([resolved.batchSize, resolved.flushIntervalMs, resolved.maxRetries, resolved.deadLetterPath]).toEqual([100, 1_000, 10, undefined]);
    });
    it('throws RangeError on batchSize 0', () => {
      expect(() => resolveDestinationOptions({ batchSize: 0 })).toThrow(new RangeError('batchSize must be an integer >= 1, got 0'));
    });
  });
});
