import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from './common.ts';
import type { MemoryRun } from './memory.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gas-bench-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench/memory.ts at 2,000 devices', () => {
  it('measures the state every device leaves in the engine, in a child with gc exposed', async () => {
    const out = join(dir, 'memory.json');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/memory.ts', '--devices', '2000', '--out', out], { timeout: 25_000 });
    expect(stdout).toMatch(/2,000 devices: \d+ bytes\/device/);

    const result = JSON.parse(readFileSync(out, 'utf8')) as BenchResult<{ runs: MemoryRun[] }>;
    expect(result.benchmark).toBe('memory');
    expect(result.command).toContain('bench/memory.ts');
    expect(result.machine.cpus).toBeGreaterThan(0);
    expect(result.results.runs).toHaveLength(1);
    const [r] = result.results.runs;
    expect(r!.devices).toBe(2000);
    // Every reading was decoded and judged, so every device has state.
    expect(r!.devicesTracked).toBe(2000);
    expect(r!.heapBytes).toBeGreaterThan(r!.baselineHeapBytes);
    expect(r!.bytesPerDevice).toBe(Math.round((r!.heapBytes - r!.baselineHeapBytes) / 2000));
    // A device's state holds at least its id, timestamps and a reading; far from megabytes.
    expect(r!.bytesPerDevice).toBeGreaterThan(50);
    expect(r!.bytesPerDevice).toBeLessThan(20_000);
    expect(r!.rssBytes).toBeGreaterThan(r!.heapBytes);
  });
});
