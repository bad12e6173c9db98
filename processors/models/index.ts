import type { DeviceKind } from '../../contracts/messages.ts';

/**
 * Meter sizes by their EN 1359 / OIML R137 designation: Qmax in m³/h. Qmin is what the standard's
 * range ratio gives for the meter's type (below): a designation names a capacity, not a technology.
 */
export const METER_SIZES = {
  'G1.6': 2.5,
  'G2.5': 4,
  'G4': 6,
  'G6': 10,
  'G10': 16,
  'G16': 25,
  'G25': 40,
  'G40': 65,
  'G65': 100,
  'G100': 160,
} as const satisfies Record<string, number>;
export type MeterSize = keyof typeof METER_SIZES;

export type MeterType = 'diaphragm' | 'turbine' | 'roots';

/**
 * Qmin per meter type. Diaphragm meters (EN 1359) have Qmin = Gn / 100 m³/h (G2.5: 0.025, G4: 0.04 —
 * the standard's table, about 1:160); turbine meters (EN 12261) are 1:20 and rotary (Roots) meters
 * (EN 12480) commonly 1:50. A registry `qminM3h` wins over all of these.
 */
export function qminOf(size: MeterSize, type: MeterType): number {
  if (type === 'diaphragm') return Number(size.slice(1)) / 100;
  return METER_SIZES[size] / (type === 'turbine' ? 20 : 50);
}

/**
 * The G designation a model name carries (`MHCG-G4`, `TBQM-G65`, `G2.5`), if any. Chinese household
 * meters are often marked J instead (J2.5 = G2.5, GB/T 6968): the same sizes.
 */
export function meterSizeIn(model: string): MeterSize | undefined {
  const m = /(?:^|[^A-Z0-9.])[GJ](1\.6|2\.5|4|6|10|16|25|40|65|100)(?![0-9.])/i.exec(model.normalize('NFKC'));
  return m ? (`G${m[1]}` as MeterSize) : undefined;
}

/** What one of a model's ERR codes means, and whether it is evidence of tampering (a magnet on the meter). */
export interface CodeMeaning {
  meaning: string;
  tamper?: boolean;
}

export type ErrCodeName = 'ERR-1' | 'ERR-2' | 'ERR-3' | 'ERR-4' | 'ERR-5' | 'ERR-6' | 'ERR-7';

/**
 * Daily-reporting NB-IoT meters wake at a slot and report within a randomised window after it, so
 * that a city's meters do not all hit the base station at once; the slot is local time.
 */
export interface ReportSchedule {
  /** Local time of the slot, `HH:MM`. */
  reportAt: string;
  /** The randomised report window plus retries after the slot, minutes. */
  reportWindowMin: number;
  /** IANA time zone of the slot. */
  reportTz: string;
}

/** Defaults a registry record's `model` selects; a value in the record itself still wins. */
export interface ModelProfile {
  /** The kinds this model is sold as; a record of another kind does not take the model's defaults. */
  kinds: readonly DeviceKind[];
  meterType?: MeterType;
  size?: MeterSize;
  lowBatteryV?: number;
  reportIntervalS?: number;
  schedule?: ReportSchedule;
  /** What its ERR codes mean; a code missing here is still raised, without a meaning. */
  codes?: Partial<Record<ErrCodeName, CodeMeaning>>;
}

/** Household meter codes (gas-devices.md §1, manual lines 300–316). */
const HOUSEHOLD_CODES: Partial<Record<ErrCodeName, CodeMeaning>> = {
  'ERR-1': { meaning: '强磁干扰或防磁干簧管损坏 (magnetic interference or damaged reed switch)', tamper: true },
  'ERR-3': { meaning: '死表或传感器长时间无信号 (dead meter, or no sensor signal for days)' },
  'ERR-4': { meaning: '死表或传感器长时间无信号 (dead meter, or no sensor signal for days)' },
  'ERR-5': { meaning: '超过燃气表所能承受的流量范围 (flow above the meter range)' },
  'ERR-6': { meaning: '干簧管坏 (reed switch broken)' },
  'ERR-7': { meaning: '干簧管坏 (reed switch broken)' },
};

/** MHCG-G meter and MHCG-DN flow-meter controllers (manual lines 340–396): ERR-1 is the controller's own battery, not a magnet. */
const MHCG_CODES: Partial<Record<ErrCodeName, CodeMeaning>> = {
  'ERR-1': { meaning: '控制器内电池低电 (controller internal battery low)', tamper: false },
  'ERR-3': { meaning: '流量计电池低电、无电或被强行断电 (flow-meter battery low, dead or cut)' },
  'ERR-4': { meaning: '流量计损坏或长时间无信号输出 (flow meter damaged or no signal)' },
  'ERR-5': { meaning: '流量超出量程 (flow over range)' },
};

/** Daily NB-IoT slot: 02:00 Beijing time, reports spread over the next four hours with retries. */
const NB_IOT_DAILY: ReportSchedule = { reportAt: '02:00', reportWindowMin: 240, reportTz: 'Asia/Shanghai' };

/**
 * The model table. Keys are upper-case model names as the registry spells them (compared after
 * NFKC and upper-casing, with em dashes as in the manual's "MHCG—G" read as hyphens). A model not
 * listed here still gets Qmax/Qmin from a G designation in its name.
 */
export const MODEL_PROFILES: Readonly<Record<string, ModelProfile>> = {
  // Meihua household diaphragm meters, G2.5 (J2.5), IC card or NB-IoT; 3.3 V lithium pack.
  'MH-G2.5': { kinds: ['household_meter'], meterType: 'diaphragm', size: 'G2.5', lowBatteryV: 3.3, reportIntervalS: 86_400, codes: HOUSEHOLD_CODES },
  'MH-NB-G2.5': { kinds: ['household_meter'], meterType: 'diaphragm', size: 'G2.5', lowBatteryV: 3.3, reportIntervalS: 86_400, schedule: NB_IOT_DAILY, codes: HOUSEHOLD_CODES },
  'MH-NB-G4': { kinds: ['household_meter'], meterType: 'diaphragm', size: 'G4', lowBatteryV: 3.3, reportIntervalS: 86_400, schedule: NB_IOT_DAILY, codes: HOUSEHOLD_CODES },
  // Qianfeng household meters want a new battery under 4.0 V (manual line 578).
  'QF-G2.5': { kinds: ['household_meter'], meterType: 'diaphragm', size: 'G2.5', lowBatteryV: 4.0, reportIntervalS: 86_400, codes: HOUSEHOLD_CODES },
  'QF-NB-G2.5': { kinds: ['household_meter'], meterType: 'diaphragm', size: 'G2.5', lowBatteryV: 4.0, reportIntervalS: 86_400, schedule: NB_IOT_DAILY, codes: HOUSEHOLD_CODES },
  // Meihua commercial: MHCG-G on a G25 diaphragm base meter, MHCG-DN on a turbine flow meter (size from the record's model suffix, e.g. MHCG-DN-G65).
  'MHCG-G': { kinds: ['industrial_controller'], meterType: 'diaphragm', size: 'G25', lowBatteryV: 3.3, reportIntervalS: 3_600, codes: MHCG_CODES },
  'MHCG-DN': { kinds: ['industrial_controller'], meterType: 'turbine', size: 'G65', lowBatteryV: 3.3, reportIntervalS: 3_600, codes: MHCG_CODES },
  // Flow meters: turbine (涡轮) and Roots (罗茨), sized by their G designation.
  'TBQM': { kinds: ['flow_meter'], meterType: 'turbine', size: 'G100', lowBatteryV: 3.3, reportIntervalS: 3_600 },
  'LLQ': { kinds: ['flow_meter'], meterType: 'roots', size: 'G65', lowBatteryV: 3.3, reportIntervalS: 3_600 },
};

function normaliseModel(model: string): string {
  return model.normalize('NFKC').trim().toUpperCase().replace(/[—–‐‑−_\s]+/g, '-');
}

/** The family a model name belongs to: the longest table key that is the name or a `-`-separated prefix of it. */
function familyOf(name: string): ModelProfile | undefined {
  let best: string | undefined;
  for (const key of Object.keys(MODEL_PROFILES)) {
    if ((name === key || name.startsWith(`${key}-`)) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : MODEL_PROFILES[best];
}

const TYPE_OF_KIND: Partial<Record<DeviceKind, MeterType>> = { household_meter: 'diaphragm', industrial_controller: 'diaphragm', flow_meter: 'turbine' };

/** What a model resolves to for a device of `kind`: the table's entry (if its kind fits), sized by a G designation in the name. */
export interface ModelDefaults {
  qmaxM3h?: number;
  qminM3h?: number;
  lowBatteryV?: number;
  reportIntervalS?: number;
  schedule?: ReportSchedule;
  codes?: Partial<Record<ErrCodeName, CodeMeaning>>;
}

const NONE: ModelDefaults = Object.freeze({});
const cache = new Map<string, ModelDefaults>();

/** The defaults `model` selects for a device of `kind` (empty when it selects nothing). Cached: a city has few models. */
export function modelDefaults(model: string | undefined, kind: DeviceKind): ModelDefaults {
  if (!model) return NONE;
  const name = normaliseModel(model);
  const key = `${kind}|${name}`;
  let found = cache.get(key);
  if (found !== undefined) return found;
  const family = familyOf(name);
  const entry = family && family.kinds.includes(kind) ? family : undefined;
  const size = meterSizeIn(name) ?? entry?.size;
  const type = entry?.meterType ?? (/ROOTS|罗茨|LLQ/.test(name) ? 'roots' : /TURBINE|涡轮|TBQM/.test(name) ? 'turbine' : TYPE_OF_KIND[kind]);
  const meters = kind !== 'home_gas_alarm' && kind !== 'alarm_controller';
  found = Object.freeze({
    ...(size && meters && type ? { qmaxM3h: METER_SIZES[size], qminM3h: qminOf(size, type) } : {}),
    ...(entry?.lowBatteryV !== undefined ? { lowBatteryV: entry.lowBatteryV } : {}),
    ...(entry?.reportIntervalS !== undefined ? { reportIntervalS: entry.reportIntervalS } : {}),
    ...(entry?.schedule ? { schedule: entry.schedule } : {}),
    ...(entry?.codes ? { codes: entry.codes } : {}),
  });
  if (cache.size < 10_000) cache.set(key, found);
  return found;
}
