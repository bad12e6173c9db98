import { DEVICE_KINDS, type DeviceKind, type Reading } from '../../contracts/messages.ts';

/**
 * What the readings history keeps of a reading: the numbers the device page charts, per kind, and
 * the status tokens. Shared by the local store and the InfluxDB query so both answer alike.
 */

/** Every charted field; an alarm controller's `lelPct` is the highest of its channels. */
export const HISTORY_FIELDS = [
  'lelPct',
  'volumeM3',
  'balanceM3',
  'batteryV',
  'flowM3h',
  'pressureKPa',
  'temperatureC',
  'externalPowerV',
  'flowMeterVolumeM3',
  'mainPowerV',
  'mainLoadPct',
  'backupV',
] as const;
export type HistoryField = (typeof HISTORY_FIELDS)[number];

/** The fields kept per kind, in the order they are stored. */
export const KIND_FIELDS: Readonly<Record<DeviceKind, readonly HistoryField[]>> = {
  household_meter: ['volumeM3', 'balanceM3', 'batteryV'],
  home_gas_alarm: ['lelPct'],
  flow_meter: ['flowM3h', 'pressureKPa', 'temperatureC', 'volumeM3'],
  industrial_controller: ['externalPowerV', 'flowMeterVolumeM3'],
  alarm_controller: ['lelPct', 'mainLoadPct', 'mainPowerV', 'backupV'],
};

/**
 * How readings merged into one point (downsampling) combine, chosen so that what matters survives:
 * a peak of gas or load stays (`max`), a dip of a voltage or the balance stays (`min`), and a
 * register (cumulative volume) keeps its newest value (`last`).
 */
export const MERGE: Readonly<Record<HistoryField, 'max' | 'min' | 'last'>> = {
  lelPct: 'max',
  mainLoadPct: 'max',
  flowM3h: 'max',
  pressureKPa: 'max',
  temperatureC: 'max',
  batteryV: 'min',
  externalPowerV: 'min',
  mainPowerV: 'min',
  backupV: 'min',
  balanceM3: 'min',
  volumeM3: 'last',
  flowMeterVolumeM3: 'last',
};

export const KIND_CODE: Readonly<Record<DeviceKind, number>> = Object.fromEntries(DEVICE_KINDS.map((k, i) => [k, i])) as Record<DeviceKind, number>;

/** A reported number, NaN when the reading does not carry it. */
function num(v: number | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

/** An alarm controller's highest channel; NaN when no channel shows a concentration. */
function highestChannel(reading: Reading): number {
  let max = NaN;
  if (reading.detectors) for (const d of reading.detectors) if (typeof d.lelPct === 'number' && !(d.lelPct <= max)) max = d.lelPct;
  return max;
}

/**
 * Per kind, writes a reading's KIND_FIELDS values, in that order, into `out` (NaN where missing).
 * One function a kind, naming its properties in code: no per-field dispatch on the hot path.
 */
export const KIND_EXTRACT: Readonly<Record<DeviceKind, (reading: Reading, out: Float64Array) => void>> = {
  household_meter(r, out) {
    out[0] = num(r.volumeM3);
    out[1] = num(r.balanceM3);
    out[2] = num(r.batteryV);
  },
  home_gas_alarm(r, out) {
    out[0] = num(r.lelPct);
  },
  flow_meter(r, out) {
    out[0] = num(r.flowM3h);
    out[1] = num(r.pressureKPa);
    out[2] = num(r.temperatureC);
    out[3] = num(r.volumeM3);
  },
  industrial_controller(r, out) {
    out[0] = num(r.externalPowerV);
    out[1] = num(r.flowMeterVolumeM3);
  },
  alarm_controller(r, out) {
    out[0] = highestChannel(r);
    out[1] = num(r.mainLoadPct);
    out[2] = num(r.mainPowerV);
    out[3] = num(r.backupV);
  },
};

/**
 * The status tokens kept for a reading: its own, plus `ch<channel> --F` for a controller's channel
 * that shows no concentration (a detector offline or in fault), which the numbers cannot show.
 */
export function statusTokens(reading: Reading): readonly string[] | undefined {
  const own = reading.status && reading.status.length > 0 ? reading.status : undefined;
  const detectors = reading.detectors;
  if (!detectors) return own;
  let silent: string[] | undefined;
  for (const d of detectors) if (d.lelPct === null) (silent ??= [...(own ?? [])]).push(`ch${d.channel} --F`);
  return silent ?? own;
}

/** Combines `b` into `a` by the field's rule; `bIsNewer` says which is the later reading (for `last`). */
export function mergeValue(field: HistoryField, a: number, b: number, bIsNewer: boolean): number {
  if (Number.isNaN(b)) return a;
  if (Number.isNaN(a)) return b;
  switch (MERGE[field]) {
    case 'max':
      return b > a ? b : a;
    case 'min':
      return b < a ? b : a;
    default:
      return bIsNewer ? b : a;
  }
}
