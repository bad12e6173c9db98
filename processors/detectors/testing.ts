import type { Static, TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { DeviceRecord } from '../../contracts/device-record.ts';
import type { Condition, Reading } from '../../contracts/messages.ts';
import type { DetectorDefinition, Finding, Findings, LinkedFacts } from '../detector.ts';
import { resolveProfile } from '../device-profile.ts';
import { parseSettings } from '../settings.ts';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');

/** A reading for detector tests: `atS` seconds after a fixed epoch, every other field as given. */
export function reading(fields: Partial<Reading> & Pick<Reading, 'kind'> & { atS?: number }): Reading {
  const { atS = 0, ...rest } = fields;
  const atMs = T0 + atS * 1000;
  return { deviceId: 'DEV-1', gatewayId: 'GW-1', at: new Date(atMs).toISOString(), atMs, receivedAtMs: atMs, ...rest };
}

export interface Step {
  findings: Finding[];
  /** Conditions reported present after this reading. */
  present: Condition[];
}

/**
 * Feeds readings through a detector the way the engine does, round-tripping the state through
 * JSON and its schema after every step, so every test also proves the state snapshots and restores.
 */
export function runDetector<S extends TObject, State>(
  definition: DetectorDefinition<S, State>,
  readings: Reading[],
  options: { record?: Partial<DeviceRecord>; settings?: Partial<Static<S>>; linked?: LinkedFacts; state?: State } = {},
): { steps: Step[]; state: State } {
  const profile = resolveProfile({ deviceId: 'DEV-1', kind: readings[0]!.kind, ...options.record } as DeviceRecord);
  const settings = parseSettings(definition, options.settings ?? {});
  let state = options.state ?? definition.initialState();
  const steps: Step[] = [];
  for (const r of readings) {
    const found: Finding[] = [];
    const out: Findings = {
      report: (condition, present, detail, severity) => found.push({ condition, present, ...(severity ? { severity } : {}), ...(detail ? { detail: detail() } : {}) }),
    };
    state = definition.step(profile, settings, state, r, options.linked ?? {}, out);
    const restored: unknown = JSON.parse(JSON.stringify(state));
    if (!Value.Check(definition.stateSchema, restored)) throw new Error(`${definition.name}: state does not match its stateSchema after a snapshot`);
    state = restored as State;
    steps.push({ findings: found, present: found.filter((f) => f.present).map((f) => f.condition) });
  }
  return { steps, state };
}
