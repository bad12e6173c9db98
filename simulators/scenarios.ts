import type { DeviceRecord } from '../contracts/device-record.ts';
import type { Condition, DetectorChannel, DeviceKind, RejectReason } from '../contracts/messages.ts';
import { createFleet, QMAX_M3H, type Fleet, type FleetOptions, type SimDevice, type WireReading } from './fleet.ts';

export const SCENARIO_NAMES = [
  'normal',
  'err-codes',
  'battery',
  'balance',
  'overload',
  'self-metering',
  'count-mismatch',
  'count-drift',
  'flapping',
  'inhibition',
  'two-detector',
  'report-schedule',
  'maintenance',
  'leak',
  'detector-offline',
  'power',
  'no-signal',
  'gateway-outage',
  'late-duplicate',
  'late-alarm',
  'backfill',
  'malformed',
  'all',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

/** What a fault does to one device while it lasts. Everything else about the device stays normal. */
export interface FaultEffect {
  /** Display tokens shown, as printed on the device. */
  status?: string[];
  /** Reading fields replaced as given (`lamps` as a whole). */
  fields?: Partial<WireReading>;
  /** No gas can flow: meters and controllers report `valve: "closed"` and stop counting, a home alarm reports its valve closed, a flow meter reads 0. */
  valveClosed?: boolean;
  /** Gas drawn, m³/h (overload); a flow meter reports it as `flowM3h`. */
  usageM3h?: number;
  /** Volume counted with no gas flowing, m³/h (self-metering). */
  phantomM3h?: number;
  /** Battery voltage falling by `stepV` a round from `fromV`, never under `minV`. */
  batteryRamp?: { fromV: number; stepV: number; minV: number };
  /** One detector channel of an alarm controller replaced. */
  channel?: DetectorChannel;
  /** Industrial controller: the flow meter's own count runs ahead of the controller's by this share, % (at least 5 m³). */
  countDriftPct?: number;
  /** Industrial controller: its flow meter counts this much less than the controller each round of the fault, m³ (a drift on increments). */
  flowMeterLagM3PerRound?: number;
  /** The effect applies `onRounds` rounds, then the device is normal `offRounds` rounds, and again (a flapping fault). */
  cycle?: { onRounds: number; offRounds: number };
  /** The device sends nothing. */
  silent?: boolean;
}

/** A fault on one device from `fromRound` up to (not including) `toRound`, when it is back to normal. */
export interface FaultEpisode {
  deviceId: string;
  gatewayId: string;
  kind: DeviceKind;
  fromRound: number;
  toRound: number;
  label: string;
  effect: FaultEffect;
}

/** Messages refused whole, and the batch whose good readings travel with bad ones. */
export type MalformedKind = 'not_json' | 'bad_shape' | 'gateway_mismatch' | 'oversize' | 'too_many_readings' | 'mixed';

/** Rejects each malformed message causes at ingest: one per bad message, one per bad reading. */
export const MALFORMED_REJECTS: Readonly<Record<MalformedKind, Partial<Record<RejectReason, number>>>> = {
  not_json: { not_json: 1 },
  bad_shape: { bad_shape: 1 },
  gateway_mismatch: { gateway_mismatch: 1 },
  oversize: { oversize: 1 },
  too_many_readings: { too_many_readings: 1 },
  // Two readings of the wrong type, one of an unknown kind, one stamped in 2099.
  mixed: { bad_reading: 2, unknown_kind: 1, timestamp_out_of_range: 1 },
};

export type TrafficAction =
  /**
   * The gateway's connection is destroyed without DISCONNECT: the broker publishes its last will.
   * With `buffer`, the gateway keeps its devices' readings while down, for a `backfill`.
   */
  | { type: 'gateway-down'; round: number; gatewayId: string; buffer?: boolean }
  /** The gateway reconnects and publishes `{"online":true}` before its batches. */
  | { type: 'gateway-up'; round: number; gatewayId: string }
  /** The first batch the gateway sent in `ofRound`, published again unchanged (same seq). */
  | { type: 'duplicate'; round: number; gatewayId: string; ofRound: number }
  /** A batch with a new seq whose readings are stamped at `ofRound`, older than ones already sent. */
  | { type: 'late-batch'; round: number; gatewayId: string; ofRound: number; readings: Array<{ deviceId: string; effect: FaultEffect }> }
  /**
   * After its first batch since reconnecting, the gateway uploads the readings it buffered while
   * down (new seqs, older than that batch), `deliveries` times: 2 is a gateway that never got the
   * acknowledgement and sends its whole backlog again.
   */
  | { type: 'backfill'; round: number; gatewayId: string; deliveries: number }
  | { type: 'malformed'; round: number; gatewayId: string; what: MalformedKind };

/** An alert the pipeline should produce: `raised` and `cleared` edges for one condition on one device or gateway. */
export interface ExpectedAlert {
  subjectId: string;
  condition: Condition;
  raised: number;
  cleared: number;
  /** False when the alert opens no ticket: a late (historical) fault that is no leak is only recorded. */
  ticket?: false;
}

export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  readonly stepMs: number;
  /** Rounds the plan needs so that every fault is raised, held and cleared; run at least this many. */
  readonly rounds: number;
  readonly faults: readonly FaultEpisode[];
  readonly actions: readonly TrafficAction[];
  /** Every alert the scenario provokes, each raised once and cleared once. Assumes the pipeline loaded `fleet.registry()`. */
  readonly expected: readonly ExpectedAlert[];
  /** Ingest rejects the scenario provokes, by reason. */
  readonly expectedRejects: Readonly<Partial<Record<RejectReason, number>>>;
  /** Registry fields some of its devices need beyond the fleet's (a confirmation rule, a report schedule), by device id: see `scenarioRegistry`. */
  readonly records: Readonly<Record<string, Partial<DeviceRecord>>>;
}

/** The registry the pipeline must load for a scenario: the fleet's records with the scenario's fields over them. */
export function scenarioRegistry(scenario: Pick<Scenario, 'records'>, fleet: Fleet): DeviceRecord[] {
  return fleet.registry().map((r) => (scenario.records[r.deviceId] ? { ...r, ...scenario.records[r.deviceId] } : r));
}

export const SCENARIO_DESCRIPTIONS: Readonly<Record<ScenarioName, string>> = {
  normal: 'No faults: every device within its normal range',
  'err-codes': 'Household ERR-1…ERR-7 (ERR-1 also TAMPER, ERR-5 also OVERLOAD); controller 故障+关阀 with ERR-3 / ERR-4 / no code, and 开盖',
  battery: 'Meihua battery decaying under 3.3 V, then 低电+关阀; new battery clears both. Qianfeng showing 请换电池',
  balance: '欠量 with 3 m³ left (LOW_BALANCE); 请速购气 at 0 m³ with the valve shut (NO_BALANCE); purchase clears',
  overload: 'Household meter drawing 1.5 × Qmax (from volume deltas), flow meter over Qmax, alarm controller at 130 % load',
  'self-metering': 'Household meter counting with its valve shut; flow meter counting while it reads 0 and shows SLEEP',
  'count-mismatch': "Industrial controller's count and its flow meter's count drift apart, then resync",
  'count-drift': 'Industrial controller at 36 m³/h counted in full while its flow meter counts a quarter (75 % drift on increments, totals in the thousands), then re-synced',
  flapping: 'Home alarm cycling 60 → 0 %LEL three times within 5 minutes: one L1 and one L2 alert marked flapping, cleared once stable for the flapping window',
  'two-detector': 'Alarm controller under GB 16808-2025 two-detector confirmation: channel 1 at 60 %LEL raises its channel alarm (L1) only, channels 1 and 2 at 60 %LEL confirm the controller alarm (L2)',
  'report-schedule': 'Household meters on a report slot (every minute from 00:00, 3 min window): one silent 5 min (inside slot + window + grace, no NO_SIGNAL), one silent 12 min (NO_SIGNAL once)',
  maintenance: 'Flow meter last lubricated 2026-01-01 (due every 75 days, repair manual 000:448): MAINTENANCE_DUE raised once by the calendar while its readings stay normal; it clears only when its preventive ticket is resolved with the service recorded',
  inhibition: 'Household meter 低电 then 低电+关阀 while its battery stays low: LOW_BATTERY is kept but inhibited by VALVE_CLOSED_LOW_BATTERY',
  leak: 'Home alarms at 60 %LEL with the valve shut (L1+L2), with it open (also VALVE_NOT_CUT), with a linked meter valve open; a controller channel at 30 %LEL',
  'detector-offline': 'An alarm-controller detector channel shows --F',
  power: 'Home alarm power lamp off; yellow lamp + continuous buzz; flow meter at 120 °C; controller mains 150 V, backup undervoltage, backup open circuit',
  'no-signal': 'One device silent while its gateway reports on',
  'gateway-outage': "A gateway's connection dies (last will), it stays away, then reconnects; its devices get no NO_SIGNAL",
  'late-duplicate': 'Batches re-published with the same seq, and a late batch of older normal readings: nothing raised, the current state untouched',
  'late-alarm':
    'A home alarm reporting normal delivers a buffered reading from 9 minutes ago at 48 %LEL: a historical GAS_ALARM_L1 (late, raised and cleared at its own times) with a ticket; a household meter\'s late ERR-6 is recorded without a ticket',
  backfill:
    "A gateway's link drops while a home alarm behind it has a leak; back online it sends its live batch, then its whole backlog, twice: one historical L1 and L2, nothing paged twice",
  malformed: 'Not JSON, wrong shape, gateway mismatch, oversize, 5 001 readings, a batch mixing good and bad readings',
  all: 'Every fault scenario at once on distinct devices',
};

/** Thrown when a fleet cannot carry a scenario (too few devices of a kind, or gateways). */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

/**
 * Bytes of the oversize message: over the pipeline's default 2 MiB `maxPayloadBytes` (and so over 1 MiB),
 * so it is refused with the default ingest settings.
 */
export const OVERSIZE_BYTES = 2 * 1024 * 1024 + 1024;

/** Home alarm in a leak: red lamp, intermittent buzz, 60 %LEL (over L2). */
const LEAK_FIELDS: Partial<WireReading> = { lelPct: 60, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent' };

/**
 * Shared state while a scenario is planned: the timing, which devices are taken, and the plan so far.
 * Each part takes its own devices, so `all` runs every part at once without two faults on one device.
 */
class Planner {
  readonly faults: FaultEpisode[] = [];
  readonly actions: TrafficAction[] = [];
  readonly expected: ExpectedAlert[] = [];
  readonly rejects: Partial<Record<RejectReason, number>> = {};
  readonly records: Record<string, Partial<DeviceRecord>> = {};
  /** Round the faults start: two normal rounds first give every detector a baseline. */
  readonly start = 2;
  /** Rounds a fault is held: at least 4, and 2 minutes of device time so volume-rate pairs (60 s apart) see it. */
  readonly hold: number;
  /** Rounds of normal readings after a fault: at least 5, and enough for the 60 s gas-alarm clear. */
  readonly recover: number;
  /** Rounds a device or gateway stays silent: at least 6, and over 3 report intervals of the kind's defaults. */
  readonly silence: number;
  end = 3;
  readonly #used = new Set<string>();
  readonly #excluded = new Set<string>();

  constructor(
    readonly fleet: Fleet,
    readonly scenario: ScenarioName,
  ) {
    const stepMs = fleet.options.stepMs;
    this.hold = Math.max(4, Math.ceil(120_000 / stepMs));
    this.recover = Math.max(5, Math.ceil(120_000 / stepMs) + 1);
    this.silence = Math.max(6, Math.ceil(120_000 / stepMs) + 1);
    // The linked alarm and its meter are kept for the leak part: no other part may close that valve.
    const link = fleet.linkedAlarm;
    if (link) {
      this.#used.add(link.alarmId);
      this.#used.add(link.valveId);
    }
  }

  /** Keeps a gateway's devices out of every other part (its outage would hide their faults). */
  exclude(gatewayId: string): void {
    this.#excluded.add(gatewayId);
  }

  isFree(d: SimDevice): boolean {
    return !this.#used.has(d.deviceId) && !this.#excluded.has(d.gatewayId);
  }

  isExcluded(gatewayId: string): boolean {
    return this.#excluded.has(gatewayId);
  }

  reserve(d: SimDevice): SimDevice {
    this.#used.add(d.deviceId);
    return d;
  }

  /** The next free device of a kind (optionally matching), reserved for the caller. */
  take(kind: DeviceKind, why: string, match: (d: SimDevice) => boolean = () => true): SimDevice {
    for (const d of this.fleet.devices) if (d.kind === kind && match(d) && this.isFree(d)) return this.reserve(d);
    const { gateways, devices } = this.fleet.options;
    throw new ScenarioError(
      `scenario ${this.scenario}: no free ${kind} left for ${why} in a fleet of ${devices} devices on ${gateways} gateways; use more devices`,
    );
  }

  fault(d: SimDevice, fromRound: number, toRound: number, label: string, effect: FaultEffect, ...conditions: Condition[]): void {
    this.faults.push({ deviceId: d.deviceId, gatewayId: d.gatewayId, kind: d.kind, fromRound, toRound, label, effect });
    this.expect(d.deviceId, ...conditions);
    this.until(toRound + this.recover);
  }

  expect(subjectId: string, ...conditions: Condition[]): void {
    for (const condition of conditions) this.expected.push({ subjectId, condition, raised: 1, cleared: 1 });
  }

  until(round: number): void {
    if (round > this.end) this.end = round;
  }

  malformed(round: number, gatewayId: string, what: MalformedKind): void {
    this.actions.push({ type: 'malformed', round, gatewayId, what });
    for (const [reason, n] of Object.entries(MALFORMED_REJECTS[what]) as Array<[RejectReason, number]>) this.rejects[reason] = (this.rejects[reason] ?? 0) + n;
    this.until(round + 1);
  }

  /** A gateway for injected traffic: the first not excluded. */
  trafficGateway(): string {
    const id = this.fleet.gatewayIds.find((g) => !this.#excluded.has(g));
    if (!id) throw new ScenarioError(`scenario ${this.scenario}: needs a gateway besides the one taken down; use more gateways`);
    return id;
  }
}

type Part = (p: Planner) => void;

const errCodes: Part = (p) => {
  const from = p.start;
  const to = from + p.hold;
  const meter = (code: number, ...more: Condition[]) =>
    p.fault(p.take('household_meter', `ERR-${code}`), from, to, `ERR-${code}`, { status: [`ERR-${code}`] }, `ERR-${code}` as Condition, ...more);
  meter(1, 'TAMPER'); // magnetic interference / reed switch: possible tampering
  meter(2);
  meter(3);
  meter(4);
  meter(5, 'OVERLOAD'); // flow above the meter's range
  meter(6);
  meter(7);
  // Controllers show 故障 and 关阀 together with the code; the supply is cut.
  const controller = (status: string[], label: string, condition: Condition, valveClosed: boolean) =>
    p.fault(p.take('industrial_controller', label), from, to, label, { status, valveClosed }, condition);
  controller(['故障', '关阀', 'ERR-3'], '故障 关阀 ERR-3', 'ERR-3', true);
  controller(['故障', '关阀', 'ERR-4'], '故障 关阀 ERR-4', 'ERR-4', true);
  controller(['故障', '关阀'], '故障 关阀', 'DEVICE_FAULT', true);
  controller(['开盖'], '开盖', 'TAMPER', false);
};

const battery: Part = (p) => {
  // Decays 0.07 V a round from 3.45 V: under Meihua's 3.3 V at the fourth reading, then held.
  const meihua = p.take('household_meter', 'battery decay', (d) => d.vendor === 'meihua');
  const ramp = 3 + p.hold;
  const minV = 2.9;
  p.fault(meihua, p.start, p.start + ramp, 'battery decaying', { batteryRamp: { fromV: 3.45, stepV: 0.07, minV } }, 'LOW_BATTERY');
  p.fault(meihua, p.start + ramp, p.start + ramp + p.hold, '低电 关阀', { status: ['低电', '关阀'], valveClosed: true, fields: { batteryV: minV } }, 'VALVE_CLOSED_LOW_BATTERY');
  const qianfeng = p.take('household_meter', '请换电池', (d) => d.vendor === 'qianfeng');
  p.fault(qianfeng, p.start, p.start + p.hold, '请换电池', { status: ['请换电池'], fields: { batteryV: 3.9 } }, 'LOW_BATTERY');
};

const balance: Part = (p) => {
  const to = p.start + p.hold;
  p.fault(p.take('household_meter', '欠量'), p.start, to, '欠量', { status: ['欠量'], fields: { balanceM3: 3 } }, 'LOW_BALANCE');
  p.fault(p.take('household_meter', '请速购气'), p.start, to, '请速购气', { status: ['请速购气'], fields: { balanceM3: 0 }, valveClosed: true }, 'NO_BALANCE');
};

const overload: Part = (p) => {
  const to = p.start + p.hold;
  // A household meter reports no flow rate: the pipeline computes it from volume deltas.
  p.fault(p.take('household_meter', 'overload'), p.start, to, 'flow 1.5 × Qmax', { usageM3h: 1.5 * QMAX_M3H.household_meter! }, 'OVERLOAD');
  p.fault(p.take('flow_meter', 'overload'), p.start, to, 'flow 1.25 × Qmax', { usageM3h: 1.25 * QMAX_M3H.flow_meter! }, 'OVERLOAD');
  p.fault(p.take('alarm_controller', 'overload'), p.start, to, 'main load 130 %', { fields: { mainLoadPct: 130 } }, 'OVERLOAD');
};

const selfMetering: Part = (p) => {
  const to = p.start + p.hold;
  // 3 m³/h: over the 0.01 m³ a pair needs from 15 s steps on, under the household meter's Qmax.
  p.fault(p.take('household_meter', 'self-metering'), p.start, to, 'counting with the valve shut', { valveClosed: true, phantomM3h: 3 }, 'SELF_METERING');
  p.fault(p.take('flow_meter', 'self-metering'), p.start, to, 'counting at 0 m³/h, SLEEP', { valveClosed: true, phantomM3h: 5, status: ['SLEEP'] }, 'SELF_METERING');
};

const countMismatch: Part = (p) => {
  p.fault(p.take('industrial_controller', 'count mismatch'), p.start, p.start + p.hold, 'counts 3 % apart', { countDriftPct: 3 }, 'COUNT_MISMATCH');
};

const countDrift: Part = (p) => {
  // 36 m³/h (under the controller's Qmax of 40) counted in full by the controller, a quarter of it by its flow meter.
  const usageM3h = 36;
  const perRoundM3 = (usageM3h * p.fleet.options.stepMs) / 3_600_000;
  // Long enough for the difference to pass the 1 m³ floor with room: at least 6 minutes of device time.
  const rounds = Math.max(p.hold, Math.ceil(360_000 / p.fleet.options.stepMs));
  p.fault(p.take('industrial_controller', 'count drift'), p.start, p.start + rounds, 'flow meter counts 25 %', { usageM3h, flowMeterLagM3PerRound: 0.75 * perRoundM3 }, 'COUNT_MISMATCH');
};

/** Default flapping window of the engine (processors/flapping.ts): a flapping alert clears once stable this long. */
const FLAP_WINDOW_MS = 600_000;

const flapping: Part = (p) => {
  // A leak reading, then normal ones until the gas alarm's 60 s clear, three times.
  const offRounds = Math.ceil(60_000 / p.fleet.options.stepMs) + 1;
  const cycle = { onRounds: 1, offRounds };
  const to = p.start + 3 * (1 + offRounds);
  p.fault(p.take('home_gas_alarm', 'flapping'), p.start, to, '60 → 0 %LEL ×3', { fields: LEAK_FIELDS, valveClosed: true, cycle }, 'GAS_ALARM_L1', 'GAS_ALARM_L2');
  // Held raised until stable for the window after the last clear.
  p.until(to + Math.ceil(FLAP_WINDOW_MS / p.fleet.options.stepMs) + p.recover);
};

const inhibition: Part = (p) => {
  // A Qianfeng meter: 请换电池 (LOW_BATTERY), then 低电+关阀 on top while the battery stays low; a new battery clears both.
  const meter = p.take('household_meter', 'inhibition', (d) => d.vendor === 'qianfeng');
  const from = p.start;
  p.fault(meter, from, from + p.hold, '请换电池', { status: ['请换电池'], fields: { batteryV: 3.9 } }, 'LOW_BATTERY');
  p.fault(meter, from + p.hold, from + 2 * p.hold, '请换电池 低电 关阀', { status: ['请换电池', '低电', '关阀'], valveClosed: true, fields: { batteryV: 3.9 } }, 'VALVE_CLOSED_LOW_BATTERY');
};

const twoDetector: Part = (p) => {
  // A site on GB 16808-2025's two-detector rule (its registry record): one channel over L2 is a channel alarm (L1), two confirm L2.
  const controller = p.take('alarm_controller', 'two-detector');
  p.records[controller.deviceId] = { alarmConfirmRule: 'two-detector' };
  const channels = (...over: number[]): DetectorChannel[] => [1, 2, 3, 4].map((channel) => ({ channel, lelPct: over.includes(channel) ? 60 : 1 }));
  const from = p.start;
  p.fault(controller, from, from + p.hold, 'channel 1 at 60 %LEL', { fields: { detectors: channels(1) } }, 'GAS_ALARM_L1');
  p.fault(controller, from + p.hold, from + 2 * p.hold, 'channels 1 and 2 at 60 %LEL', { fields: { detectors: channels(1, 2) } }, 'GAS_ALARM_L2');
};

/** A report slot compressed to minutes so that rounds can show it: slots every 60 s from 00:00, a 3 min window. */
const MINUTE_SLOTS: Partial<DeviceRecord> = { reportAt: '00:00', reportIntervalS: 60, reportWindowMin: 3, reportTz: 'Asia/Shanghai' };

const reportSchedule: Part = (p) => {
  // Silence is allowed up to the next slot (≤ 60 s) + 3 min window + the 5 min default grace: over 8 min, at most 9.
  // A fixed 3 × 60 s would have called a 5-minute silence NO_SIGNAL.
  const stepMs = p.fleet.options.stepMs;
  const inWindow = p.take('household_meter', 'report schedule, in its window');
  const missed = p.take('household_meter', 'report schedule, missed');
  p.records[inWindow.deviceId] = MINUTE_SLOTS;
  p.records[missed.deviceId] = MINUTE_SLOTS;
  const shortTo = p.start + Math.ceil(300_000 / stepMs);
  p.faults.push({ deviceId: inWindow.deviceId, gatewayId: inWindow.gatewayId, kind: inWindow.kind, fromRound: p.start, toRound: shortTo, label: 'silent 5 min, inside slot + window', effect: { silent: true } });
  p.until(shortTo + p.recover);
  p.fault(missed, p.start, p.start + Math.ceil(720_000 / stepMs), 'silent 12 min, a slot and its window missed', { silent: true }, 'NO_SIGNAL');
};

const maintenance: Part = (p) => {
  // Due by the calendar, not by a reading: the registry's service date is long past, the readings normal.
  // Its clear is a person's resolve of the preventive ticket (tests/detection-v2.e2e.test.ts), not a reading.
  const meter = p.take('flow_meter', 'maintenance due');
  p.records[meter.deviceId] = { installedAt: '2025-06-01', lastServiceAt: '2026-01-01' };
  p.expected.push({ subjectId: meter.deviceId, condition: 'MAINTENANCE_DUE', raised: 1, cleared: 0 });
  p.until(p.start + p.recover);
};

const leak: Part = (p) => {
  const to = p.start + p.hold;
  const linked = p.fleet.linkedAlarm;
  // The linked alarm reports no valve: the pipeline judges it by its meter's valve (registry valveId), left open here.
  const linkedAlarm = linked && p.fleet.device(linked.alarmId);
  const linkedMeter = linked && p.fleet.device(linked.valveId);
  p.fault(p.take('home_gas_alarm', 'leak, valve shut'), p.start, to, '60 %LEL, valve shut', { fields: LEAK_FIELDS, valveClosed: true }, 'GAS_ALARM_L1', 'GAS_ALARM_L2');
  p.fault(p.take('home_gas_alarm', 'leak, valve open'), p.start, to, '60 %LEL, valve open', { fields: LEAK_FIELDS }, 'GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT');
  if (linkedAlarm && linkedMeter && !p.isExcluded(linkedAlarm.gatewayId) && !p.isExcluded(linkedMeter.gatewayId)) {
    p.fault(linkedAlarm, p.start, to, '60 %LEL, linked meter valve open', { fields: LEAK_FIELDS }, 'GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT');
  }
  p.fault(p.take('alarm_controller', 'leak'), p.start, to, 'channel 2 at 30 %LEL', { channel: { channel: 2, lelPct: 30 } }, 'GAS_ALARM_L1');
};

const detectorOffline: Part = (p) => {
  p.fault(p.take('alarm_controller', 'detector offline'), p.start, p.start + p.hold, 'channel 3 --F', { channel: { channel: 3, lelPct: null, status: '--F' } }, 'DETECTOR_OFFLINE');
};

const power: Part = (p) => {
  const to = p.start + p.hold;
  p.fault(p.take('home_gas_alarm', 'power lamp off'), p.start, to, 'green lamp off', { fields: { lamps: { power: false, fault: false, alarm: false } } }, 'POWER_LOST');
  p.fault(p.take('home_gas_alarm', 'sensor fault'), p.start, to, 'yellow lamp, continuous buzz', { fields: { lamps: { power: true, fault: true, alarm: false }, buzzer: 'continuous' } }, 'SENSOR_FAULT');
  p.fault(p.take('flow_meter', 'temperature sensor'), p.start, to, 'temperature 120 °C', { fields: { temperatureC: 120 } }, 'SENSOR_FAULT');
  p.fault(p.take('alarm_controller', 'mains undervoltage'), p.start, to, 'mains 150 V', { fields: { mainPowerV: 150 } }, 'MAIN_POWER_UNDERVOLTAGE');
  p.fault(p.take('alarm_controller', 'backup undervoltage'), p.start, to, 'backup undervoltage', { fields: { backup: 'undervoltage', backupV: 10.8 } }, 'BACKUP_UNDERVOLTAGE');
  p.fault(p.take('alarm_controller', 'backup open circuit'), p.start, to, 'backup open circuit', { fields: { backup: 'open_circuit', backupV: 0 } }, 'BACKUP_OPEN_CIRCUIT');
};

const noSignal: Part = (p) => {
  // A home alarm: its kind reports every 30 s by default, so its silence shows even without the registry.
  p.fault(p.take('home_gas_alarm', 'no signal'), p.start, p.start + p.silence, 'silent', { silent: true }, 'NO_SIGNAL');
};

/** Picks the gateway to take down: the last one not hosting the linked alarm and meter, so the leak part keeps them. */
function outageGateway(p: Planner): string {
  const { gatewayIds, linkedAlarm } = p.fleet;
  if (gatewayIds.length < 2 && p.scenario === 'all') throw new ScenarioError('scenario all: needs at least 2 gateways (one goes down)');
  const keep = new Set([linkedAlarm && p.fleet.device(linkedAlarm.alarmId)?.gatewayId, linkedAlarm && p.fleet.device(linkedAlarm.valveId)?.gatewayId]);
  for (let g = gatewayIds.length - 1; g >= 0; g--) if (!keep.has(gatewayIds[g]!)) return gatewayIds[g]!;
  return gatewayIds[gatewayIds.length - 1]!;
}

const gatewayOutage: Part = (p) => {
  const gatewayId = outageGateway(p);
  p.exclude(gatewayId);
  p.actions.push({ type: 'gateway-down', round: p.start, gatewayId });
  p.actions.push({ type: 'gateway-up', round: p.start + p.silence, gatewayId });
  p.expect(gatewayId, 'GATEWAY_OFFLINE');
  p.until(p.start + p.silence + p.recover);
};

const lateDuplicate: Part = (p) => {
  const gatewayId = p.trafficGateway();
  // Rounds apart from the malformed part's (start + 1): a re-published mixed batch would be rejected again.
  const s = p.start;
  p.actions.push({ type: 'duplicate', round: s + 2, gatewayId, ofRound: s + 2 }); // at once, like a QoS 1 redelivery
  p.actions.push({ type: 'duplicate', round: s + 4, gatewayId, ofRound: s + 2 }); // two rounds late, inside the seq window
  const g = p.fleet.gatewayIds.indexOf(gatewayId);
  const late = p.fleet.byGateway[g]!.filter((d) => p.isFree(d)).slice(0, 2);
  if (late.length === 0) throw new ScenarioError(`scenario ${p.scenario}: gateway ${gatewayId} has no free device for the late batch; use more devices`);
  for (const d of late) p.reserve(d);
  // Normal readings, older than ones already judged: judged in event time, they show nothing.
  p.actions.push({ type: 'late-batch', round: s + 4, gatewayId, ofRound: s + 1, readings: late.map((d) => ({ deviceId: d.deviceId, effect: {} })) });
  p.until(s + 4 + p.recover);
};

/** Home alarm in alarm at 48 %LEL (under L2), its valve shut: GAS_ALARM_L1 alone. */
const LATE_LEAK: FaultEffect = { fields: { lelPct: 48, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent' }, valveClosed: true };

const lateAlarm: Part = (p) => {
  // The reading comes 9 minutes after it was measured, the alarm's newer normal readings judged already.
  const lateRounds = Math.ceil(540_000 / p.fleet.options.stepMs);
  const alarm = p.take('home_gas_alarm', 'late alarm');
  const meter = p.take('household_meter', 'late ERR-6', (d) => d.gatewayId === alarm.gatewayId);
  const round = p.start + lateRounds;
  p.actions.push({ type: 'late-batch', round, gatewayId: alarm.gatewayId, ofRound: p.start, readings: [{ deviceId: alarm.deviceId, effect: LATE_LEAK }, { deviceId: meter.deviceId, effect: { status: ['ERR-6'] } }] });
  p.expect(alarm.deviceId, 'GAS_ALARM_L1');
  p.expected.push({ subjectId: meter.deviceId, condition: 'ERR-6', raised: 1, cleared: 1, ticket: false });
  p.until(round + p.recover);
};

/** A gateway for the backfill: not the outage's, not the injected traffic's, not hosting the linked alarm and meter. */
function backfillGateway(p: Planner): string {
  const { gatewayIds, linkedAlarm } = p.fleet;
  const keep = new Set([linkedAlarm && p.fleet.device(linkedAlarm.alarmId)?.gatewayId, linkedAlarm && p.fleet.device(linkedAlarm.valveId)?.gatewayId, p.trafficGateway()]);
  for (let g = gatewayIds.length - 1; g >= 0; g--) {
    const id = gatewayIds[g]!;
    if (!keep.has(id) && !p.isExcluded(id) && p.fleet.byGateway[g]!.some((d) => d.kind === 'home_gas_alarm' && p.isFree(d))) return id;
  }
  const { gateways, devices } = p.fleet.options;
  throw new ScenarioError(
    `scenario ${p.scenario}: no free home_gas_alarm left for a backfill on a gateway of its own (not the traffic${p.scenario === 'all' ? ', outage' : ''} or linked-alarm gateway) in a fleet of ${devices} devices on ${gateways} gateways; use more devices, or more gateways`,
  );
}

const backfill: Part = (p) => {
  const gatewayId = backfillGateway(p);
  const alarm = p.take('home_gas_alarm', 'backfill leak', (d) => d.gatewayId === gatewayId);
  p.exclude(gatewayId);
  // Down long enough for the leak to be raised and cleared in device time while nobody hears it.
  const down = p.start;
  const leakFrom = down + 1;
  const leakTo = leakFrom + p.hold;
  const up = leakTo + p.recover + 1;
  p.actions.push({ type: 'gateway-down', round: down, gatewayId, buffer: true });
  p.actions.push({ type: 'gateway-up', round: up, gatewayId });
  p.actions.push({ type: 'backfill', round: up, gatewayId, deliveries: 2 });
  p.faults.push({ deviceId: alarm.deviceId, gatewayId, kind: alarm.kind, fromRound: leakFrom, toRound: leakTo, label: '60 %LEL while the gateway is down, valve shut', effect: { fields: LEAK_FIELDS, valveClosed: true } });
  p.expect(alarm.deviceId, 'GAS_ALARM_L1', 'GAS_ALARM_L2');
  p.expect(gatewayId, 'GATEWAY_OFFLINE');
  p.until(up + p.recover);
};

const malformed: Part = (p) => {
  const gatewayId = p.trafficGateway();
  for (const what of Object.keys(MALFORMED_REJECTS) as MalformedKind[]) p.malformed(p.start + 1, gatewayId, what);
  p.until(p.start + 1 + p.recover);
};

const PARTS: Readonly<Record<Exclude<ScenarioName, 'all'>, Part>> = {
  normal: (p) => p.until(10),
  'err-codes': errCodes,
  battery,
  balance,
  overload,
  'self-metering': selfMetering,
  'count-mismatch': countMismatch,
  'count-drift': countDrift,
  flapping,
  inhibition,
  'two-detector': twoDetector,
  'report-schedule': reportSchedule,
  maintenance,
  leak,
  'detector-offline': detectorOffline,
  power,
  'no-signal': noSignal,
  'gateway-outage': gatewayOutage,
  'late-duplicate': lateDuplicate,
  'late-alarm': lateAlarm,
  backfill,
  malformed,
};

/** Smallest step the fault plans are timed for: a self-metering pair must count over 0.01 m³ under Qmax. */
export const MIN_FAULT_STEP_MS = 15_000;

/**
 * Plans a scenario on a fleet: which device gets which fault when, which gateway goes down, what bad
 * traffic is injected, and what the pipeline should make of it. Deterministic for a given fleet.
 * Throws ScenarioError when the fleet is too small for it.
 */
export function buildScenario(name: ScenarioName, fleet: Fleet): Scenario {
  if (!isScenarioName(name)) throw new ScenarioError(`unknown scenario ${String(name)} (known: ${SCENARIO_NAMES.join(', ')})`);
  const { stepMs } = fleet.options;
  if (name !== 'normal' && stepMs < MIN_FAULT_STEP_MS) {
    throw new ScenarioError(`scenario ${name}: fault plans are timed for steps of at least ${MIN_FAULT_STEP_MS} ms, got ${stepMs}`);
  }
  const p = new Planner(fleet, name);
  if (name === 'all') {
    // The outage goes first so that no other part puts a fault on a device the outage would hide.
    gatewayOutage(p);
    backfill(p);
    for (const [part, plan] of Object.entries(PARTS)) if (part !== 'normal' && part !== 'gateway-outage' && part !== 'backfill') plan(p);
  } else {
    PARTS[name](p);
  }
  return {
    name,
    description: SCENARIO_DESCRIPTIONS[name],
    stepMs,
    rounds: p.end + 1,
    faults: p.faults,
    actions: p.actions.sort((a, b) => a.round - b.round),
    expected: p.expected,
    expectedRejects: p.rejects,
    records: p.records,
  };
}

/**
 * A device count (same gateways, seed and step) on which the scenario can be planned, for a helpful
 * error; undefined when none up to 100 000 devices is found.
 */
export function suggestDevices(name: ScenarioName, options: FleetOptions): number | undefined {
  for (let devices = Math.max(options.devices + 1, options.gateways); devices <= 100_000; devices = Math.ceil(devices * 1.15)) {
    try {
      buildScenario(name, createFleet({ ...options, devices }));
      return devices;
    } catch (err) {
      if (!(err instanceof ScenarioError)) throw err;
    }
  }
  return undefined;
}
