import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from './common.ts';
import type { PhoneLatency } from './report.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gas-bench-phone-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench/phone-latency.ts at 4 leaks', () => {
  it('times every leak to every phone channel’s stand-in, and the voice call of each from its repeat', async () => {
    const out = join(dir, 'phone-latency.json');
    const { stdout } = await run(process.execPath, [
      '--import', 'tsx', 'bench/phone-latency.ts', '--leaks', '4', '--rate', '10', '--repeat-ms', '1000', '--sla-check-ms', '100', '--timeout-s', '30', '--out', out,
    ], { cwd: ROOT, timeout: 80_000 });
    expect(stdout).toContain('phone-latency: 4 leaks (distinct home gas alarms) at 10/s over MQTT');
    const result = JSON.parse(readFileSync(out, 'utf8')) as BenchResult<PhoneLatency>;
    expect(result.benchmark).toBe('phone-latency');
    expect(result.command).toContain('bench/phone-latency.ts');
    expect(result.params).toMatchObject({ leaks: 4, ratePerS: 10, repeatNotifyMs: 1000, slaCheckIntervalMs: 100 });
    const r = result.results;
    expect(r.channels.map((c) => c.channel)).toEqual(['sse', 'wecom', 'dingtalk', 'feishu', 'web-push', 'sms', 'sms-tencent', 'voice', 'voice-tencent']);
    for (const c of r.channels) {
      // Every channel got every leak: its stand-in checked the token or signature and took the message.
      expect(c, c.channel).toMatchObject({ received: 4, missing: 0 });
      expect(c.latencyMs.count, c.channel).toBe(4);
      expect(c.latencyMs.p50, c.channel).toBeGreaterThan(0);
      expect(c.latencyMs.p50, c.channel).toBeLessThanOrEqual(c.latencyMs.p99);
      expect(c.latencyMs.p99, c.channel).toBeLessThanOrEqual(c.latencyMs.max);
    }
    expect(r.channels.filter((c) => c.measured === 'repeat due → call received').map((c) => c.provider)).toEqual(['aliyun', 'tencent']);
    expect(r.unmatched).toBe(0);
  }, 90_000);
});
