/**
 * Publish rate limits: one token bucket per key or token subject (`Principal.keyId`). A bucket
 * holds at most `burst` tokens and gains `ratePerS` per second; each publish request (one event or
 * one batch) takes one. The answer is described with the IETF RateLimit header fields, in the
 * syntax of draft-ietf-httpapi-ratelimit-headers-11 (May 2026), sections 2 and 3:
 *
 *     RateLimit-Policy: "publish";q=<burst>;w=<seconds to refill the bucket>
 *     RateLimit: "publish";r=<whole tokens left>;t=<seconds until the next token>
 *
 * plus `Retry-After` (RFC 9110 section 10.2.3, delay-seconds) on a refusal, never earlier than the
 * reset parameter (draft section 4). A token bucket is not a fixed window: the policy's `q` per `w`
 * is the most a client can send in `w` seconds from a full bucket, and its sustained rate is `q/w`.
 */
import type { PublishRate } from './principal.js';

/** The policy name in the header fields. */
const POLICY = 'publish';
/** Buckets kept before full ones (indistinguishable from absent ones) are swept away. */
const SWEEP_AT = 10_000;
/** Hard bound on buckets kept; beyond it the oldest are forgotten (each then starts full). */
const MAX_BUCKETS = 100_000;

interface Bucket {
  tokens: number;
  /** `Date.now()` when `tokens` was computed. */
  at: number;
  ratePerS: number;
  burst: number;
}

/** The outcome of one `take`. */
export interface RateDecision {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Seconds until the next token is added (0 when the bucket is full). */
  resetS: number;
  /** Seconds to wait before a retry can succeed (with `allowed` false), at least 1. */
  retryAfterS: number;
  /** The bucket size (`q`) and the seconds it takes to refill from empty (`w`). */
  quota: number;
  windowS: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  /** Buckets currently remembered (for tests and operators). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes a token from `id`'s bucket. `rate.ratePerS` 0 means unlimited (undefined is returned and
   * nothing is remembered); `rate.burst` 0 means the same as the rate (at least 1).
   */
  take(id: string, rate: PublishRate, now: number = Date.now()): RateDecision | undefined {
    if (rate.ratePerS <= 0) return undefined;
    const burst = rate.burst > 0 ? rate.burst : Math.max(1, Math.ceil(rate.ratePerS));
    let bucket = this.#buckets.get(id);
    if (bucket === undefined || bucket.ratePerS !== rate.ratePerS || bucket.burst !== burst) {
      bucket = { tokens: burst, at: now, ratePerS: rate.ratePerS, burst };
      this.#remember(id, bucket, now);
    } else {
      refill(bucket, now);
    }
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    const fraction = bucket.tokens - Math.floor(bucket.tokens);
    const resetS = bucket.tokens >= burst ? 0 : Math.ceil((1 - fraction) / rate.ratePerS);
    return {
      allowed,
      remaining: Math.floor(bucket.tokens),
      resetS,
      retryAfterS: allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / rate.ratePerS)),
      quota: burst,
      windowS: Math.max(1, Math.ceil(burst / rate.ratePerS)),
    };
  }

  #remember(id: string, bucket: Bucket, now: number): void {
    if (this.#buckets.size >= SWEEP_AT) {
      for (const [key, old] of this.#buckets) {
        refill(old, now);
        if (old.tokens >= old.burst) this.#buckets.delete(key);
      }
      for (const key of this.#buckets.keys()) {
        if (this.#buckets.size < MAX_BUCKETS) break;
        this.#buckets.delete(key);
      }
    }
    this.#buckets.set(id, bucket);
  }
}

function refill(bucket: Bucket, now: number): void {
  const elapsed = Math.max(0, now - bucket.at) / 1000;
  bucket.tokens = Math.min(bucket.burst, bucket.tokens + elapsed * bucket.ratePerS);
  bucket.at = now;
}

/** The response header fields of a decision (draft-ietf-httpapi-ratelimit-headers-11; `Retry-After` on a refusal). */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Policy': `"${POLICY}";q=${decision.quota};w=${decision.windowS}`,
    RateLimit: `"${POLICY}";r=${decision.remaining};t=${decision.allowed ? decision.resetS : Math.max(decision.resetS, decision.retryAfterS)}`,
  };
  if (!decision.allowed) headers['Retry-After'] = String(decision.retryAfterS);
  return headers;
}
