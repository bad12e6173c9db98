import { HttpError } from './errors.ts';

export { FailureLimiter as AuthFailureLimiter, type FailureLimitOptions as AuthFailureLimitOptions } from '../../app/failure-limiter.ts';

export class TooManyAuthFailuresError extends HttpError {
  constructor(readonly retryAfterS: number) {
    super(429, 'GAS_HTTP_TOO_MANY_AUTH_FAILURES', `Too many failed authentications from this address; retry after ${retryAfterS} s`);
  }
}
