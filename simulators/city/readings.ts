/**
 * A city device's reading at any time, from (seed, index, time) alone: no device keeps state, so
 * a shard can produce any reading of any device and the same seed gives the same traffic. Normal
 * values stay inside what raises nothing (as in fleet.ts); a faulty device shows its fault.
 */
import type { DetectorChannel, DeviceKind } from '../../contracts/messages.ts';
import { DETECTOR_CHANNELS, MAIN_LOAD_PCT, MAINS_V, BACKUP_V, NOMINAL_BATTERY_V, type WireReading } from '../fleet.ts';
import { hash01, hash32, SALT, vendorOf, type City } from './city.ts';
import { FAULT_BY_NAME, type FaultEffect } from './faults.ts';

/** Counters start here: volumes grow from a device's base at its mean rate since then. */
const COUNT_EPOCH_MS = Date.UTC(2024, 0, 1);
const MS_PER_HOUR = 3_600_000;

const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

const NO_EFFECT: FaultEffect = Object.freeze({});

/** Builds readings of one city; one per shard or test. */
export class CityReadings {
  readonly #fixed: number;
  readonly #varying: number;

  constructor(readonly city: City) {
    this.#fixed = hash32(city.options.seed, SALT.value, 1);
    this.#varying = hash32(city.options.seed, SALT.value, 2);
  }

  /** The device's reading measured at `atMs`. A fresh object. */
  reading(i: number, atMs: number): WireReading {
    const city = this.city;
    const kind = city.kindOf(i);
    const deviceId = city.deviceId(i);
    const fault = city.faultOf(i);
    const effect = fault === undefined ? NO_EFFECT : FAULT_BY_NAME.get(fault)!.effect;
    const at = new Date(atMs).toISOString();
    const hours = Math.max(0, atMs - COUNT_EPOCH_MS) / MS_PER_HOUR;
    // Per device: fixed draws; per report (the second it measured): varying draws.
    const fixed = (n: number) => hash01(this.#fixed, i, n);
    const second = Math.floor(atMs / 1000);
    const vary = (n: number) => hash01(this.#varying, i, second, n);
    const status = effect.status ? { status: [...effect.status] } : {};
    switch (kind) {
      case 'household_meter':
      case 'industrial_controller': {
        const household = kind === 'household_meter';
        const vendor = vendorOf(kind, city.serialOf(i))!;
        const base = household ? 100 + 2900 * fixed(0) : 2000 + 18_000 * fixed(0);
        // Mean draw: a home 0.02–0.2 m³/h, a commercial kitchen 2–12 m³/h, both well under Qmax.
        const rate = household ? 0.02 + 0.18 * fixed(1) : 2 + 10 * fixed(1);
        // A shut valve stops the count; a self-metering one counts on regardless.
        const counted = effect.valveClosed ? (effect.phantomM3h ?? 0) : rate;
        const volumeM3 = r3(base + counted * hours);
        // Prepaid gas bought in lumps well before the meter would warn (欠量 under 5 m³).
        const lump = household ? 200 : 4000;
        const balanceM3 = r3(20 + (((fixed(2) * lump - rate * hours) % lump) + lump) % lump);
        const batteryV = effect.batteryV ?? r2((NOMINAL_BATTERY_V[vendor] ?? 3.6) + (vary(0) - 0.5) * 0.02);
        const valve = effect.valveClosed ? 'closed' : 'open';
        if (household) return { deviceId, kind, at, ...status, vendor, volumeM3, balanceM3, batteryV, valve };
        return {
          deviceId, kind, at, ...status, vendor, volumeM3, balanceM3, batteryV,
          externalPowerV: effect.externalPowerV ?? r1(12 + (vary(1) - 0.5) * 0.2), valve, flowMeterId: `${deviceId}-FM`, flowMeterVolumeM3: volumeM3,
        };
      }
      case 'flow_meter': {
        const mean = 30 + 60 * fixed(1);
        const flowM3h = effect.flowM3h ?? Math.min(120, Math.max(20, mean + (vary(0) - 0.5) * 20));
        const counted = effect.phantomM3h ?? effect.flowM3h ?? mean;
        return {
          deviceId, kind, at, ...status, flowM3h: r1(flowM3h), volumeM3: r3(10_000 + 90_000 * fixed(0) + counted * hours),
          temperatureC: r1(18 + 4 * vary(1)), pressureKPa: r1(245 + 10 * vary(2)), batteryV: effect.batteryV ?? r2(3.6 + (vary(3) - 0.5) * 0.02),
        };
      }
      case 'home_gas_alarm': {
        const linked = city.valveOf(i) >= 0;
        const valve = linked ? {} : { valve: effect.valveClosed ? ('closed' as const) : ('open' as const) };
        if (effect.leak) return { deviceId, kind, at, lelPct: 60, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', ...valve };
        return { deviceId, kind, at, lelPct: r1(3 * vary(0)), lamps: { power: true, fault: false, alarm: false }, buzzer: 'off', ...valve };
      }
      case 'alarm_controller': {
        const detectors: DetectorChannel[] = new Array(DETECTOR_CHANNELS);
        for (let c = 0; c < DETECTOR_CHANNELS; c++) {
          detectors[c] = { channel: c + 1, lelPct: effect.channel?.channel === c + 1 ? effect.channel.lelPct : r1(2 * vary(1 + c)) };
        }
        return {
          deviceId, kind, at, mainPowerV: r1(MAINS_V + (vary(0) - 0.5) * 6), mainLoadPct: effect.mainLoadPct ?? MAIN_LOAD_PCT,
          backupV: BACKUP_V, backup: 'ok', detectors,
        };
      }
    }
  }

  /** Whether the device's fault shows only across two readings (it sends its previous one too in a burst). */
  needsPair(i: number): boolean {
    const fault = this.city.faultOf(i);
    return fault !== undefined && FAULT_BY_NAME.get(fault)!.pair === true;
  }

  kindOf(i: number): DeviceKind {
    return this.city.kindOf(i);
  }
}
