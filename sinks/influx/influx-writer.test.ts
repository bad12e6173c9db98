import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../app/errors.ts';
import { classify, dropReason, parseRetryAfter, partialWrite } from './errors.ts';
import { InfluxWriter, parseInfluxWriterOptions, type InfluxWriterCounters } from './influx-writer.ts';
import { FakeInfluxServer, ManualScheduler, until } from './test-support.ts';

const lines = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `m,t=a f=${from + i} ${from + i}`);
const droppedTotal = (c: InfluxWriterCounters) => Object.values(c.dropped).reduce((a, b) => a + b, 0);
const balanced = (c: InfluxWriterCounters) => c.accepted === c.written + droppedTotal(c) + c.buffered;

describe('InfluxWriter against a scripted server', () => {
  let server: FakeInfluxServer;
  let clock: ManualScheduler;
  let writer: InfluxWriter | undefined;

  beforeEach(async () => {
    server = new FakeInfluxServer();
    await server.start();
    clock = new ManualScheduler();
  });
  afterEach(async () => {
    if (writer) {
      clock.advance(1e9);
      await writer.close();
    }
    writer = undefined;
    await server.stop();
  });

  function make(options: Record<string, unknown> = {}): InfluxWriter {
    writer = new InfluxWriter(parseInfluxWriterOptions({ url: server.url, batchLines: 5, maxBufferedLines: 20, flushIntervalMs: 1000, minRetryDelayMs: 100, maxRetryDelayMs: 1000, retryJitter: 0.5, closeTimeoutMs: 5000, ...options }), { scheduler: clock, random: () => 0.5 });
    return writer;
  }

  it('sends full batches at once, gzipped, to the v2 write path', async () => {
    const w = make({ org: 'acme', bucket: 'gas', token: 't0k' });
    await w.write(lines(12));
    await until(() => w.stats().written === 10, 'two full batches');
    expect(server.received.map((r) => r.lines.length)).toEqual([5, 5]);
    const first = server.received[0];
    expect(first.path).toBe('/api/v2/write?org=acme&bucket=gas&precision=ns');
    expect(first.headers['content-encoding']).toBe('gzip');
    expect(first.headers.authorization).toBe('Token t0k');
    expect(w.stats()).toMatchObject({ accepted: 12, written: 10, buffered: 2 });
    // The partial batch waits for the flush interval, which only the clock can end.
    clock.advance(999);
    await new Promise((r) => setTimeout(r, 20));
    expect(server.received).toHaveLength(2);
    clock.advance(1);
    await until(() => w.stats().written === 12, 'partial batch after the interval');
    expect(server.accepted).toEqual(lines(12));
    expect(w.stats()).toMatchObject({ written: 12, buffered: 0, retried: 0, dropped: {} });
  });

  it('writes to /write?db= for InfluxDB 1.x, without a token header', async () => {
    const w = make({ target: 'v1', database: 'gas', retentionPolicy: 'autogen', gzip: false, token: 'ignored' });
    await w.write(lines(3));
    await w.flush();
    expect(server.received[0].path).toBe('/write?db=gas&rp=autogen&precision=ns');
    expect(server.received[0].headers['content-encoding']).toBeUndefined();
    expect(server.received[0].headers.authorization).toBeUndefined();
  });

  it('retries 5xx and network errors with exponential back-off and jitter, then drains', async () => {
    const w = make();
    server.replies.push({ status: 500, body: '{"error":"engine"}' }, 'hang-up', { status: 502 });
    await w.write(lines(5));
    await until(() => server.received.length === 1 && clock.waiting === 1, 'first failure');
    // random() = 0.5 and jitter 0.5: each delay is base × 1.25; bases 100, 200, 400.
    expect(clock.sleeps.at(-1)).toBe(125);
    clock.advance(125);
    await until(() => server.received.length === 2 && clock.waiting === 1, 'second failure');
    expect(clock.sleeps.at(-1)).toBe(250);
    clock.advance(250);
    await until(() => server.received.length === 3 && clock.waiting === 1, 'third failure');
    expect(clock.sleeps.at(-1)).toBe(500);
    expect(w.lastError?.code).toBe('GAS_INFLUX_UNAVAILABLE');
    clock.advance(500);
    await until(() => w.stats().written === 5, 'written after retries');
    expect(w.stats()).toMatchObject({ written: 5, retried: 15, failedRequests: 3, throttled: 0, buffered: 0, dropped: {} });
    expect(w.lastError).toBeUndefined();
    expect(server.accepted).toEqual(lines(5));
  });

  it('caps the back-off at maxRetryDelayMs', async () => {
    const w = make({ retryJitter: 0 });
    for (let i = 0; i < 6; i++) server.replies.push({ status: 503 });
    await w.write(lines(5));
    for (const expected of [100, 200, 400, 800, 1000, 1000]) {
      await until(() => clock.waiting === 1, 'a back-off sleep');
      expect(clock.sleeps.at(-1)).toBe(expected);
      clock.advance(expected);
    }
    await until(() => w.stats().written === 5, 'written');
  });

  it('waits as long as Retry-After says on 429 and 503 (seconds or a date), counted as throttled', async () => {
    const w = make({ retryJitter: 0 });
    server.replies.push({ status: 429, headers: { 'retry-after': '7' } });
    server.replies.push({ status: 503, headers: { 'retry-after': new Date(clock.nowMs + 7000 + 3000).toUTCString() } });
    server.replies.push({ status: 429, headers: { 'retry-after': '100000' } });
    await w.write(lines(5));
    await until(() => clock.waiting === 1, '429');
    expect(clock.sleeps.at(-1)).toBe(7000);
    clock.advance(7000);
    await until(() => server.received.length === 2 && clock.waiting === 1, '503');
    expect(clock.sleeps.at(-1)).toBe(3000);
    clock.advance(3000);
    await until(() => server.received.length === 3 && clock.waiting === 1, 'long 429');
    expect(clock.sleeps.at(-1)).toBe(300_000); // maxRetryAfterMs
    clock.advance(300_000);
    await until(() => w.stats().written === 5, 'written');
    expect(w.stats()).toMatchObject({ throttled: 3, retried: 15, written: 5 });
  });

  it('drops a batch the server calls bad (400), counted by reason, and carries on', async () => {
    const w = make({ flushIntervalMs: 0 });
    server.replies.push({ status: 400, body: '{"code":"invalid","message":"unable to parse \'m f=\': missing field value"}' });
    await w.write(lines(5));
    await until(() => droppedTotal(w.stats()) === 5, 'drop');
    await w.write(lines(5, 5));
    await w.flush();
    expect(w.stats()).toMatchObject({ written: 5, dropped: { bad_line: 5 }, retried: 0, buffered: 0 });
    expect(w.lastError).toBeUndefined();
    expect(server.received).toHaveLength(2);
  });

  it('counts an InfluxDB 1.x partial write exactly: unparsable lines and refused points dropped, the rest written', async () => {
    const w = make({ flushIntervalMs: 0 });
    server.replies.push({ status: 400, body: `{"error":"partial write: unable to parse 'x': invalid field format\nunable to parse 'y': invalid field format dropped=0"}` });
    server.replies.push({ status: 400, body: '{"error":"partial write: field type conflict: input field \\"f\\" on measurement \\"m\\" is type string, already exists as type float dropped=1"}' });
    await w.write(lines(5));
    await until(() => server.received.length === 1 && w.stats().buffered === 0, 'first');
    await w.write(lines(5, 5));
    await w.flush();
    expect(w.stats()).toMatchObject({ written: 7, dropped: { bad_line: 2, field_type_conflict: 1 } });
  });

  it('halves a batch refused as too large (413), down to one line', async () => {
    const w = make({ flushIntervalMs: 0, batchLines: 4, maxBufferedLines: 8 });
    server.replies.push({ status: 413 }, { status: 204 }, { status: 413 }, { status: 413 });
    await w.write(lines(4));
    await w.flush();
    expect(server.received.map((r) => r.lines.length)).toEqual([4, 2, 2, 1, 1]);
    expect(w.stats()).toMatchObject({ written: 3, dropped: { too_large: 1 } });
  });

  it('applies back-pressure during an outage: write() waits with the buffer full and resumes when the server is back', async () => {
    const w = make({ flushIntervalMs: 0, retryJitter: 0 });
    server.fallback = { status: 503 };
    await w.write(lines(20));
    expect(w.stats().buffered).toBe(20);
    let done = false;
    const blocked = w.write(lines(7, 20)).then(() => (done = true));
    await until(() => clock.waiting === 1, 'retry sleep');
    expect(done).toBe(false);
    expect(w.stats()).toMatchObject({ accepted: 20, buffered: 20 });
    expect(balanced(w.stats())).toBe(true);

    server.fallback = { status: 204 };
    for (let i = 0; i < 10 && !done; i++) {
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 10));
    }
    await blocked;
    await w.flush();
    expect(server.accepted).toEqual(lines(27));
    const stats = w.stats();
    expect(stats).toMatchObject({ accepted: 27, written: 27, buffered: 0, dropped: {} });
    expect(stats.retried).toBeGreaterThan(0);
  });

  it("with onFull 'drop' keeps the newest lines and counts exactly the oldest it dropped", async () => {
    const w = make({ flushIntervalMs: 0, onFull: 'drop', retryJitter: 0 });
    server.fallback = { status: 503 };
    await w.write(lines(5));
    await until(() => clock.waiting === 1, 'first batch in flight, failing');
    await w.write(lines(40, 5)); // 45 lines into a 20-line buffer, 5 in flight
    expect(w.stats()).toMatchObject({ accepted: 45, buffered: 20, dropped: { overflow: 25 } });
    expect(balanced(w.stats())).toBe(true);
    server.fallback = { status: 204 };
    clock.advance(100);
    await w.flush();
    // The in-flight batch (0-4) is kept; of the rest only the newest 15 survive.
    expect(server.accepted).toEqual([...lines(5), ...lines(15, 30)]);
    expect(w.stats()).toMatchObject({ written: 20, dropped: { overflow: 25 }, buffered: 0 });
  });

  it('close() drains what it can, then counts the rest as dropped.shutdown and refuses writes', async () => {
    const w = make({ flushIntervalMs: 0, closeTimeoutMs: 5000 });
    server.fallback = { status: 503 };
    await w.write(lines(12));
    await until(() => clock.waiting === 1, 'failing');
    const closed = w.close();
    await until(() => clock.waiting === 2, 'close deadline');
    clock.advance(5000);
    const final = await closed;
    writer = undefined;
    expect(final).toMatchObject({ accepted: 12, written: 0, buffered: 0, dropped: { shutdown: 12 } });
    await expect(w.write(lines(1))).rejects.toMatchObject({ code: 'GAS_INFLUX_CLOSED' });
  });

  it('keeps written + dropped + buffered equal to accepted throughout a mixed run', async () => {
    const w = make({ flushIntervalMs: 0, retryJitter: 0 });
    server.replies.push({ status: 500 }, { status: 400, body: 'bad' }, { status: 429 }, 'hang-up');
    const seen: boolean[] = [];
    const writes = (async () => {
      for (let i = 0; i < 6; i++) {
        await w.write(lines(5, i * 5));
        seen.push(balanced(w.stats()));
      }
    })();
    for (let i = 0; i < 50 && w.stats().written + droppedTotal(w.stats()) < 30; i++) {
      clock.advance(1000);
      seen.push(balanced(w.stats()));
      await new Promise((r) => setTimeout(r, 5));
    }
    await writes;
    await w.flush();
    expect(seen.every(Boolean)).toBe(true);
    expect(w.stats()).toMatchObject({ accepted: 30, written: 25, dropped: { bad_request: 5 }, buffered: 0 });
  });
});

describe('failure classification', () => {
  it.each([
    ['field type conflict: input field', 'field_type_conflict'],
    ['points beyond retention policy dropped=3', 'beyond_retention'],
    ["unable to parse 'x': missing fields", 'bad_line'],
    ['max-values-per-tag limit exceeded', 'cardinality_limit'],
    ['something else', 'bad_request'],
  ])('%s → %s', (body, reason) => expect(dropReason(body)).toBe(reason));

  it('reads partial writes of 1.x and 2.x', () => {
    expect(partialWrite("partial write: unable to parse 'a': x\nunable to parse 'b': y dropped=0")).toEqual({ bad_line: 2 });
    expect(partialWrite('partial write: points beyond retention policy dropped=4')).toEqual({ beyond_retention: 4 });
    expect(partialWrite('partial write has occurred, errors encountered on line(s): line 2: no field; line 5: no field')).toEqual({ bad_line: 2 });
    expect(partialWrite('bad request')).toBeUndefined();
  });

  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });

  it('retries network errors', () => {
    expect(classify(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 0)).toMatchObject({ action: 'retry', error: { code: 'GAS_INFLUX_UNREACHABLE', retryable: true } });
  });
});

describe('options', () => {
  it('fills defaults', () => {
    expect(parseInfluxWriterOptions({ url: 'http://x:1' })).toMatchObject({ target: 'v2', batchLines: 5000, maxBufferedLines: 100_000, onFull: 'block', gzip: true, flushIntervalMs: 1000 });
  });
  it.each([
    [{}, /url/],
    [{ url: 'http://x:1', target: 'v3' }, /target/],
    [{ url: 'http://x:1', batchLines: 100, maxBufferedLines: 150 }, /2 × batchLines/],
    [{ url: 'not a url' }, /not a URL/],
    [{ url: 'http://x:1', bogus: 1 }, /./],
  ])('refuses %j at start', (input, message) => {
    expect(() => parseInfluxWriterOptions(input)).toThrow(ConfigError);
    expect(() => parseInfluxWriterOptions(input)).toThrow(message);
  });
});
