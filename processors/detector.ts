import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { Condition, DeviceKind, Reading, Severity, ValveState } from '../contracts/messages.ts';
import type { DeviceProfile } from './device-profile.ts';

/**
 * What a detector found in one reading about one condition: it holds now (`present`) or it does not.
 * Saying nothing about a condition means the reading carried no evidence either way. The engine turns
 * findings into raise/clear edges against the device's active alerts, so a detector restored from an
 * older snapshot can neither fire an active alert twice nor leave one that has ended.
 */
export interface Finding {
  condition: Condition;
  present: boolean;
  /** Overrides the condition's default severity, e.g. a battery fault that closed the valve. */
  severity?: Severity;
  /** Facts for the technician: value, set point, channel, token as shown. */
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
   * Judge one reading. Returns the new state (the same object when nothing changed) and pushes
   * findings into `out`. Called only with readings newer than every reading before for the device.
   */
  step(
    profile: DeviceProfile,
    settings: Static<S>,
    state: State,
    reading: Reading,
    linked: LinkedFacts,
    out: Finding[],
  ): State;
}

/** Declares a detector with its types inferred from its schemas. */
export function defineDetector<S extends TObject, State>(definition: DetectorDefinition<S, State>): DetectorDefinition<S, State> {
  return definition;
}
