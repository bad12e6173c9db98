/**
 * The city's fault mix: what a faulty device shows in every reading it sends, and the alerts the
 * pipeline's detectors must raise for it (processors/detectors/*, shared/domain/gas-devices.md).
 * A fault holds for the whole run, so each condition is raised once and never cleared.
 */
import type { Condition, DeviceKind } from '../../contracts/messages.ts';

export interface FaultEffect {
  /** Display tokens shown. */
  status?: string[];
  /** The valve is shut: `valve: "closed"`, and the count stops unless `phantomM3h` says otherwise. */
  valveClosed?: boolean;
  /** Volume counted, m³/h, although no gas can flow (self-metering). */
  phantomM3h?: number;
  /** A flow meter's flow, m³/h, replacing its own (its count follows). */
  flowM3h?: number;
  batteryV?: number;
  externalPowerV?: number;
  /** A home alarm sounding: 60 %LEL, red lamp, intermittent buzzer. */
  leak?: boolean;
  mainLoadPct?: number;
  /** One alarm-controller channel replaced. */
  channel?: { channel: number; lelPct: number };
}

export interface FaultSpec {
  name: string;
  kind: DeviceKind;
  description: string;
  /** Every alert the fault raises on its device. */
  conditions: readonly Condition[];
  effect: FaultEffect;
  /** Shown only by a pair of readings: the device also sends its previous reading in a burst. */
  pair?: true;
  /** Shuts the device's valve: never given to a meter whose valve is a home alarm's shut-off valve. */
  closesValve?: true;
  /** Only for a home alarm linked to a meter's valve (true) or with a valve of its own (false). */
  linked?: boolean;
}

const LEAK = 60;

export const FAULTS: readonly FaultSpec[] = [
  ...([1, 2, 3, 4, 5, 6, 7] as const).map((n): FaultSpec => ({
    name: `meter-err-${n}`,
    kind: 'household_meter',
    description: `household meter showing ERR-${n}${n === 1 ? ' (magnetic interference: also TAMPER)' : n === 5 ? ' (flow over range: also OVERLOAD)' : ''}`,
    conditions: n === 1 ? ['ERR-1', 'TAMPER'] : n === 5 ? ['ERR-5', 'OVERLOAD'] : [`ERR-${n}`],
    effect: { status: [`ERR-${n}`] },
  })),
  { name: 'meter-low-battery', kind: 'household_meter', description: 'household meter at 3.05 V showing 低电', conditions: ['LOW_BATTERY'], effect: { status: ['低电'], batteryV: 3.05 } },
  {
    name: 'meter-self-metering', kind: 'household_meter', description: 'household meter counting 3 m³/h with its valve shut',
    conditions: ['SELF_METERING'], effect: { valveClosed: true, phantomM3h: 3 }, pair: true, closesValve: true,
  },
  { name: 'alarm-leak-valve-shut', kind: 'home_gas_alarm', description: 'home alarm at 60 %LEL, its valve shut', conditions: ['GAS_ALARM_L1', 'GAS_ALARM_L2'], effect: { leak: true, valveClosed: true }, linked: false },
  { name: 'alarm-leak-valve-open', kind: 'home_gas_alarm', description: 'home alarm at 60 %LEL, its valve still open', conditions: ['GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT'], effect: { leak: true }, linked: false },
  {
    name: 'alarm-leak-linked-valve-open', kind: 'home_gas_alarm', description: "home alarm at 60 %LEL whose linked meter's valve (registry valveId) stays open",
    conditions: ['GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT'], effect: { leak: true }, linked: true,
  },
  ...([3, 4] as const).map((n): FaultSpec => ({
    name: `controller-err-${n}`,
    kind: 'industrial_controller',
    description: `industrial controller showing 故障 关阀 ERR-${n}, supply cut`,
    conditions: [`ERR-${n}`],
    effect: { status: ['故障', '关阀', `ERR-${n}`], valveClosed: true },
  })),
  { name: 'controller-supply-low', kind: 'industrial_controller', description: 'industrial controller on an 8 V external supply', conditions: ['LOW_BATTERY'], effect: { externalPowerV: 8 } },
  { name: 'flow-overload', kind: 'flow_meter', description: 'flow meter at 200 m³/h (Qmax 160)', conditions: ['OVERLOAD'], effect: { flowM3h: 200 } },
  {
    name: 'flow-self-metering', kind: 'flow_meter', description: 'flow meter reading 0 m³/h showing SLEEP while counting 5 m³/h',
    conditions: ['SELF_METERING'], effect: { status: ['SLEEP'], flowM3h: 0, phantomM3h: 5 }, pair: true,
  },
  { name: 'flow-low-battery', kind: 'flow_meter', description: 'flow meter battery at 3.0 V', conditions: ['LOW_BATTERY'], effect: { batteryV: 3 } },
  { name: 'controller-overload', kind: 'alarm_controller', description: 'alarm controller mains at 130 % load', conditions: ['OVERLOAD'], effect: { mainLoadPct: 130 } },
  { name: 'controller-leak', kind: 'alarm_controller', description: 'alarm controller channel 2 at 60 %LEL', conditions: ['GAS_ALARM_L1', 'GAS_ALARM_L2'], effect: { channel: { channel: 2, lelPct: LEAK } } },
];

/** A fault's `name` in `FAULTS`. */
export type FaultName = string;

export const FAULT_BY_NAME: ReadonlyMap<FaultName, FaultSpec> = new Map(FAULTS.map((f) => [f.name, f]));

export const FAULTS_BY_KIND: Readonly<Record<DeviceKind, readonly FaultSpec[]>> = {
  household_meter: FAULTS.filter((f) => f.kind === 'household_meter'),
  home_gas_alarm: FAULTS.filter((f) => f.kind === 'home_gas_alarm'),
  industrial_controller: FAULTS.filter((f) => f.kind === 'industrial_controller'),
  flow_meter: FAULTS.filter((f) => f.kind === 'flow_meter'),
  alarm_controller: FAULTS.filter((f) => f.kind === 'alarm_controller'),
};

/** An alert a run must produce: one condition on one device. */
export interface InjectedFault {
  deviceId: string;
  condition: Condition;
}
