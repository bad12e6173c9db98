import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { describeWithServer } from '../sinks/influx/integration-env.ts';
import type { BenchResult, Percentiles } from './common.ts';
import type { PathResult, ThroughputResults } from './throughput.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gas-bench-throughput-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The benchmark as a command, without this shell's InfluxDB, so the figures are the pipeline's alone. */
async function throughput(args: string[], timeoutMs: number): Promise<{ stdout: string; result: BenchResult<ThroughputResults> }> {
  const out = join(dir, `throughput-${args.join('').replace(/\W/g, '')}.json`);
  const { INFLUX_URL, INFLUXQL_URL, ...env } = process.env;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/throughput.ts', ...args, '--out', out], { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  return { stdout, result: JSON.parse(readFileSync(out, 'utf8')) as BenchResult<ThroughputResults> };
}

function expectSaneLatency(p: Percentiles, probes: number): void {
  // Every probe was a new alarm, raised and dispatched: none lost.
  expect(p.count).toBe(probes);
  expect(p.p50).toBeGreaterThan(0);
  expect(p.p50).toBeLessThanOrEqual(p.p99);
  expect(p.p99).toBeLessThanOrEqual(p.p999);
  expect(p.p999).toBeLessThanOrEqual(p.max);
  expect(p.max).toBeLessThan(30_000);
}

function expectSanePath(path: PathResult, devices: number, rounds: number, batches: number[], levels: number[], processes: string[] = ['pipeline']): void {
  expect(path.influx).toBe(false);
  // On by default, as in `npm start`.
  expect(path.history).toBe(true);
  expect(path.peak.map((p) => p.batchSize)).toEqual(batches);
  for (const p of path.peak) {
    // Exactly the measured rounds were judged, the warm-up round not among them.
    expect(p.readings).toBe(devices * rounds);
    expect(p.seconds).toBeGreaterThan(0);
    // seconds is written to the millisecond, the rate from the unrounded time: at this tiny scale
    // (a few ms) half a millisecond moves the rate by several per cent.
    expect(p.readingsPerS).toBeGreaterThanOrEqual(p.readings / (p.seconds + 0.0005) - 1);
    expect(p.readingsPerS).toBeLessThanOrEqual(p.readings / Math.max(p.seconds - 0.0005, 1e-6) + 1);
    expect(p.cpu.loadPct).toBeGreaterThan(0);
    if (process.platform === 'linux') expect(p.cpu.pipelinePct).toBeGreaterThan(0);
  }
  const reference = path.peak.find((p) => p.batchSize === 100)!.readingsPerS;
  expect(path.levels.map((l) => l.loadPct)).toEqual(levels);
  for (const l of path.levels) {
    // Paced in whole 100-reading messages over 1 s: close to, never far from, the level asked for.
    expect(l.offeredReadingsPerS).toBeGreaterThan(0.7 * (l.loadPct / 100) * reference);
    expect(l.offeredReadingsPerS).toBeLessThan(1.3 * (l.loadPct / 100) * reference + 200);
    expect(l.achievedReadingsPerS).toBeGreaterThan(0);
    // One probe every 100 ms through a 1 s window.
    expectSaneLatency(l.alertLatencyMs, 10);
    expectSaneLatency(l.pushLatencyMs, 10);
    // The ticket is opened from the alert, so its push never comes first.
    expect(l.pushLatencyMs.p50).toBeGreaterThanOrEqual(l.alertLatencyMs.p50);
    // Each pipeline process's stalls in the window, from its own /metrics.
    expect(l.stalls!.map((x) => x.process)).toEqual(processes);
    for (const x of l.stalls!) {
      expect(x.loopDelayP99Ms).toBeGreaterThan(0);
      expect(x.loopDelayMaxMs).toBeGreaterThanOrEqual(x.loopDelayP99Ms);
      expect(x.gcOver100Ms).toBeGreaterThanOrEqual(0);
      expect(x.gcOver10Ms).toBeGreaterThanOrEqual(x.gcOver100Ms);
      if (process.platform === 'linux') {
        expect(x.ranMsPerS).toBeGreaterThan(0);
        expect(x.waitedForCoreMsPerS).toBeGreaterThanOrEqual(0);
      }
    }
  }
}

describe('bench/throughput.ts, embedded, at 500 devices', () => {
  it('measures peak readings/s at batch 100 and 1 and the alarm latencies at a paced level', async () => {
    const { stdout, result } = await throughput(['--path', 'embedded', '--devices', '500', '--rounds', '2', '--batch', '100,1', '--levels', '50', '--seconds-per-level', '1'], 100_000);
    expect(result.benchmark).toBe('throughput');
    expect(result.command).toContain('bench/throughput.ts');
    expect(result.results.kafka).toBeUndefined();
    expectSanePath(result.results.embedded!, 500, 2, [100, 1], [50]);
    expect(stdout).toMatch(/embedded, batch 100: 1,000 readings .* readings\/s/);
    expect(stdout).toMatch(/embedded: target push p99 ≤ 50 ms at 50 % of peak (MET|NOT MET)/);
  }, 120_000);
});

describeWithServer('KAFKA_BROKERS', 'kafka', 'bench/throughput.ts on Kafka, at 200 devices', () => {
  // The peak only: the levels' code is the embedded one's, and a second set of roles would double the time.
  it('measures the ingest, processor and alerts roles end to end', async () => {
    const { stdout, result } = await throughput(['--path', 'kafka', '--devices', '200', '--rounds', '1', '--batch', '100', '--levels', '', '--seconds-per-level', '1'], 200_000);
    expect(result.results.embedded).toBeUndefined();
    expectSanePath(result.results.kafka!, 200, 1, [100], []);
    expect(stdout).toMatch(/kafka, batch 100: 200 readings .* readings\/s/);
  }, 240_000);
});
