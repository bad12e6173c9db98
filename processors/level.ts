import { Type } from '@sinclair/typebox';

/**
 * A debounced on/off level on device time: the shared mechanism behind hysteresis and minimum
 * duration, so a value hovering at a set point does not flap. A change of level is accepted only
 * once it has been wanted continuously for the hold time, judged on reading timestamps.
 */
export interface Level {
  on: boolean;
  /** Device time since which the opposite level has been wanted continuously; null when not pending. */
  pendingSinceMs: number | null;
}

export const LEVEL_OFF: Level = Object.freeze({ on: false, pendingSinceMs: null }) as Level;

/**
 * Advances a level. `wantOn` is the raw judgement of this reading (with hysteresis already applied
 * by the caller: compare against the clear threshold while on). Returns the same object when nothing changed.
 */
export function advanceLevel(level: Level, wantOn: boolean, atMs: number, raiseAfterMs: number, clearAfterMs: number): Level {
  if (wantOn === level.on) {
    return level.pendingSinceMs === null ? level : { on: level.on, pendingSinceMs: null };
  }
  const since = level.pendingSinceMs ?? atMs;
  const holdMs = wantOn ? raiseAfterMs : clearAfterMs;
  if (atMs - since >= holdMs) return { on: wantOn, pendingSinceMs: null };
  return level.pendingSinceMs === since ? level : { on: level.on, pendingSinceMs: since };
}

/**
 * Threshold judgement with hysteresis: at or above `setPoint` turns on; once on, it stays wanted
 * until the value drops below `setPoint - hysteresis`.
 */
export function aboveWithHysteresis(on: boolean, value: number, setPoint: number, hysteresis: number): boolean {
  return on ? value >= setPoint - hysteresis : value >= setPoint;
}

/** The mirror for low thresholds (battery, mains voltage): at or below turns on, clears above `setPoint + hysteresis`. */
export function belowWithHysteresis(on: boolean, value: number, setPoint: number, hysteresis: number): boolean {
  return on ? value <= setPoint + hysteresis : value < setPoint;
}

/** Schema of a `Level` held in a detector's state, so a restored snapshot is checked. */
export const LevelSchema = Type.Object({ on: Type.Boolean(), pendingSinceMs: Type.Union([Type.Number(), Type.Null()]) });
