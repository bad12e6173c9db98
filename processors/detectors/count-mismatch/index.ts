import { Type } from '@sinclair/typebox';
import { defineDetector } from '../../detector.ts';
import { LevelSchema, LEVEL_OFF, advanceLevel, type Level } from '../../level.ts';

interface State {
  level: Level;
}

/**
 * COUNT_MISMATCH (计数不同步, manual lines 376–378): an industrial controller's own count and its flow
 * meter's count drift apart by more than the tolerance — the larger of an absolute amount and a share
 * of the count, since a large meter's counts differ by more in absolute terms. Once raised it stays
 * until the difference is back within half the tolerance, so a drift hovering at the limit does not flap.
 */
export const CountMismatchDetector = defineDetector({
  name: 'count-mismatch',
  description: 'Controller count and flow-meter count out of sync',
  kinds: ['industrial_controller'],
  conditions: ['COUNT_MISMATCH'],
  settingsSchema: Type.Object({
    toleranceM3: Type.Number({ default: 1, minimum: 0, description: 'counts may differ by this much, m³ (the larger of this and tolerancePct applies)' }),
    tolerancePct: Type.Number({ default: 1, minimum: 0, description: 'counts may differ by this share of the larger count, %' }),
    raiseAfterMs: Type.Integer({ default: 0, minimum: 0, description: 'out of sync for this long before raising, device ms (0: at once)' }),
    clearAfterMs: Type.Integer({ default: 0, minimum: 0, description: 'back in sync for this long before clearing, device ms' }),
  }),
  stateSchema: Type.Object({ level: LevelSchema }),
  initialState: (): State => ({ level: LEVEL_OFF }),
  step(_profile, settings, state, reading, _linked, out) {
    const controllerM3 = reading.volumeM3;
    const flowMeterM3 = reading.flowMeterVolumeM3;
    if (controllerM3 === undefined || flowMeterM3 === undefined) return state;

    const toleranceM3 = Math.max(settings.toleranceM3, (settings.tolerancePct * Math.max(Math.abs(controllerM3), Math.abs(flowMeterM3))) / 100);
    // Rounded to the µm³ so float noise in the subtraction cannot tip a difference at the limit.
    const diffM3 = Math.round(Math.abs(controllerM3 - flowMeterM3) * 1e6) / 1e6;
    const want = state.level.on ? diffM3 > toleranceM3 / 2 : diffM3 > toleranceM3;
    const level = advanceLevel(state.level, want, reading.atMs, settings.raiseAfterMs, settings.clearAfterMs);
    out.report('COUNT_MISMATCH', level.on, () => ({ controllerM3, flowMeterM3, diffM3, toleranceM3, ...(reading.flowMeterId !== undefined ? { flowMeterId: reading.flowMeterId } : {}) }));
    return level === state.level ? state : { level };
  },
});
