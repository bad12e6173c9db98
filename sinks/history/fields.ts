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

/** A field's value in a reading, NaN when the reading does not carry it. */
export function fieldValue(reading: Reading, field: HistoryField): number {
  // A property named in code, not looked up by a variable key: readings of five shapes stay fast on the hot path.
  let v: number | null | undefined;
  switch (field) {
    case 'lelPct':
      if (reading.detectors) {
        let max = NaN;
        for (const d of reading.detectors) if (typeof d.lelPct === 'number' && !(d.lelPct <= max)) max = d.lelPct;
        return max;
      }
      v = reading.lelPct;
      break;
    case 'volumeM3':
      v = reading.volumeM3;
      break;
    case 'balanceM3':
      v = reading.balanceM3;
      break;
    case 'batteryV':
      v = reading.batteryV;
      break;
    case 'flowM3h':
      v = reading.flowM3h;
      break;
    case 'pressureKPa':
      v = reading.pressureKPa;
      break;
    case 'temperatureC':
      v = reading.temperatureC;
      break;
    case 'externalPowerV':
      v = reading.externalPowerV;
      break;
    case 'flowMeterVolumeM3':
      v = reading.flowMeterVolumeM3;
      break;
    case 'mainPowerV':
      v = reading.mainPowerV;
      break;
    case 'mainLoadPct':
      v = reading.mainLoadPct;
      break;
    case 'backupV':
      v = reading.backupV;
      break;
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

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
