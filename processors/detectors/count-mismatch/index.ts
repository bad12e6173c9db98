import { Type, type Static } from '@sinclair/typebox';
import { defineDetector } from '../../detector.ts';
import { LevelSchema, LEVEL_OFF, advanceLevel } from '../../level.ts';

/** Both counts as one reading carried them, at its device time. */
const CountsSchema = Type.Object({ atMs: Type.Number(), controllerM3: Type.Number(), flowMeterM3: Type.Number() });
type Counts = Static<typeof CountsSchema>;

// `sync` and `last` are optional so that a snapshot from before increments (only `level`) still restores.
const StateSchema = Type.Object({
  level: LevelSchema,
  /** Where the increments are counted from: the last reading at which the two counts were judged in step. */
  sync: Type.Optional(Type.Union([CountsSchema, Type.Null()])),
  /** The newest reading carrying both counts, to recognise a count going backwards (reset, rollover, replaced meter). */
  last: Type.Optional(Type.Union([CountsSchema, Type.Null()])),
});
type State = Static<typeof StateSchema>;

const countsOf = (atMs: number, controllerM3: number, flowMeterM3: number): Counts => ({ atMs, controllerM3, flowMeterM3 });
// Rounded to the µm³ so float noise in a subtraction cannot tip a difference at the limit.
const um3 = (m3: number): number => Math.round(m3 * 1e6) / 1e6;

/**
 * COUNT_MISMATCH (计数不同步, manual lines 376–378): an industrial controller's own count and its
 * flow meter's count drift apart. Judged on increments since a sync point, not on the cumulative
 * totals: a share of a total in the thousands of m³ would hide a controller counting four times
 * what its flow meter counts for hours. The sync point slides forward (every `windowMs`) only while
 * the counts agree, so a drift is always measured from the last moment they were in step.
 */
export const CountMismatchDetector = defineDetector({
  name: 'count-mismatch',
  description: 'Controller count and flow-meter count drift apart (judged on increments since the last sync point)',
  kinds: ['industrial_controller'],
  conditions: ['COUNT_MISMATCH'],
  settingsSchema: Type.Object({
    toleranceM3: Type.Number({ default: 1, minimum: 0, description: 'absolute floor: the increments may differ by this much, m³, however small they are (the larger of this and tolerancePct applies)' }),
    tolerancePct: Type.Number({ default: 2, minimum: 0, description: 'the increments may differ by this share of the larger increment since the sync point, %' }),
    resyncQmaxFactor: Type.Number({ default: 2, minimum: 1, description: 'while raised, a count advancing faster than this many times the meter\'s Qmax between two readings was set, not counted (a re-sync): counting starts afresh there' }),
    windowMs: Type.Integer({ default: 3_600_000, minimum: 1, description: 'while the counts agree, the sync point moves up to the current reading once it is this old, device ms: increments are judged over at most about this window' }),
    raiseAfterMs: Type.Integer({ default: 0, minimum: 0, description: 'out of step for this long before raising, device ms (0: at once)' }),
    clearAfterMs: Type.Integer({ default: 0, minimum: 0, description: 'back in step for this long before clearing, device ms' }),
  }),
  stateSchema: StateSchema,
  initialState: (): State => ({ level: LEVEL_OFF, sync: null, last: null }),
  step(profile, settings, state, reading, _linked, out) {
    const controllerM3 = reading.volumeM3;
    const flowMeterM3 = reading.flowMeterVolumeM3;
    // A reading without its partner count carries no evidence: the sync point waits for one with both.
    if (controllerM3 === undefined || flowMeterM3 === undefined) return state;
    const now = countsOf(reading.atMs, controllerM3, flowMeterM3);
    const last = state.last ?? null;
    // The engine judges only newer readings; a duplicate or older one handed in anyway changes nothing.
    if (last !== null && now.atMs <= last.atMs) return state;
    const sync = state.sync ?? null;
    // The first pair, or a count that went backwards (reset, rollover, replaced meter): counting starts
    // afresh here. The level is held, since this reading says nothing about drift.
    if (sync === null || last === null || controllerM3 < last.controllerM3 || flowMeterM3 < last.flowMeterM3) {
      return { level: state.level, sync: now, last: now };
    }
    // Raised, and a count leapt further than gas can flow: the technician re-synced the counts (or
    // replaced a meter). Counting starts afresh here, so the alert clears once they run in step.
    // Not before a raise: a count leaping ahead out of step is exactly what raises.
    const maxStepM3 = (settings.resyncQmaxFactor * profile.qmaxM3h * (now.atMs - last.atMs)) / 3_600_000;
    if (state.level.on && profile.qmaxM3h > 0 && Math.max(controllerM3 - last.controllerM3, flowMeterM3 - last.flowMeterM3) > maxStepM3) {
      return { level: state.level, sync: now, last: now };
    }

    const controllerDeltaM3 = um3(controllerM3 - sync.controllerM3);
    const flowMeterDeltaM3 = um3(flowMeterM3 - sync.flowMeterM3);
    const diffM3 = um3(Math.abs(controllerDeltaM3 - flowMeterDeltaM3));
    const largerM3 = Math.max(controllerDeltaM3, flowMeterDeltaM3);
    const toleranceM3 = Math.max(settings.toleranceM3, (settings.tolerancePct * largerM3) / 100);
    // Once raised it stays until the difference is within half the tolerance, so a drift at the limit does not flap.
    const want = state.level.on ? diffM3 > toleranceM3 / 2 : diffM3 > toleranceM3;
    const level = advanceLevel(state.level, want, reading.atMs, settings.raiseAfterMs, settings.clearAfterMs);
    out.report('COUNT_MISMATCH', level.on, () => ({
      controllerM3,
      flowMeterM3,
      controllerDeltaM3,
      flowMeterDeltaM3,
      diffM3,
      driftPct: largerM3 > 0 ? Math.round((diffM3 / largerM3) * 1000) / 10 : 0,
      toleranceM3: um3(toleranceM3),
      // Which count ran ahead of the other since the sync point: the side to check first.
      ahead: controllerDeltaM3 >= flowMeterDeltaM3 ? 'controller' : 'flow_meter',
      since: new Date(sync.atMs).toISOString(),
      ...(reading.flowMeterId !== undefined ? { flowMeterId: reading.flowMeterId } : {}),
    }));
    // In step and nothing pending: the window slides up to here once it is full.
    const slide = !level.on && !want && level.pendingSinceMs === null && now.atMs - sync.atMs >= settings.windowMs;
    return { level, sync: slide ? now : sync, last: now };
  },
});
