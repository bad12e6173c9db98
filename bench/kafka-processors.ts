/**
 * Readings/s through the Kafka path: the simulator fleet's readings are produced to the readings
 * topic as ingest does (keyed by placement, gzip off, coalesced produce requests), then 1…N
 * processor roles are started as separate processes and timed while they drain the backlog: each
 * judges every reading with all detectors and saves the touched devices' state to the compacted
 * state topic before committing. The rate is taken from the consumer group's lag, sampled every
 * 250 ms, from the first drop to zero, so process start-up and the group join are not counted.
 *
 *   KAFKA_BROKERS=127.0.0.1:29092 npx tsx bench/kafka-processors.ts [--devices 20000] [--rounds 10]
 *     [--processors 1,2] [--partitions 6] [--out bench/out/kafka-processors.json]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { PIPELINE_NODE_FLAGS } from '../app/node-flags.ts';
import { KafkaBus } from '../bus/kafka-bus.ts';
import type { Reading } from '../contracts/messages.ts';
import { createFleet } from '../simulators/fleet.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '10' },
    processors: { type: 'string', default: '1,2' },
    partitions: { type: 'string', default: '6' },
    out: { type: 'string', default: 'bench/out/kafka-processors.json' },
  },
});
const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
if (brokers.length === 0) {
  process.stderr.write('KAFKA_BROKERS is required (bash scripts/services.sh start kafka)\n');
  process.exit(2);
}
const devices = Number(values.devices);
const rounds = Number(values.rounds);
const partitions = Number(values.partitions);
const counts = values.processors.split(',').map(Number);
const STEP_MS = 30_000;

const dir = mkdtempSync(join(tmpdir(), 'gas-bench-kafka-'));
const fleet = createFleet({ gateways: Math.max(1, Math.round(devices / 200)), devices, seed: 1, stepMs: STEP_MS });
const records = fleet.registry();
const registryFile = join(dir, 'registry.json');
writeFileSync(registryFile, JSON.stringify(records));
const valveOf = new Map(records.filter((r) => r.valveId).map((r) => [r.deviceId, r.valveId!]));
const placement = (deviceId: string) => valveOf.get(deviceId) ?? deviceId;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Run {
  processors: number;
  readings: number;
  produceReadingsPerS: number;
  drainSeconds: number;
  readingsPerS: number;
}

async function runOnce(processors: number): Promise<Run> {
  const prefix = `bench.${Date.now().toString(36)}.`;
  const bus = await KafkaBus.start({ brokers, topicPrefix: prefix, partitions, clientId: 'gas-bench' }, undefined, placement);
  const startMs = Date.now() - rounds * STEP_MS;
  let produced = 0;
  const produceStart = performance.now();
  for (let round = 0; round < rounds; round++) {
    const atMs = startMs + round * STEP_MS;
    const at = new Date(atMs).toISOString();
    let batch: Reading[] = [];
    const pending: Promise<void>[] = [];
    for (const device of fleet.devices) {
      fleet.advance(device);
      batch.push({ ...fleet.reading(device, at), gatewayId: device.gatewayId, atMs, receivedAtMs: atMs } as Reading);
      if (batch.length === 5000) {
        pending.push(bus.readings.publish(batch));
        batch = [];
      }
    }
    pending.push(bus.readings.publish(batch));
    await Promise.all(pending);
    produced += fleet.devices.length;
  }
  const produceS = (performance.now() - produceStart) / 1000;

  const group = [{ group: 'processors', topic: bus.topics.readings }];
  const backlog = async () => (await bus.lag(group)).reduce((n, row) => n + row.lag, 0);
  const children = Array.from({ length: processors }, (_, i) =>
    spawn(process.execPath, [...PIPELINE_NODE_FLAGS, '--import', 'tsx', 'app/main.ts'], {
      env: {
        ...process.env,
        ROLE: 'processor',
        KAFKA_TOPIC_PREFIX: prefix,
        KAFKA_PARTITIONS: String(partitions),
        KAFKA_CLIENT_ID: `gas-bench-p${i}`,
        REGISTRY: registryFile,
        DATA_DIR: join(dir, `p${i}`),
        HTTP_PORT: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  try {
    const samples: Array<{ t: number; lag: number }> = [];
    for (;;) {
      const lag = await backlog();
      samples.push({ t: performance.now(), lag });
      if (lag === 0) break;
      await sleep(250);
    }
    const first = samples.findIndex((s, i) => i > 0 && s.lag < samples[0]!.lag);
    const from = samples[Math.max(0, first - 1)]!;
    const to = samples[samples.length - 1]!;
    const drainSeconds = (to.t - from.t) / 1000;
    return { processors, readings: produced, produceReadingsPerS: Math.round(produced / produceS), drainSeconds: Number(drainSeconds.toFixed(2)), readingsPerS: Math.round(from.lag / drainSeconds) };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode === null ? c.once('exit', resolve) : resolve(null)))));
    await bus.close();
  }
}

const runs: Run[] = [];
for (const n of counts) {
  const run = await runOnce(n);
  runs.push(run);
  process.stdout.write(`${n} processor(s): ${run.readings} readings, drained in ${run.drainSeconds} s = ${run.readingsPerS} readings/s (produced at ${run.produceReadingsPerS} readings/s)\n`);
}
const report = { devices, rounds, partitions, machine: { cpus: (await import('node:os')).cpus().length }, runs };
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, JSON.stringify(report, null, 2));
process.stdout.write(`${JSON.stringify(report)}\n`);
rmSync(dir, { recursive: true, force: true });
