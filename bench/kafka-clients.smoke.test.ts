import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { ROOT, describeWithServer } from '../sinks/influx/integration-env.ts';
import type { BenchResult } from './common.ts';
import type { KafkaClientsResults } from './kafka-clients.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gas-bench-kafka-clients-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeWithServer('KAFKA_BROKERS', 'kafka', 'bench/kafka-clients.ts smoke', () => {
  it('races both clients over two rounds, each reading back every reading it wrote, and checks the capabilities', async () => {
    const out = join(dir, 'kafka-clients.json');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/kafka-clients.ts', '--readings', '2000', '--rounds', '2', '--latency-sends', '10', '--partitions', '3', '--out', out], { cwd: ROOT, timeout: 100_000 });
    const { benchmark, results: r } = JSON.parse(readFileSync(out, 'utf8')) as BenchResult<KafkaClientsResults>;
    expect(benchmark).toBe('kafka-clients');
    // Rounds alternate which client goes first.
    expect(r.runs.map((x) => `${x.round}:${x.order}:${x.client}`)).toEqual(['1:1:kafkajs', '1:2:platformatic', '2:1:platformatic', '2:2:kafkajs']);
    for (const x of r.runs) {
      // 20 MQTT messages of 100 readings, one record per partition each.
      expect(x.produce).toMatchObject({ readings: 2000, records: 60 });
      expect(x.produce.readingsPerS).toBeGreaterThan(0);
      expect(x.produce.cpuSeconds).toBeGreaterThan(0);
      // Everything written is read back and decoded: warm-up, latency probes and the timed produce.
      expect(x.consume.readings).toBe(2000 + (20 + 10) * 100);
      expect(x.consume.commits).toBeGreaterThan(0);
      expect(x.sendLatencyMs.count).toBe(10);
      expect(x.sendLatencyMs.p50).toBeLessThanOrEqual(x.sendLatencyMs.p99);
    }
    expect(r.ratios.produce.perRound).toHaveLength(2);
    expect(r.verdict.keep).toBe('kafkajs');
    expect(r.capabilities.map((c) => c.check)).toHaveLength(7);
    for (const c of r.capabilities) expect(c.note).not.toMatch(/^failed:/);
    expect(r.capabilities.find((c) => c.check.startsWith('concurrent send()'))?.kafkajs).toBe(true);
    expect(stdout).toMatch(/^verdict: /m);
  }, 120_000);
});
