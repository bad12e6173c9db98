import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { Condition, DeviceKind, Reading, Severity, ValveState } from '../contracts/messages.ts';
import type { DeviceProfile } from './device-profile.ts';

/**
 * Facts for the technician (value, set point, channel, token as shown), built only on a raise or a
 * clear. Pass it as an inline arrow in the report call, never one held in a variable: V8 inlines
 * `report`, sees the arrow unused on a reading that changes nothing and does not allocate it, while
 * one arrow shared by several reports is allocated on every reading (engine alone over 2.4M
 * readings: 51 young collections shared against 14–18 inline, 357k against 700k readings/s). Under
 * tsx (esbuild `keepNames`) a named closure also gets its name set on each creation.
 */
export type Detail = () => Record<string, unknown>;

/**
 * Where a detector says what it found in one reading: a condition holds now (`present`) or it does
 * not. Saying nothing about a condition means the reading carried no evidence either way. The engine
 * turns findings into raise/clear edges against the device's active alerts, so a detector restored
 * from an older snapshot can neither fire an active alert twice nor leave one that has ended. Most
 * findings change nothing, so the detail is a function the engine calls only for an edge: a
 * reading costs no detail objects.
 */
export interface Findings {
  /** `severity` overrides the condition's default, e.g. a battery fault that closed the valve. */
  report(condition: Condition, present: boolean, detail?: Detail, severity?: Severity): void;
}

/** A finding as tests see it, with its detail built. */
export interface Finding {
  condition: Condition;
  present: boolean;
  severity?: Severity;
  detail?: Record<string, unknown>;
}

/** Facts from other devices that a detector may judge with, looked up by the engine. */
export interface LinkedFacts {
  /** Last reported state of the shut-off valve the registry links to this device (`valveId`). */
  linkedValve?: ValveState;
}

/**
 * A detector: a small pure unit `(profile, state, reading) → (new state, findings)`. No I/O and no
 * clock reads: time is the reading's own `atMs`. Its state is plain JSON so it snapshots and
 * restores across restarts and Kafka rebalances; `stateSchema` checks a restored snapshot.
 */
export interface DetectorDefinition<S extends TObject = TObject, State = unknown> {
  readonly name: string;
  readonly description: string;
  /** Device kinds this detector looks at; the engine never calls it for others. */
  readonly kinds: readonly DeviceKind[];
  /** Every condition it may report; each condition has exactly one owning detector. */
  readonly conditions: readonly Condition[];
  /** Settings schema with defaults and units in the names; parsed once at start. */
  readonly settingsSchema: S;
  readonly stateSchema: TSchema;
  initialState(): State;
  /**
   * Judge one reading. Returns the new state (the same object when nothing changed) and reports
   * findings to `out`. Called only with readings newer than every reading before for the device.
   */
  step(
    profile: DeviceProfile,
    settings: Static<S>,
    state: State,
    reading: Reading,
    linked: LinkedFacts,
    out: Findings,
  ): State;
}

/** Declares a detector with its types inferred from its schemas. */
export function defineDetector<S extends TObject, State>(definition: DetectorDefinition<S, State>): DetectorDefinition<S, State> {
  return definition;
}
