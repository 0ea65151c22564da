/**
 * Why an authentication failed, kept beside the registry error a client sees, for the metric
 * `specstream_auth_failures_total{reason}` (src/observability/metrics.ts). The reason never
 * carries the credential itself.
 */
import { SpecstreamError } from '../errors.js';

/** The `reason` label values of `specstream_auth_failures_total`. */
export const AUTH_FAILURE_REASONS = [
  'missing',
  'invalid_key',
  'query_token_disabled',
  'expired',
  'not_yet_valid',
  'wrong_audience',
  'wrong_issuer',
  'bad_algorithm',
  'bad_signature',
  'unknown_key',
  'malformed',
  'jwks_unavailable',
  'origin_mismatch',
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

const reasons = new WeakMap<SpecstreamError, AuthFailureReason>();

/** Marks `error` (a registry error) as an authentication failure for `reason`; returns it. */
export function authFailure(reason: AuthFailureReason, error: SpecstreamError): SpecstreamError {
  reasons.set(error, reason);
  return error;
}

/** The reason `error` was marked with, or undefined for any other error. */
export function failureReason(error: unknown): AuthFailureReason | undefined {
  return error instanceof SpecstreamError ? reasons.get(error) : undefined;
}
