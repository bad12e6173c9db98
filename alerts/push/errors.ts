import { PipelineError } from '../../app/errors.ts';

/**
 * Why a push failed, sorted the way the dispatcher acts on it: permanent (never retried), retryable
 * (back-off), throttled (wait as long as the server asks).
 */
export class PushError extends PipelineError {
  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; retryable: boolean; readonly statusCode?: number; readonly retryAfterMs?: number },
  ) {
    super(code, message, options);
    this.statusCode = options.statusCode;
    this.retryAfterMs = options.retryAfterMs;
  }

  readonly statusCode: number | undefined;
  /** How long the server asked us to wait (Retry-After, robot rate limit), when it did. */
  readonly retryAfterMs: number | undefined;

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), statusCode: this.statusCode, retryAfterMs: this.retryAfterMs };
  }
}

/** The receiver refused the push for good (4xx, bad address, auth, robot error code): do not retry. */
export class PushRejectedError extends PushError {
  constructor(message: string, options: { cause?: unknown; statusCode?: number } = {}) {
    super('GAS_PUSH_REJECTED', message, { ...options, retryable: false });
  }
}

/** The receiver is down or failing (5xx, network error): retry with back-off. */
export class PushUnavailableError extends PushError {
  constructor(message: string, options: { cause?: unknown; statusCode?: number } = {}) {
    super('GAS_PUSH_UNAVAILABLE', message, { ...options, retryable: true });
  }
}

/** No answer within the channel's timeout: retry with back-off. */
export class PushTimeoutError extends PushError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('GAS_PUSH_TIMEOUT', message, { ...options, retryable: true });
  }
}

/** Rate limited (429, robot "too fast"): retry after the server's delay. */
export class PushThrottledError extends PushError {
  constructor(message: string, options: { cause?: unknown; statusCode?: number; retryAfterMs?: number } = {}) {
    super('GAS_PUSH_THROTTLED', message, { ...options, retryable: true });
  }
}

/** A delivery to a channel that is not configured or does not serve this person. */
export class PushChannelUnknownError extends PipelineError {
  constructor(readonly channel: string) {
    super('GAS_PUSH_CHANNEL_UNKNOWN', `No push channel ${channel}`);
  }
}

/** Retry-After as seconds or an HTTP date, in ms from `nowMs`; undefined when absent or unreadable. */
export function parseRetryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Sorts a non-2xx HTTP answer: 408 and 5xx retry, 429 waits, any other 4xx is permanent. */
export function httpStatusError(status: number, detail: string, retryAfterMs?: number): PushError {
  const message = `HTTP ${status}${detail ? `: ${detail.slice(0, 200)}` : ''}`;
  if (status === 429) return new PushThrottledError(message, { statusCode: status, retryAfterMs });
  if (status === 408 || status >= 500) return new PushUnavailableError(message, { statusCode: status });
  return new PushRejectedError(message, { statusCode: status });
}

/** Any thrown value as a PushError: unknown errors are treated as transient (network-like). */
export function asPushError(err: unknown): PushError {
  if (err instanceof PushError) return err;
  if (err instanceof PipelineError) return new PushError(err.code, err.message, { cause: err, retryable: err.retryable });
  const e = err as { name?: string; message?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return new PushTimeoutError(e.message ?? 'timed out', { cause: err });
  return new PushUnavailableError(e?.message ?? String(err), { cause: err });
}
