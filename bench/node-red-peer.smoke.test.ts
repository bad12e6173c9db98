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
  describe.skip(`bench/node-red-peer.ts smoke — skipped, ${missing}`, () => {
    it('needs mosquitto', () => undefined);
  });
} else {
  describe('bench/node-red-peer.ts smoke', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gas-node-red-smoke-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('the Node-RED flow counts every reading sent at both batch sizes, with positive rates', async () => {
      if (!mosquittoInstalled()) throw new Error(`${missing} (CI is set, so this fails instead of skipping)`);
      const out = join(dir, 'node-red-peer.json');
      await run(process.execPath, ['--import', 'tsx', 'bench/node-red-peer.ts', '--devices', '200', '--rounds', '2', '--batch', '1,100', '--out', out], { cwd: ROOT, timeout: 25_000 });
      const { benchmark, results } = JSON.parse(readFileSync(out, 'utf8')) as { benchmark: string; results: { nodeRed: string; runs: ThroughputRun[] } };
      expect(benchmark).toBe('node-red-peer');
      expect(results.nodeRed).toMatch(/^4\.\d+\.\d+/);
      expect(results.runs.map((r) => r.batchSize)).toEqual([1, 100]);
      for (const r of results.runs) {
        expect(r.readings).toBe(400);
        expect(r.messages).toBe(r.batchSize === 1 ? 400 : 4);
        expect(r.received).toBe(r.readings);
        expect(r.seconds).toBeGreaterThan(0);
        expect(r.readingsPerS).toBeGreaterThan(0);
        expect(r.messagesPerS).toBeGreaterThan(0);
      }
    });
  });
}
