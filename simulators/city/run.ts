/**
 * Runs the city over several publisher processes: forks one per shard (`node --import tsx`),
 * waits until every shard is connected and prepared, starts them together, and merges what they
 * report into one `CityReport`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceKind } from '../../contracts/messages.ts';
import { City, type CityOptions } from './city.ts';
import type { InjectedFault } from './faults.ts';
import { KIND_NAMES, type CityMode, type ShardOptions, type ShardProgress, type ShardReport } from './shard.ts';
import type { FromShard, ToShard } from './shard-worker.ts';

export interface CityRunOptions extends Omit<ShardOptions, 'shard' | 'shards'> {
  /** Publisher processes; each owns a contiguous range of gateways. */
  processes: number;
}

/** Readings acknowledged so far, over all processes. */
export type CityProgress = Omit<ShardProgress, 'unsentBatches'>;

export interface ProcessReport {
  process: number;
  gateways: { from: number; to: number };
  devices: number;
  readings: number;
  batches: number;
  retries: number;
  reconnects: number;
  unsentReadings: number;
  maxQueuedBatches: number;
  publishSeconds: number;
  readingsPerS: number;
}

/** What a run sent: compare with the pipeline's counters and alerts to find loss (check.ts). */
export interface CityReport {
  mode: CityMode;
  meters: number;
  gateways: number;
  seed: number;
  processes: number;
  batchSize: number;
  /** Simulated time covered, ISO. */
  simFrom: string;
  simTo: string;
  /** Readings in batches the broker acknowledged; a retried batch counts once. */
  readings: number;
  readingsByKind: Record<DeviceKind, number>;
  /** Batches acknowledged (each mixes kinds: a gateway's devices in poll order). */
  batches: number;
  retries: number;
  reconnects: number;
  unsentReadings: number;
  unsentBatches: number;
  firstPublishAt?: string;
  lastAckAt?: string;
  /** First publish to last PUBACK, s. */
  publishSeconds: number;
  readingsPerS: number;
  perProcess: ProcessReport[];
  faultShare: number;
  faultDevices: number;
  /** Every alert the delivered readings must raise: `{ deviceId, condition }`. */
  faults: InjectedFault[];
  /** Alerts of faulty devices whose revealing readings were not delivered (a schedule too short for a pair, or given up). */
  faultsNotShown: InjectedFault[];
}

const WORKER = fileURLToPath(new URL('./shard-worker.ts', import.meta.url));

const seconds = (fromMs: number | undefined, toMs: number | undefined) => (fromMs !== undefined && toMs !== undefined ? Math.max(0, toMs - fromMs) / 1000 : 0);
const minOf = (xs: Array<number | undefined>) => xs.reduce<number | undefined>((m, x) => (x === undefined ? m : m === undefined ? x : Math.min(m, x)), undefined);
const maxOf = (xs: Array<number | undefined>) => xs.reduce<number | undefined>((m, x) => (x === undefined ? m : m === undefined ? x : Math.max(m, x)), undefined);

export function mergeProgress(parts: readonly ShardProgress[]): CityProgress {
  const sum = (f: (p: ShardProgress) => number) => parts.reduce((a, p) => a + f(p), 0);
  return {
    readings: sum((p) => p.readings),
    batches: sum((p) => p.batches),
    retries: sum((p) => p.retries),
    reconnects: sum((p) => p.reconnects),
    queuedBatches: sum((p) => p.queuedBatches),
    unsentReadings: sum((p) => p.unsentReadings),
    firstPublishAtMs: minOf(parts.map((p) => p.firstPublishAtMs)),
    lastAckAtMs: maxOf(parts.map((p) => p.lastAckAtMs)),
    simAtMs: parts.length ? Math.min(...parts.map((p) => p.simAtMs)) : 0,
  };
}

export function mergeReports(options: CityRunOptions, shards: readonly ShardReport[]): CityReport {
  const total = mergeProgress(shards);
  const readingsByKind = Object.fromEntries(KIND_NAMES.map((k) => [k, shards.reduce((a, s) => a + s.readingsByKind[k], 0)])) as Record<DeviceKind, number>;
  const publishSeconds = seconds(total.firstPublishAtMs, total.lastAckAtMs);
  const sorted = [...shards].sort((a, b) => a.shard - b.shard);
  const burst = options.mode === 'burst';
  return {
    mode: options.mode,
    meters: options.city.meters,
    gateways: options.city.gateways,
    seed: options.city.seed,
    processes: shards.length,
    batchSize: options.batch,
    simFrom: new Date(burst ? options.burstMinuteMs : options.schedule.startMs).toISOString(),
    simTo: new Date(burst ? options.burstMinuteMs + 60_000 : total.simAtMs).toISOString(),
    readings: total.readings,
    readingsByKind,
    batches: total.batches,
    retries: total.retries,
    reconnects: total.reconnects,
    unsentReadings: total.unsentReadings,
    unsentBatches: shards.reduce((a, s) => a + s.unsentBatches, 0),
    firstPublishAt: total.firstPublishAtMs !== undefined ? new Date(total.firstPublishAtMs).toISOString() : undefined,
    lastAckAt: total.lastAckAtMs !== undefined ? new Date(total.lastAckAtMs).toISOString() : undefined,
    publishSeconds,
    readingsPerS: publishSeconds > 0 ? Math.round(total.readings / publishSeconds) : 0,
    perProcess: sorted.map((s) => {
      const spanS = seconds(s.firstPublishAtMs, s.lastAckAtMs);
      return {
        process: s.shard, gateways: s.gateways, devices: s.devices, readings: s.readings, batches: s.batches, retries: s.retries,
        reconnects: s.reconnects, unsentReadings: s.unsentReadings, maxQueuedBatches: s.maxQueuedBatches,
        publishSeconds: spanS, readingsPerS: spanS > 0 ? Math.round(s.readings / spanS) : 0,
      };
    }),
    faultShare: options.city.faultShare,
    faultDevices: shards.reduce((a, s) => a + s.faultDevices, 0),
    faults: sorted.flatMap((s) => s.faults),
    faultsNotShown: sorted.flatMap((s) => s.faultsNotShown),
  };
}

interface Worker {
  child: ChildProcess;
  /** Readings the shard prepared for its burst (0 on a schedule). */
  prepared: number;
  progress?: ShardProgress;
  report?: ShardReport;
}

/**
 * A city run in progress: `start` forks and readies the publishers, `go` starts them together,
 * `finished` merges their reports while the gateways stay connected, `close` disconnects them
 * cleanly and ends the publishers. `kill` ends every publisher at once (errors and interrupts).
 */
export class CityRun {
  readonly #workers: Worker[];
  readonly #done: Promise<CityReport>;
  #failed?: Error;

  private constructor(
    readonly options: CityRunOptions,
    workers: Worker[],
    done: Promise<CityReport>,
  ) {
    this.#workers = workers;
    this.#done = done;
    // Rejections are reported through finished(); do not let an early one go unhandled.
    done.catch(() => undefined);
  }

  /** Forks the publishers; resolves once every one is connected and its burst prepared. */
  static async start(options: CityRunOptions, progressMs = 100): Promise<CityRun> {
    const processes = options.processes;
    new City(options.city); // validates before anything is forked
    if (!Number.isInteger(processes) || processes < 1 || processes > options.city.gateways) {
      throw new RangeError(`processes must be from 1 to the gateway count (${options.city.gateways}), got ${processes}`);
    }
    const workers: Worker[] = [];
    let failure: ((err: Error) => void) | undefined;
    const failed = new Promise<never>((_, reject) => (failure = reject));
    failed.catch(() => undefined);
    const readies: Array<Promise<void>> = [];
    const dones: Array<Promise<ShardReport>> = [];
    for (let shard = 0; shard < processes; shard++) {
      // The child's stdout goes to stderr: stdout is the CLI's report.
      const child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 2, 2, 'ipc'] });
      const worker: Worker = { child, prepared: 0 };
      workers.push(worker);
      readies.push(new Promise((resolve) => child.on('message', (m: FromShard) => {
        if (m.type !== 'ready') return;
        worker.prepared = m.prepared;
        resolve();
      })));
      dones.push(new Promise((resolve, reject) => {
        child.on('message', (m: FromShard) => {
          if (m.type === 'progress') worker.progress = m.progress;
          else if (m.type === 'done') resolve((worker.report = m.report));
          else if (m.type === 'error') reject(new Error(`publisher ${shard}: ${m.message}`));
        });
        child.on('exit', (code, signal) => {
          if (!worker.report) reject(new Error(`publisher ${shard} exited (${signal ?? `code ${code}`}) before reporting`));
        });
      }));
      dones[shard]!.catch((err: Error) => failure!(err));
      const start: ToShard = { type: 'start', options: { ...options, shard, shards: processes }, progressMs };
      child.send(start);
    }
    const run = new CityRun(options, workers, Promise.race([failed, Promise.all(dones).then((reports) => mergeReports(options, reports))]));
    try {
      await Promise.race([failed, Promise.all(readies)]);
    } catch (err) {
      await run.kill();
      throw err;
    }
    return run;
  }

  /** Readings the publishers prepared for the burst: what a burst sends when nothing is given up. */
  get prepared(): number {
    return this.#workers.reduce((n, w) => n + w.prepared, 0);
  }

  /** Starts every publisher at once; returns the wall clock it did, epoch ms. */
  go(): number {
    const at = Date.now();
    for (const w of this.#workers) w.child.send({ type: 'go' } satisfies ToShard);
    return at;
  }

  /** The latest counts from every publisher (each sends them every `progressMs`). */
  progress(): CityProgress {
    return mergeProgress(this.#workers.flatMap((w) => (w.progress ? [w.progress] : [])));
  }

  /** The merged report once every publisher has finished; rejects when one failed (the others are killed). */
  async finished(): Promise<CityReport> {
    try {
      return await this.#done;
    } catch (err) {
      this.#failed = err as Error;
      await this.kill();
      throw err;
    }
  }

  get failed(): Error | undefined {
    return this.#failed;
  }

  /** Disconnects every gateway cleanly (no last will) and waits for the publishers to exit. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ type: 'close' } satisfies ToShard);
      await exited;
    }));
  }

  /** Ends every publisher still running. */
  async kill(): Promise<void> {
    await Promise.all(this.#workers.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }));
  }
}

/** Forks, starts and finishes a run, and disconnects its gateways. */
export async function runCity(options: CityRunOptions, onStart?: (atMs: number, run: CityRun) => void): Promise<CityReport> {
  const run = await CityRun.start(options);
  const atMs = run.go();
  onStart?.(atMs, run);
  const report = await run.finished();
  await run.close();
  return report;
}

/**
 * Writes the registry the pipeline needs (`REGISTRY`): one lean record per device as a JSON array,
 * streamed so a million records never sit in memory at once. Returns the bytes written.
 */
export async function writeRegistry(cityOptions: CityOptions, file: string): Promise<number> {
  const city = new City(cityOptions);
  await mkdir(dirname(file), { recursive: true });
  const out = createWriteStream(file);
  let bytes = 0;
  const write = async (text: string) => {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  };
  await write('[');
  const CHUNK = 10_000;
  for (let start = 0; start < city.meters; start += CHUNK) {
    const parts: string[] = [];
    for (let i = start; i < Math.min(city.meters, start + CHUNK); i++) parts.push(JSON.stringify(city.record(i)));
    await write(`${start > 0 ? ',\n' : '\n'}${parts.join(',\n')}`);
  }
  await write('\n]\n');
  out.end();
  await once(out, 'finish');
  return bytes;
}
