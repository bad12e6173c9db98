import { Type } from '@sinclair/typebox';
import type { Reading } from '../../../contracts/messages.ts';
import { defineDetector } from '../../detector.ts';
import { LevelSchema, LEVEL_OFF, advanceLevel, belowWithHysteresis, type Level } from '../../level.ts';
import { VALVE_CLOSED_TOKENS, shownTokens, showsAny } from '../common.ts';

const LOW_TOKENS = ['低电', '欠压', '请换电池', '低电关阀'];
// A controller showing "t" beside 低电 means its internal battery (manual line 360).
const INTERNAL_TOKEN = 'T';

interface State {
  level: Level;
  /** Last judgement of `batteryV` (internal battery), kept while readings omit the voltage. */
  internalLow: boolean;
  /** Last judgement of an industrial controller's `externalPowerV`. */
  externalLow: boolean;
  /** Last known valve state, kept while a reading carries neither `valve` nor `status`. */
  valveClosed: boolean;
}

type Source = 'internal' | 'external' | 'internal+external';

function batteryDetail(source: Source | undefined, reading: Reading, lowBatteryV: number, minExternalPowerV: number | undefined, valveClosed: boolean): Record<string, unknown> {
  const { status, batteryV, externalPowerV } = reading;
  return {
    ...(source ? { source } : {}),
    ...(status ? { tokens: status } : {}),
    ...(batteryV !== undefined ? { batteryV, lowBatteryV } : {}),
    ...(minExternalPowerV !== undefined ? { externalPowerV, minExternalPowerV } : {}),
    valveClosed,
  };
}

/**
 * LOW_BATTERY from the low-battery tokens or a voltage under the model's threshold, and
 * VALVE_CLOSED_LOW_BATTERY when the meter has also shut its valve (the customer has no gas).
 * A voltage judged low stays judged until a reading carries a voltage again, so readings that omit
 * it neither clear nor flap the alert. The hysteresis band keeps a battery sagging around the
 * threshold under load from raising and clearing on alternate readings.
 */
export const BatteryDetector = defineDetector({
  name: 'battery',
  description: 'Low internal battery / external supply, and valve closed for low battery',
  kinds: ['household_meter', 'industrial_controller', 'flow_meter'],
  conditions: ['LOW_BATTERY', 'VALVE_CLOSED_LOW_BATTERY'],
  settingsSchema: Type.Object({
    hysteresisV: Type.Number({ default: 0.1, minimum: 0, description: 'rise above the threshold by this much before a low voltage clears, V' }),
    minExternalPowerV: Type.Number({ default: 10, minimum: 0, description: "industrial controller's external supply under this is low, V" }),
    raiseAfterMs: Type.Integer({ default: 0, minimum: 0, description: 'low for this long before raising, device ms (0: at once)' }),
    clearAfterMs: Type.Integer({ default: 0, minimum: 0, description: 'no longer low for this long before clearing, device ms' }),
  }),
  stateSchema: Type.Object({ level: LevelSchema, internalLow: Type.Boolean(), externalLow: Type.Boolean(), valveClosed: Type.Boolean() }),
  initialState: (): State => ({ level: LEVEL_OFF, internalLow: false, externalLow: false, valveClosed: false }),
  step(profile, settings, state, reading, _linked, out) {
    const { status, batteryV, externalPowerV, valve } = reading;
    if (status === undefined && batteryV === undefined && externalPowerV === undefined && valve === undefined) return state;

    const tokens = shownTokens(reading);
    const tokenLow = showsAny(tokens, LOW_TOKENS);
    const isController = reading.kind === 'industrial_controller';

    let internalLow = state.internalLow;
    if (batteryV !== undefined && profile.lowBatteryV > 0) internalLow = belowWithHysteresis(state.internalLow, batteryV, profile.lowBatteryV, settings.hysteresisV);
    let externalLow = state.externalLow;
    if (isController && externalPowerV !== undefined) externalLow = belowWithHysteresis(state.externalLow, externalPowerV, settings.minExternalPowerV, settings.hysteresisV);

    // 低电 on a controller with an external supply means that supply, unless "t" says internal (manual
    // lines 358–362). A controller that reports `externalPowerV` at all has one, even when it reads 0 V.
    const tokenExternal = tokenLow && isController && !tokens.includes(INTERNAL_TOKEN) && externalPowerV !== undefined;
    const internal = internalLow || (tokenLow && !tokenExternal);
    const external = externalLow || tokenExternal;

    const level = advanceLevel(state.level, internal || external, reading.atMs, settings.raiseAfterMs, settings.clearAfterMs);
    const valveClosed = valve !== undefined || status !== undefined ? valve === 'closed' || showsAny(tokens, VALVE_CLOSED_TOKENS) : state.valveClosed;

    const source: Source | undefined = internal && external ? 'internal+external' : internal ? 'internal' : external ? 'external' : undefined;
    const minExternalPowerV = isController && externalPowerV !== undefined ? settings.minExternalPowerV : undefined;
    out.report('LOW_BATTERY', level.on, () => batteryDetail(source, reading, profile.lowBatteryV, minExternalPowerV, valveClosed));
    out.report('VALVE_CLOSED_LOW_BATTERY', level.on && valveClosed, () => batteryDetail(source, reading, profile.lowBatteryV, minExternalPowerV, valveClosed));

    if (level === state.level && internalLow === state.internalLow && externalLow === state.externalLow && valveClosed === state.valveClosed) return state;
    return { level, internalLow, externalLow, valveClosed };
  },
});
