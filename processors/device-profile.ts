import type { DeviceRecord, DeviceRecords } from '../contracts/device-record.ts';
import type { DeviceKind } from '../contracts/messages.ts';
import { modelDefaults, type CodeMeaning, type ErrCodeName, type ReportSchedule } from './models/index.ts';

/** How an alarm controller confirms an alarm: any one channel, or two channels (GB 16808-2025). */
export type AlarmConfirmRule = 'single' | 'two-detector';

/**
 * What a detector knows about a device: its registry record resolved against the defaults of its
 * kind and model, computed once per registry change, never per reading.
 */
export interface DeviceProfile {
  readonly deviceId: string;
  readonly kind: DeviceKind;
  /** False for a device that reported but is not in the registry: judged on its kind's defaults. */
  readonly registered: boolean;
  readonly vendor?: string;
  readonly model?: string;
  readonly gatewayId?: string;
  readonly district?: string;
  readonly qmaxM3h: number;
  readonly qminM3h: number;
  readonly l1LelPct: number;
  readonly l2LelPct: number;
  readonly reportIntervalS: number;
  readonly lowBatteryV: number;
  readonly valveId?: string;
  /** A daily slot and its report window (NB-IoT meters), from the record or the model: NO_SIGNAL follows it. */
  readonly schedule?: ReportSchedule;
  /** What the model's ERR codes mean (models/index.ts). */
  readonly codes?: Partial<Record<ErrCodeName, CodeMeaning>>;
  /** The alarm controller's own confirmation rule from its record; the gas-alarm settings decide otherwise. */
  readonly alarmConfirmRule?: AlarmConfirmRule;
}

type KindDefaults = Pick<DeviceProfile, 'qmaxM3h' | 'qminM3h' | 'l1LelPct' | 'l2LelPct' | 'reportIntervalS' | 'lowBatteryV'>;

/**
 * Defaults per kind. Household meters are G2.5/J2.5 diaphragm meters (Qmax 4 m³/h) reporting daily;
 * gas detectors report every 30 s; set points from GB/T 50493-2019 (L1 ≤ 25 %LEL, L2 ≤ 50 %LEL).
 */
export const KIND_DEFAULTS: Record<DeviceKind, KindDefaults> = {
  household_meter: { qmaxM3h: 4, qminM3h: 0.025, l1LelPct: 25, l2LelPct: 50, reportIntervalS: 86_400, lowBatteryV: 3.3 },
  industrial_controller: { qmaxM3h: 40, qminM3h: 0.4, l1LelPct: 25, l2LelPct: 50, reportIntervalS: 3_600, lowBatteryV: 3.3 },
  flow_meter: { qmaxM3h: 160, qminM3h: 1.3, l1LelPct: 25, l2LelPct: 50, reportIntervalS: 3_600, lowBatteryV: 3.3 },
  home_gas_alarm: { qmaxM3h: 0, qminM3h: 0, l1LelPct: 25, l2LelPct: 50, reportIntervalS: 30, lowBatteryV: 0 },
  alarm_controller: { qmaxM3h: 0, qminM3h: 0, l1LelPct: 25, l2LelPct: 50, reportIntervalS: 30, lowBatteryV: 0 },
};

/** Vendor overrides: Qianfeng meters want a new battery under 4.0 V (repair manual line 578). */
export const VENDOR_DEFAULTS: Record<string, Partial<KindDefaults>> = {
  qianfeng: { lowBatteryV: 4.0 },
  meihua: { lowBatteryV: 3.3 },
};

/**
 * A device's limits; devices with the same ones share one object, since a city's meters mostly run
 * on their kind's defaults.
 */
type Limits = Readonly<KindDefaults>;
const sharedLimits = new Map<string, Limits>();

function limitsOf(values: KindDefaults): Limits {
  const key = `${values.qmaxM3h}|${values.qminM3h}|${values.l1LelPct}|${values.l2LelPct}|${values.reportIntervalS}|${values.lowBatteryV}`;
  let limits = sharedLimits.get(key);
  if (limits === undefined) {
    limits = Object.freeze({ ...values });
    sharedLimits.set(key, limits);
  }
  return limits;
}

/** The processors hold one profile per device: its own facts in fields, its limits shared. */
class ResolvedProfile implements DeviceProfile {
  readonly #limits: Limits;

  constructor(
    readonly deviceId: string,
    readonly kind: DeviceKind,
    readonly registered: boolean,
    readonly vendor: string | undefined,
    readonly model: string | undefined,
    readonly gatewayId: string | undefined,
    readonly district: string | undefined,
    readonly valveId: string | undefined,
    limits: Limits,
    readonly schedule: ReportSchedule | undefined,
    readonly codes: Partial<Record<ErrCodeName, CodeMeaning>> | undefined,
    readonly alarmConfirmRule: AlarmConfirmRule | undefined,
  ) {
    this.#limits = limits;
  }

  get qmaxM3h(): number {
    return this.#limits.qmaxM3h;
  }

  get qminM3h(): number {
    return this.#limits.qminM3h;
  }

  get l1LelPct(): number {
    return this.#limits.l1LelPct;
  }

  get l2LelPct(): number {
    return this.#limits.l2LelPct;
  }

  get reportIntervalS(): number {
    return this.#limits.reportIntervalS;
  }

  get lowBatteryV(): number {
    return this.#limits.lowBatteryV;
  }
}

/** A slot the record sets (`reportAt`, with `reportWindowMin` and `reportTz` beside it) wins over the model's. */
function scheduleOf(record: DeviceRecord, model: ReportSchedule | undefined): ReportSchedule | undefined {
  if (record.reportAt === undefined) {
    if (model === undefined || (record.reportWindowMin === undefined && record.reportTz === undefined)) return model;
    return { ...model, ...(record.reportWindowMin !== undefined ? { reportWindowMin: record.reportWindowMin } : {}), ...(record.reportTz ? { reportTz: record.reportTz } : {}) };
  }
  return { reportAt: record.reportAt, reportWindowMin: record.reportWindowMin ?? model?.reportWindowMin ?? 0, reportTz: record.reportTz ?? model?.reportTz ?? DEFAULT_REPORT_TZ };
}

/** The utility's local time: a slot without a zone is Beijing time. */
export const DEFAULT_REPORT_TZ = 'Asia/Shanghai';

/** Registry record, then the model's defaults, then the vendor's, then the kind's. */
function resolve(record: DeviceRecord, registered: boolean): DeviceProfile {
  const kind = KIND_DEFAULTS[record.kind];
  const vendor = record.vendor ? VENDOR_DEFAULTS[record.vendor.toLowerCase()] : undefined;
  const model = modelDefaults(record.model, record.kind);
  const limits = limitsOf({
    qmaxM3h: record.qmaxM3h ?? model.qmaxM3h ?? kind.qmaxM3h,
    qminM3h: record.qminM3h ?? model.qminM3h ?? kind.qminM3h,
    l1LelPct: record.l1LelPct ?? kind.l1LelPct,
    l2LelPct: record.l2LelPct ?? kind.l2LelPct,
    reportIntervalS: record.reportIntervalS ?? model.reportIntervalS ?? kind.reportIntervalS,
    lowBatteryV: record.lowBatteryV ?? model.lowBatteryV ?? vendor?.lowBatteryV ?? kind.lowBatteryV,
  });
  return new ResolvedProfile(
    record.deviceId, record.kind, registered, record.vendor, record.model, record.gatewayId, record.district, record.valveId, limits,
    scheduleOf(record, model.schedule), model.codes, record.alarmConfirmRule,
  );
}

export function resolveProfile(record: DeviceRecord): DeviceProfile {
  return resolve(record, true);
}

/** The profile of a device missing from the registry: its kind's defaults, and the vendor it reports. */
export function defaultProfile(deviceId: string, kind: DeviceKind, vendor?: string): DeviceProfile {
  return resolve({ deviceId, kind, vendor }, false);
}

/** Profiles of registered devices. Resolved when the engine first meets a device or its record changes, never per reading. */
export class RegistryProfiles {
  constructor(private readonly records: DeviceRecords) {}

  profileOf(deviceId: string): DeviceProfile | undefined {
    const record = this.records.get(deviceId);
    return record === undefined ? undefined : resolveProfile(record);
  }
}
