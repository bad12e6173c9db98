import type { Condition, Severity } from '../contracts/messages.ts';

/**
 * Default severity per condition, from the repair manual's notes: a leak whose valve did not cut and
 * a second-level gas alarm are critical; anything that leaves a customer without gas is high;
 * balance notices are the customer's business. A detector may raise it for one finding.
 */
export const DEFAULT_SEVERITY: Record<Condition, Severity> = {
  'ERR-1': 'high',
  'ERR-2': 'high',
  'ERR-3': 'high',
  'ERR-4': 'high',
  'ERR-5': 'high',
  'ERR-6': 'high',
  'ERR-7': 'high',
  DEVICE_FAULT: 'medium',
  LOW_BATTERY: 'medium',
  VALVE_CLOSED_LOW_BATTERY: 'high',
  LOW_BALANCE: 'info',
  NO_BALANCE: 'info',
  OVERLOAD: 'high',
  SELF_METERING: 'high',
  COUNT_MISMATCH: 'medium',
  GAS_ALARM_L1: 'high',
  GAS_ALARM_L2: 'critical',
  VALVE_NOT_CUT: 'critical',
  SENSOR_FAULT: 'medium',
  POWER_LOST: 'medium',
  MAIN_POWER_UNDERVOLTAGE: 'medium',
  BACKUP_UNDERVOLTAGE: 'medium',
  BACKUP_OPEN_CIRCUIT: 'medium',
  DETECTOR_OFFLINE: 'high',
  NO_SIGNAL: 'medium',
  GATEWAY_OFFLINE: 'high',
  TAMPER: 'high',
  MAINTENANCE_DUE: 'low',
};
