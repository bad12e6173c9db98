import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { ThroughputRun } from './common.ts';
import { MOSQUITTO_BIN, mosquittoInstalled } from './mosquitto.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const missing = `${MOSQUITTO_BIN} is missing: bash scripts/services.sh start mosquitto installs it`;

/** Runs one benchmark at 200 devices, 2 rounds, both batch sizes; returns its result file. */
async function smoke<R>(script: string, dir: string): Promise<{ benchmark: string; results: R }> {
  if (!mosquittoInstalled()) throw new Error(`${missing} (CI is set, so this fails instead of skipping)`);
  const out = join(dir, `${script}.json`);
  await run(process.execPath, ['--import', 'tsx', `bench/${script}.ts`, '--devices', '200', '--rounds', '2', '--batch', '1,100', '--out', out], { cwd: ROOT, timeout: 25_000 });
  return JSON.parse(readFileSync(out, 'utf8'));
}

/** Every reading sent arrived at the far end, at both batch sizes, with positive rates. */
function expectEveryReading(runs: readonly ThroughputRun[]): void {
  expect(runs.map((r) => r.batchSize)).toEqual([1, 100]);
  for (const r of runs) {
    expect(r.readings).toBe(400);
    expect(r.messages).toBe(r.batchSize === 1 ? 400 : 4);
    expect(r.received).toBe(r.readings);
    expect(r.seconds).toBeGreaterThan(0);
    expect(r.readingsPerS).toBeGreaterThan(0);
    expect(r.messagesPerS).toBeGreaterThan(0);
  }
}

if (!mosquittoInstalled() && !process.env.CI) {
  describe.skip(`bench/floors.ts and bench/node-red-peer.ts smoke — skipped, ${missing}`, () => {
    it('needs mosquitto', () => undefined);
  });
} else {
  describe('bench/floors.ts and bench/node-red-peer.ts smoke', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gas-floors-smoke-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('the floors decode and pass through every reading', async () => {
      const { benchmark, results } = await smoke<{ decode: ThroughputRun[]; mosquitto: ThroughputRun[] }>('floors', dir);
      expect(benchmark).toBe('floors');
      expectEveryReading(results.decode);
      expectEveryReading(results.mosquitto);
    });

    it('the Node-RED flow counts every reading sent', async () => {
      const { benchmark, results } = await smoke<{ nodeRed: string; runs: ThroughputRun[] }>('node-red-peer', dir);
      expect(benchmark).toBe('node-red-peer');
      expect(results.nodeRed).toMatch(/^4\.\d+\.\d+/);
      expectEveryReading(results.runs);
    });
  });
}
