import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { ROOT, describeWithServer } from '../sinks/influx/integration-env.ts';
import type { BenchResult } from './common.ts';
import type { KafkaRestoreResults } from './kafka-restore.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gas-bench-kafka-restore-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeWithServer('KAFKA_BROKERS', 'kafka', 'bench/kafka-restore.ts smoke', () => {
  it('restores every device saved once and twice, each as it was saved', async () => {
    const out = join(dir, 'kafka-restore.json');
    await run(process.execPath, ['--import', 'tsx', 'bench/kafka-restore.ts', '--devices', '3000', '--distinct', '1000', '--chunk', '500', '--out', out], { cwd: ROOT, timeout: 100_000 });
    const { benchmark, results: r } = JSON.parse(readFileSync(out, 'utf8')) as BenchResult<KafkaRestoreResults>;
    expect(benchmark).toBe('kafka-restore');
    expect(r.runs.map((x) => [x.variant, x.savesPerDevice, x.records])).toEqual([['once', 1, 3000], ['twice', 2, 6000]]);
    for (const x of r.runs) {
      expect(x).toMatchObject({ loaded: 3000, devicesInEngine: 3000, differing: 0, withinGoal: true });
      expect(x.checked).toBe(1000);
      expect(x.totalSeconds).toBeCloseTo(x.loadSeconds + x.restoreSeconds, 2);
      expect(x.peakRssBytes).toBeGreaterThanOrEqual(x.rssAfterRestoreBytes);
    }
  }, 120_000);
});
