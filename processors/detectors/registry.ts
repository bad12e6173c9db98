import type { TObject } from '@sinclair/typebox';
import type { DetectorDefinition } from '../detector.ts';
import { BalanceDetector } from './balance/index.ts';
import { BatteryDetector } from './battery/index.ts';
import { CountMismatchDetector } from './count-mismatch/index.ts';
import { DetectorOfflineDetector } from './detector-offline/index.ts';
import { DeviceCodesDetector } from './device-codes/index.ts';
import { GasAlarmDetector } from './gas-alarm/index.ts';
import { OverloadDetector } from './overload/index.ts';
import { PowerDetector } from './power/index.ts';
import { SelfMeteringDetector } from './self-metering/index.ts';
import { SensorFaultDetector } from './sensor-fault/index.ts';
import { ValveNotCutDetector } from './valve-not-cut/index.ts';

/**
 * Every detector the engine runs, by name. Adding a condition means adding one folder beside this
 * file and one line here; no detector registers itself by being imported.
 */
export const DETECTORS: ReadonlyArray<DetectorDefinition<TObject, any>> = [
  GasAlarmDetector,
  ValveNotCutDetector,
  DeviceCodesDetector,
  BatteryDetector,
  BalanceDetector,
  OverloadDetector,
  SelfMeteringDetector,
  CountMismatchDetector,
  SensorFaultDetector,
  PowerDetector,
  DetectorOfflineDetector,
];
