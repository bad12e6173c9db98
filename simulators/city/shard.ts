/**
 * One publisher process's share of the city: a contiguous range of gateways and their devices.
 * It connects each gateway, then either sends one reading of every device as fast as the broker
 * accepts (burst) or follows the reporting schedule in simulated time (schedule), and counts what
 * the broker acknowledged: readings per kind, batches, retries, and the faults whose revealing
 * readings were delivered.
 */
import { readFileSync } from 'node:fs';
import type { DeviceKind } from '../../contracts/messages.ts';
import { mulberry32 } from '../fleet.ts';
import { City, gatewayIdOf, hash32, SALT, shardGateways, type CityOptions } from './city.ts';
import { FAULT_BY_NAME, type FaultSpec, type InjectedFault } from './faults.ts';
import { GatewayLink, type LinkCounters, type LinkOptions } from './gateway-link.ts';
import { CityReadings } from './readings.ts';
import { burstTime, PhaseSet, ReportSchedule, uploadPhase, type ScheduleOptions } from './schedule.ts';

export type CityMode = 'burst' | 'schedule';

export interface ScheduleRun extends ScheduleOptions {
  /** Simulated time the run starts and ends, epoch ms. */
  startMs: number;
  endMs: number;
  /** Simulated ms per wall ms. */
  speed: number;
  /** Each gateway uploads what it collected this often, simulated s. */
  uploadS: number;
  /** Wall time between steps of the simulated clock, ms. */
  tickMs: number;
}

export interface ShardOptions {
  city: CityOptions;
  mode: CityMode;
  url: string;
  shard: number;
  shards: number;
  /** Most readings in one batch. */
  batch: number;
  /** Batches published and not yet acknowledged, over the shard's gateways (each has at most one). */
  window: number;
  link: Omit<LinkOptions, 'url' | 'password'>;
  /** Seq of each gateway's first batch. */
  seqStart: number;
  /** `gatewayId:password` lines, for a broker without anonymous access. */
  credentialsFile?: string;
  /** Gateways connecting at once. */
  connectConcurrency: number;
  /** Burst: the simulated minute every device is read in, epoch ms. */
  burstMinuteMs: number;
  schedule: ScheduleRun;
}

export const KIND_NAMES: readonly DeviceKind[] = ['household_meter', 'home_gas_alarm', 'industrial_controller', 'flow_meter', 'alarm_controller'];

export interface ShardProgress {
  /** Readings in batches the broker acknowledged. */
  readings: number;
  batches: number;
  retries: number;
  reconnects: number;
  /** Batches built and waiting for their gateway or the window. */
  queuedBatches: number;
  /** Readings in batches given up after `maxAttempts`. */
  unsentReadings: number;
  unsentBatches: number;
  /** Wall clock of the first publish and the last PUBACK, epoch ms. */
  firstPublishAtMs?: number;
  lastAckAtMs?: number;
  /** Simulated time reached. */
  simAtMs: number;
}

export interface ShardReport extends ShardProgress {
  shard: number;
  /** Gateway indices `[from, to)`. */
  gateways: { from: number; to: number };
  devices: number;
  readingsByKind: Record<DeviceKind, number>;
  maxQueuedBatches: number;
  /** Devices of the shard given a fault. */
  faultDevices: number;
  /** Alerts the delivered readings must raise. */
  faults: InjectedFault[];
  /** Alerts of faulty devices whose revealing readings were not all delivered (none in a finished burst). */
  faultsNotShown: InjectedFault[];
}

interface Batch {
  payload: Buffer;
  /** Device of each reading, in order. */
  devices: Int32Array;
}

interface FaultWatch {
  spec: FaultSpec;
  /** Linked alarm: its valve meter, whose reading must be delivered before the alarm's. */
  valve: number;
  valveSeen: boolean;
  /** Readings delivered that can show the fault. */
  shown: number;
}

/** At most `size` holders at once. */
class Window {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

function readCredentials(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf(':');
    if (line.trim() === '' || line.startsWith('#') || at <= 0) continue;
    out.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Shard {
  readonly city: City;
  readonly readings: CityReadings;
  readonly from: number;
  readonly to: number;
  readonly #links: GatewayLink[];
  readonly #seq: number[];
  readonly #chains: Array<Promise<void>>;
  readonly #window: Window;
  readonly #counters: LinkCounters = { retries: 0, reconnects: 0 };
  readonly #byKind = new Float64Array(KIND_NAMES.length);
  readonly #kindIndex = new Map(KIND_NAMES.map((k, n) => [k, n]));
  readonly #faulty = new Map<number, FaultWatch>();
  /** Valve meter → the faulty linked alarms waiting for its reading. */
  readonly #valves = new Map<number, number[]>();
  #prepared?: Batch[][];
  #readings = 0;
  #batches = 0;
  #queued = 0;
  #maxQueued = 0;
  #unsentReadings = 0;
  #unsentBatches = 0;
  #firstPublishAtMs?: number;
  #lastAckAtMs?: number;
  #simAtMs: number;

  constructor(readonly options: ShardOptions) {
    this.city = new City(options.city);
    this.readings = new CityReadings(this.city);
    ({ from: this.from, to: this.to } = shardGateways(this.city.gateways, options.shard, options.shards));
    const credentials = options.credentialsFile ? readCredentials(options.credentialsFile) : undefined;
    this.#links = [];
    for (let g = this.from; g < this.to; g++) {
      const gatewayId = gatewayIdOf(g);
      const password = credentials?.get(gatewayId);
      if (credentials && password === undefined) throw new Error(`${options.credentialsFile} has no password for ${gatewayId}`);
      const random = mulberry32(hash32(options.city.seed, SALT.retry, g));
      this.#links.push(new GatewayLink(gatewayId, { ...options.link, url: options.url, password }, this.#counters, random));
    }
    this.#seq = this.#links.map(() => options.seqStart);
    this.#chains = this.#links.map(() => Promise.resolve());
    this.#window = new Window(options.window);
    this.#simAtMs = options.mode === 'burst' ? options.burstMinuteMs : options.schedule.startMs;
    for (const i of this.devices()) {
      const fault = this.city.faultOf(i);
      if (fault === undefined) continue;
      const valve = this.city.valveOf(i);
      this.#faulty.set(i, { spec: FAULT_BY_NAME.get(fault)!, valve, valveSeen: false, shown: 0 });
      if (valve >= 0) this.#valves.set(valve, [...(this.#valves.get(valve) ?? []), i]);
    }
  }

  /** The shard's devices, gateway by gateway in poll order. */
  *devices(): IterableIterator<number> {
    for (let g = this.from; g < this.to; g++) yield* this.city.devicesOf(g);
  }

  get deviceCount(): number {
    let n = 0;
    for (let g = this.from; g < this.to; g++) n += this.city.devicesOnGateway(g);
    return n;
  }

  /** Connects every gateway, a few at a time. */
  async connect(): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < this.#links.length) await this.#links[next++]!.connect();
    };
    await Promise.all(Array.from({ length: Math.min(this.options.connectConcurrency, this.#links.length) }, worker));
  }

  /**
   * Burst: builds and serialises every gateway's batches before the clock starts, so the burst
   * measures the broker and the pipeline, not JSON.stringify. Returns the readings prepared.
   */
  prepare(): number {
    if (this.options.mode !== 'burst') return 0;
    const { burstMinuteMs } = this.options;
    let total = 0;
    this.#prepared = this.#links.map((_, k) => {
      const g = this.from + k;
      const pending: Array<[number, number]> = [];
      for (const i of this.city.devicesOf(g)) {
        const atMs = burstTime(this.city, i, burstMinuteMs);
        // A fault seen only across two readings: the gateway also forwards the previous one it holds.
        if (this.readings.needsPair(i)) pending.push([i, atMs - this.city.reportIntervalS(this.city.kindOf(i)) * 1000]);
        pending.push([i, atMs]);
      }
      total += pending.length;
      return this.#batchesOf(k, pending, (last) => last + 500);
    });
    return total;
  }

  /** The burst's payloads, gateway by gateway, as `prepare` built them (before `run` sends them). */
  preparedPayloads(): Array<{ gatewayId: string; payloads: Buffer[] }> {
    return (this.#prepared ?? []).map((batches, k) => ({ gatewayId: this.#links[k]!.gatewayId, payloads: batches.map((b) => b.payload) }));
  }

  /** Runs the mode to its end and reports; every batch is acknowledged or given up by then. */
  async run(): Promise<ShardReport> {
    if (this.options.mode === 'burst') {
      const prepared = this.#prepared ?? (this.prepare(), this.#prepared!);
      prepared.forEach((batches, k) => batches.forEach((b) => this.#enqueue(k, b)));
      this.#prepared = undefined;
      this.#simAtMs = this.options.burstMinuteMs + 60_000;
    } else {
      await this.#runSchedule();
    }
    await Promise.all(this.#chains);
    return this.report();
  }

  progress(): ShardProgress {
    return {
      readings: this.#readings,
      batches: this.#batches,
      retries: this.#counters.retries,
      reconnects: this.#counters.reconnects,
      queuedBatches: this.#queued,
      unsentReadings: this.#unsentReadings,
      unsentBatches: this.#unsentBatches,
      firstPublishAtMs: this.#firstPublishAtMs,
      lastAckAtMs: this.#lastAckAtMs,
      simAtMs: this.#simAtMs,
    };
  }

  report(): ShardReport {
    const faults: InjectedFault[] = [];
    const faultsNotShown: InjectedFault[] = [];
    for (const [i, watch] of this.#faulty) {
      const deviceId = this.city.deviceId(i);
      const shown = watch.shown >= (watch.spec.pair ? 2 : 1);
      for (const condition of watch.spec.conditions) (shown ? faults : faultsNotShown).push({ deviceId, condition });
    }
    return {
      ...this.progress(),
      shard: this.options.shard,
      gateways: { from: this.from, to: this.to },
      devices: this.deviceCount,
      readingsByKind: Object.fromEntries(KIND_NAMES.map((k, n) => [k, this.#byKind[n]!])) as Record<DeviceKind, number>,
      maxQueuedBatches: this.#maxQueued,
      faultDevices: this.#faulty.size,
      faults,
      faultsNotShown,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.#links.map((l) => l.close()));
  }

  /** Batches of at most `batch` readings, seq rising, `sentAt` from the last reading's time. */
  #batchesOf(k: number, pending: ReadonlyArray<readonly [number, number]>, sentAtOf: (lastAtMs: number) => number): Batch[] {
    const gatewayId = this.#links[k]!.gatewayId;
    const out: Batch[] = [];
    for (let start = 0; start < pending.length; start += this.options.batch) {
      const part = pending.slice(start, start + this.options.batch);
      const readings = part.map(([i, atMs]) => this.readings.reading(i, atMs));
      const sentAt = new Date(sentAtOf(part[part.length - 1]![1])).toISOString();
      const payload = Buffer.from(JSON.stringify({ gatewayId, seq: this.#seq[k]!++, sentAt, readings }));
      out.push({ payload, devices: Int32Array.from(part, (p) => p[0]) });
    }
    return out;
  }

  #enqueue(k: number, batch: Batch): void {
    this.#queued++;
    if (this.#queued > this.#maxQueued) this.#maxQueued = this.#queued;
    this.#chains[k] = this.#chains[k]!.then(() => this.#send(k, batch));
  }

  async #send(k: number, batch: Batch): Promise<void> {
    await this.#window.acquire();
    this.#queued--;
    try {
      this.#firstPublishAtMs ??= Date.now();
      if (await this.#links[k]!.publish(batch.payload)) this.#delivered(batch);
      else {
        this.#unsentBatches++;
        this.#unsentReadings += batch.devices.length;
      }
    } finally {
      this.#window.release();
    }
  }

  #delivered(batch: Batch): void {
    this.#lastAckAtMs = Date.now();
    this.#batches++;
    this.#readings += batch.devices.length;
    for (const i of batch.devices) {
      this.#byKind[this.#kindIndex.get(this.city.kindOf(i))!]!++;
      if (this.#faulty.size === 0) continue;
      const alarms = this.#valves.get(i);
      if (alarms) for (const a of alarms) this.#faulty.get(a)!.valveSeen = true;
      const watch = this.#faulty.get(i);
      // A linked alarm's reading shows VALVE_NOT_CUT only once its valve's state is known.
      if (watch && (watch.valve < 0 || watch.valveSeen)) watch.shown++;
    }
  }

  async #runSchedule(): Promise<void> {
    const run = this.options.schedule;
    const uploadMs = run.uploadS * 1000;
    const schedule = new ReportSchedule(this.city, this.devices(), run);
    const uploads = new PhaseSet(uploadMs, this.#links.map((_, k) => [k, uploadPhase(this.city, this.from + k, uploadMs)] as const));
    // Per gateway: readings collected and not yet uploaded, as (device, atMs) pairs.
    const collected: Array<Array<[number, number]>> = this.#links.map(() => []);
    const upload = (k: number, atMs: number) => {
      const list = collected[k]!;
      if (list.length === 0) return;
      const due = list.filter((r) => r[1] <= atMs).sort((a, b) => a[1] - b[1]);
      if (due.length === 0) return;
      collected[k] = list.filter((r) => r[1] > atMs);
      for (const b of this.#batchesOf(k, due, () => atMs)) this.#enqueue(k, b);
    };
    const wallStart = Date.now();
    let simFrom = run.startMs;
    for (;;) {
      const simTo = Math.min(run.endMs, run.startMs + (Date.now() - wallStart) * run.speed);
      schedule.due(simFrom, simTo, (i, atMs) => collected[this.city.gatewayOf(i) - this.from]!.push([i, atMs]));
      uploads.due(simFrom, simTo, upload);
      simFrom = simTo;
      this.#simAtMs = simTo;
      if (simTo >= run.endMs) break;
      await sleep(run.tickMs);
    }
    // The run ends with every gateway uploading what it still holds.
    for (let k = 0; k < this.#links.length; k++) upload(k, run.endMs);
  }
}
