/**
 * Restoring a partition's device state from the Kafka state topic: how long a processor that is
 * given a partition holding `--devices` devices' checkpoints takes before it judges readings again.
 * Requirement: 1M devices' state restored in ≤ 30 s.
 *
 *   KAFKA_BROKERS=127.0.0.1:29092 npx tsx bench/kafka-restore.ts [--devices 1000000] [--distinct 20000]
 *     [--variants once,twice] [--chunk 5000] [--out bench/out/kafka-restore.json]
 *
 * The states are what real devices produce: the simulator's `all` scenario (every fault, late and
 * flapping readings, outages), up to its round with the most active alerts, runs on a fleet of
 * `--distinct` devices through the uplink decoder
 * and a DeviceEngine built as app/pipeline.ts builds it (every detector of the registry, default
 * settings), and each device's `snapshotDevice` is taken. A fleet of `--devices` devices is then
 * given those states, one of its own kind each, under its own id and gateway, and saved to
 * partition 0 of a fresh one-partition state topic by `bus.state.save(0, chunk)`, a few chunks in
 * flight. Variant `once` saves every device once; `twice` saves every device two times (two
 * checkpoints the log cleaner may not have compacted yet), so the load reads up to twice the records.
 *
 * The restore runs in a fresh child process started with the pipeline's node flags, holding the
 * registry of the big fleet as a processor would (REGISTRY file read with readRegistryFile):
 * (a) `bus.state.load([0])`, (b) `engine.restoreDevice(state)` for each device loaded. Reported per
 * phase: seconds, records/s, CPU seconds of the child and of the local Kafka broker; RSS of the
 * child before and after, and its peak (getrusage maxRSS). About 1000 devices, evenly spread, are
 * snapshotted again after the restore and compared with what was saved: the restore must give back
 * the state as saved. Topics are deleted at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import { PIPELINE_NODE_FLAGS } from '../app/node-flags.ts';
import { KafkaBus } from '../bus/kafka-bus.ts';
import type { AlertEvent, DeviceKind } from '../contracts/messages.ts';
import { DecoderOptionsSchema, UplinkDecoder, type DecoderOptions } from '../ingest/uplink-decoder.ts';
import { DETECTORS } from '../processors/detectors/registry.ts';
import { DeviceEngine, type ConfiguredDetector, type DeviceSnapshot } from '../processors/device-engine.ts';
import { RegistryProfiles } from '../processors/device-profile.ts';
import { parseFlapSettings } from '../processors/flapping.ts';
import { parseLateSettings } from '../processors/late-readings.ts';
import type { CheckpointedDevice } from '../processors/partition-checkpoints.ts';
import { parseSettings } from '../processors/settings.ts';
import { DeviceRegistry, readRegistryFile } from '../registry/device-registry.ts';
import { createFleet } from '../simulators/fleet.ts';
import { buildScenario, scenarioRegistry } from '../simulators/scenarios.ts';
import { Simulation, type LinkFactory } from '../simulators/simulation.ts';
import { cliArgs, cpuSecondsOf, deleteKafkaTopics, kafkaBrokerPid, writeResult } from './common.ts';

const GOAL_SECONDS = 30;
const STEP_MS = 30_000;
/** Readings per gateway, as a concentrator serves a compound. */
const PER_GATEWAY = 100;
/** Save calls awaiting the broker at once while filling. */
const SAVES_IN_FLIGHT = 4;
const RESULT_LINE = 'KAFKA_RESTORE_RESULT ';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000000' },
    distinct: { type: 'string', default: '20000' },
    variants: { type: 'string', default: 'once,twice' },
    chunk: { type: 'string', default: '5000' },
    out: { type: 'string', default: 'bench/out/kafka-restore.json' },
    // The restoring child: set by the parent.
    child: { type: 'boolean', default: false },
    prefix: { type: 'string' },
    registry: { type: 'string' },
  },
});
const { fail, positiveInt } = cliArgs('kafka-restore');
const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
if (brokers.length === 0) fail('KAFKA_BROKERS is required (bash scripts/services.sh start kafka)');

const detectors = (): ConfiguredDetector[] => DETECTORS.map((definition) => ({ definition, settings: parseSettings(definition, undefined) }));
const secondsSince = (t0: number) => Number(((performance.now() - t0) / 1000).toFixed(3));
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** What the restoring child measures. */
export interface RestorePhases {
  /** Devices the load returned (newest state per device). */
  loaded: number;
  loadSeconds: number;
  loadCpuSeconds: number;
  brokerCpuSecondsDuringLoad?: number;
  restoreSeconds: number;
  restoreCpuSeconds: number;
  devicesInEngine: number;
  /** Devices re-snapshotted after the restore and compared with what was loaded. */
  checked: number;
  /** Of them, how many came back different (0 when the restore is faithful). */
  differing: number;
  rssBeforeBytes: number;
  rssAfterLoadBytes: number;
  rssAfterRestoreBytes: number;
  /** getrusage maxRSS at the end: the child's peak, registry loading included. */
  peakRssBytes: number;
  /** The largest RSS sampled (every 50 ms) during the load. */
  peakRssDuringLoadBytes: number;
}

export interface VariantResult extends RestorePhases {
  variant: string;
  devices: number;
  /** Checkpoints saved per device. */
  savesPerDevice: number;
  /** Offsets in the partition when the load started (records written, before compaction). */
  records: number;
  /** Bytes of the partition's log segments on the broker's disk before the load (local broker only). */
  partitionBytes?: number;
  fillSeconds: number;
  fillRecordsPerS: number;
  totalSeconds: number;
  /** Offsets read per second of load: the records the partition held, compacted or not. */
  loadRecordsPerS: number;
  restoreDevicesPerS: number;
  withinGoal: boolean;
}

export interface KafkaRestoreResults {
  goalSeconds: number;
  meanStateBytes: number;
  runs: VariantResult[];
}

// ---------------------------------------------------------------------------------------------
// The child: one restore, as a processor given the partition does it.

async function restoreChild(prefix: string, registryFile: string): Promise<void> {
  const registry = new DeviceRegistry(readRegistryFile(registryFile));
  const engine = new DeviceEngine(detectors(), new RegistryProfiles(registry), { onJudged() {} }, parseFlapSettings(), parseLateSettings());
  const bus = await KafkaBus.start({ brokers, topicPrefix: prefix, partitions: 1, clientId: 'gas-bench-restore' }, undefined, (id) => registry.get(id)?.valveId ?? id);
  const broker = kafkaBrokerPid(brokers);
  try {
    const rssBeforeBytes = process.memoryUsage.rss();
    let peakRssDuringLoadBytes = rssBeforeBytes;
    const sampler = setInterval(() => (peakRssDuringLoadBytes = Math.max(peakRssDuringLoadBytes, process.memoryUsage.rss())), 50);

    const broker0 = broker === undefined ? undefined : cpuSecondsOf(broker);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const loaded = await bus.state.load([0]);
    const loadSeconds = secondsSince(t0);
    const cpu1 = process.cpuUsage();
    const broker1 = broker === undefined ? undefined : cpuSecondsOf(broker);
    clearInterval(sampler);
    const rssAfterLoadBytes = process.memoryUsage.rss();
    peakRssDuringLoadBytes = Math.max(peakRssDuringLoadBytes, rssAfterLoadBytes);

    const t1 = performance.now();
    for (const d of loaded) engine.restoreDevice(d.state);
    const restoreSeconds = secondsSince(t1);
    const cpu2 = process.cpuUsage();
    const rssAfterRestoreBytes = process.memoryUsage.rss();

    let checked = 0;
    let differing = 0;
    const step = Math.max(1, Math.floor(loaded.length / 1000));
    for (let i = 0; i < loaded.length; i += step) {
      const saved = loaded[i]!.state;
      const state = engine.devices.get(saved.deviceId);
      checked++;
      // JSON both ways: what a checkpoint of the restored device would write against what was read.
      if (state === undefined || !isDeepStrictEqual(JSON.parse(JSON.stringify(engine.snapshotDevice(state))), saved)) differing++;
    }
    const cpuSeconds = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => Number(((b.user - a.user + b.system - a.system) / 1e6).toFixed(2));
    const phases: RestorePhases = {
      loaded: loaded.length,
      loadSeconds,
      loadCpuSeconds: cpuSeconds(cpu0, cpu1),
      ...(broker0 !== undefined && broker1 !== undefined ? { brokerCpuSecondsDuringLoad: Number((broker1 - broker0).toFixed(2)) } : {}),
      restoreSeconds,
      restoreCpuSeconds: cpuSeconds(cpu1, cpu2),
      devicesInEngine: engine.devices.size,
      checked,
      differing,
      rssBeforeBytes,
      rssAfterLoadBytes,
      rssAfterRestoreBytes,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      peakRssDuringLoadBytes,
    };
    process.stdout.write(`${RESULT_LINE}${JSON.stringify(phases)}\n`);
  } finally {
    await bus.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The parent: real device states, the big fleet, the fill, the child.

interface Simulated {
  engine: DeviceEngine;
  rounds: number;
  readings: number;
  alertEdges: number;
  /** Devices with an active alert after each round. */
  activeAfterRound: number[];
}

/** The `all` scenario's first `rounds` rounds (all of them when undefined) through the decoder into a DeviceEngine. */
async function simulate(distinct: number, rounds?: number): Promise<Simulated> {
  const fleet = createFleet({ gateways: Math.max(2, Math.ceil(distinct / PER_GATEWAY)), devices: distinct, seed: 7, stepMs: STEP_MS });
  const scenario = buildScenario('all', fleet);
  const registry = new DeviceRegistry(scenarioRegistry(scenario, fleet));
  const engine = new DeviceEngine(detectors(), new RegistryProfiles(registry), { onJudged() {} }, parseFlapSettings(), parseLateSettings());
  const decoder = new UplinkDecoder(Value.Default(DecoderOptionsSchema, {}) as DecoderOptions);
  let simNowMs = Date.now() - (scenario.rounds + 1) * STEP_MS;
  let readings = 0;
  let alertEdges = 0;
  const out: AlertEvent[] = [];
  // Gateways whose uplinks go straight through the decoder into the engine, as ingest and a processor would.
  const link: LinkFactory = () => ({
    statusPublishes: 0,
    async connect() {},
    async publish(topic, payload) {
      const result = decoder.decode(topic, typeof payload === 'string' ? Buffer.from(payload) : payload, simNowMs);
      if (!result.batch) return;
      out.length = 0;
      engine.process(result.batch.readings, out);
      readings += result.batch.readings.length;
      alertEdges += out.length;
    },
    async drop() {},
    async close() {},
  });
  const sim = new Simulation({ url: 'memory:', fleet, scenario, link, clock: () => simNowMs });
  await sim.connect();
  const activeAfterRound: number[] = [];
  const total = rounds ?? scenario.rounds;
  for (let round = 0; round < total; round++) {
    if (round > 0) simNowMs += STEP_MS;
    await sim.runRound();
    let active = 0;
    for (const state of engine.devices.values()) if (state.active !== 0) active++;
    activeAfterRound.push(active);
  }
  await sim.close();
  return { engine, rounds: total, readings, alertEdges, activeAfterRound };
}

/**
 * Each device's snapshot, by kind, after the `all` scenario on a fleet of `distinct` devices has run
 * up to the round with the most active alerts (the scenario clears every fault by its end; a live
 * fleet always has some open): found by a first run, then run again to that round.
 */
async function realStates(distinct: number): Promise<{ byKind: Map<DeviceKind, DeviceSnapshot[]>; rounds: number; readings: number; alertEdges: number }> {
  const { activeAfterRound } = await simulate(distinct);
  const busiest = activeAfterRound.indexOf(Math.max(...activeAfterRound)) + 1;
  const { engine, rounds, readings, alertEdges } = await simulate(distinct, busiest);
  const byKind = new Map<DeviceKind, DeviceSnapshot[]>();
  for (const state of engine.devices.values()) {
    const list = byKind.get(state.kind) ?? [];
    list.push(engine.snapshotDevice(state));
    byKind.set(state.kind, list);
  }
  return { byKind, rounds, readings, alertEdges };
}

function partitionBytes(topic: string): number | undefined {
  if (kafkaBrokerPid(brokers) === undefined) return undefined;
  const dir = join(fileURLToPath(new URL('..', import.meta.url)), '.services', 'kafka', 'data', `${topic}-0`);
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.log')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  } catch {
    return undefined;
  }
}

async function highWatermark(topic: string): Promise<number> {
  const admin = new Kafka({ brokers, clientId: 'gas-bench-restore-offsets', logLevel: kafkaLogLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return Number(offsets.find((o) => o.partition === 0)!.high);
  } finally {
    await admin.disconnect();
  }
}

function runChild(prefix: string, registryFile: string): Promise<RestorePhases> {
  const child = spawn(process.execPath, [...PIPELINE_NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--prefix', prefix, '--registry', registryFile], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let result: RestorePhases | undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith(RESULT_LINE)) result = JSON.parse(line.slice(RESULT_LINE.length)) as RestorePhases;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => (result && code === 0 ? resolve(result) : reject(new Error(`restoring child exited (${code ?? signal}) without a result`))));
  });
}

async function main(): Promise<void> {
  const devices = positiveInt('--devices', values.devices);
  const distinct = Math.min(devices, positiveInt('--distinct', values.distinct));
  const chunk = positiveInt('--chunk', values.chunk);
  const variants = values.variants.split(',').map((v) => v.trim());
  for (const v of variants) if (v !== 'once' && v !== 'twice') fail(`--variants takes once and/or twice, got ${v}`);

  const began = performance.now();
  const progress = (line: string) => process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(1)} s] ${line}\n`);

  const real = await realStates(distinct);
  const templates = [...real.byKind.values()].flat();
  const withAlerts = templates.filter((s) => s.active.length > 0).length;
  const withExtras = templates.filter((s) => s.flap !== undefined || s.lateRun !== undefined || s.episodes !== undefined).length;
  const meanStateBytes = Math.round(templates.reduce((n, s) => n + JSON.stringify(s).length, 0) / templates.length);
  progress(`${templates.length} real device states (scenario all, ${real.rounds} rounds, ${real.readings} readings, ${real.alertEdges} alert edges; ${withAlerts} with active alerts, ${withExtras} with flapping, late-run or episode state), ${meanStateBytes} bytes each on average`);

  const fleet = createFleet({ gateways: Math.max(1, Math.ceil(devices / PER_GATEWAY)), devices, seed: 1, stepMs: STEP_MS });
  const records = fleet.registry();
  const dir = mkdtempSync(join(tmpdir(), 'gas-bench-restore-'));
  const registryFile = join(dir, 'registry.json');
  writeFileSync(registryFile, JSON.stringify(records));
  progress(`fleet of ${devices} devices, registry written`);

  /** Device j's state: a real one of its kind, under its own id and gateway. */
  const kindSeen = new Map<DeviceKind, number>();
  const stateOf = records.map((r) => {
    const list = real.byKind.get(r.kind);
    if (!list || list.length === 0) throw new Error(`no real state of kind ${r.kind}: raise --distinct`);
    const n = kindSeen.get(r.kind) ?? 0;
    kindSeen.set(r.kind, n + 1);
    return list[n % list.length]!;
  });
  const checkpoint = (j: number, offset: number): CheckpointedDevice => {
    const template = stateOf[j]!;
    const { deviceId, gatewayId = template.gatewayId } = records[j]!;
    const state: DeviceSnapshot = { ...template, deviceId, gatewayId };
    if (template.lastReading) state.lastReading = { ...template.lastReading, deviceId, gatewayId };
    return { offset, state };
  };

  const results: VariantResult[] = [];
  const prefixes: string[] = [];
  try {
    for (const variant of variants) {
      const savesPerDevice = variant === 'twice' ? 2 : 1;
      const prefix = `bench.restore.${Date.now().toString(36)}.`;
      prefixes.push(prefix);
      const bus = await KafkaBus.start({ brokers, topicPrefix: prefix, partitions: 1, clientId: 'gas-bench-restore-fill' });
      const topic = bus.topics.processorState;
      const t0 = performance.now();
      try {
        const inFlight = new Set<Promise<void>>();
        let offset = 0;
        for (let pass = 0; pass < savesPerDevice; pass++) {
          for (let from = 0; from < devices; from += chunk) {
            const batch: CheckpointedDevice[] = [];
            for (let j = from; j < Math.min(devices, from + chunk); j++) batch.push(checkpoint(j, (offset += 3)));
            const saving = bus.state.save(0, batch).finally(() => inFlight.delete(saving));
            inFlight.add(saving);
            if (inFlight.size >= SAVES_IN_FLIGHT) await Promise.race(inFlight);
          }
        }
        await Promise.all(inFlight);
      } finally {
        await bus.close();
      }
      const fillSeconds = secondsSince(t0);
      const recordsInPartition = await highWatermark(topic);
      const bytes = partitionBytes(topic);
      progress(`${variant}: ${recordsInPartition} records (${bytes === undefined ? '?' : mib(bytes)} MiB) saved in ${fillSeconds} s; restoring in a fresh process`);

      const phases = await runChild(prefix, registryFile);
      const totalSeconds = Number((phases.loadSeconds + phases.restoreSeconds).toFixed(3));
      const result: VariantResult = {
        variant,
        devices,
        savesPerDevice,
        records: recordsInPartition,
        ...(bytes !== undefined ? { partitionBytes: bytes } : {}),
        fillSeconds,
        fillRecordsPerS: Math.round(recordsInPartition / fillSeconds),
        ...phases,
        totalSeconds,
        loadRecordsPerS: Math.round(recordsInPartition / phases.loadSeconds),
        restoreDevicesPerS: Math.round(phases.loaded / phases.restoreSeconds),
        withinGoal: totalSeconds <= GOAL_SECONDS && phases.loaded === devices && phases.differing === 0,
      };
      results.push(result);
      progress(`${variant}: load ${result.loadSeconds} s, restore ${result.restoreSeconds} s`);
      // Each variant's topic goes before the next is filled: the broker's disk and cleaner are not shared.
      await deleteKafkaTopics(brokers, [prefix], 'kafka-restore');
    }
  } finally {
    await deleteKafkaTopics(brokers, prefixes, 'kafka-restore');
    rmSync(dir, { recursive: true, force: true });
  }

  const summary = results.map(
    (r) =>
      `${r.variant} (${r.devices} devices × ${r.savesPerDevice} checkpoint${r.savesPerDevice > 1 ? 's' : ''}, ${r.records} records${r.partitionBytes !== undefined ? `, ${mib(r.partitionBytes)} MiB` : ''}): ` +
      `load ${r.loadSeconds} s (${r.loadRecordsPerS} records/s, CPU ${r.loadCpuSeconds} s${r.brokerCpuSecondsDuringLoad !== undefined ? `, broker ${r.brokerCpuSecondsDuringLoad} s` : ''}) + ` +
      `restoreDevice ${r.restoreSeconds} s (${r.restoreDevicesPerS} devices/s) = ${r.totalSeconds} s ${r.withinGoal ? '≤' : 'NOT ≤'} ${GOAL_SECONDS} s; ` +
      `RSS ${mib(r.rssBeforeBytes)} MiB before, ${mib(r.rssAfterLoadBytes)} after load, ${mib(r.rssAfterRestoreBytes)} after restore, peak ${mib(r.peakRssBytes)} MiB; ` +
      `${r.devicesInEngine} devices in the engine, ${r.differing} of ${r.checked} checked differ from what was saved`,
  );
  writeResult(values.out, {
    benchmark: 'kafka-restore',
    params: { devices, distinct, chunk, variants, goalSeconds: GOAL_SECONDS, meanStateBytes, statesWithActiveAlerts: withAlerts, statesWithFlapLateOrEpisodes: withExtras, distinctStates: templates.length },
    results: { goalSeconds: GOAL_SECONDS, meanStateBytes, runs: results } satisfies KafkaRestoreResults,
    summary,
  });
}

if (values.child) {
  if (!values.prefix || !values.registry) fail('--child needs --prefix and --registry');
  await restoreChild(values.prefix!, values.registry!);
} else {
  await main();
}
