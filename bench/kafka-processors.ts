/**
 * Readings/s through the Kafka path with 1…N processor processes, and what each costs in CPU: the
 * simulator fleet's readings are produced to the readings topic as ingest does, one publish per
 * gateway and round (`--per-gateway` readings, like one MQTT message each: `readingRecords` makes
 * one record per partition of it, placed by the device's key, gzip off; the publishes that share a
 * produce request are joined into one record per partition, `joinReadingRecords`), and
 * 1…N processor roles (`app/main.ts`, ROLE=processor, separate processes) drain that backlog: each
 * judges every reading with all detectors and checkpoints the touched devices' state to the
 * compacted state topic before committing.
 *
 *   KAFKA_BROKERS=127.0.0.1:29092 npx tsx bench/kafka-processors.ts [--devices 100000] [--rounds 10]
 *     [--processors 1,2] [--partitions 6] [--per-gateway 100] [--out bench/out/kafka-processors.json]
 *
 * The processors start first, on the empty topics, and are waited for until each serves /metrics
 * and their consumer group is stable with every partition assigned (`startSeconds`); then they are
 * stopped (SIGSTOP, far shorter than the session timeout, so the group stays as it is), the backlog
 * is produced, and they are resumed. Judging is timed from the resume to the first sample (every
 * 100 ms) where the processors' own `gas_processor_readings_total` (their /metrics, summed) reaches
 * the readings produced: readings/s = readings ÷ that time. The group's lag counts records, not
 * readings (a record carries a request's readings of one partition), so it is not the rate; it says
 * when the drain is done: `drainSeconds` runs from the resume to the lag at zero, i.e. to every
 * partition's checkpoint and commit, which comes up to the checkpoint interval (10 s by default)
 * after its last reading, and `readingsPerSToCommit` is readings ÷ that. CPU seconds from /proc over
 * the judging time, and CPU% = those ÷ the time × 100 (100 = one core): per processor process, for
 * the Kafka broker (when scripts/services.sh runs it on this machine) and for this bench process
 * (the sampler; the producer ran while the processors were stopped). Readings per processor
 * CPU-second is the per-core efficiency, which stays comparable on a shared machine. `rejudged`
 * counts readings judged twice (a rebalance during the run replays from the last checkpoint).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AssignerProtocol, Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import { PIPELINE_NODE_FLAGS } from '../app/node-flags.ts';
import { KafkaBus, kafkaGroupId } from '../bus/kafka-bus.ts';
import type { Reading } from '../contracts/messages.ts';
import { createFleet } from '../simulators/fleet.ts';
import { freePort, until } from '../tests/support.ts';
import { cliArgs, cpuSecondsOf, deleteKafkaTopics, kafkaBrokerPid, metricValue, scrape, writeResult } from './common.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '10' },
    processors: { type: 'string', default: '1,2' },
    partitions: { type: 'string', default: '6' },
    'per-gateway': { type: 'string', default: '100' },
    out: { type: 'string', default: 'bench/out/kafka-processors.json' },
  },
});
const { fail, positiveInt } = cliArgs('kafka-processors');
const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
if (brokers.length === 0) fail('KAFKA_BROKERS is required (bash scripts/services.sh start kafka)');
const devices = positiveInt('--devices', values.devices);
const rounds = positiveInt('--rounds', values.rounds);
const partitions = positiveInt('--partitions', values.partitions);
const perGateway = positiveInt('--per-gateway', values['per-gateway']);
const counts = values.processors.split(',').map((n) => positiveInt('--processors', n));
const STEP_MS = 30_000;
const SAMPLE_MS = 100;
/** Publishes awaiting the broker at once while producing the backlog. */
const PUBLISHES_IN_FLIGHT = 64;
/** A run whose processors judge nothing new for this long has failed. */
const STALL_MS = 120_000;

const dir = mkdtempSync(join(tmpdir(), 'gas-bench-kafka-'));
const fleet = createFleet({ gateways: Math.max(1, Math.ceil(devices / perGateway)), devices, seed: 1, stepMs: STEP_MS });
const records = fleet.registry();
const registryFile = join(dir, 'registry.json');
writeFileSync(registryFile, JSON.stringify(records));
const valveOf = new Map(records.filter((r) => r.valveId).map((r) => [r.deviceId, r.valveId!]));
const placement = (deviceId: string) => valveOf.get(deviceId) ?? deviceId;
const brokerPid = kafkaBrokerPid(brokers);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
const began = performance.now();
const progress = (line: string) => process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(1)} s] ${line}\n`);

export interface ProcessCpu {
  cpuSeconds: number;
  /** CPU seconds over the judging time × 100: 100 is one core. */
  cpuPct: number;
}

export interface KafkaProcessorsRun {
  processors: number;
  readings: number;
  /** Records on the readings topic: one per partition per produce request. */
  records: number;
  produceReadingsPerS: number;
  /** Processes spawned → every one serving /metrics, their group stable with every partition assigned (and a second for the restores). */
  startSeconds: number;
  /** Processors resumed with the backlog waiting → every reading judged. */
  judgeSeconds: number;
  readingsPerS: number;
  /** Processors resumed → the group's lag at zero (every partition checkpointed and committed). */
  drainSeconds: number;
  readingsPerSToCommit: number;
  /** Readings judged more than once (a partition taken over and replayed from its last checkpoint: a rebalance during the run). */
  rejudged: number;
  cpu: {
    /** Per processor process, in start order. */
    processors: ProcessCpu[];
    /** All processor processes together. */
    processorsTotal: ProcessCpu;
    /** The Kafka broker, when it runs on this machine. */
    broker?: ProcessCpu;
    /** This process: the lag and metrics sampler while the processors judge. */
    bench: ProcessCpu;
  };
  /** Readings judged per CPU-second of the processor processes: per-core efficiency. */
  readingsPerProcessorCpuS: number;
}

export interface KafkaProcessorsResults {
  devices: number;
  rounds: number;
  partitions: number;
  perGateway: number;
  runs: KafkaProcessorsRun[];
}

interface Sample {
  t: number;
  judged: number;
  cpu: Array<number | undefined>;
  broker?: number;
  bench: number;
}

async function produceBacklog(bus: KafkaBus): Promise<{ readings: number; seconds: number }> {
  const startMs = Date.now() - rounds * STEP_MS;
  let readings = 0;
  const t0 = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let round = 0; round < rounds; round++) {
    const atMs = startMs + round * STEP_MS;
    const at = new Date(atMs).toISOString();
    for (let g = 0; g < fleet.gatewayIds.length; g++) {
      const gatewayId = fleet.gatewayIds[g]!;
      // One gateway's readings of a round: one MQTT message as ingest publishes it.
      const batch = fleet.byGateway[g]!.map((device) => {
        fleet.advance(device);
        return { ...fleet.reading(device, at), gatewayId, atMs, receivedAtMs: atMs } as Reading;
      });
      readings += batch.length;
      const publishing = bus.readings.publish(batch).finally(() => inFlight.delete(publishing));
      inFlight.add(publishing);
      if (inFlight.size >= PUBLISHES_IN_FLIGHT) await Promise.race(inFlight);
    }
  }
  await Promise.all(inFlight);
  return { readings, seconds: (performance.now() - t0) / 1000 };
}

interface Processor {
  child: ChildProcess;
  metricsUrl: string;
  exited: Promise<number | string | null>;
}

async function startProcessor(i: number, prefix: string): Promise<Processor> {
  const port = await freePort();
  const child = spawn(process.execPath, [...PIPELINE_NODE_FLAGS, '--import', 'tsx', 'app/main.ts'], {
    env: {
      ...process.env,
      ROLE: 'processor',
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_PARTITIONS: String(partitions),
      KAFKA_CLIENT_ID: `gas-bench-p${i}`,
      REGISTRY: registryFile,
      DATA_DIR: join(dir, `p${i}`),
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, metricsUrl: `http://127.0.0.1:${port}/metrics`, exited };
}

/** Resolves once the processors' group is stable with every processor a member and every partition assigned. */
async function untilGroupStable(topic: string, processors: number, failed: () => string | undefined): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'gas-bench-group-watch', logLevel: kafkaLogLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await until('processors group stable', async () => {
      const why = failed();
      if (why) throw new Error(why);
      const { groups } = await admin.describeGroups([kafkaGroupId('processors', topic)]);
      const g = groups[0];
      if (g?.state !== 'Stable' || g.members.length !== processors) return false;
      let assigned = 0;
      for (const m of g.members) {
        const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
        assigned += decoded?.assignment[topic]?.length ?? 0;
      }
      return assigned === partitions;
    }, 120_000);
  } finally {
    await admin.disconnect();
  }
}

async function runOnce(processors: number): Promise<KafkaProcessorsRun> {
  const prefix = `bench.${Date.now().toString(36)}.`;
  const bus = await KafkaBus.start({ brokers, topicPrefix: prefix, partitions, clientId: 'gas-bench' }, undefined, placement);
  const started: Processor[] = [];
  try {
    // The processors start on the empty topic and join their group; then they are stopped
    // (SIGSTOP: well within the session timeout, so the group stays as it is) while the backlog is
    // produced, and resumed: their start, join and restore are not in the time, nor is the producer in their CPU.
    const spawnedAt = performance.now();
    for (let i = 0; i < processors; i++) started.push(await startProcessor(i, prefix));
    let failure: string | undefined;
    for (const [i, p] of started.entries()) void p.exited.then((code) => (failure ??= `processor ${i} exited (${code})`));
    await until('processors serving /metrics', async () => {
      if (failure) throw new Error(failure);
      const answers = await Promise.all(started.map((p) => scrape(p.metricsUrl).then(() => true, () => false)));
      return answers.every(Boolean);
    }, 120_000);
    await untilGroupStable(bus.topics.readings, processors, () => failure);
    // Each restores its (empty) partitions on assignment.
    await sleep(1000);
    const startSeconds = (performance.now() - spawnedAt) / 1000;
    for (const p of started) p.child.kill('SIGSTOP');

    const bench0 = process.cpuUsage();
    const produced = await produceBacklog(bus);
    const group = [{ group: 'processors', topic: bus.topics.readings }];
    const backlog = async () => (await bus.lag(group)).reduce((n, row) => n + row.lag, 0);
    const recordsOnTopic = await backlog();
    const benchProduce = process.cpuUsage(bench0);
    if (produced.seconds * 1000 > bus.options.sessionTimeoutMs / 2) {
      progress(`producing took ${produced.seconds.toFixed(1)} s with the processors stopped, near their ${bus.options.sessionTimeoutMs / 1000} s session timeout: the group may rebalance (see rejudged); use fewer --devices or --rounds`);
    }
    progress(`${processors} processor(s): ${produced.readings} readings in ${recordsOnTopic} records produced in ${produced.seconds.toFixed(2)} s (bench CPU ${((benchProduce.user + benchProduce.system) / 1e6).toFixed(1)} s) while the processors were stopped`);

    // A scrape a busy processor does not answer in time keeps its last count.
    const judgedBy = started.map(() => 0);
    const sample = async (scrapeToo = true): Promise<Sample> => {
      if (scrapeToo) {
        await Promise.all(
          started.map((p, i) =>
            scrape(p.metricsUrl).then(
              (text) => (judgedBy[i] = metricValue(text, 'gas_processor_readings_total')),
              () => undefined,
            ),
          ),
        );
      }
      const usage = process.cpuUsage();
      return {
        t: performance.now(),
        judged: judgedBy.reduce((n, x) => n + x, 0),
        cpu: started.map((p) => cpuSecondsOf(p.child.pid!)),
        broker: brokerPid === undefined ? undefined : cpuSecondsOf(brokerPid),
        bench: (usage.user + usage.system) / 1e6,
      };
    };

    // Judging: from the resume until the processors together have judged every reading.
    const from = await sample(false);
    for (const p of started) p.child.kill('SIGCONT');
    let to: Sample | undefined;
    let lastProgress = from;
    while (to === undefined) {
      if (failure) throw new Error(failure);
      await sleep(SAMPLE_MS);
      const s = await sample();
      if (s.judged > lastProgress.judged) lastProgress = s;
      else if (s.t - lastProgress.t > STALL_MS) throw new Error(`processors stalled at ${s.judged} of ${produced.readings} readings judged`);
      if (s.judged >= produced.readings) to = s;
    }
    // Draining: until every partition's offset is committed after its checkpoint.
    let drainedAt: number | undefined;
    while (drainedAt === undefined) {
      if (failure) throw new Error(failure);
      if ((await backlog()) === 0) drainedAt = performance.now();
      else if (performance.now() - to.t > STALL_MS) throw new Error(`the group's lag did not reach zero within ${STALL_MS / 1000} s of every reading judged`);
      else await sleep(250);
    }
    const end = await sample();

    const seconds = (to.t - from.t) / 1000;
    const cpuOf = (a: number | undefined, b: number | undefined): ProcessCpu | undefined =>
      a === undefined || b === undefined ? undefined : { cpuSeconds: round2(b - a), cpuPct: round1(((b - a) / seconds) * 100) };
    const perProcessor = started.map((_, i) => cpuOf(from.cpu[i], to!.cpu[i]) ?? { cpuSeconds: Number.NaN, cpuPct: Number.NaN });
    const processorCpuSeconds = perProcessor.reduce((n, c) => n + c.cpuSeconds, 0);
    const broker = cpuOf(from.broker, to.broker);
    const drainSeconds = (drainedAt - from.t) / 1000;
    return {
      processors,
      readings: produced.readings,
      records: recordsOnTopic,
      produceReadingsPerS: Math.round(produced.readings / produced.seconds),
      startSeconds: round2(startSeconds),
      judgeSeconds: round2(seconds),
      readingsPerS: Math.round(produced.readings / seconds),
      drainSeconds: round2(drainSeconds),
      readingsPerSToCommit: Math.round(produced.readings / drainSeconds),
      rejudged: Math.max(0, end.judged - produced.readings),
      cpu: {
        processors: perProcessor,
        processorsTotal: { cpuSeconds: round2(processorCpuSeconds), cpuPct: round1((processorCpuSeconds / seconds) * 100) },
        ...(broker ? { broker } : {}),
        bench: cpuOf(from.bench, to.bench)!,
      },
      readingsPerProcessorCpuS: Math.round(produced.readings / processorCpuSeconds),
    };
  } finally {
    for (const p of started) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGTERM');
    }
    await Promise.all(started.map((p) => p.exited));
    await bus.close();
    await deleteKafkaTopics(brokers, [prefix], 'kafka-processors');
  }
}

const runs: KafkaProcessorsRun[] = [];
const summary: string[] = [];
try {
  for (const n of counts) {
    const run = await runOnce(n);
    runs.push(run);
    const { cpu } = run;
    const line =
      `${n} processor(s): ${run.readings} readings (${run.records} records) judged in ${run.judgeSeconds} s = ${run.readingsPerS} readings/s ` +
      `(lag 0 after ${run.drainSeconds} s = ${run.readingsPerSToCommit} readings/s to commit; ${run.rejudged} rejudged; started and joined in ${run.startSeconds} s); ` +
      `CPU processors ${cpu.processors.map((c) => `${c.cpuPct} %`).join(' + ')} = ${cpu.processorsTotal.cpuPct} %, broker ${cpu.broker ? `${cpu.broker.cpuPct} %` : '—'}, bench ${cpu.bench.cpuPct} % (100 % = one core); ` +
      `${run.readingsPerProcessorCpuS} readings per processor CPU-second; produced at ${run.produceReadingsPerS} readings/s`;
    summary.push(line);
    progress(line);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
writeResult(values.out, {
  benchmark: 'kafka-processors',
  params: { devices, rounds, partitions, perGateway, processors: counts },
  results: { devices, rounds, partitions, perGateway, runs } satisfies KafkaProcessorsResults,
  summary,
});
