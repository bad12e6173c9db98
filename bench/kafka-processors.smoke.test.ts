import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { ROOT, describeWithServer } from '../sinks/influx/integration-env.ts';
import type { BenchResult } from './common.ts';
import type { KafkaProcessorsResults } from './kafka-processors.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gas-bench-kafka-processors-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeWithServer('KAFKA_BROKERS', 'kafka', 'bench/kafka-processors.ts smoke', () => {
  it('one processor judges every reading of the backlog, timed in readings, with its CPU', async () => {
    const out = join(dir, 'kafka-processors.json');
    await run(process.execPath, ['--import', 'tsx', 'bench/kafka-processors.ts', '--devices', '200', '--rounds', '2', '--processors', '1', '--partitions', '2', '--out', out], { cwd: ROOT, timeout: 100_000 });
    const { benchmark, results: r } = JSON.parse(readFileSync(out, 'utf8')) as BenchResult<KafkaProcessorsResults>;
    expect(benchmark).toBe('kafka-processors');
    expect(r.runs).toHaveLength(1);
    const x = r.runs[0]!;
    // Two gateways of 100 devices, two rounds: four publishes of a record per partition each (two
    // partitions hold the fleet's 200 devices), joined per partition where they share a request.
    expect(x).toMatchObject({ processors: 1, readings: 400, rejudged: 0 });
    expect(x.records).toBeGreaterThanOrEqual(2);
    expect(x.records).toBeLessThanOrEqual(8);
    // Readings over the judging time (rounded to 10 ms in the file).
    expect(x.readingsPerS * x.judgeSeconds).toBeGreaterThan(x.readings * 0.9);
    expect(x.readingsPerS * x.judgeSeconds).toBeLessThan(x.readings * 1.1);
    expect(x.drainSeconds).toBeGreaterThanOrEqual(x.judgeSeconds);
    expect(x.cpu.processors).toHaveLength(1);
    expect(x.cpu.processors[0]!.cpuSeconds).toBeGreaterThan(0);
    expect(x.cpu.processorsTotal.cpuSeconds).toBe(x.cpu.processors[0]!.cpuSeconds);
    expect(x.readingsPerProcessorCpuS).toBeGreaterThan(0);
  }, 120_000);
});
