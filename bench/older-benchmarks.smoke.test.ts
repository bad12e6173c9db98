import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gas-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a benchmark script at a tiny scale and returns the JSON it wrote. */
async function smoke<R>(script: string, args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<R> {
  const out = join(dir, `${script}.json`);
  await run(process.execPath, [...nodeArgs, '--import', 'tsx', `bench/${script}.ts`, ...args, '--out', out], { cwd: ROOT, timeout: 60_000, env: { ...process.env, ...env } });
  return JSON.parse(readFileSync(out, 'utf8')) as R;
}

describe('bench/alarm-to-push.ts smoke', () => {
  it('times every alarm to its technician push', async () => {
    const r = await smoke<{ alarms: number; latencyMs: { p50: number; p99: number; max: number } }>('alarm-to-push', ['--alarms', '5']);
    expect(r.alarms).toBe(5);
    expect(r.latencyMs.p50).toBeGreaterThan(0);
    expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.max);
  });
});

describe('bench/soak.ts smoke', () => {
  // Twelve seconds are mostly warm-up: the heap limit is lifted, the mechanics are what is checked.
  it('samples heap and backlog and passes its verdict', async () => {
    const r = await smoke<{ seconds: number; samples: unknown[]; ok: boolean; maxBacklog: number }>('soak', ['--seconds', '12', '--devices', '200', '--sample-s', '2', '--max-heap-growth-mb-per-min', '1000'], {}, ['--expose-gc']);
    expect(r.seconds).toBe(12);
    expect(r.samples.length).toBeGreaterThanOrEqual(3);
    expect(r.ok).toBe(true);
  });
});
