import type { DeviceRecord } from '../contracts/device-record.ts';
import type { DetectorChannel, DeviceKind, Reading } from '../contracts/messages.ts';

/** A reading as it travels on the wire: ingest adds `atMs`, `gatewayId` and `receivedAtMs`. */
export type WireReading = Omit<Reading, 'atMs' | 'gatewayId' | 'receivedAtMs'>;

export interface FleetOptions {
  /** Number of field gateways, `GW-000001`…. */
  gateways: number;
  /** Number of devices, spread evenly over the gateways; at least one per gateway. */
  devices: number;
  /** Everything (kinds, vendors, addresses, every physical value) follows from it. */
  seed: number;
  /** Simulated time between rounds, ms; also every device's expected reporting interval. */
  stepMs: number;
}

/** What a fault does to a device's physics this round (see scenarios.ts `FaultEffect`). */
export interface Physics {
  /** No gas can flow: a meter's or controller's valve is shut, a flow meter reads zero. */
  valveClosed?: boolean;
  /** Gas drawn, m³/h, instead of the device's own usage (overload). */
  usageM3h?: number;
  /** Volume counted although no gas flows, m³/h (self-metering). */
  phantomM3h?: number;
}

export const KIND_PREFIX: Readonly<Record<DeviceKind, string>> = {
  household_meter: 'HM',
  industrial_controller: 'IC',
  flow_meter: 'FM',
  home_gas_alarm: 'HA',
  alarm_controller: 'AC',
};

/** Share of each kind: a city's connections are mostly households, a few commercial sites. */
export const KIND_MIX: Readonly<Record<DeviceKind, number>> = {
  household_meter: 0.7,
  home_gas_alarm: 0.12,
  industrial_controller: 0.06,
  flow_meter: 0.06,
  alarm_controller: 0.06,
};

/** Meter range per kind (G2.5 household, G25 commercial controller, DN80 turbine), m³/h. */
export const QMAX_M3H: Readonly<Partial<Record<DeviceKind, number>>> = { household_meter: 4, industrial_controller: 40, flow_meter: 160 };
const QMIN_M3H: Readonly<Partial<Record<DeviceKind, number>>> = { household_meter: 0.025, industrial_controller: 0.4, flow_meter: 1.3 };

/** Nominal battery per vendor: Qianfeng meters run on 4.5 V (replace under 4.0 V, manual line 578). */
export const NOMINAL_BATTERY_V: Readonly<Record<string, number>> = { meihua: 3.6, qianfeng: 4.5 };

export const DETECTOR_CHANNELS = 4;
export const MAINS_V = 220;
export const MAIN_LOAD_PCT = 40;
export const BACKUP_V = 13.5;

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * One simulated device: its registry facts and its physical state. The state holds every kind's
 * quantities so all devices share one shape; each kind uses its own.
 */
export interface SimDevice {
  readonly index: number;
  readonly deviceId: string;
  readonly kind: DeviceKind;
  readonly gatewayId: string;
  readonly vendor?: string;
  readonly model: string;
  readonly district: string;
  readonly address: string;
  readonly customer: string;
  /** Industrial controller: the flow meter whose pulses it counts. */
  readonly flowMeterId?: string;
  /** Home alarm whose shut-off valve is a meter's valve: it reports no `valve` of its own. */
  readonly valveId?: string;
  nominalBatteryV: number;
  volumeM3: number;
  balanceM3: number;
  batteryV: number;
  /** Flow over the last step, m³/h. */
  flowM3h: number;
  /** Flow meter: the turbine's own flow, a random walk that a fault may override. */
  baseFlowM3h: number;
  temperatureC: number;
  pressureKPa: number;
  externalPowerV: number;
  lelPct: number;
  mainPowerV: number;
  channelLelPct: number[];
}

export interface Fleet {
  readonly options: Readonly<FleetOptions>;
  readonly gatewayIds: readonly string[];
  readonly devices: readonly SimDevice[];
  /** Devices per gateway, in `gatewayIds` order. */
  readonly byGateway: readonly (readonly SimDevice[])[];
  /** The home alarm linked to a household meter's valve (registry `valveId`), when the fleet has both. */
  readonly linkedAlarm?: { alarmId: string; valveId: string };
  device(deviceId: string): SimDevice | undefined;
  /** Registry records for the fleet, for the pipeline's `REGISTRY` file or `PUT /api/v1/devices`. */
  registry(): DeviceRecord[];
  /**
   * Advances one device's physics by one step. Draws the same number of random values whatever
   * the physics, so faults on one device never shift another device's values.
   */
  advance(device: SimDevice, physics?: Physics): void;
  /** The device's reading now, stamped `at`. A fresh object: the caller may change it. */
  reading(device: SimDevice, at: string): WireReading;
}

const DISTRICTS = ['城东区', '城西区', '南湖区', '北岸区', '高新区', '经开区'];
const ROADS = ['人民路', '建设路', '解放路', '中山路', '和平路', '文化路', '滨河路', '长江路'];
const COMPOUNDS = ['阳光小区', '锦绣花园', '翠园', '金桥小区', '幸福家园', '华府', '香榭里', '碧水湾'];
const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴', '徐', '孙'];
const GIVEN = ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超', '秀英', '华', '平'];
const BUSINESSES = ['餐饮有限公司', '食品厂', '宾馆', '锅炉房', '机械厂', '大酒店', '学校食堂', '医院后勤楼'];

function validate(options: FleetOptions): void {
  const { gateways, devices, seed, stepMs } = options;
  if (!Number.isInteger(gateways) || gateways < 1 || gateways > 999_999) throw new RangeError(`gateways must be an integer from 1 to 999999, got ${gateways}`);
  if (!Number.isInteger(devices) || devices < gateways || devices > 99_999_999) throw new RangeError(`devices must be an integer from the gateway count (${gateways}) to 99999999, got ${devices}: every gateway needs a device to report`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (!Number.isInteger(stepMs) || stepMs < 1000) throw new RangeError(`stepMs must be an integer of at least 1000, got ${stepMs}`);
}

/** Devices per kind: the mix, with every kind at least once from 5 devices on; the rest household meters. */
function kindCounts(devices: number): Record<DeviceKind, number> {
  const counts = { household_meter: 0, home_gas_alarm: 0, industrial_controller: 0, flow_meter: 0, alarm_controller: 0 };
  let others = 0;
  for (const kind of ['home_gas_alarm', 'industrial_controller', 'flow_meter', 'alarm_controller'] as const) {
    counts[kind] = Math.max(devices >= 5 ? 1 : 0, Math.floor(devices * KIND_MIX[kind]));
    others += counts[kind];
  }
  counts.household_meter = devices - others;
  return counts;
}

/** Builds a fleet; the same options always give the same fleet and, round by round, the same values. */
export function createFleet(options: FleetOptions): Fleet {
  validate(options);
  const opts = Object.freeze({ ...options });
  const setup = mulberry32(opts.seed);
  const run = mulberry32(opts.seed ^ 0x9e3779b9);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(setup() * list.length)]!;

  const gatewayIds = Array.from({ length: opts.gateways }, (_, g) => `GW-${String(g + 1).padStart(6, '0')}`);
  // Each gateway is a concentrator serving one compound in one district.
  const sites = gatewayIds.map(() => ({ district: pick(DISTRICTS), road: pick(ROADS), no: 1 + Math.floor(setup() * 300), compound: pick(COMPOUNDS) }));

  const counts = kindCounts(opts.devices);
  const kinds: DeviceKind[] = [];
  for (const kind of Object.keys(counts) as DeviceKind[]) for (let i = 0; i < counts[kind]; i++) kinds.push(kind);
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(setup() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }

  const serial: Record<DeviceKind, number> = { household_meter: 0, industrial_controller: 0, flow_meter: 0, home_gas_alarm: 0, alarm_controller: 0 };
  const devices: SimDevice[] = [];
  const byGateway: SimDevice[][] = gatewayIds.map(() => []);
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i]!;
    const g = i % opts.gateways;
    const n = ++serial[kind];
    const deviceId = `${KIND_PREFIX[kind]}-${String(n).padStart(8, '0')}`;
    const site = sites[g]!;
    const household = kind === 'household_meter' || kind === 'home_gas_alarm';
    // Household meters: three Meihua to two Qianfeng, by order so both vendors appear from two meters on.
    const vendor = kind === 'household_meter' ? (n % 5 === 2 || n % 5 === 4 ? 'qianfeng' : 'meihua') : kind === 'industrial_controller' ? 'meihua' : undefined;
    const model =
      kind === 'household_meter' ? (vendor === 'qianfeng' ? 'QF-G2.5' : 'MH-G2.5')
      : kind === 'industrial_controller' ? 'MHCG-G'
      : kind === 'flow_meter' ? 'LWQ-DN80'
      : kind === 'home_gas_alarm' ? 'JT-HA-220'
      : 'JB-AC-4';
    const customer = household ? `${pick(SURNAMES)}${pick(GIVEN)}` : `${site.compound.slice(0, 2)}${pick(BUSINESSES)}`;
    const address = household
      ? `${site.district}${site.road}${site.no}号${site.compound}${1 + Math.floor(setup() * 30)}栋${1 + Math.floor(setup() * 4)}单元${100 * (1 + Math.floor(setup() * 30)) + 1 + Math.floor(setup() * 4)}室`
      : `${site.district}${site.road}${site.no + 1 + Math.floor(setup() * 50)}号`;
    const nominalBatteryV = NOMINAL_BATTERY_V[vendor ?? 'meihua'] ?? 3.6;
    const volumeM3 =
      kind === 'household_meter' ? 100 + setup() * 2900
      : kind === 'industrial_controller' ? 2000 + setup() * 18000
      : kind === 'flow_meter' ? 10_000 + setup() * 90_000
      : 0;
    const device: SimDevice = {
      index: i,
      deviceId,
      kind,
      gatewayId: gatewayIds[g]!,
      vendor,
      model,
      district: site.district,
      address,
      customer,
      flowMeterId: kind === 'industrial_controller' ? `${deviceId}-FM` : undefined,
      valveId: undefined,
      nominalBatteryV,
      volumeM3,
      balanceM3: kind === 'household_meter' ? 40 + setup() * 200 : kind === 'industrial_controller' ? 500 + setup() * 4500 : 0,
      batteryV: nominalBatteryV,
      flowM3h: 0,
      baseFlowM3h: kind === 'flow_meter' ? 30 + setup() * 60 : 0,
      temperatureC: 20,
      pressureKPa: 250,
      externalPowerV: 12,
      lelPct: 0,
      mainPowerV: MAINS_V,
      channelLelPct: kind === 'alarm_controller' ? new Array<number>(DETECTOR_CHANNELS).fill(0) : [],
    };
    devices.push(device);
    byGateway[g]!.push(device);
  }

  // The first home alarm shuts off gas through a household meter's valve in the same compound.
  let linkedAlarm: Fleet['linkedAlarm'];
  const alarm = devices.find((d) => d.kind === 'home_gas_alarm');
  const meter = alarm && (byGateway[gatewayIds.indexOf(alarm.gatewayId)]!.find((d) => d.kind === 'household_meter') ?? devices.find((d) => d.kind === 'household_meter'));
  if (alarm && meter) {
    const linked: SimDevice = { ...alarm, valveId: meter.deviceId, address: meter.address, customer: meter.customer };
    devices[alarm.index] = linked;
    const list = byGateway[gatewayIds.indexOf(alarm.gatewayId)]!;
    list[list.indexOf(alarm)] = linked;
    linkedAlarm = { alarmId: alarm.deviceId, valveId: meter.deviceId };
  }

  const byId = new Map(devices.map((d) => [d.deviceId, d]));
  const dtH = opts.stepMs / 3_600_000;
  const reportIntervalS = Math.max(1, Math.round(opts.stepMs / 1000));

  function advance(d: SimDevice, p?: Physics): void {
    const u1 = run();
    const u2 = run();
    const u3 = run();
    switch (d.kind) {
      case 'household_meter':
      case 'industrial_controller': {
        // Household: mostly idle, cooking now and then, water heater at most 2.5 m³/h (under Qmax 4).
        // Commercial kitchen: 2–25 m³/h (under Qmax 40).
        const own = d.kind === 'household_meter'
          ? (u1 < 0.55 ? 0 : u1 < 0.85 ? 0.15 + 0.75 * u2 : 0.9 + 1.6 * u2)
          : (u1 < 0.2 ? 0 : 2 + 23 * u2);
        const flow = p?.valveClosed ? 0 : (p?.usageM3h ?? own);
        const counted = (flow + (p?.phantomM3h ?? 0)) * dtH;
        d.flowM3h = flow;
        d.volumeM3 += counted;
        d.balanceM3 -= counted;
        // The customer buys gas well before the meter would warn (欠量 under 5 m³).
        if (d.balanceM3 < 15) d.balanceM3 += d.kind === 'household_meter' ? 200 : 2000;
        d.batteryV = d.nominalBatteryV + (u3 - 0.5) * 0.02;
        d.externalPowerV = 12 + (u3 - 0.5) * 0.2;
        break;
      }
      case 'flow_meter': {
        d.baseFlowM3h = Math.min(120, Math.max(20, d.baseFlowM3h + (u1 - 0.5) * 8));
        const flow = p?.valveClosed ? 0 : (p?.usageM3h ?? d.baseFlowM3h);
        d.flowM3h = flow;
        d.volumeM3 += (flow + (p?.phantomM3h ?? 0)) * dtH;
        d.temperatureC = 18 + 4 * u2;
        d.pressureKPa = 245 + 10 * u3;
        d.batteryV = d.nominalBatteryV + (u3 - 0.5) * 0.02;
        break;
      }
      case 'home_gas_alarm':
        d.lelPct = 3 * u1;
        break;
      case 'alarm_controller': {
        d.mainPowerV = MAINS_V + (u1 - 0.5) * 6;
        const ch = d.channelLelPct;
        ch[0] = 2 * u2;
        ch[1] = 2 * u3;
        ch[2] = 2 * ((u2 + u3) % 1);
        ch[3] = 2 * ((u2 + 2 * u3) % 1);
        break;
      }
    }
  }

  function reading(d: SimDevice, at: string): WireReading {
    switch (d.kind) {
      case 'household_meter':
        return { deviceId: d.deviceId, kind: d.kind, at, vendor: d.vendor, volumeM3: r3(d.volumeM3), balanceM3: r3(d.balanceM3), batteryV: r2(d.batteryV), valve: 'open' };
      case 'industrial_controller': {
        const volumeM3 = r3(d.volumeM3);
        return {
          deviceId: d.deviceId, kind: d.kind, at, vendor: d.vendor, volumeM3, balanceM3: r3(d.balanceM3), batteryV: r2(d.batteryV),
          externalPowerV: r1(d.externalPowerV), valve: 'open', flowMeterId: d.flowMeterId, flowMeterVolumeM3: volumeM3,
        };
      }
      case 'flow_meter':
        return { deviceId: d.deviceId, kind: d.kind, at, flowM3h: r1(d.flowM3h), volumeM3: r3(d.volumeM3), temperatureC: r1(d.temperatureC), pressureKPa: r1(d.pressureKPa), batteryV: r2(d.batteryV) };
      case 'home_gas_alarm':
        // A linked alarm's valve is the meter's: it reports none of its own.
        return { deviceId: d.deviceId, kind: d.kind, at, lelPct: r1(d.lelPct), lamps: { power: true, fault: false, alarm: false }, buzzer: 'off', valve: d.valveId ? undefined : 'open' };
      case 'alarm_controller': {
        const detectors: DetectorChannel[] = new Array(DETECTOR_CHANNELS);
        for (let c = 0; c < DETECTOR_CHANNELS; c++) detectors[c] = { channel: c + 1, lelPct: r1(d.channelLelPct[c]!) };
        return { deviceId: d.deviceId, kind: d.kind, at, mainPowerV: r1(d.mainPowerV), mainLoadPct: MAIN_LOAD_PCT, backupV: BACKUP_V, backup: 'ok', detectors };
      }
    }
  }

  function registry(): DeviceRecord[] {
    return devices.map((d) => {
      const record: DeviceRecord = { deviceId: d.deviceId, kind: d.kind };
      if (d.vendor) record.vendor = d.vendor;
      record.model = d.model;
      record.gatewayId = d.gatewayId;
      record.district = d.district;
      record.address = d.address;
      record.customer = d.customer;
      const qmax = QMAX_M3H[d.kind];
      if (qmax !== undefined) {
        record.qmaxM3h = qmax;
        record.qminM3h = QMIN_M3H[d.kind];
      }
      if (d.kind === 'home_gas_alarm' || d.kind === 'alarm_controller') {
        record.l1LelPct = 25;
        record.l2LelPct = 50;
      }
      record.reportIntervalS = reportIntervalS;
      if (d.valveId) record.valveId = d.valveId;
      return record;
    });
  }

  return { options: opts, gatewayIds, devices, byGateway, linkedAlarm, device: (id) => byId.get(id), registry, advance, reading };
}
