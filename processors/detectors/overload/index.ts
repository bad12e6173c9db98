import { Type } from '@sinclair/typebox';
import { defineDetector } from '../../detector.ts';
import { LevelSchema, LEVEL_OFF, advanceLevel, type Level } from '../../level.ts';
import { errCodes, shownTokens, showsAny } from '../common.ts';

const CONTROLLER_OVERLOAD_TOKENS = ['过载', '主电过载'];
const MS_PER_HOUR = 3_600_000;

interface State {
  level: Level;
  /** Last judgement of `flowM3h` against Qmax (with hysteresis), kept while readings omit the flow. */
  flowHigh: boolean;
  /** Last judgement of the rate between two volume readings, kept until the next comparable pair. */
  deltaHigh: boolean;
  /** Last judgement of an alarm controller's `mainLoadPct`. */
  loadHigh: boolean;
  /** Baseline for the rate from volume deltas; null before the first volume. */
  lastVolumeM3: number | null;
  lastAtMs: number | null;
}

type Source = 'code' | 'flow' | 'volume_delta' | 'controller_load';

/**
 * OVERLOAD: flow above the meter's range (ERR-5 shown, `flowM3h` over Qmax, or the average rate
 * between two volume readings over Qmax), or an alarm controller's main power carrying more than its
 * rated load (`mainLoadPct` > 100, 过载 / 主电过载). The volume rate catches meters that report no flow
 * rate; it needs `minDeltaIntervalMs` between readings so that counter resolution does not fake a
 * rate, and a tolerance because the average over a short interval is rough. A volume that went
 * backwards means the meter was replaced or reset: the baseline restarts there.
 */
export const OverloadDetector = defineDetector({
  name: 'overload',
  description: 'Flow above the meter range (ERR-5, flow or volume rate over Qmax), or alarm controller main power overload',
  kinds: ['household_meter', 'industrial_controller', 'flow_meter', 'alarm_controller'],
  conditions: ['OVERLOAD'],
  settingsSchema: Type.Object({
    hysteresisRatio: Type.Number({ default: 0.05, minimum: 0, maximum: 1, description: 'once over Qmax, flow must drop under Qmax × (1 − this) to clear, ratio' }),
    minDeltaIntervalMs: Type.Integer({ default: 60_000, minimum: 1, description: 'shortest interval between two volume readings to compute a rate from, device ms' }),
    deltaToleranceRatio: Type.Number({ default: 0.1, minimum: 0, description: 'rate from volume deltas must exceed Qmax × (1 + this), ratio' }),
    raiseAfterMs: Type.Integer({ default: 0, minimum: 0, description: 'overloaded for this long before raising, device ms (0: at once)' }),
    clearAfterMs: Type.Integer({ default: 0, minimum: 0, description: 'no longer overloaded for this long before clearing, device ms' }),
  }),
  stateSchema: Type.Object({
    level: LevelSchema,
    flowHigh: Type.Boolean(),
    deltaHigh: Type.Boolean(),
    loadHigh: Type.Boolean(),
    lastVolumeM3: Type.Union([Type.Number(), Type.Null()]),
    lastAtMs: Type.Union([Type.Number(), Type.Null()]),
  }),
  initialState: (): State => ({ level: LEVEL_OFF, flowHigh: false, deltaHigh: false, loadHigh: false, lastVolumeM3: null, lastAtMs: null }),
  step(profile, settings, state, reading, _linked, out) {
    const isAlarmController = reading.kind === 'alarm_controller';
    const hasEvidence = isAlarmController
      ? reading.status !== undefined || reading.mainLoadPct !== undefined
      : reading.status !== undefined || reading.flowM3h !== undefined || reading.volumeM3 !== undefined;
    if (!hasEvidence) return state;

    const tokens = shownTokens(reading);
    const qmax = profile.qmaxM3h;
    let { flowHigh, deltaHigh, loadHigh, lastVolumeM3, lastAtMs } = state;
    let code = false;
    let tokenLoad = false;
    let rateM3h: number | undefined;

    if (isAlarmController) {
      tokenLoad = showsAny(tokens, CONTROLLER_OVERLOAD_TOKENS);
      if (reading.mainLoadPct !== undefined) loadHigh = reading.mainLoadPct > 100;
    } else {
      code = (errCodes(tokens) & (1 << 5)) !== 0;
      const flow = reading.flowM3h;
      if (flow !== undefined) flowHigh = qmax > 0 && (state.flowHigh ? flow >= qmax * (1 - settings.hysteresisRatio) : flow > qmax);
      const volume = reading.volumeM3;
      if (volume !== undefined) {
        if (lastVolumeM3 === null || lastAtMs === null || volume < lastVolumeM3) {
          lastVolumeM3 = volume;
          lastAtMs = reading.atMs;
          deltaHigh = false;
        } else if (reading.atMs - lastAtMs >= settings.minDeltaIntervalMs) {
          rateM3h = (volume - lastVolumeM3) / ((reading.atMs - lastAtMs) / MS_PER_HOUR);
          deltaHigh = qmax > 0 && rateM3h > qmax * (1 + settings.deltaToleranceRatio);
          lastVolumeM3 = volume;
          lastAtMs = reading.atMs;
        }
        // Closer than minDeltaIntervalMs: keep the older baseline so the interval keeps growing.
      }
    }

    const source: Source | undefined = code ? 'code' : flowHigh ? 'flow' : deltaHigh ? 'volume_delta' : loadHigh || tokenLoad ? 'controller_load' : undefined;
    const level = advanceLevel(state.level, source !== undefined, reading.atMs, settings.raiseAfterMs, settings.clearAfterMs);

    const value =
      source === 'code' ? 'ERR-5'
      : source === 'flow' ? reading.flowM3h
      : source === 'volume_delta' ? rateM3h
      : source === 'controller_load' ? (reading.mainLoadPct ?? reading.status)
      : undefined;
    out.report('OVERLOAD', level.on, () => ({
        ...(source ? { source } : {}),
        ...(value !== undefined ? { value } : {}),
        ...(isAlarmController ? {} : { qmaxM3h: qmax }),
        ...(reading.flowM3h !== undefined ? { flowM3h: reading.flowM3h } : {}),
        ...(rateM3h !== undefined ? { rateM3h } : {}),
        ...(reading.mainLoadPct !== undefined ? { mainLoadPct: reading.mainLoadPct } : {}),
    }));

    if (
      level === state.level && flowHigh === state.flowHigh && deltaHigh === state.deltaHigh && loadHigh === state.loadHigh &&
      lastVolumeM3 === state.lastVolumeM3 && lastAtMs === state.lastAtMs
    ) return state;
    return { level, flowHigh, deltaHigh, loadHigh, lastVolumeM3, lastAtMs };
  },
});
