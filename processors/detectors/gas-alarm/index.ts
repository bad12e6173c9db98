import { Type } from '@sinclair/typebox';
import type { Reading } from '../../../contracts/messages.ts';
import type { AlarmConfirmRule, DeviceProfile } from '../../device-profile.ts';
import { defineDetector } from '../../detector.ts';
import { LEVEL_OFF, LevelSchema, aboveWithHysteresis, advanceLevel, type Level } from '../../level.ts';

/** Highest concentration in the reading, the channels at or above the first set point, and the readable channel values, highest first. */
function concentration(reading: Reading, profile: DeviceProfile): { lelPct: number | undefined; channels: Array<string | number>; values: number[] } {
  if (reading.kind === 'home_gas_alarm') return { lelPct: reading.lelPct, channels: [], values: NO_VALUES };
  let max: number | undefined;
  const channels: Array<string | number> = [];
  const values: number[] = [];
  for (const d of reading.detectors ?? []) {
    if (d.lelPct === null || d.lelPct === undefined) continue;
    if (max === undefined || d.lelPct > max) max = d.lelPct;
    if (d.lelPct >= profile.l1LelPct) channels.push(d.channel);
    values.push(d.lelPct);
  }
  if (values.length > 1) values.sort((a, b) => b - a);
  return { lelPct: max, channels, values };
}

const NO_VALUES: number[] = [];

/** Channels at or above `setPoint`. */
function channelsOver(reading: Reading, setPoint: number): Array<string | number> {
  const over: Array<string | number> = [];
  for (const d of reading.detectors ?? []) if (d.lelPct !== null && d.lelPct !== undefined && d.lelPct >= setPoint) over.push(d.channel);
  return over;
}

function alarmDetail(lelPct: number | undefined, profile: DeviceProfile, channels: Array<string | number>, deviceAlarm: boolean): Record<string, unknown> {
  return { lelPct, l1LelPct: profile.l1LelPct, l2LelPct: profile.l2LelPct, ...(channels.length ? { channels } : {}), ...(deviceAlarm ? { deviceAlarm } : {}) };
}

/**
 * An alarm controller's detail also says which rule applied and what it saw: under `two-detector`
 * L1 is the channel alarm one channel raises (`scope: 'channel'`), L2 the controller alarm that
 * `confirmMinChannels` channels at or above L2 confirm; `confirmed` and `confirmedBy` say whether
 * enough channels were over that level's set point on the reading of the edge.
 */
function controllerDetail(
  base: Record<string, unknown>, rule: AlarmConfirmRule, level: 'L1' | 'L2', reading: Reading, profile: DeviceProfile, minChannels: number,
): Record<string, unknown> {
  if (rule === 'single') return { ...base, rule };
  const overL2 = channelsOver(reading, profile.l2LelPct);
  const overL1 = Array.isArray(base.channels) ? (base.channels as Array<string | number>) : [];
  // Whether the alarm of this level was confirmed by enough channels when it was raised or cleared.
  const confirmedBy = level === 'L2' ? overL2 : overL1;
  return { ...base, rule, scope: level === 'L1' ? 'channel' : 'controller', channelsOverL2: overL2, confirmed: confirmedBy.length >= minChannels, ...(confirmedBy.length >= minChannels ? { confirmedBy } : {}) };
}

/**
 * GAS_ALARM_L1 / GAS_ALARM_L2: combustible gas at or above the device's first / second set point
 * (defaults 25 / 50 %LEL, per device in the registry). A home alarm's own red lamp or intermittent
 * buzzer counts as a first-level alarm even without a concentration. Raised on the first reading
 * over the set point (a leak is never held back); cleared only after the concentration has stayed
 * below the set point minus the hysteresis for `clearAfterMs` of device time.
 *
 * An alarm controller under GB 16808-2025's two-detector confirmation (`confirmRule`, or the
 * controller's registry `alarmConfirmRule`) raises its controller alarm, GAS_ALARM_L2, only while
 * `confirmMinChannels` channels are at or above L2 (judged on the N-th highest channel, with the
 * same hysteresis); one channel over still raises GAS_ALARM_L1, its channel alarm, so a leak seen by
 * one detector is never lost. The detail carries `rule: 'single' | 'two-detector'`.
 */
export const GasAlarmDetector = defineDetector({
  name: 'gas-alarm',
  description: 'Combustible gas concentration over the L1/L2 set points, with hysteresis',
  kinds: ['home_gas_alarm', 'alarm_controller'],
  conditions: ['GAS_ALARM_L1', 'GAS_ALARM_L2'],
  settingsSchema: Type.Object({
    hysteresisLelPct: Type.Number({ default: 5, minimum: 0, description: 'drop below the set point by this much to start clearing, %LEL' }),
    raiseAfterMs: Type.Integer({ default: 0, minimum: 0, description: 'time over a set point before raising, device ms (0: at once)' }),
    clearAfterMs: Type.Integer({ default: 60_000, minimum: 0, description: 'time below before clearing, device ms' }),
    confirmRule: Type.Union([Type.Literal('single'), Type.Literal('two-detector')], {
      default: 'single',
      description: "alarm controllers: 'two-detector' raises the controller alarm (L2) only when confirmMinChannels channels exceed it (GB 16808-2025); a registry alarmConfirmRule wins",
    }),
    confirmMinChannels: Type.Integer({ default: 2, minimum: 2, maximum: 64, description: 'channels that must be at or above L2 under the two-detector rule' }),
  }),
  stateSchema: Type.Object({ l1: LevelSchema, l2: LevelSchema }),
  initialState: (): { l1: Level; l2: Level } => ({ l1: LEVEL_OFF, l2: LEVEL_OFF }),
  step(profile, settings, state, reading, _linked, out) {
    const { lelPct, channels, values } = concentration(reading, profile);
    const deviceAlarm = reading.lamps?.alarm === true || reading.buzzer === 'intermittent';
    if (lelPct === undefined && !deviceAlarm) return state;

    const isController = reading.kind === 'alarm_controller';
    const rule: AlarmConfirmRule = isController ? (profile.alarmConfirmRule ?? settings.confirmRule) : 'single';
    const value = lelPct ?? 0;
    // Two-detector: the value that enough channels reach is the N-th highest (a channel short of it: no controller alarm).
    const confirmedValue = rule === 'two-detector' ? (values[settings.confirmMinChannels - 1] ?? 0) : value;
    const wantL1 = deviceAlarm || aboveWithHysteresis(state.l1.on, value, profile.l1LelPct, settings.hysteresisLelPct);
    const wantL2 = aboveWithHysteresis(state.l2.on, confirmedValue, profile.l2LelPct, settings.hysteresisLelPct);
    const l1 = advanceLevel(state.l1, wantL1, reading.atMs, settings.raiseAfterMs, settings.clearAfterMs);
    const l2 = advanceLevel(state.l2, wantL2, reading.atMs, settings.raiseAfterMs, settings.clearAfterMs);

    if (isController) {
      out.report('GAS_ALARM_L1', l1.on, () => controllerDetail(alarmDetail(lelPct, profile, channels, deviceAlarm), rule, 'L1', reading, profile, settings.confirmMinChannels));
      out.report('GAS_ALARM_L2', l2.on, () => controllerDetail(alarmDetail(lelPct, profile, channels, deviceAlarm), rule, 'L2', reading, profile, settings.confirmMinChannels));
    } else {
      out.report('GAS_ALARM_L1', l1.on, () => alarmDetail(lelPct, profile, channels, deviceAlarm));
      out.report('GAS_ALARM_L2', l2.on, () => alarmDetail(lelPct, profile, channels, deviceAlarm));
    }
    return l1 === state.l1 && l2 === state.l2 ? state : { l1, l2 };
  },
});
