import { Type } from '@sinclair/typebox';

/** Shared response parts. */
export const ErrorResponse = Type.Object({
  error: Type.String({ description: 'stable error code, GAS_HTTP_*' }),
  message: Type.String(),
  requestId: Type.Optional(Type.String()),
});

export const LimitQuery = Type.String({ pattern: '^[0-9]{1,5}$', description: 'at most this many items (1-10000, default 100)' });

export function parseLimit(text: string | undefined, fallback = 100): number {
  const n = text === undefined ? fallback : Number(text);
  return Math.min(Math.max(n, 1), 10_000);
}

/** The 4xx answers every guarded route can give. */
export const GuardedErrors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse } as const;

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' }) });
