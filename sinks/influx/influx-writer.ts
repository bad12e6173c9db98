import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { InfluxDB, type Transport } from '@influxdata/influxdb-client';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import { ConfigError } from '../../app/errors.ts';
import { classify, InfluxWriteError } from './errors.ts';

export const InfluxWriterOptionsSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, description: 'Base URL, e.g. http://127.0.0.1:8086 (no /api/v2)' }),
    target: Type.Union([Type.Literal('v2'), Type.Literal('v1')], {
      default: 'v2',
      description: "'v2': POST /api/v2/write?org&bucket (InfluxDB 2/3, VictoriaMetrics); 'v1': POST /write?db (InfluxDB 1.x)",
    }),
    token: Type.Optional(Type.String({ description: 'v2: API token, sent as `Authorization: Token …`' })),
    org: Type.String({ default: '', description: 'v2 organisation' }),
    bucket: Type.String({ default: 'gas', description: 'v2 bucket' }),
    database: Type.String({ default: 'gas', description: 'v1 database' }),
    retentionPolicy: Type.Optional(Type.String({ description: 'v1 retention policy (rp=); the default policy when absent' })),
    username: Type.Optional(Type.String({ description: 'v1 user (u=)' })),
    password: Type.Optional(Type.String({ description: 'v1 password (p=)' })),
    batchLines: Type.Integer({ minimum: 1, default: 5000, description: 'Lines per write request' }),
    flushIntervalMs: Type.Integer({ minimum: 0, default: 1000, description: 'Longest a partial batch waits for more lines; 0 sends at once' }),
    maxBufferedLines: Type.Integer({ minimum: 2, default: 100_000, description: 'Lines held (queued and in flight) before onFull applies; at least 2 × batchLines' }),
    onFull: Type.Union([Type.Literal('block'), Type.Literal('drop')], {
      default: 'block',
      description: "'block': write() waits for room (back-pressure, upstream acknowledgement waits); 'drop': the oldest queued lines are dropped and counted (dropped.overflow)",
    }),
    gzip: Type.Boolean({ default: true, description: 'Gzip every request body' }),
    minRetryDelayMs: Type.Integer({ minimum: 1, default: 500, description: 'First back-off delay' }),
    maxRetryDelayMs: Type.Integer({ minimum: 1, default: 30_000, description: 'Back-off ceiling' }),
    retryJitter: Type.Number({ minimum: 0, maximum: 1, default: 0.3, description: 'Up to this fraction of the delay is added at random' }),
    maxRetryAfterMs: Type.Integer({ minimum: 0, default: 300_000, description: 'Longest Retry-After honoured' }),
    requestTimeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Per request; a timeout is retried' }),
    closeTimeoutMs: Type.Integer({ minimum: 0, default: 10_000, description: 'close() drains this long, then counts the rest as dropped.shutdown' }),
  },
  { additionalProperties: false },
);
export type InfluxWriterOptions = Static<typeof InfluxWriterOptionsSchema>;

/** Applies defaults and validates; throws ConfigError at start instead of failing later. */
export function parseInfluxWriterOptions(input: unknown): InfluxWriterOptions {
  const options = Value.Default(InfluxWriterOptionsSchema, Value.Clone(input ?? {}));
  const errors = [...Value.Errors(InfluxWriterOptionsSchema, options)];
  if (errors.length > 0) throw new ConfigError(`influx: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`);
  const parsed = options as InfluxWriterOptions;
  if (parsed.maxBufferedLines < 2 * parsed.batchLines) throw new ConfigError('influx: maxBufferedLines must be at least 2 × batchLines');
  try {
    new URL(parsed.url);
  } catch (cause) {
    throw new ConfigError(`influx: url ${parsed.url} is not a URL`, { cause });
  }
  return parsed;
}

/** Time and waiting, injectable so tests drive retries and flushes without sleeping. */
export interface Scheduler {
  now(): number;
  /** Resolves after `ms`, or early (never rejects) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  },
};

/**
 * Counters for metrics, a plain snapshot. Invariant at every instant:
 * `accepted = written + sum(dropped) + buffered`.
 */
export interface InfluxWriterCounters {
  /** Lines taken by write(). */
  accepted: number;
  /** Lines the server acknowledged. */
  written: number;
  /** Lines sent again after a retryable failure (a line retried 3 times counts 3). */
  retried: number;
  /** Throttling answers (429, 503 with Retry-After). */
  throttled: number;
  /** Write requests that failed, whatever the outcome. */
  failedRequests: number;
  /** Lines given up, by reason: bad_line, field_type_conflict, beyond_retention, bad_request, too_large, overflow, shutdown, … */
  dropped: Record<string, number>;
  /** Lines held now: queued plus in flight. */
  buffered: number;
}

export interface InfluxWriterDeps {
  scheduler?: Scheduler;
  /** In [0, 1); jitter source. */
  random?: () => number;
  log?: Logger;
}

interface Batch {
  lines: string[];
  /** When its first line was queued: the flush interval runs from here. */
  firstAtMs: number;
}

/**
 * Buffers line-protocol lines and writes them in batches with its own retry loop, over the official
 * client's HTTP transport (gzip, keep-alive, HttpError with status, body and headers). The client's
 * WriteApi is not used: its retry buffer drops the oldest lines on overflow with only a log line, runs
 * its own timers and writes only to /api/v2/write, and exact counts and a v1 target are needed here.
 * One request is in flight at a time, so lines are written in the order they were accepted.
 */
export class InfluxWriter {
  readonly options: InfluxWriterOptions;
  private readonly transport: Transport;
  private readonly agent: HttpAgent;
  private readonly path: string;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly log?: Logger;

  private readonly batches: Batch[] = [];
  private queuedLines = 0;
  private inFlightLines = 0;
  private readonly counters = { accepted: 0, written: 0, retried: 0, throttled: 0, failedRequests: 0 };
  private readonly dropped: Record<string, number> = {};
  private settled = 0;
  private lastErrorValue: InfluxWriteError | undefined;
  private degraded = false;

  private wake: (() => void) | undefined;
  private spaceWaiters: Array<() => void> = [];
  private flushWaiters: Array<{ target: number; resolve: () => void }> = [];
  private closing = false;
  private readonly abort = new AbortController();
  private inFlightRequest: AbortController | undefined;
  private readonly loop: Promise<void>;

  constructor(options: InfluxWriterOptions, deps: InfluxWriterDeps = {}) {
    this.options = options;
    this.scheduler = deps.scheduler ?? realScheduler;
    this.random = deps.random ?? Math.random;
    this.log = deps.log;
    const https = options.url.startsWith('https:');
    this.agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 2 }) : new HttpAgent({ keepAlive: true, maxSockets: 2 });
    this.transport = new InfluxDB({
      url: options.url,
      token: options.target === 'v2' ? options.token : undefined,
      timeout: options.requestTimeoutMs,
      transportOptions: { agent: this.agent },
    }).transport;
    const q = new URLSearchParams();
    if (options.target === 'v2') {
      q.set('org', options.org);
      q.set('bucket', options.bucket);
    } else {
      q.set('db', options.database);
      if (options.retentionPolicy) q.set('rp', options.retentionPolicy);
      if (options.username) q.set('u', options.username);
      if (options.password) q.set('p', options.password);
    }
    // Lines carry nanosecond times: milliseconds plus a per-device offset (see line-protocol.ts).
    q.set('precision', 'ns');
    this.path = (options.target === 'v2' ? '/api/v2/write?' : '/write?') + q.toString();
    this.loop = this.run();
  }

  /**
   * Queues lines. Resolves once all of them are in the buffer: while it is full this waits
   * (onFull 'block'), so a consume handler awaiting it holds its acknowledgement upstream.
   * With onFull 'drop' it never waits; the oldest queued lines make room and are counted.
   * Rejects once close() has begun.
   */
  async write(lines: readonly string[]): Promise<void> {
    let offset = 0;
    while (offset < lines.length) {
      if (this.closing) throw new InfluxWriteError('GAS_INFLUX_CLOSED', 'InfluxWriter is closed', { retryable: false });
      const max = this.options.maxBufferedLines;
      const remaining = lines.length - offset;
      if (this.options.onFull === 'drop') {
        // In-flight lines cannot be taken back; everything queued can.
        const take = Math.min(remaining, max - this.inFlightLines);
        const excess = this.queuedLines + this.inFlightLines + take - max;
        if (excess > 0) this.dropOldest(excess);
        this.append(lines, offset, take);
        offset += take;
        continue;
      }
      const room = max - this.queuedLines - this.inFlightLines;
      if (room <= 0) {
        await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
        continue;
      }
      const take = Math.min(room, remaining);
      this.append(lines, offset, take);
      offset += take;
    }
  }

  /** Resolves when every line accepted before this call is written or dropped; partial batches go at once. */
  flush(): Promise<void> {
    const target = this.counters.accepted;
    if (this.settled >= target) return Promise.resolve();
    return new Promise((resolve) => {
      this.flushWaiters.push({ target, resolve });
      this.poke();
    });
  }

  /**
   * Stops accepting, drains for up to closeTimeoutMs, then aborts: what is still held is counted
   * as dropped.shutdown (never silently lost). Returns the final counters.
   */
  async close(): Promise<InfluxWriterCounters> {
    if (!this.closing) {
      this.closing = true;
      for (const wake of this.spaceWaiters.splice(0)) wake();
      const drained = this.flush();
      const timeout = new AbortController();
      await Promise.race([drained, this.scheduler.sleep(this.options.closeTimeoutMs, timeout.signal)]);
      timeout.abort();
      this.abort.abort();
      this.inFlightRequest?.abort();
      this.poke();
      await this.loop;
      this.agent.destroy();
    } else {
      await this.loop;
    }
    return this.stats();
  }

  /** Counter snapshot for metrics. */
  stats(): InfluxWriterCounters {
    return { ...this.counters, dropped: { ...this.dropped }, buffered: this.queuedLines + this.inFlightLines };
  }

  /** The last failure, for health checks; cleared by the next successful write. */
  get lastError(): InfluxWriteError | undefined {
    return this.lastErrorValue;
  }

  private append(lines: readonly string[], offset: number, count: number): void {
    const size = this.options.batchLines;
    let last = this.batches[this.batches.length - 1];
    for (let i = offset; i < offset + count; i++) {
      if (!last || last.lines.length >= size) {
        last = { lines: [], firstAtMs: this.scheduler.now() };
        this.batches.push(last);
      }
      last.lines.push(lines[i]);
    }
    this.queuedLines += count;
    this.counters.accepted += count;
    this.poke();
  }

  private dropOldest(count: number): void {
    let left = count;
    while (left > 0 && this.batches.length > 0) {
      const first = this.batches[0];
      const n = Math.min(left, first.lines.length);
      first.lines.splice(0, n);
      if (first.lines.length === 0) this.batches.shift();
      left -= n;
    }
    const n = count - left;
    this.queuedLines -= n;
    this.settle(0, n, 'overflow');
    this.log?.warn({ dropped: n, reason: 'overflow' }, 'InfluxDB buffer full: oldest lines dropped');
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Accounts lines as written or dropped and releases whoever waits for room or a flush. */
  private settle(written: number, dropped: number, reason?: string): void {
    this.counters.written += written;
    // Without a reason the caller has already counted the drops by reason.
    if (dropped > 0 && reason) this.dropped[reason] = (this.dropped[reason] ?? 0) + dropped;
    this.settled += written + dropped;
    if (this.spaceWaiters.length > 0) for (const wake of this.spaceWaiters.splice(0)) wake();
    if (this.flushWaiters.length > 0) {
      const still: typeof this.flushWaiters = [];
      for (const w of this.flushWaiters) (this.settled >= w.target ? w.resolve() : still.push(w));
      this.flushWaiters = still;
    }
  }

  private takeReady(): string[] | undefined {
    const first = this.batches[0];
    if (!first) return undefined;
    const urgent = this.closing || this.flushWaiters.length > 0 || this.batches.length > 1 || first.lines.length >= this.options.batchLines;
    if (!urgent && this.scheduler.now() - first.firstAtMs < this.options.flushIntervalMs) return undefined;
    this.batches.shift();
    this.queuedLines -= first.lines.length;
    this.inFlightLines += first.lines.length;
    return first.lines;
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.abort.signal.aborted) {
        this.dropAllQueued('shutdown');
        return;
      }
      const lines = this.takeReady();
      if (lines) {
        await this.deliver(lines, 0);
        continue;
      }
      if (this.closing && this.queuedLines === 0) return;
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      const first = this.batches[0];
      if (first && this.options.flushIntervalMs > 0) {
        const timer = new AbortController();
        const dueInMs = Math.max(0, first.firstAtMs + this.options.flushIntervalMs - this.scheduler.now());
        await Promise.race([woken, this.scheduler.sleep(dueInMs, timer.signal)]);
        timer.abort();
      } else {
        await woken;
      }
    }
  }

  private dropAllQueued(reason: string): void {
    const n = this.queuedLines;
    this.batches.length = 0;
    this.queuedLines = 0;
    if (n > 0) {
      this.settle(0, n, reason);
      this.log?.warn({ dropped: n, reason }, 'InfluxDB writer closed with lines left');
    }
  }

  /** Sends one batch until it is written or dropped; `attempt` counts earlier failures for back-off. */
  private async deliver(lines: string[], attempt: number): Promise<void> {
    for (;;) {
      if (this.abort.signal.aborted) return this.finish(lines.length, 0, lines.length, 'shutdown');
      // One controller per request: the transport never removes its abort listener, so a long-lived signal would collect one per request.
      const request = new AbortController();
      this.inFlightRequest = request;
      try {
        await this.transport.request(this.path, lines.join('\n'), {
          method: 'POST',
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          gzipThreshold: this.options.gzip ? 0 : undefined,
          signal: request.signal,
        });
        this.inFlightRequest = undefined;
        if (this.degraded) this.log?.info({ attempt }, 'InfluxDB writes succeed again');
        this.degraded = false;
        this.lastErrorValue = undefined;
        return this.finish(lines.length, lines.length, 0);
      } catch (err) {
        this.counters.failedRequests++;
        this.inFlightRequest = undefined;
        if (this.abort.signal.aborted) return this.finish(lines.length, 0, lines.length, 'shutdown');
        const decision = classify(err, this.scheduler.now());
        this.lastErrorValue = decision.error;
        if (decision.action === 'drop') {
          const drops = decision.partial ?? { [decision.reason]: lines.length };
          let dropped = 0;
          for (const reason of Object.keys(drops)) {
            const n = Math.min(drops[reason], lines.length - dropped);
            if (n > 0) this.dropped[reason] = (this.dropped[reason] ?? 0) + n;
            dropped += n;
          }
          this.log?.warn({ err: decision.error, dropped: drops }, 'InfluxDB refused lines');
          return this.finish(lines.length, lines.length - dropped, dropped);
        }
        if (decision.action === 'split') {
          if (lines.length === 1) {
            this.log?.warn({ err: decision.error, dropped: 1, reason: 'too_large' }, 'InfluxDB refused a line as too large');
            return this.finish(1, 0, 1, 'too_large');
          }
          const half = Math.ceil(lines.length / 2);
          await this.deliver(lines.slice(0, half), attempt);
          await this.deliver(lines.slice(half), attempt);
          return;
        }
        if (!this.degraded) this.log?.warn({ err: decision.error }, 'InfluxDB write failed; retrying with back-off');
        this.degraded = true;
        let delayMs = this.backoffMs(attempt);
        if (decision.action === 'throttle') {
          this.counters.throttled++;
          if (decision.retryAfterMs !== undefined) delayMs = Math.min(decision.retryAfterMs, this.options.maxRetryAfterMs) + Math.floor(this.random() * this.options.minRetryDelayMs * this.options.retryJitter);
        }
        attempt++;
        await this.scheduler.sleep(delayMs, this.abort.signal);
        if (this.abort.signal.aborted) return this.finish(lines.length, 0, lines.length, 'shutdown');
        this.counters.retried += lines.length;
      }
    }
  }

  private finish(inFlight: number, written: number, dropped: number, reason?: string): void {
    this.inFlightLines -= inFlight;
    this.settle(written, dropped, reason);
  }

  /** Exponential back-off from minRetryDelayMs, capped, plus up to retryJitter of itself at random. */
  private backoffMs(attempt: number): number {
    const base = Math.min(this.options.maxRetryDelayMs, this.options.minRetryDelayMs * 2 ** Math.min(attempt, 30));
    return Math.round(base * (1 + this.options.retryJitter * this.random()));
  }
}
