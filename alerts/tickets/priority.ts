import type { Condition, Severity } from '../../contracts/messages.ts';
import { PRIORITY_RANK, type Priority } from '../sla/sla-policy.ts';

export type { Priority };

const EMERGENCY: ReadonlySet<Condition> = new Set(['VALVE_NOT_CUT', 'GAS_ALARM_L2']);
/** Safety or a customer without gas: a closed valve, a leak the valve did cut, a blind detector, tampering. */
const URGENT: ReadonlySet<Condition> = new Set(['GAS_ALARM_L1', 'DETECTOR_OFFLINE', 'TAMPER', 'VALVE_CLOSED_LOW_BATTERY']);

/** Conditions that put lives at risk: pushed by the safety lane before any bookkeeping, never folded. */
export const SAFETY_CONDITIONS: ReadonlySet<Condition> = new Set(['GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT']);

/** Preventive work, not a fault: a ticket all of whose conditions are these says 预防性维护 / preventive maintenance. */
export const PREVENTIVE_CONDITIONS: ReadonlySet<Condition> = new Set(['MAINTENANCE_DUE']);

/** True when there are conditions and every one is preventive. */
export function isPreventive(conditions: readonly Condition[]): boolean {
  return conditions.length > 0 && conditions.every((c) => PREVENTIVE_CONDITIONS.has(c));
}

/** A leak, or any condition the severity settings mark critical. */
export function isSafetyAlert(input: Pick<PriorityInput, 'condition' | 'severity'>): boolean {
  return SAFETY_CONDITIONS.has(input.condition) || input.severity === 'critical';
}

export interface PriorityInput {
  condition: Condition;
  severity: Severity;
  detail?: Record<string, unknown> | undefined;
}

/** The priority one condition asks for (gas-devices.md severity notes). */
export function priorityOf(input: PriorityInput): Priority {
  if (EMERGENCY.has(input.condition) || input.severity === 'critical') return 'emergency';
  if (URGENT.has(input.condition) || input.detail?.valveClosed === true) return 'urgent';
  // The gas alarms behind a gateway that is down are blind: nobody would hear of a leak there.
  if (input.condition === 'GATEWAY_OFFLINE' && Number(input.detail?.gasAlarms) > 0) return 'urgent';
  if (input.severity === 'info' || input.severity === 'low') return 'low';
  return 'normal';
}

export function maxPriority(a: Priority, b: Priority): Priority {
  return PRIORITY_RANK[a] >= PRIORITY_RANK[b] ? a : b;
}

/** The worst condition decides; low when there is none. */
export function worstPriority(inputs: Iterable<PriorityInput>): Priority {
  let worst: Priority = 'low';
  for (const i of inputs) worst = maxPriority(worst, priorityOf(i));
  return worst;
}
