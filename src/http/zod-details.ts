import type { ErrorDetail } from '../errors.js';

/** The part of a zod issue we report. */
export interface ZodIssueLike {
  code: string;
  path: readonly PropertyKey[];
  message: string;
}

/** Zod issues as error details: JSON Pointer paths under `prefix` (`/data` -> `/data/grantId`). */
export function zodIssuesToDetails(issues: readonly ZodIssueLike[], prefix: string): ErrorDetail[] {
  return issues.map((issue) => ({
    path: prefix + issue.path.map((segment) => `/${escapePointer(String(segment))}`).join(''),
    code: issue.code.toUpperCase(),
    message: issue.message,
  }));
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
