import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { describeWithServer } from '../sinks/influx/integration-env.ts';
import type { BenchResult } from './common.ts';
import type { Burst } from './report.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gas-bench-burst-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the burst at 2,000 meters on 20 gateways and checks its figures add up. */
async function smoke(name: string, extra: string[], env: Record<string, string> = {}): Promise<Burst> {
  const out = join(dir, `${name}.json`);
  const { stdout } = await run(process.execPath, [
    '--import', 'tsx', 'bench/burst.ts', '--meters', '2000', '--gateways', '20', '--processes', '2', '--fault-share', '0.02', '--out', out, ...extra,
  ], { timeout: 50_000, env: { ...process.env, ...env } });
  expect(stdout).toMatch(/burst of 2,0\d\d readings from 20 gateways/);
  const result = JSON.parse(readFileSync(out, 'utf8')) as BenchResult<Burst>;
  expect(result.benchmark).toBe('burst');
  expect(result.command).toContain('bench/burst.ts');
  const r = result.results;
  expect(r.meters).toBe(2000);
  expect(r.gateways).toBe(20);
  // One reading of every meter, plus the previous reading of each meter whose fault needs a pair.
  expect(r.readingsSent).toBeGreaterThanOrEqual(2000);
  expect(r.readingsSent).toBeLessThan(2100);
  expect(r.readingsJudged).toBe(r.readingsSent);
  expect(r.lost).toEqual({ readings: 0, faults: 0 });
  expect(r.faultsInjected).toBeGreaterThan(10);
  expect(r.faultsFound).toBe(r.faultsInjected);
  expect(r.drainSeconds).toBeGreaterThan(0);
  expect(r.readingsPerS).toBeGreaterThan(0);
  expect(r.readingsPerS).toBe(Math.round(r.readingsJudged / r.drainSeconds!));
  expect(r.peakLag).toBeGreaterThanOrEqual(0);
  expect(typeof r.pass).toBe('boolean');
  // The lag series ends drained, every point consistent.
  expect(r.series.length).toBeGreaterThan(0);
  const last = r.series[r.series.length - 1]!;
  expect(last.judged).toBe(r.readingsSent);
  for (const p of r.series) {
    expect(p.t).toBeGreaterThanOrEqual(0);
    expect(p.lag).toBe(Math.max(0, p.published - p.judged));
    expect(p.published).toBeLessThanOrEqual(r.readingsSent);
  }
  return r;
}

describe('bench/burst.ts at 2,000 meters', () => {
  it('drains a burst through the embedded pipeline and finds every reading and fault', async () => {
    const r = await smoke('embedded', []);
    expect(r.path).toBe('embedded');
    expect(r.peakKafkaLag).toBeUndefined();
  }, 60_000);
});

describeWithServer('KAFKA_BROKERS', 'kafka', 'bench/burst.ts --kafka at 2,000 meters', (brokers) => {
  it('drains a burst through the pipeline on Kafka and samples the consumer-group lag', async () => {
    const r = await smoke('kafka', ['--kafka', '--partitions', '2'], { KAFKA_BROKERS: brokers });
    expect(r.path).toBe('kafka');
    expect(r.peakKafkaLag).toBeGreaterThanOrEqual(0);
    expect(r.series.every((p) => p.kafkaLag !== undefined)).toBe(true);
  }, 60_000);
});
