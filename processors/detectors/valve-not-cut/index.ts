import { Type } from '@sinclair/typebox';
import type { Reading } from '../../../contracts/messages.ts';
import type { AlarmConfirmRule, DeviceProfile } from '../../device-profile.ts';
import { defineDetector } from '../../detector.ts';

interface State {
  /** Device time the current alarm began; null while not alarming. */
  alarmSinceMs: number | null;
}

interface AlarmJudgement {
  /** The reading says whether the device is alarming (a concentration, the red lamp or the buzzer). */
  known: boolean;
  alarming: boolean;
  lelPct: number | undefined;
  channels: Array<string | number>;
}

/**
 * Whether the device is alarming: its own red lamp / intermittent buzzer, or gas at or over L1 — on
 * an alarm controller under the two-detector rule, on at least `minChannels` channels, since the
 * controller cuts the valve only on a confirmed alarm (GB 16808-2025).
 */
function judgeAlarm(profile: DeviceProfile, reading: Reading, wasAlarming: boolean, hysteresisLelPct: number, minChannels: number): AlarmJudgement {
  // Once alarming, a concentration just under L1 still counts, as in the gas-alarm detector.
  const setPoint = wasAlarming ? profile.l1LelPct - hysteresisLelPct : profile.l1LelPct;
  const deviceAlarm = reading.lamps?.alarm === true || reading.buzzer === 'intermittent';
  let known = reading.lamps?.alarm !== undefined || reading.buzzer !== undefined;
  let lelPct = reading.lelPct;
  const channels: Array<string | number> = [];
  if (lelPct !== undefined) known = true;
  for (const d of reading.detectors ?? []) {
    if (d.lelPct === null || d.lelPct === undefined) continue;
    known = true;
    if (lelPct === undefined || d.lelPct > lelPct) lelPct = d.lelPct;
    if (d.lelPct >= setPoint) channels.push(d.channel);
  }
  if (minChannels > 1) return { known, alarming: deviceAlarm || channels.length >= minChannels, lelPct, channels };
  return { known, alarming: deviceAlarm || (lelPct !== undefined && lelPct >= setPoint), lelPct, channels };
}

/**
 * VALVE_NOT_CUT (critical): the alarm is sounding but the shut-off valve is still open, so the
 * household is exposed (manual lines 222–230). The valve is the reading's own `valve`, else the last
 * state of the valve device linked in the registry. A valve may take `cutGraceMs` of device time after
 * the alarm began to close. An alarm with no known valve state gives no finding: guessing either way
 * would hide a real exposure or page someone for nothing.
 */
export const ValveNotCutDetector = defineDetector({
  name: 'valve-not-cut',
  description: 'Gas alarm sounding while the linked shut-off valve is still open',
  kinds: ['home_gas_alarm', 'alarm_controller'],
  conditions: ['VALVE_NOT_CUT'],
  settingsSchema: Type.Object({
    cutGraceMs: Type.Integer({ default: 0, minimum: 0, description: 'an open valve is tolerated this long after the alarm began, device ms' }),
    hysteresisLelPct: Type.Number({ default: 5, minimum: 0, description: 'once alarming, gas under L1 by less than this still counts, %LEL' }),
    confirmRule: Type.Union([Type.Literal('single'), Type.Literal('two-detector')], {
      default: 'single',
      description: "alarm controllers: 'two-detector' expects the valve cut only once confirmMinChannels channels are at or over L1 (GB 16808-2025); a registry alarmConfirmRule wins",
    }),
    confirmMinChannels: Type.Integer({ default: 2, minimum: 2, maximum: 64, description: 'channels at or over L1 that confirm the alarm under the two-detector rule' }),
  }),
  stateSchema: Type.Object({ alarmSinceMs: Type.Union([Type.Number(), Type.Null()]) }),
  initialState: (): State => ({ alarmSinceMs: null }),
  step(profile, settings, state, reading, linked, out) {
    const rule: AlarmConfirmRule = reading.kind === 'alarm_controller' ? (profile.alarmConfirmRule ?? settings.confirmRule) : 'single';
    const alarm = judgeAlarm(profile, reading, state.alarmSinceMs !== null, settings.hysteresisLelPct, rule === 'two-detector' ? settings.confirmMinChannels : 1);
    if (!alarm.known) return state;

    const alarmSinceMs = alarm.alarming ? (state.alarmSinceMs ?? reading.atMs) : null;
    const next = alarmSinceMs === state.alarmSinceMs ? state : { alarmSinceMs };
    if (alarmSinceMs === null) {
      out.report('VALVE_NOT_CUT', false, () => ({ alarming: false, ...(alarm.lelPct !== undefined ? { lelPct: alarm.lelPct } : {}) }));
      return next;
    }

    const valve = reading.valve ?? linked.linkedValve;
    if (valve === undefined) return next;
    const openForMs = reading.atMs - alarmSinceMs;
    out.report('VALVE_NOT_CUT', valve === 'open' && openForMs >= settings.cutGraceMs, () => ({
        alarming: true,
        valve,
        valveSource: reading.valve !== undefined ? 'reading' : 'linked',
        ...(profile.valveId !== undefined ? { valveId: profile.valveId } : {}),
        ...(alarm.lelPct !== undefined ? { lelPct: alarm.lelPct } : {}),
        l1LelPct: profile.l1LelPct,
        ...(alarm.channels.length ? { channels: alarm.channels } : {}),
        ...(reading.kind === 'alarm_controller' ? { rule } : {}),
        alarmSinceMs,
    }));
    return next;
  },
});
