/**
 * The million-meter burst: every device of a city reports within the same minute (all household
 * meters read at 00:00, every concentrator uploading at once) and the pipeline has to judge them
 * all. The embedded pipeline (`startPipeline`, role all, aedes broker, in-process bus) — or with
 * `--kafka` the same pipeline on Kafka (KAFKA_BROKERS) — runs in a child process with the city's
 * registry; the city simulator (simulators/city) then publishes one reading of every device from
 * `--processes` publisher processes, one MQTT connection per gateway, pre-serialised batches of
 * `--batch` readings, as fast as the broker acknowledges them.
 *
 * Measured: the drain time, from the first publish to the moment the processors had judged every
 * reading (judged + late, polled in the pipeline process every 5 ms); readings/s over it; the lag
 * (readings the broker acknowledged but the processors had not judged yet) sampled every 250 ms —
 * or as soon as the busy pipeline answers — into `series`, its peak, and on Kafka the processors'
 * consumer-group lag too; and the loss check (simulators/city/check.ts): every acknowledged
 * reading judged, every injected fault an alert. Target: 1,000,000 readings drained in ≤ 60 s
 * with nothing lost (`pass`). Silence detection is switched off: after the burst every device
 * falls silent, which is not what is measured here. The gateways stay connected until the check
 * is done. The pipeline host gets `--max-old-space-size` of 2 GB a million devices.
 *
 *   npx tsx bench/burst.ts [--meters 1000000] [--gateways 10000] [--processes 4] [--batch 100]
 *     [--fault-share 0.001] [--window 256] [--kafka] [--partitions 6] [--pipeline-heap-mb 2048 a million]
 *     [--out bench/out/burst.json]
 *   smoke: npx tsx bench/burst.ts --meters 2000 --gateways 20 --processes 2 --fault-share 0.02
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { Counter, Gauge } from 'prom-client';
import { parseSettings } from '../app/config.ts';
import { startPipeline, type RunningPipeline } from '../app/pipeline.ts';
import { checkCity, type CheckResult } from '../simulators/city/check.ts';
import { CityRun, writeRegistry, type CityRunOptions } from '../simulators/city/run.ts';
import { writeResult } from './common.ts';

const TARGET_DRAIN_S = 60;
const SAMPLE_MS = 250;

const { values } = parseArgs({
  options: {
    meters: { type: 'string', default: '1000000' },
    gateways: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    processes: { type: 'string', default: String(Math.max(1, Math.min(4, availableParallelism()))) },
    batch: { type: 'string', default: '100' },
    window: { type: 'string', default: '256' },
    'fault-share': { type: 'string', default: '0.001' },
    kafka: { type: 'boolean', default: false },
    partitions: { type: 'string', default: '6' },
    'pipeline-heap-mb': { type: 'string' },
    'settle-s': { type: 'string', default: '15' },
    'timeout-s': { type: 'string', default: '900' },
    out: { type: 'string', default: 'bench/out/burst.json' },
    /** Internal: this process is the pipeline host forked by the benchmark. */
    'pipeline-host': { type: 'boolean', default: false },
  },
});

/** Bench → pipeline host. */
type ToHost =
  | { type: 'start'; registryFile: string; dataDir: string; kafka?: { brokers: string[]; topicPrefix: string; partitions: number } }
  | { type: 'sample' }
  | { type: 'watch'; target: number }
  | { type: 'stop' };

interface HostSample {
  /** Readings the processors judged, late ones included. */
  judged: number;
  late: number;
  /** The processors' consumer-group lag on the readings topic (Kafka only). */
  kafkaLag?: number;
  heapMb: number;
  rssMb: number;
}

/** Pipeline host → bench. */
type FromHost =
  | { type: 'ready'; httpUrl: string; mqttUrl: string; adminToken: string; startSeconds: number; heapMb: number }
  | ({ type: 'sample' } & HostSample)
  | { type: 'reached'; atMs: number; judged: number }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

// --- the pipeline host: a child process with the heap the registry needs ---------------------------

async function hostPipeline(): Promise<void> {
  const send = (m: FromHost) => process.send!(m);
  let pipeline: RunningPipeline | undefined;
  let watchTimer: NodeJS.Timeout | undefined;
  const counter = (name: string) => pipeline!.metrics.registry.getSingleMetric(name) as Counter | undefined;
  const total = async (name: string) => (await counter(name)?.get())?.values.reduce((n, v) => n + v.value, 0) ?? 0;
  const judgedNow = async () => {
    const late = await total('gas_processor_late_readings_total');
    return { judged: (await total('gas_processor_readings_total')) + late, late };
  };
  process.on('message', (m: ToHost) => {
    void (async () => {
      if (m.type === 'start') {
        const started = performance.now();
        pipeline = await startPipeline({
          role: 'all', mqttPort: 0, mqttHost: '127.0.0.1', mqttClientId: 'gas-ingest-burst', httpPort: 0, httpHost: '127.0.0.1',
          dataDir: m.dataDir, registryFile: m.registryFile, adminToken: 'burst-admin', logLevel: 'warn',
          kafka: m.kafka && { brokers: m.kafka.brokers, topicPrefix: m.kafka.topicPrefix, partitions: m.kafka.partitions, clientId: 'gas-bench-burst' },
          settings: parseSettings({ silence: { missedReports: 1_000_000, gatewayMissedReports: 1_000_000, gatewayMinSilenceMs: 86_400_000 } }, 'burst'),
        }, pino({ level: 'warn' }, pino.destination(2)));
        send({
          type: 'ready', httpUrl: pipeline.httpUrl, mqttUrl: pipeline.mqttUrl!, adminToken: pipeline.adminToken!,
          startSeconds: (performance.now() - started) / 1000, heapMb: process.memoryUsage().heapUsed / 2 ** 20,
        });
      } else if (m.type === 'sample') {
        const lagGauge = pipeline!.metrics.registry.getSingleMetric('gas_kafka_consumer_lag') as Gauge | undefined;
        const kafkaLag = lagGauge
          ? (await lagGauge.get()).values.filter((v) => String(v.labels.group).startsWith('processors') && String(v.labels.topic).endsWith('gas.readings')).reduce((n, v) => n + v.value, 0)
          : undefined;
        const mem = process.memoryUsage();
        send({ type: 'sample', ...(await judgedNow()), kafkaLag, heapMb: mem.heapUsed / 2 ** 20, rssMb: mem.rss / 2 ** 20 });
      } else if (m.type === 'watch') {
        clearInterval(watchTimer);
        let busy = false;
        watchTimer = setInterval(() => {
          if (busy) return;
          busy = true;
          void judgedNow().then(({ judged }) => {
            busy = false;
            if (judged < m.target) return;
            clearInterval(watchTimer);
            send({ type: 'reached', atMs: Date.now(), judged });
          });
        }, 5);
      } else if (m.type === 'stop') {
        clearInterval(watchTimer);
        await pipeline?.stop();
        send({ type: 'stopped' });
        process.disconnect();
      }
    })().catch((err: unknown) => {
      send({ type: 'error', message: (err as Error).stack ?? String(err) });
      process.exit(1);
    });
  });
  process.on('disconnect', () => process.exit(0));
}

/** The bench's side of the host: requests and replies over IPC. */
class PipelineHost {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<FromHost['type'], Array<(m: FromHost) => void>>();
  readonly #rejects = new Set<(err: Error) => void>();
  #error?: Error;

  constructor(heapMb: number) {
    const self = fileURLToPath(import.meta.url);
    this.#child = fork(self, ['--pipeline-host'], { execArgv: ['--import', 'tsx', `--max-old-space-size=${heapMb}`], stdio: ['ignore', 2, 2, 'ipc'] });
    this.#child.on('message', (m: FromHost) => {
      if (m.type === 'error') this.#fail(new Error(`pipeline host: ${m.message}`));
      const waiters = this.#waiting.get(m.type);
      waiters?.shift()?.(m);
    });
    this.#child.on('exit', (code, signal) => this.#fail(new Error(`pipeline host exited (${signal ?? `code ${code}`})`)));
  }

  #fail(err: Error): void {
    this.#error ??= err;
    for (const list of this.#waiting.values()) list.length = 0;
    for (const reject of this.#rejects) reject(err);
    this.#rejects.clear();
  }

  /** Resolves with the next message of `type`. */
  next<T extends FromHost['type']>(type: T): Promise<Extract<FromHost, { type: T }>> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#rejects.add(reject);
      const list = this.#waiting.get(type) ?? [];
      list.push((m) => {
        this.#rejects.delete(reject);
        resolve(m as Extract<FromHost, { type: T }>);
      });
      this.#waiting.set(type, list);
    });
  }

  send(m: ToHost): void {
    this.#child.send(m);
  }

  async sample(): Promise<HostSample> {
    const reply = this.next('sample');
    this.send({ type: 'sample' });
    return reply;
  }

  /** Stops the pipeline cleanly, or kills the host after 60 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = once(this.#child, 'exit');
    if (!this.#error) this.send({ type: 'stop' });
    else this.#child.kill('SIGKILL');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  }
}

// --- the benchmark ---------------------------------------------------------------------------------

interface SeriesPoint {
  /** Seconds since the first publish. */
  t: number;
  /** Readings the broker acknowledged. */
  published: number;
  judged: number;
  lag: number;
  kafkaLag?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

async function bench(): Promise<void> {
  const meters = Number(values.meters);
  const gateways = Number(values.gateways);
  const processes = Number(values.processes);
  const path = values.kafka ? 'kafka' : 'embedded';
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  if (values.kafka && brokers.length === 0) {
    process.stderr.write('--kafka needs KAFKA_BROKERS (bash scripts/services.sh start kafka)\n');
    process.exitCode = 2;
    return;
  }
  // At a million devices the pipeline held 557 MB after start (registry, profiles, device state) and
  // peaked at 872 MB with the burst in flight: 2 GB a million leaves room.
  const heapMb = Number(values['pipeline-heap-mb'] ?? Math.max(1024, Math.ceil((meters / 1_000_000) * 2048)));
  const city = { meters, gateways, seed: Number(values.seed), faultShare: Number(values['fault-share']), hourlyMeters: false };

  const dir = mkdtempSync(join(tmpdir(), 'gas-burst-'));
  let host: PipelineHost | undefined;
  let run: CityRun | undefined;
  const interrupted = () => void Promise.all([run?.kill(), host?.stop()]).finally(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const registryFile = join(dir, 'registry.json');
    const registryStarted = performance.now();
    const registryBytes = await writeRegistry(city, registryFile);
    const registryWriteSeconds = (performance.now() - registryStarted) / 1000;

    host = new PipelineHost(heapMb);
    const ready = host.next('ready');
    host.send({
      type: 'start', registryFile, dataDir: join(dir, 'data'),
      kafka: values.kafka ? { brokers, topicPrefix: `burst.${Date.now().toString(36)}.`, partitions: Number(values.partitions) } : undefined,
    });
    const pipeline = await ready;

    const options: CityRunOptions = {
      city, mode: 'burst', url: pipeline.mqttUrl, processes, batch: Number(values.batch), window: Number(values.window),
      link: { ackTimeoutMs: 30_000, retryMinMs: 1000, retryMaxMs: 30_000, maxAttempts: 20 },
      seqStart: 1, connectConcurrency: 100,
      burstMinuteMs: Math.floor(Date.now() / 60_000) * 60_000 - 60_000,
      schedule: { meterReportAtMin: 0, utcOffsetMin: 480, meterSpreadS: 60, startMs: 0, endMs: 0, speed: 1, uploadS: 30, tickMs: 100 },
    };
    const connectStarted = performance.now();
    run = await CityRun.start(options);
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    const prepared = run.prepared;

    const reached = host.next('reached');
    host.send({ type: 'watch', target: prepared });
    const goAtMs = run.go();
    const finished = run.finished();
    let report: Awaited<typeof finished> | undefined;
    let failure: unknown;
    void finished.then((r) => (report = r), (err: unknown) => (failure = err));

    // Sample until every reading is judged, or nothing moved for --settle-s after the publishers finished.
    const series: SeriesPoint[] = [];
    let reachedAtMs: number | undefined;
    void reached.then((m) => (reachedAtMs = m.atMs), () => undefined);
    let lastJudged = -1;
    let lastMoveMs = Date.now();
    let peakHeapMb = 0;
    let peakRssMb = 0;
    const deadline = goAtMs + Number(values['timeout-s']) * 1000;
    let targetSent = false;
    for (;;) {
      if (failure) throw failure;
      const published = run.progress();
      const sample = await host.sample();
      const now = Date.now();
      peakHeapMb = Math.max(peakHeapMb, sample.heapMb);
      peakRssMb = Math.max(peakRssMb, sample.rssMb);
      if (published.firstPublishAtMs !== undefined) {
        series.push({
          t: round((now - published.firstPublishAtMs) / 1000, 3), published: published.readings, judged: sample.judged,
          lag: Math.max(0, published.readings - sample.judged), ...(sample.kafkaLag !== undefined ? { kafkaLag: sample.kafkaLag } : {}),
        });
      }
      if (sample.judged !== lastJudged) {
        lastJudged = sample.judged;
        lastMoveMs = now;
      }
      if (report && !targetSent && report.readings !== prepared) {
        // Some batches were given up: the drain ends at what the broker did acknowledge.
        host.send({ type: 'watch', target: report.readings });
        targetSent = true;
      }
      if (reachedAtMs !== undefined && report) break;
      if (report && now - lastMoveMs > Number(values['settle-s']) * 1000) break;
      if (now > deadline) throw new Error(`burst not drained after ${values['timeout-s']} s: ${sample.judged} of ${prepared} judged`);
      await sleep(SAMPLE_MS);
    }
    report ??= await finished;
    const firstPublishAtMs = Date.parse(report.firstPublishAt!);
    const final = await host.sample();
    // The series ends drained, even when the drain was quicker than one sampling interval.
    series.push({
      t: round((Date.now() - firstPublishAtMs) / 1000, 3), published: report.readings, judged: final.judged,
      lag: Math.max(0, report.readings - final.judged), ...(final.kafkaLag !== undefined ? { kafkaLag: final.kafkaLag } : {}),
    });

    const check: CheckResult = await checkCity(report, { api: pipeline.httpUrl, token: pipeline.adminToken, waitMs: values.kafka ? 30_000 : 5_000 });
    // The gateways stay connected through the drain and the check, as concentrators do.
    await run.close();
    const drainSeconds = reachedAtMs !== undefined ? (reachedAtMs - firstPublishAtMs) / 1000 : undefined;
    const lost = { readings: check.missingReadings, faults: check.missingFaults.length };
    const pass = drainSeconds !== undefined && drainSeconds <= TARGET_DRAIN_S && lost.readings === 0 && lost.faults === 0;
    const peakLag = series.reduce((m, p) => Math.max(m, p.lag), 0);
    const peakKafkaLag = values.kafka ? series.reduce((m, p) => Math.max(m, p.kafkaLag ?? 0), 0) : undefined;
    const readingsPerS = drainSeconds ? Math.round(check.readingsJudged / drainSeconds) : 0;

    const results = {
      path, meters, gateways,
      readingsSent: report.readings,
      readingsJudged: check.readingsJudged,
      drainSeconds: drainSeconds === undefined ? null : round(drainSeconds, 3),
      readingsPerS,
      peakLag,
      faultsInjected: check.faultsInjected,
      faultsFound: check.faultsFound,
      lost,
      pass,
      target: { drainSeconds: TARGET_DRAIN_S, lost: 0 },
      ...(peakKafkaLag !== undefined ? { peakKafkaLag } : {}),
      lateReadings: final.late,
      unexpectedAlerts: check.unexpectedAlerts.length,
      missingFaults: check.missingFaults.slice(0, 100),
      publish: {
        processes, batchSize: report.batchSize, batches: report.batches, seconds: report.publishSeconds, readingsPerS: report.readingsPerS,
        retries: report.retries, reconnects: report.reconnects, unsentReadings: report.unsentReadings, connectSeconds: round(connectSeconds),
        readingsByKind: report.readingsByKind,
      },
      pipeline: {
        startSeconds: round(pipeline.startSeconds), heapAfterStartMb: Math.round(pipeline.heapMb), peakHeapMb: Math.round(peakHeapMb),
        peakRssMb: Math.round(peakRssMb), maxOldSpaceMb: heapMb,
      },
      registry: { devices: meters, bytes: registryBytes, writeSeconds: round(registryWriteSeconds) },
      series,
    };
    const fmt = (n: number) => n.toLocaleString('en-US');
    writeResult(values.out, {
      benchmark: 'burst',
      params: { meters, gateways, seed: city.seed, processes, batch: options.batch, window: options.window, faultShare: city.faultShare, path, ...(values.kafka ? { partitions: Number(values.partitions) } : {}) },
      results,
      summary: [
        `burst of ${fmt(report.readings)} readings from ${fmt(gateways)} gateways (${path}): ` +
          (drainSeconds === undefined ? 'not drained' : `drained in ${drainSeconds.toFixed(1)} s = ${fmt(readingsPerS)} readings/s`) +
          `, peak lag ${fmt(peakLag)}${peakKafkaLag !== undefined ? ` (Kafka consumer lag ${fmt(peakKafkaLag)})` : ''}`,
        `published in ${report.publishSeconds.toFixed(1)} s by ${processes} processes (${fmt(report.readingsPerS)} readings/s acknowledged, ${report.retries} retries)`,
        `loss: ${fmt(lost.readings)} readings not judged, ${lost.faults} of ${check.faultsInjected} faults not alerted (${check.unexpectedAlerts.length} unexpected alerts)`,
        `${pass ? 'PASS' : 'FAIL'}: target ≤ ${TARGET_DRAIN_S} s with nothing lost; pipeline heap peak ${Math.round(peakHeapMb)} MB of ${heapMb} MB, registry ${Math.round(registryBytes / 2 ** 20)} MB loaded in a ${pipeline.startSeconds.toFixed(1)} s start`,
      ],
    });
  } finally {
    await run?.kill();
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values['pipeline-host']) await hostPipeline();
else await bench();
