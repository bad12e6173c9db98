/**
 * End-to-end throughput and gas-alarm latency under load, embedded and on Kafka.
 *
 *   npx tsx bench/throughput.ts [--path embedded|kafka|both] [--devices 100000] [--kafka-devices N] [--batch 100,1]
 *     [--rounds N] [--levels 10,25,50,75,100] [--seconds-per-level 10] [--peak-seconds 15]
 *     [--levels-of READINGS_PER_S] [--influx URL] [--history on|off] [--out bench/out/throughput.json]
 *
 * `--path` is embedded, mosquitto, kafka, a comma-separated list, both (embedded and kafka) or all;
 * it defaults to both when KAFKA_BROKERS is set, else embedded. The Kafka path needs KAFKA_BROKERS
 * (`bash scripts/services.sh start kafka`); it and the mosquitto path need Debian's mosquitto binary.
 * The mosquitto path is the embedded one reading from a private Mosquitto instead of its own
 * broker (MQTT_URL): the set-up of the compose stack, and the broker the Node-RED peer reads from.
 *
 * What runs: the embedded path is one `startPipeline` process with `role: 'all'` (aedes broker →
 * ingest → every detector → alert book → tickets → pushes), in a child of its own
 * (bench/pipeline-under-test.ts) so the load generator never shares its event loop. The Kafka path
 * is a private anonymous Mosquitto (bench/mosquitto.ts, queue unbounded so no backlog is dropped)
 * and three `node --import tsx app/main.ts` processes, ROLE=ingest, ROLE=processor and
 * ROLE=alerts, on topics with a prefix of their own, deleted at the end. Every phase below gets
 * fresh processes: loads reuse device and gateway ids, and a gateway's repeated seq is a duplicate.
 * With `--influx URL` or INFLUX_URL in the environment the processors also write every reading and
 * alert edge to that InfluxDB v2 write endpoint (VictoriaMetrics will do); `influx` in the results
 * says whether it was on. `--history off` turns off the local readings history (sinks/history, on
 * by default where the API runs, as in `npm start`); `history` in the results says which: the
 * difference of two runs is what the history costs per reading.
 *
 * 1. Peak, per batch size: the simulator fleet's readings pre-serialised by buildLoad, published at
 *    QoS 1 as fast as the Publisher can, one round per publishAll. One warm-up round is published
 *    and judged first, uncounted. Readings/s = readings judged after it (`gas_processor_readings_total`
 *    scraped from the processing process's /metrics) over the time from the first publish to the
 *    scrape that sees the last one judged. CPU% = CPU seconds over that time × 100 (100 = one
 *    core), from /proc for the pipeline processes (Kafka: ingest, processor, alerts and Mosquitto)
 *    and process.cpuUsage() for this load generator. Without --rounds, rounds for three times the
 *    warm-up's rate over --peak-seconds are built after the warm-up, and published until
 *    --peak-seconds have passed or twice the warm-up's rate × --peak-seconds readings are out
 *    (Mosquitto acknowledges far ahead of ingest, so time alone would not bound the Kafka path).
 * 2. Latency against load: one more fresh pipeline; for each level (percent of the 100-reading
 *    peak just measured on this path) an open-loop load of 100-reading batches at a steady cadence
 *    (every 5 ms the messages due by then are published, acknowledged or not) for
 *    --seconds-per-level, while every 100 ms a gas alarm is published by a home gas alarm that
 *    has never alarmed before (registered under its own gateway GW-PROBE, on its own MQTT
 *    connection, published and timed on a thread of its own so that the load generator's busy
 *    event loop is not in the figure: `prober.ts`), so each probe is a new alert and a new ticket, dispatched to the on-call
 *    technician of bench/alarm-to-push.ts's rota. Meanwhile the load generator's threads, V8's
 *    GC helpers among them, run at nice 19 (`lowerLoadPriority`): it stands in for gateways
 *    elsewhere and yields the cores to the pipeline; the prober's thread keeps normal priority. Measured from just before the
 *    publish to the alert's `alert.raised` on the operator's /api/v1/stream/alerts and to the ticket's notice on
 *    the technician's /api/v1/stream (LatencyHistogram). Offered = readings published in the
 *    window / its length; achieved = readings judged from the end of the window's first fifth (at
 *    most 1 s, so readings still in flight at its start are not missed) to its end / that time.
 *    Before the first level: two rounds as fast as possible and 5 s paced, uncounted. Between
 *    levels the backlog is drained and every probe answered or timed out (30 s, counted as lost).
 *    Each pipeline process's event-loop delay (p99, max) and GC pauses over 10 and 100 ms in the
 *    window are reported beside the latencies, from its own /metrics, and how long its main
 *    thread ran and waited for a core (/proc/PID/schedstat): where a slow probe waited.
 *    Target: technician push p99 ≤ 50 ms at 50 % of peak; reported, not asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { KafkaBus } from '../bus/kafka-bus.ts';
import { kafkaBusOptionsFromEnv } from '../bus/kafka-options.ts';
import type { DeviceRecord } from '../contracts/device-record.ts';
import type { InfluxWriterInput } from '../app/config.ts';
import { PIPELINE_NODE_FLAGS } from '../app/node-flags.ts';
import { freePort, until } from '../tests/support.ts';
import { BENCH_ADMIN_TOKEN, cliArgs, lowerLoadPriority, cpuSecondsOf, deleteKafkaTopics, issueToken, kafkaBrokerPid, LatencyHistogram, metricValue, scrape, writeResult, type Percentiles, BENCH_TECHNICIAN, writeBenchOncall } from './common.ts';
import { buildLoad, Publisher, type Load, type LoadMessage } from './load.ts';
import { startMosquitto, type Mosquitto } from './mosquitto.ts';
import { ProberThread } from './prober.ts';
import { startPipelineUnderTest } from './pipeline-under-test.ts';

const { fail, positiveInt } = cliArgs('throughput');

export interface PeakResult {
  batchSize: number;
  readings: number;
  seconds: number;
  readingsPerS: number;
  cpu: { pipelinePct?: number; loadPct?: number };
}

export interface LevelResult {
  loadPct: number;
  offeredReadingsPerS: number;
  achievedReadingsPerS: number;
  alertLatencyMs: Percentiles;
  pushLatencyMs: Percentiles;
  /** CPU during the paced window (100 = one core): how full the machine was at this level. */
  cpu?: { pipelinePct?: number; brokerPct?: number; loadPct: number };
  /** Per pipeline process, its stalls during the window: where a slow probe may have waited. */
  stalls?: ProcessStalls[];
}

/**
 * One pipeline process's event-loop delay and garbage-collection pauses over a window, from its
 * own /metrics (prom-client's default metrics: the delay histogram restarts at every scrape, so
 * it covers the time since the one before; the processor's is scraped at the ramp too).
 */
export interface ProcessStalls {
  process: string;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** GC pauses longer than 10 ms and than 100 ms (the histogram's buckets). */
  gcOver10Ms: number;
  gcOver100Ms: number;
  /**
   * Its main thread (the event loop), per second of the window: ms it ran, and ms it was ready to
   * run but waited for a core (Linux's /proc/PID/schedstat); absent elsewhere.
   */
  ranMsPerS?: number;
  waitedForCoreMsPerS?: number;
}

export interface PathResult {
  influx: boolean;
  /** The local readings history was kept (sinks/history). */
  history: boolean;
  peak: PeakResult[];
  levels: LevelResult[];
}

export interface ThroughputResults {
  embedded?: PathResult;
  mosquitto?: PathResult;
  kafka?: PathResult;
}

type PathName = 'embedded' | 'mosquitto' | 'kafka';
const PATHS: readonly PathName[] = ['embedded', 'mosquitto', 'kafka'];

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN_TOKEN = BENCH_ADMIN_TOKEN;
const LEVEL_BATCH = 100;
const PROBE_INTERVAL_MS = 100;
const WARM_PROBES = 5;
const TICK_MS = 5;
const PACED_CONNECTIONS = 8;
/** The most readings one load may hold (≈ 250 bytes each in memory). */
const MAX_LOAD_READINGS = 4_000_000;
/** A phase that stops making progress for this long has lost readings: it fails with the counters. */
const STALL_MS = 60_000;

const { values } = parseArgs({
  options: {
    path: { type: 'string' },
    devices: { type: 'string', default: '100000' },
    // The Kafka path takes minutes per round at 1-reading messages: it may run a smaller fleet.
    'kafka-devices': { type: 'string' },
    batch: { type: 'string', default: '100,1' },
    rounds: { type: 'string' },
    levels: { type: 'string', default: '10,25,50,75,100' },
    'seconds-per-level': { type: 'string', default: '10' },
    'peak-seconds': { type: 'string', default: '15' },
    // Levels as percentages of this rate instead of the peak just measured, which varies ±15 %
    // from run to run on a shared machine: changes compared at one fixed rate.
    'levels-of': { type: 'string' },
    influx: { type: 'string' },
    history: { type: 'string', default: 'on' },
    out: { type: 'string', default: 'bench/out/throughput.json' },
  },
});

const kafkaBrokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
const pathArg = values.path ?? (kafkaBrokers.length > 0 ? 'both' : 'embedded');
const paths: PathName[] = pathArg === 'both' ? ['embedded', 'kafka'] : pathArg === 'all' ? [...PATHS] : (pathArg.split(',') as PathName[]);
for (const p of paths) if (!PATHS.includes(p)) fail(`--path takes ${PATHS.join(', ')} (comma-separated), both or all; got ${p}`);
if (paths.includes('kafka') && kafkaBrokers.length === 0) fail('the Kafka path needs KAFKA_BROKERS (bash scripts/services.sh start kafka)');
const devices = positiveInt('--devices', values.devices);
const kafkaDevices = values['kafka-devices'] === undefined ? devices : positiveInt('--kafka-devices', values['kafka-devices']);
const devicesOf = (path: PathName): number => (path === 'kafka' ? kafkaDevices : devices);
const batches = values.batch.split(',').map((b) => positiveInt('--batch', b));
const fixedRounds = values.rounds === undefined ? undefined : positiveInt('--rounds', values.rounds);
const levels = values.levels.split(',').filter(Boolean).map((l) => {
  const n = Number(l);
  if (!(n > 0)) fail(`--levels must be positive percentages, got ${l}`);
  return n;
});
const secondsPerLevel = Number(values['seconds-per-level']);
const peakSeconds = Number(values['peak-seconds']);
if (!(secondsPerLevel > 0) || !(peakSeconds > 0)) fail('--seconds-per-level and --peak-seconds must be positive');
const levelsOf = values['levels-of'] === undefined ? undefined : positiveInt('--levels-of', values['levels-of']);
const influxUrl = values.influx ?? process.env.INFLUX_URL ?? undefined;
if (values.history !== 'on' && values.history !== 'off') fail(`--history takes on or off, got ${values.history}`);
const historyOn = values.history === 'on';


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round1 = (x: number) => Math.round(x * 10) / 10;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// ---------------------------------------------------------------------------------------------
// The system under test: one embedded process, or Mosquitto and three roles on Kafka.

interface System {
  mqttUrl: string;
  /** The alerts API: tokens and the two streams. */
  apiUrl: string;
  /** /metrics of the process(es) that judge readings. */
  processorMetrics: string;
  /** Every process's /metrics, for counters when something goes wrong. */
  allMetrics: string[];
  /** The pipeline processes' names and process ids, in the order of allMetrics. */
  processNames: string[];
  processPids: number[];
  /** The pipeline's processes, for CPU%. */
  pids: number[];
  /** The Kafka broker's JVM, when there is one on this machine, for its CPU. */
  brokerPid?: () => number | undefined;
  stop(): Promise<void>;
}

interface PhaseFiles {
  dir: string;
  registryFile: string;
  oncallFile: string;
  configFile: string;
}

/** Silence is not what is measured: devices that report every 30 s of device time must not page NO_SIGNAL. The history as --history says. */
const SETTINGS = { silence: { missedReports: 1_000_000, gatewayMissedReports: 1_000_000, gatewayMinSilenceMs: 86_400_000 }, history: { enabled: historyOn } };

function influxTarget(): InfluxWriterInput[] | undefined {
  if (!influxUrl) return undefined;
  return [{ url: influxUrl, target: 'v2', token: process.env.INFLUX_TOKEN || undefined, org: process.env.INFLUX_ORG || '', bucket: process.env.INFLUX_BUCKET || 'gas' }];
}

/**
 * The whole pipeline in one process: with its embedded broker, or reading from `mosquitto`
 * (MQTT_URL) as the compose stack runs it and as the Node-RED peer reads.
 */
async function startOneProcess(files: PhaseFiles, mosquitto?: Mosquitto): Promise<System> {
  const pipeline = await startPipelineUnderTest({
    role: 'all',
    mqttUrl: mosquitto?.url,
    mqttPort: 0,
    mqttHost: '127.0.0.1',
    mqttClientId: mosquitto ? `gas-ingest-bench-${runId}` : 'gas-ingest-bench',
    httpPort: 0,
    httpHost: '127.0.0.1',
    dataDir: await dataDir(join(files.dir, 'data')),
    registryFile: files.registryFile,
    oncallFile: files.oncallFile,
    adminToken: ADMIN_TOKEN,
    logLevel: 'warn',
    influx: influxTarget(),
    settings: SETTINGS,
  });
  return {
    mqttUrl: mosquitto?.url ?? pipeline.mqttUrl!,
    apiUrl: pipeline.httpUrl,
    processorMetrics: `${pipeline.httpUrl}/metrics`,
    allMetrics: [`${pipeline.httpUrl}/metrics`],
    processNames: ['pipeline'],
    processPids: [pipeline.pid],
    pids: mosquitto ? [pipeline.pid, mosquitto.pid] : [pipeline.pid],
    async stop() {
      await pipeline.stop();
      await mosquitto?.stop();
    },
  };
}

async function startWithMosquitto(files: PhaseFiles): Promise<System> {
  const mosquitto = await startMosquitto();
  try {
    return await startOneProcess(files, mosquitto);
  } catch (err) {
    await mosquitto.stop();
    throw err;
  }
}

interface RoleProcess {
  name: string;
  child: ChildProcess;
  httpUrl: string;
  exited: Promise<number | string | null>;
}

/** `npm start` with a role, as a process of its own; resolves once its /healthz answers 200. */
async function startRole(role: 'ingest' | 'processor' | 'alerts', env: Record<string, string>, started: RoleProcess[]): Promise<RoleProcess> {
  const httpPort = await freePort();
  // What the caller does not set is not inherited from this shell: the roles run exactly as configured.
  const { MQTT_URL, DATABASE_URL, INFLUX_URL, INFLUXQL_URL, CONFIG, REGISTRY, ONCALL, ADMIN_TOKEN: _admin, ...inherited } = process.env;
  const child = spawn(process.execPath, [...PIPELINE_NODE_FLAGS, '--import', 'tsx', 'app/main.ts'], {
    cwd: ROOT,
    env: { ...inherited, ...env, ROLE: role, HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => {
    process.removeListener('exit', killOnExit);
    resolve(code ?? signal);
  }));
  const p: RoleProcess = { name: role, child, httpUrl: `http://127.0.0.1:${httpPort}`, exited };
  started.push(p);
  await until(`${role} role ready`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${role} role exited (${child.exitCode ?? child.signalCode})`);
    return (await fetch(`${p.httpUrl}/healthz`)).ok;
  }, 120_000);
  return p;
}

async function stopRoles(roles: RoleProcess[]): Promise<void> {
  await Promise.all(roles.map(async (r) => {
    if (r.child.exitCode !== null || r.child.signalCode !== null) return;
    r.child.kill('SIGTERM');
    const timer = setTimeout(() => r.child.kill('SIGKILL'), 30_000);
    await r.exited;
    clearTimeout(timer);
  }));
}

let phaseCounter = 0;
/** Kafka topic prefixes of this run, whose topics are deleted when it ends. */
const topicPrefixes: string[] = [];
const runId = `${Date.now().toString(36)}${process.pid}`;

async function startKafka(files: PhaseFiles): Promise<System> {
  const topicPrefix = `bench.throughput.${runId}.${++phaseCounter}.`;
  topicPrefixes.push(topicPrefix);
  const kafkaEnv = { KAFKA_BROKERS: kafkaBrokers.join(','), KAFKA_TOPIC_PREFIX: topicPrefix };
  // Topics made once here, as the roles would (the same KAFKA_* environment), so the three can start side by side.
  const bus = await KafkaBus.start(kafkaBusOptionsFromEnv({ ...process.env, ...kafkaEnv, KAFKA_CLIENT_ID: 'gas-bench-throughput' }));
  await bus.close();
  let mosquitto: Mosquitto | undefined;
  const roles: RoleProcess[] = [];
  try {
    // As deploy/mosquitto/mosquitto.conf: ingest on Kafka keeps 100 messages in flight.
    mosquitto = await startMosquitto({ maxInflightMessages: 100 });
    const common = { ...kafkaEnv, REGISTRY: files.registryFile, CONFIG: files.configFile };
    const influxEnv: Record<string, string> = influxUrl ? { INFLUX_URL: influxUrl } : {};
    const alertsDir = await dataDir(join(files.dir, 'alerts'));
    const [alerts, processor, ingest] = await Promise.all([
      startRole('alerts', { ...common, KAFKA_CLIENT_ID: 'gas-bench-alerts', DATA_DIR: alertsDir, ONCALL: files.oncallFile, ADMIN_TOKEN }, roles),
      startRole('processor', { ...common, ...influxEnv, KAFKA_CLIENT_ID: 'gas-bench-processor', DATA_DIR: join(files.dir, 'processor') }, roles),
      startRole('ingest', { ...common, KAFKA_CLIENT_ID: 'gas-bench-ingest', DATA_DIR: join(files.dir, 'ingest'), MQTT_URL: mosquitto.url, MQTT_CLIENT_ID: `gas-ingest-bench-${runId}` }, roles),
    ]);
    const broker = mosquitto;
    return {
      mqttUrl: broker.url,
      apiUrl: alerts!.httpUrl,
      processorMetrics: `${processor!.httpUrl}/metrics`,
      brokerPid: kafkaPid,
      allMetrics: [ingest!, processor!, alerts!].map((r) => `${r.httpUrl}/metrics`),
      processNames: ['ingest', 'processor', 'alerts'],
      processPids: [ingest!, processor!, alerts!].map((r) => r.child.pid!),
      pids: [...roles.map((r) => r.child.pid!), broker.pid],
      async stop() {
        await stopRoles(roles);
        await broker.stop();
      },
    };
  } catch (err) {
    await stopRoles(roles);
    await mosquitto?.stop();
    throw err;
  }
}

/** Deletes every topic a run created; a failure here only leaves topics behind. */
const deleteTopics = (prefixes: string[]) => deleteKafkaTopics(kafkaBrokers, prefixes, 'throughput');

async function startSystem(path: PathName, files: PhaseFiles): Promise<System> {
  progress(`starting the ${path} pipeline for ${files.dir.slice(workDir.length + 1).replace(/-[^-]*$/, '')}`);
  return path === 'embedded' ? startOneProcess(files) : path === 'mosquitto' ? startWithMosquitto(files) : startKafka(files);
}

// ---------------------------------------------------------------------------------------------
// Counters from /metrics.

const judged = async (system: System) => metricValue(await scrape(system.processorMetrics), 'gas_processor_readings_total');

/**
 * The count with the time its answer arrived: a busy pipeline may serve a scrape late, and the
 * count is as of then, so rates are taken between answer times.
 */
async function judgedNow(system: System): Promise<{ value: number; atMs: number }> {
  const value = await judged(system);
  return { value, atMs: performance.now() };
}

const GC_BUCKETS = 'gas_process_nodejs_gc_duration_seconds_bucket';

/** The GC pauses counted so far in a /metrics page: over 10 ms and over 100 ms, all kinds. */
function gcPauses(text: string): { over10: number; over100: number } {
  let total = 0;
  let upTo10 = 0;
  let upTo100 = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(GC_BUCKETS)) continue;
    const count = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.includes('le="+Inf"')) total += count;
    else if (line.includes('le="0.01"')) upTo10 += count;
    else if (line.includes('le="0.1"')) upTo100 += count;
  }
  return { over10: total - upTo10, over100: total - upTo100 };
}

/** A process's main thread so far: ns run on a core and ns waited for one (Linux), else undefined. */
function schedOf(pid: number): { runNs: number; waitNs: number } | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return run === undefined || wait === undefined ? undefined : { runNs: run, waitNs: wait };
  } catch {
    return undefined;
  }
}

interface StallsMark {
  atMs: number;
  gc: Array<{ over10: number; over100: number }>;
  sched: Array<ReturnType<typeof schedOf>>;
}

/** Scrapes every pipeline process: restarts their delay histograms, takes their GC counts and scheduling times. */
async function stallsBefore(system: System): Promise<StallsMark> {
  const gc = await Promise.all(system.allMetrics.map(async (url) => gcPauses(await scrape(url))));
  return { atMs: performance.now(), gc, sched: system.processPids.map(schedOf) };
}

async function stallsSince(system: System, before: StallsMark): Promise<ProcessStalls[]> {
  const sched = system.processPids.map(schedOf);
  const seconds = (performance.now() - before.atMs) / 1000;
  return Promise.all(system.allMetrics.map(async (url, i) => {
    const text = await scrape(url);
    const gc = gcPauses(text);
    const s0 = before.sched[i];
    const s1 = sched[i];
    return {
      process: system.processNames[i]!,
      loopDelayP99Ms: round1(metricValue(text, 'gas_process_nodejs_eventloop_lag_p99_seconds') * 1000),
      loopDelayMaxMs: round1(metricValue(text, 'gas_process_nodejs_eventloop_lag_max_seconds') * 1000),
      gcOver10Ms: gc.over10 - before.gc[i]!.over10,
      gcOver100Ms: gc.over100 - before.gc[i]!.over100,
      ...(s0 && s1 ? { ranMsPerS: Math.round((s1.runNs - s0.runNs) / 1e6 / seconds), waitedForCoreMsPerS: Math.round((s1.waitNs - s0.waitNs) / 1e6 / seconds) } : {}),
    };
  }));
}

const WATCHED = ['gas_ingest_readings_total', 'gas_ingest_rejects_total', 'gas_ingest_duplicate_batches_total', 'gas_ingest_missing_batches_total', 'gas_processor_readings_total', 'gas_processor_late_readings_total', 'gas_processor_unregistered_readings_total'];

async function counters(system: System): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const url of system.allMetrics) {
    const text = await scrape(url).catch(() => '');
    for (const name of WATCHED) if (text.includes(name)) out[name] = (out[name] ?? 0) + metricValue(text, name);
  }
  return out;
}

/**
 * Resolves with performance.now() of the scrape that first saw `target` readings judged. Polls
 * often only near the end, so the scrapes cost the pipeline little; fails with the ingest and
 * processor counters when nothing moves for STALL_MS.
 */
async function untilJudged(system: System, target: number): Promise<number> {
  let last = await judged(system);
  let lastAt = performance.now();
  let progressAt = lastAt;
  let ratePerMs = 0;
  let toldAt = lastAt;
  while (last < target) {
    if (lastAt - toldAt > 10_000) {
      toldAt = lastAt;
      progress(`${fmt(last)} of ${fmt(target)} readings judged`);
    }
    const remaining = target - last;
    await sleep(ratePerMs > 0 ? Math.min(100, Math.max(5, remaining / ratePerMs / 2)) : 50);
    const value = await judged(system);
    const now = performance.now();
    if (value > last) {
      ratePerMs = (value - last) / (now - lastAt);
      progressAt = now;
    } else if (now - progressAt > STALL_MS) {
      throw new Error(`stalled at ${value} of ${target} readings judged: ${JSON.stringify(await counters(system))}`);
    }
    last = value;
    lastAt = now;
  }
  return lastAt;
}

/** Lines the InfluxDB sink still holds (queued or in flight), when it is on. */
async function influxState(system: System): Promise<{ written: number; buffered: number; dropped: number }> {
  const text = await scrape(system.processorMetrics);
  return { written: metricValue(text, 'gas_influx_lines_written'), buffered: metricValue(text, 'gas_influx_lines_buffered'), dropped: metricValue(text, 'gas_influx_lines_dropped') };
}

// ---------------------------------------------------------------------------------------------
// Files every phase needs.

const workDir = mkdtempSync(join(tmpdir(), 'gas-bench-throughput-'));
const oncallFile = join(workDir, 'oncall.json');
writeBenchOncall(oncallFile);
const configFile = join(workDir, 'settings.json');
writeFileSync(configFile, JSON.stringify(SETTINGS));

/**
 * Ticket databases (PGlite, `tickets-db` as alerts/store/open-db.ts names it) for the data
 * directories: a fresh PGlite spends seconds of CPU initialising its cluster at every start, which
 * has nothing to do with what is measured, so one is made here, beside the first pipeline's start,
 * and copied into every later phase's directory. The pipeline runs its migrations on the copy as
 * on any existing database; were the folder ever renamed, the copy would merely go unused.
 */
const ticketsDbTemplate = (async () => {
  const template = join(workDir, 'tickets-db-template');
  const db = new PGlite(template);
  await db.waitReady;
  await db.close();
  return template;
})().catch(() => undefined);
let firstDataDir = true;

async function dataDir(dir: string): Promise<string> {
  const template = firstDataDir ? undefined : await ticketsDbTemplate;
  firstDataDir = false;
  if (template) cpSync(template, join(dir, 'tickets-db'), { recursive: true });
  return dir;
}

function phaseFiles(name: string, registry: DeviceRecord[]): PhaseFiles {
  const dir = mkdtempSync(join(workDir, `${name}-`));
  const registryFile = join(dir, 'registry.json');
  writeFileSync(registryFile, JSON.stringify(registry));
  return { dir, registryFile, oncallFile, configFile };
}

const cpuOf = (pids: number[]): number | undefined => {
  let sum = 0;
  for (const pid of pids) {
    const s = cpuSecondsOf(pid);
    if (s === undefined) return undefined;
    sum += s;
  }
  return sum;
};

/** Kafka's own JVM, when scripts/services.sh started it on this machine: its CPU is reported beside the pipeline's. */
const kafkaPid = () => kafkaBrokerPid(kafkaBrokers);

const began = performance.now();
/** Progress on stderr, so a long run shows where it is. */
const progress = (line: string) => process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(1)} s] ${line}\n`);

const summary: string[] = [];
/** A summary line, shown on stderr as soon as it is known; writeResult prints them all at the end. */
const note = (line: string) => {
  summary.push(line);
  process.stderr.write(`${line}\n`);
};

// ---------------------------------------------------------------------------------------------
// 1. Peak throughput.

/** buildLoad's default step between rounds, ms: device time advances this much per round. */
const STEP_MS = 30_000;

async function measurePeak(path: PathName, batchSize: number): Promise<PeakResult> {
  const devices = devicesOf(path);
  const maxRounds = Math.max(1, Math.min(10_000, Math.floor(MAX_LOAD_READINGS / devices) - 1));
  // buildLoad is deterministic for a seed and start time, so the warm-up round is built alone
  // first and the measured rounds after it, sized from its rate: the same rounds 0…n as one load.
  // Device time starts far enough back that no round is stamped in the future.
  const startMs = Date.now() - (maxRounds + 1) * STEP_MS;
  progress(`building the warm-up round of ${fmt(devices)} readings in batches of ${batchSize}`);
  const warmLoad = buildLoad({ devices, batchSize, rounds: 1, startMs, stepMs: STEP_MS });
  const files = phaseFiles(`${path}-peak-${batchSize}`, warmLoad.registry);
  const system = await startSystem(path, files);
  let publisher: Publisher | undefined;
  try {
    publisher = await Publisher.connect({ url: system.mqttUrl, clientIdPrefix: `bench-throughput-${batchSize}` });
    const warm = warmLoad.rounds[0]!;
    const readingsPerRound = warmLoad.readings;
    const warmStart = performance.now();
    const before = await judged(system);
    await publisher.publishAll(warm);
    const warmEnd = await untilJudged(system, before + readingsPerRound);
    const warmRate = readingsPerRound / ((warmEnd - warmStart) / 1000);
    // The warm-up runs slower than steady state (cold code, every device's first state): measured
    // so far at a third to two thirds of it. Three times its rate is built; rounds then go out until
    // --peak-seconds have passed, or until what was published would take twice that at the
    // warm-up's rate, as a broker that queues (Mosquitto) acknowledges far ahead of ingest.
    const rounds = fixedRounds ?? Math.min(maxRounds, Math.max(1, Math.ceil((3 * warmRate * peakSeconds) / readingsPerRound)));
    const budget = fixedRounds === undefined ? 2 * warmRate * peakSeconds : Infinity;
    progress(`warm-up: ${fmt(warmRate)} readings/s; building up to ${rounds} rounds to measure`);
    const load = buildLoad({ devices, batchSize, rounds: rounds + 1, startMs, stepMs: STEP_MS });

    const base = await judged(system);
    const kafka = path === 'kafka' ? kafkaPid() : undefined;
    const cpu0 = cpuOf(system.pids);
    const kafkaCpu0 = kafka === undefined ? undefined : cpuSecondsOf(kafka);
    const load0 = process.cpuUsage();
    const influx0 = influxUrl ? await influxState(system) : undefined;
    const t0 = performance.now();
    let readings = 0;
    let used = 0;
    while (used < rounds && (fixedRounds !== undefined || (performance.now() - t0 < peakSeconds * 1000 && readings < budget))) {
      const round = load.rounds[++used]!;
      await publisher.publishAll(round);
      readings += round.reduce((n, m) => n + m.readings, 0);
    }
    const published = performance.now();
    const end = await untilJudged(system, base + readings);
    const cpu1 = cpuOf(system.pids);
    const kafkaCpu1 = kafka === undefined ? undefined : cpuSecondsOf(kafka);
    const loadUsage = process.cpuUsage(load0);
    const seconds = (end - t0) / 1000;
    const pct = (cpuSeconds: number) => round1((cpuSeconds / seconds) * 100);
    const cpu: PeakResult['cpu'] = { loadPct: pct((loadUsage.user + loadUsage.system) / 1e6) };
    if (cpu0 !== undefined && cpu1 !== undefined) cpu.pipelinePct = pct(cpu1 - cpu0);
    const result: PeakResult = { batchSize, readings, seconds: Number(seconds.toFixed(3)), readingsPerS: Math.round(readings / seconds), cpu };
    note(`${path}, batch ${batchSize}: ${fmt(readings)} readings (${used} rounds of ${fmt(readingsPerRound)}) judged in ${seconds.toFixed(2)} s = ${fmt(result.readingsPerS)} readings/s; published in ${((published - t0) / 1000).toFixed(2)} s; CPU pipeline ${cpu.pipelinePct ?? '?'} %, load generator ${cpu.loadPct} %${kafkaCpu0 !== undefined && kafkaCpu1 !== undefined ? `, Kafka broker ${pct(kafkaCpu1 - kafkaCpu0)} %` : ''} (100 % = one core); readings history ${historyOn ? 'on' : 'off'}`);
    if (fixedRounds === undefined && used === rounds && seconds < peakSeconds / 2) {
      note(`  ${path}, batch ${batchSize}: all ${rounds} rounds built took only ${seconds.toFixed(1)} s (the warm-up ran at under a sixth of the peak); --rounds sets more`);
    }
    if (influx0) {
      // Not part of the rate: how far the sink kept up with the readings judged.
      let state = await influxState(system);
      while (state.buffered > 0 && performance.now() - end < 60_000) {
        await sleep(100);
        state = await influxState(system);
      }
      note(`  InfluxDB, measured rounds: ${fmt(state.written - influx0.written)} lines written, ${fmt(state.dropped - influx0.dropped)} dropped (sink buffer full); ${fmt(state.buffered)} still buffered ${((performance.now() - end) / 1000).toFixed(1)} s after the last reading was judged`);
    }
    return result;
  } finally {
    await publisher?.close().catch(() => undefined);
    progress(`stopping the ${path} pipeline`);
    await system.stop();
    rmSync(files.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Latency against load.

/**
 * The load's messages in order, round after round from `first` on, each with its place in the
 * round: every round lists the gateways in the same order, so the place names the gateway and
 * keeps all its batches on one connection, in seq order.
 */
function* messagesOf(load: Load, first: number): Generator<{ message: LoadMessage; slot: number }> {
  for (let r = first; r < load.rounds.length; r++) {
    const round = load.rounds[r]!;
    for (let slot = 0; slot < round.length; slot++) yield { message: round[slot]!, slot };
  }
}

interface PacedRun {
  system: System;
  /** One connection each; a gateway always publishes on the same one. */
  publishers: Publisher[];
  prober: ProberThread;
  messages: Generator<{ message: LoadMessage; slot: number }>;
}

interface PacedWindow {
  sent: number;
  windowS: number;
  achievedPerS: number;
  drainS: number;
  alert: LatencyHistogram;
  push: LatencyHistogram;
  lost: number;
  loopDelayP99Ms: number;
  cpu: NonNullable<LevelResult['cpu']>;
  stalls: ProcessStalls[];
}

/**
 * Open loop: every TICK_MS the messages due by then at `ratePerS` are published, whether or not
 * earlier ones were acknowledged, and a probe goes out every PROBE_INTERVAL_MS. Then the backlog
 * is drained and every probe answered (or timed out) before it returns.
 */
async function pacedWindow(run: PacedRun, ratePerS: number, seconds: number): Promise<PacedWindow> {
  const { system, publishers, prober, messages } = run;
  const alert = new LatencyHistogram();
  const push = new LatencyHistogram();
  const lostBefore = prober.lost;
  const probes: Promise<void>[] = [];
  const publishes: Promise<unknown>[] = [];
  let publishError: unknown;
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();

  const base = await judged(system);
  const stallsMark = await stallsBefore(system);
  const broker = system.brokerPid?.();
  const cpu0 = { pipeline: cpuOf(system.pids), broker: broker === undefined ? undefined : cpuSecondsOf(broker), load: process.cpuUsage() };
  let sent = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  // The achieved rate is counted from here: at the start nothing is in flight yet, at the end some is.
  const rampEnd = start + Math.min(1000, (seconds * 1000) / 5);
  let fromRamp: Promise<{ value: number; atMs: number }> | undefined;
  let nextProbe = start;
  for (let now = start; now < end; now = performance.now()) {
    if (!fromRamp && now >= rampEnd) fromRamp = judgedNow(system);
    const due = (ratePerS * (now - start)) / 1000;
    while (sent < due) {
      const m = messages.next();
      if (m.done) throw new Error(`the levels load ran out after ${fmt(sent)} readings at ${fmt(ratePerS)} readings/s`);
      const { message, slot } = m.value;
      sent += message.readings;
      publishes.push(publishers[slot % publishers.length]!.publishOne(message.topic, message.payload).catch((err: unknown) => {
        publishError ??= err;
      }));
    }
    while (nextProbe <= now) {
      nextProbe += PROBE_INTERVAL_MS;
      probes.push(prober.probe().then((p) => {
        if (p.alertMs !== undefined) alert.recordMs(p.alertMs);
        if (p.pushMs !== undefined) push.recordMs(p.pushMs);
      }));
    }
    if (publishError) throw publishError;
    await sleep(TICK_MS);
  }
  const windowS = (performance.now() - start) / 1000;
  const pctOf = (from: number | undefined, to: number | undefined) => (from === undefined || to === undefined ? undefined : round1(((to - from) / windowS) * 100));
  const loadUsage = process.cpuUsage(cpu0.load);
  const cpu = {
    pipelinePct: pctOf(cpu0.pipeline, cpuOf(system.pids)),
    brokerPct: pctOf(cpu0.broker, broker === undefined ? undefined : cpuSecondsOf(broker)),
    loadPct: round1(((loadUsage.user + loadUsage.system) / 1e6 / windowS) * 100),
  };
  // Before judgedNow: its scrape of the processor would restart that process's delay histogram.
  const stalls = await stallsSince(system, stallsMark);
  const atEnd = await judgedNow(system);
  const ramp = (await fromRamp) ?? { value: base, atMs: start };
  const achievedPerS = (atEnd.value - ramp.value) / ((atEnd.atMs - ramp.atMs) / 1000);
  loopDelay.disable();

  await Promise.all(publishes);
  if (publishError) throw publishError;
  const drainStart = performance.now();
  await untilJudged(system, base + sent);
  const drainS = (performance.now() - drainStart) / 1000;
  await Promise.all(probes);
  return { sent, windowS, achievedPerS, drainS, alert, push, lost: prober.lost - lostBefore, loopDelayP99Ms: loopDelay.percentile(99) / 1e6, cpu, stalls };
}

async function measureLevels(path: PathName, measuredPeakPerS: number): Promise<LevelResult[]> {
  const peakPerS = levelsOf ?? measuredPeakPerS;
  const devices = devicesOf(path);
  // Warm-up: two rounds as fast as possible (every device's first and second reading, which take
  // detector paths later ones do not), then the first level, paced, for up to 5 s, uncounted.
  const warmPacedS = Math.min(5, secondsPerLevel);
  const offered = levels.reduce((n, l) => n + (l / 100) * peakPerS * secondsPerLevel, (levels[0]! / 100) * peakPerS * warmPacedS);
  const rounds = 2 + Math.ceil((offered * 1.05) / devices) + 1;
  if (rounds * devices > MAX_LOAD_READINGS * 1.5) note(`  ${path}: the levels need ${fmt(rounds * devices)} readings in memory`);
  progress(`building ${rounds} rounds of ${fmt(devices)} readings in batches of ${LEVEL_BATCH} for the levels`);
  const load = buildLoad({ devices, batchSize: LEVEL_BATCH, rounds });
  const probeCount = 2 * WARM_PROBES + Math.ceil(((levels.length * secondsPerLevel + warmPacedS) * 1000) / PROBE_INTERVAL_MS) + 50;
  const probeIds = Array.from({ length: probeCount }, (_, i) => `HA-PROBE-${String(i).padStart(6, '0')}`);
  const registry: DeviceRecord[] = [...load.registry, ...probeIds.map((deviceId) => ({ deviceId, kind: 'home_gas_alarm' as const, gatewayId: 'GW-PROBE', district: '城东区', reportIntervalS: 30 }))];
  const files = phaseFiles(`${path}-levels`, registry);
  const system = await startSystem(path, files);
  const publishers: Publisher[] = [];
  let prober: ProberThread | undefined;
  let restorePriority: (() => void) | undefined;
  try {
    const technician = await issueToken(system.apiUrl, { name: 'bench phone', role: 'technician', personId: BENCH_TECHNICIAN });
    const operator = await issueToken(system.apiUrl, { name: 'bench control room', role: 'operator' });
    prober = await ProberThread.start({
      mqttUrl: system.mqttUrl,
      alertStreamUrl: `${system.apiUrl}/api/v1/stream/alerts?access_token=${operator}`,
      pushStreamUrl: `${system.apiUrl}/api/v1/stream?access_token=${technician}`,
      deviceIds: probeIds,
    });
    for (let i = 0; i < PACED_CONNECTIONS; i++) publishers.push(await Publisher.connect({ url: system.mqttUrl, clients: 1, clientIdPrefix: `bench-throughput-paced-${i}` }));
    // The prober thread keeps its priority: only the load yields.
    restorePriority = lowerLoadPriority([prober.tid]);

    for (const warm of load.rounds.slice(0, 2)) {
      const before = await judged(system);
      await Promise.all(publishers.map((p, i) => p.publishAll(warm.filter((_, slot) => slot % publishers.length === i))));
      await untilJudged(system, before + warm.reduce((n, m) => n + m.readings, 0));
    }
    for (let i = 0; i < WARM_PROBES; i++) await prober.probe();
    const run: PacedRun = { system, publishers, prober, messages: messagesOf(load, 2) };
    await pacedWindow(run, (levels[0]! / 100) * peakPerS, warmPacedS);
    progress(`warmed up; ${levels.length} levels of ${secondsPerLevel} s against ${levelsOf ? `${fmt(peakPerS)} readings/s (--levels-of; the peak measured was ${fmt(measuredPeakPerS)})` : `a peak of ${fmt(peakPerS)} readings/s`}`);

    const results: LevelResult[] = [];
    for (const level of levels) {
      const w = await pacedWindow(run, (level / 100) * peakPerS, secondsPerLevel);
      const result: LevelResult = {
        loadPct: level,
        offeredReadingsPerS: Math.round(w.sent / w.windowS),
        achievedReadingsPerS: Math.round(w.achievedPerS),
        alertLatencyMs: w.alert.percentilesMs(),
        pushLatencyMs: w.push.percentilesMs(),
        cpu: w.cpu,
        stalls: w.stalls,
      };
      results.push(result);
      const a = result.alertLatencyMs;
      const p = result.pushLatencyMs;
      note(`${path}, ${level} % of ${fmt(peakPerS)}: offered ${fmt(result.offeredReadingsPerS)}, achieved ${fmt(result.achievedReadingsPerS)} readings/s; alert p50 ${a.p50} / p99 ${a.p99} / p99.9 ${a.p999} ms, push p50 ${p.p50} / p99 ${p.p99} / p99.9 ${p.p999} ms over ${p.count} probes${w.lost ? `, ${w.lost} lost` : ''}; backlog drained ${w.drainS.toFixed(1)} s after the window; CPU pipeline ${w.cpu.pipelinePct ?? '?'} %${w.cpu.brokerPct !== undefined ? `, Kafka broker ${w.cpu.brokerPct} %` : ''}, load generator ${w.cpu.loadPct} % (100 % = one core); load generator event loop delay p99 ${w.loopDelayP99Ms.toFixed(1)} ms; per process, event loop delay p99/max, GC pauses over 10/100 ms, main thread ran/waited for a core per s: ${w.stalls.map((x) => `${x.process} ${x.loopDelayP99Ms}/${x.loopDelayMaxMs} ms, ${x.gcOver10Ms}/${x.gcOver100Ms}, ${x.ranMsPerS ?? '?'}/${x.waitedForCoreMsPerS ?? '?'} ms`).join('; ')}`);
    }
    const atHalf = results.find((r) => r.loadPct === 50);
    note(atHalf
      ? `${path}: target push p99 ≤ 50 ms at 50 % of peak ${atHalf.pushLatencyMs.p99 <= 50 && atHalf.pushLatencyMs.count > 0 ? 'MET' : 'NOT MET'} (p99 ${atHalf.pushLatencyMs.p99} ms)`
      : `${path}: target push p99 ≤ 50 ms at 50 % of peak not measured (no 50 in --levels)`);
    return results;
  } finally {
    restorePriority?.();
    await prober?.close().catch(() => undefined);
    await Promise.all(publishers.map((p) => p.close().catch(() => undefined)));
    progress(`stopping the ${path} pipeline`);
    await system.stop();
    progress(`stopped`);
    rmSync(files.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

// Interrupted: exit through 'exit', whose handlers kill every child process still running.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const results: ThroughputResults = {};
try {
  for (const path of paths) {
    const peak: PeakResult[] = [];
    for (const batchSize of batches) peak.push(await measurePeak(path, batchSize));
    // The levels are 100-reading batches: they are paced against that batch size's peak when it was measured.
    const reference = peak.find((p) => p.batchSize === LEVEL_BATCH) ?? peak.reduce((a, b) => (b.readingsPerS > a.readingsPerS ? b : a));
    const levelResults = levels.length > 0 ? await measureLevels(path, reference.readingsPerS) : [];
    results[path] = { influx: influxUrl !== undefined, history: historyOn, peak, levels: levelResults };
  }
  writeResult(values.out, {
    benchmark: 'throughput',
    params: { paths, devices, kafkaDevices, batches, rounds: fixedRounds ?? 'auto', peakSeconds, levels, levelsOf, secondsPerLevel, probeIntervalMs: PROBE_INTERVAL_MS, levelBatchSize: LEVEL_BATCH, influx: influxUrl !== undefined, history: historyOn, kafkaBrokers: paths.includes('kafka') ? kafkaBrokers : undefined },
    results,
    summary,
  });
} finally {
  if (paths.includes('kafka')) await deleteTopics(topicPrefixes);
  await ticketsDbTemplate;
  rmSync(workDir, { recursive: true, force: true });
}
