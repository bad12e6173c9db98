import type { TObject } from '@sinclair/typebox';
import type { DetectorDefinition } from '../detector.ts';
import { GasAlarmDetector } from './gas-alarm/index.ts';

/**
 * Every detector the engine runs, by name. Adding a condition means adding one folder beside this
 * file and one line here; no detector registers itself by being imported.
 */
export const DETECTORS: ReadonlyArray<DetectorDefinition<TObject, any>> = [
  GasAlarmDetector,
];
