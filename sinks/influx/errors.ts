import { HttpError } from '@influxdata/influxdb-client';
import { PipelineError } from '../../app/errors.ts';

/** A write the server refused or that could not reach it; `retryable` says whether the batch is kept. */
export class InfluxWriteError extends PipelineError {
  readonly statusCode?: number;
  constructor(code: string, message: string, options: { cause?: unknown; retryable: boolean; statusCode?: number }) {
    super(code, message, options);
    this.statusCode = options.statusCode;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), statusCode: this.statusCode };
  }
}

/**
 * What to do with a failed batch, after Telegraf's InfluxDB output (plugins/outputs/influxdb_v2/errors.go):
 * - `drop`: the server will never take these lines (400 bad line, type conflict, outside retention);
 *   counted under `reason`. A partial write drops only the lines the body names and counts the rest written.
 * - `split`: 413, the batch is too large; halve it and send both halves.
 * - `throttle`: 429, or 503 with Retry-After; wait as long as the server asks.
 * - `retry`: 5xx, 401/403/404 (the server or its configuration may come back), network errors, timeouts.
 */
export type Decision =
  | { action: 'drop'; reason: string; partial?: Record<string, number>; error: InfluxWriteError }
  | { action: 'split'; error: InfluxWriteError }
  | { action: 'throttle'; retryAfterMs?: number; error: InfluxWriteError }
  | { action: 'retry'; error: InfluxWriteError };

/** Reason a 400 body gives, as InfluxDB 1.x/2.x word it; unknown wordings count as `bad_request`. */
export function dropReason(body: string): string {
  if (/field type conflict/i.test(body)) return 'field_type_conflict';
  if (/beyond retention|outside retention/i.test(body)) return 'beyond_retention';
  if (/max-values-per-tag|max-series-per-database|cardinality/i.test(body)) return 'cardinality_limit';
  if (/unable to parse|bad timestamp|invalid|parse error|missing|no field/i.test(body)) return 'bad_line';
  return 'bad_request';
}

/**
 * The lines a partial write refused, by reason, or undefined when the body does not say (then the
 * whole batch counts as dropped: a conservative count, never an invented `written`).
 * InfluxDB 1.x: one `unable to parse '…'` per bad line plus `dropped=N` for refused points
 * (type conflicts, retention); 2.x: `partial write … errors encountered on line(s): line 2: …`.
 */
export function partialWrite(body: string): Record<string, number> | undefined {
  const drops: Record<string, number> = {};
  const dropped = /dropped=(\d+)/.exec(body);
  const unparsable = body.match(/unable to parse '/g)?.length ?? 0;
  if (dropped || (unparsable > 0 && /partial write/.test(body))) {
    if (unparsable > 0) drops.bad_line = unparsable;
    const n = dropped ? Number(dropped[1]) : 0;
    if (n > 0) drops[dropReason(body.replace(/unable to parse '[^\n]*/g, ''))] = n;
    return drops;
  }
  if (/errors encountered on line\(s\)/.test(body)) {
    const lines = new Set([...body.matchAll(/line (\d+):/g)].map((m) => m[1]));
    if (lines.size > 0) return { [dropReason(body)]: lines.size };
  }
  return undefined;
}

/** `Retry-After` in seconds or as an HTTP date, in ms from `nowMs`; undefined when absent or unreadable. */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(raw)) return Math.round(Number(raw) * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

export function classify(err: unknown, nowMs: number): Decision {
  if (err instanceof HttpError) {
    const status = err.statusCode;
    const body = err.body ?? '';
    const message = `InfluxDB answered ${status}: ${body.slice(0, 300) || err.message}`;
    if (status === 400 || status === 422) {
      const error = new InfluxWriteError('GAS_INFLUX_REJECTED', message, { cause: err, retryable: false, statusCode: status });
      return { action: 'drop', reason: dropReason(body), partial: partialWrite(body), error };
    }
    if (status === 413) return { action: 'split', error: new InfluxWriteError('GAS_INFLUX_TOO_LARGE', message, { cause: err, retryable: true, statusCode: status }) };
    const retryAfterMs = parseRetryAfter(err.headers?.['retry-after'], nowMs);
    if (status === 429 || (status === 503 && retryAfterMs !== undefined)) {
      return { action: 'throttle', retryAfterMs, error: new InfluxWriteError('GAS_INFLUX_THROTTLED', message, { cause: err, retryable: true, statusCode: status }) };
    }
    return { action: 'retry', error: new InfluxWriteError('GAS_INFLUX_UNAVAILABLE', message, { cause: err, retryable: true, statusCode: status }) };
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  const name = (err as { name?: unknown } | undefined)?.name;
  const detail = err instanceof Error ? err.message : String(err);
  const what = typeof code === 'string' && NETWORK_CODES.has(code) ? `network error ${code}` : name === 'RequestTimedOutError' ? 'request timed out' : `write failed: ${detail}`;
  return { action: 'retry', error: new InfluxWriteError('GAS_INFLUX_UNREACHABLE', `InfluxDB ${what}`, { cause: err, retryable: true }) };
}
