import { Type, type Static } from '@sinclair/typebox';
import { parseSection } from './settings.ts';
import type { Condition } from '../contracts/messages.ts';

/**
 * Flap detection (issue 15 #4), Kapacitor-style: a condition whose detector raises and clears it
 * `minChanges` times or more within `windowMs` of device time is flapping. Its raise is marked
 * (`flapping: true`, `changes`), the alert book reopens the alert it cleared moments ago rather than
 * opening another, and the engine holds it raised — the detector's further raises and clears are
 * only counted — until the condition has been stable (no change) for `windowMs`. A gas alarm going
 * 60 → 0 %LEL three times in five minutes is one alert and one ticket, not three.
 */
export const FlapSettingsSchema = Type.Object({
  enabled: Type.Boolean({ default: true, description: 'detect flapping at all (false: every raise and clear goes out as found)' }),
  windowMs: Type.Integer({ default: 600_000, minimum: 1, description: 'changes are counted over this much device time, and a flapping condition clears once stable this long, ms' }),
  minChanges: Type.Integer({ default: 3, minimum: 2, description: 'raises and clears of one condition within windowMs that make a raise flapping (3: raise, clear, raise)' }),
});
export type FlapSettings = Static<typeof FlapSettingsSchema>;

/** Parses the `flapping` section of the settings file once at start; a bad value is refused by name. */
export function parseFlapSettings(raw: unknown = {}): FlapSettings {
  return parseSection(FlapSettingsSchema, 'flapping', raw);
}

/**
 * A device's recent changes, kept only while some condition of it changed within the window or is
 * flapping: a quiet fleet costs nothing. Plain JSON, part of the device's snapshot.
 */
export interface FlapState {
  /** Device times of each condition's recent raises and clears, oldest first, within the window. */
  changes: Partial<Record<Condition, number[]>>;
  /** Changes counted since each flapping condition began to flap. */
  counted: Partial<Record<Condition, number>>;
  /** Bit per condition (CONDITION_BIT) that is flapping, held raised. */
  flapping: number;
  /** Bit per flapping condition whose detector last said it is over: its clear waits for the stable window. */
  held: number;
}

export const FlapStateSchema = Type.Object({
  changes: Type.Record(Type.String(), Type.Array(Type.Number())),
  counted: Type.Record(Type.String(), Type.Number()),
  flapping: Type.Integer(),
  held: Type.Integer(),
});

export const newFlapState = (): FlapState => ({ changes: {}, counted: {}, flapping: 0, held: 0 });

/** Records one change and returns the changes of the condition within the window, this one included. */
export function recordChange(flap: FlapState, condition: Condition, atMs: number, windowMs: number): number {
  const times = (flap.changes[condition] ??= []);
  times.push(atMs);
  dropOlder(times, atMs - windowMs);
  if (flap.counted[condition] !== undefined) flap.counted[condition]! += 1;
  return times.length;
}

/** Drops the changes at or before `untilMs` (out of the window); true when none is left. */
export function dropOlder(times: number[], untilMs: number): boolean {
  let i = 0;
  while (i < times.length && times[i]! <= untilMs) i++;
  if (i > 0) times.splice(0, i);
  return times.length === 0;
}
