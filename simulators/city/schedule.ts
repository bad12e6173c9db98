/**
 * When city devices report and gateways upload, in simulated time. Every device reports at a fixed
 * phase of its kind's interval: household meters all at the same local time of day (or hour) within
 * a short spread — the synchronised read that makes the midnight burst — controllers and flow
 * meters hourly and gas alarms every 30 s at phases spread by the seed.
 */
import type { DeviceKind } from '../../contracts/messages.ts';
import { hash01, SALT, type City } from './city.ts';

export interface ScheduleOptions {
  /** Local time of day household meters report, minutes after midnight (hourly meters: its minute of the hour). */
  meterReportAtMin: number;
  /** The city's offset from UTC, minutes (China: 480). */
  utcOffsetMin: number;
  /** Household meters report within this many seconds after the report time: 60 puts them all in one minute. */
  meterSpreadS: number;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const mod = (a: number, n: number): number => ((a % n) + n) % n;

/** A device's reporting period and its phase in it, ms after the UTC epoch modulo the period. */
export function reportPhase(city: City, i: number, kind: DeviceKind, options: ScheduleOptions): { intervalMs: number; phaseMs: number } {
  const intervalMs = city.reportIntervalS(kind) * 1000;
  const u = hash01(city.options.seed, SALT.phase, i);
  if (kind === 'household_meter') {
    const reportAtMs = (options.meterReportAtMin - options.utcOffsetMin) * 60_000;
    return { intervalMs, phaseMs: mod(reportAtMs + Math.floor(u * options.meterSpreadS * 1000), intervalMs) };
  }
  return { intervalMs, phaseMs: Math.floor(u * intervalMs) };
}

/** The latest household-meter report time at or before `ms` (the start of its spread). */
export function lastMeterReportAt(ms: number, options: ScheduleOptions, hourlyMeters: boolean): number {
  const period = hourlyMeters ? HOUR_MS : DAY_MS;
  const phase = mod((options.meterReportAtMin - options.utcOffsetMin) * 60_000, period);
  return Math.floor((ms - phase) / period) * period + phase;
}

/** Members (devices or gateways) that recur every `intervalMs` at their own phase. */
export class PhaseSet {
  readonly #phases: Float64Array;
  readonly #members: Int32Array;

  constructor(
    readonly intervalMs: number,
    entries: ReadonlyArray<readonly [member: number, phaseMs: number]>,
  ) {
    const sorted = [...entries].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    this.#phases = Float64Array.from(sorted, (e) => e[1]);
    this.#members = Int32Array.from(sorted, (e) => e[0]);
  }

  get size(): number {
    return this.#members.length;
  }

  /** Calls `visit` for every occurrence in `(fromMs, toMs]`, in time order. */
  due(fromMs: number, toMs: number, visit: (member: number, atMs: number) => void): void {
    const interval = this.intervalMs;
    const phases = this.#phases;
    for (let cycle = Math.floor(fromMs / interval); cycle * interval <= toMs; cycle++) {
      const base = cycle * interval;
      // First phase with base + phase > fromMs.
      let lo = 0;
      let hi = phases.length;
      const after = fromMs - base;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (phases[mid]! > after) hi = mid;
        else lo = mid + 1;
      }
      for (let k = lo; k < phases.length && base + phases[k]! <= toMs; k++) visit(this.#members[k]!, base + phases[k]!);
    }
  }
}

/** The reporting schedule of a set of devices: one phase set per interval. */
export class ReportSchedule {
  readonly sets: PhaseSet[];

  constructor(city: City, devices: Iterable<number>, options: ScheduleOptions) {
    const byInterval = new Map<number, Array<[number, number]>>();
    for (const i of devices) {
      const { intervalMs, phaseMs } = reportPhase(city, i, city.kindOf(i), options);
      let list = byInterval.get(intervalMs);
      if (!list) byInterval.set(intervalMs, (list = []));
      list.push([i, phaseMs]);
    }
    this.sets = [...byInterval].map(([intervalMs, entries]) => new PhaseSet(intervalMs, entries));
  }

  /** Every report in `(fromMs, toMs]`; in time order within each interval, not across them. */
  due(fromMs: number, toMs: number, visit: (device: number, atMs: number) => void): void {
    for (const set of this.sets) set.due(fromMs, toMs, visit);
  }
}

/** A gateway's upload phase in its upload period, ms. */
export function uploadPhase(city: City, g: number, uploadMs: number): number {
  return Math.floor(hash01(city.options.seed, SALT.upload, g) * uploadMs);
}

/**
 * Burst: when each device of a gateway is read within one minute from `minuteMs`, in poll order:
 * the gateway walks its devices across the minute, so the times rise with the position.
 */
export function burstTime(city: City, i: number, minuteMs: number): number {
  const g = city.gatewayOf(i);
  const position = Math.floor(i / city.gateways);
  const slotMs = 60_000 / city.devicesOnGateway(g);
  return minuteMs + Math.floor((position + 0.9 * hash01(city.options.seed, SALT.poll, i)) * slotMs);
}
