import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { MOSQUITTO_BIN, mosquittoInstalled } from './mosquitto.ts';
import type { ThroughputRun } from './common.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);


const missing = `${MOSQUITTO_BIN} is missing: bash scripts/services.sh start mosquitto installs it`;

if (!mosquittoInstalled() && !process.env.CI) {
  describe.skip(`bench/floors.ts smoke — skipped, ${missing}`, () => {
    it('needs mosquitto', () => undefined);
  });
} else {
  describe('bench/floors.ts smoke', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gas-floors-smoke-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('decodes and passes through every reading at both batch sizes, with positive rates', async () => {
      if (!mosquittoInstalled()) throw new Error(`${missing} (CI is set, so this fails instead of skipping)`);
      const out = join(dir, 'floors.json');
      await run(process.execPath, ['--import', 'tsx', 'bench/floors.ts', '--devices', '200', '--rounds', '2', '--batch', '1,100', '--out', out], { cwd: ROOT, timeout: 25_000 });
      const { benchmark, results } = JSON.parse(readFileSync(out, 'utf8')) as { benchmark: string; results: { decode: ThroughputRun[]; mosquitto: ThroughputRun[] } };
      expect(benchmark).toBe('floors');
      for (const runs of [results.decode, results.mosquitto]) {
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
    });
  });
}
