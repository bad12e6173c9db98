import { Type } from '@sinclair/typebox';
import type { Reading } from '../../../contracts/messages.ts';
import type { DeviceProfile } from '../../device-profile.ts';
import { defineDetector } from '../../detector.ts';
import { LEVEL_OFF, LevelSchema, aboveWithHysteresis, advanceLevel, type Level } from '../../level.ts';

/** Highest concentration in the reading, and the channels at or above the first set point. */
function concentration(reading: Reading, profile: DeviceProfile): { lelPct: number | undefined; channels: Array<string | number> } {
  if (reading.kind === 'home_gas_alarm') return { lelPct: reading.lelPct, channels: [] };
  let max: number | undefined;
  const channels: Array<string | number> = [];
  for (const d of reading.detectors ?? []) {
    if (d.lelPct === null || d.lelPct === undefined) continue;
    if (max === undefined || d.lelPct > max) max = d.lelPct;
    if (d.lelPct >= profile.l1LelPct) channels.push(d.channel);
  }
  return { lelPct: max, channels };
}

function alarmDetail(lelPct: number | undefined, profile: DeviceProfile, channels: Array<string | number>, deviceAlarm: boolean): Record<string, unknown> {
  return { lelPct, l1LelPct: profile.l1LelPct, l2LelPct: profile.l2LelPct, ...(channels.length ? { channels } : {}), ...(deviceAlarm ? { deviceAlarm } : {}) };
}

/**
 * GAS_ALARM_L1 / GAS_ALARM_L2: combustible gas at or above the device's first / second set point
 * (defaults 25 / 50 %LEL, per device in the registry). A home alarm's own red lamp or intermittent
 * buzzer counts as a first-level alarm even without a concentration. Raised on the first reading
 * over the set point (a leak is never held back); cleared only after the concentration has stayed
 * below the set point minus the hysteresis for `clearAfterMs` of device time.
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
  }),
  stateSchema: Type.Object({ l1: LevelSchema, l2: LevelSchema }),
  initialState: (): { l1: Level; l2: Level } => ({ l1: LEVEL_OFF, l2: LEVEL_OFF }),
  step(profile, settings, state, reading, _linked, out) {
    const { lelPct, channels } = concentration(reading, profile);
    const deviceAlarm = reading.lamps?.alarm === true || reading.buzzer === 'intermittent';
    if (lelPct === undefined && !deviceAlarm) return state;

    const value = lelPct ?? 0;
    const wantL1 = deviceAlarm || aboveWithHysteresis(state.l1.on, value, profile.l1LelPct, settings.hysteresisLelPct);
    const wantL2 = aboveWithHysteresis(state.l2.on, value, profile.l2LelPct, settings.hysteresisLelPct);
    const l1 = advanceLevel(state.l1, wantL1, reading.atMs, settings.raiseAfterMs, settings.clearAfterMs);
    const l2 = advanceLevel(state.l2, wantL2, reading.atMs, settings.raiseAfterMs, settings.clearAfterMs);

    out.report('GAS_ALARM_L1', l1.on, () => alarmDetail(lelPct, profile, channels, deviceAlarm));
    out.report('GAS_ALARM_L2', l2.on, () => alarmDetail(lelPct, profile, channels, deviceAlarm));
    return l1 === state.l1 && l2 === state.l2 ? state : { l1, l2 };
  },
});
