import type { Condition } from '../contracts/messages.ts';
import type { Alert } from './alert-book.ts';

/**
 * One inhibition rule (Alertmanager-style, issue 15 #7): while an alert of `source` is active, the
 * alerts of `targets` in its scope are kept but marked inhibited — shown in the alert book and the
 * API with what inhibits them — and open no ticket and send no push of their own. When the source
 * clears, a target still active stands on its own again and gets its ticket then.
 */
export interface InhibitRule {
  source: Condition;
  targets: readonly Condition[];
  /** `device`: the same device; `gateway`: the devices behind the source's gateway. */
  scope: 'device' | 'gateway';
  /** Why the source is the condition to act on, for the README and the alert. */
  why: string;
}

/** Never inhibited, whatever a rule says: a leak stands on its own (checked by the table's test). */
export const NEVER_INHIBITED: readonly Condition[] = ['GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT'];

/** The inhibition table: the one place the rules are declared. */
export const INHIBIT_RULES: readonly InhibitRule[] = [
  {
    source: 'VALVE_CLOSED_LOW_BATTERY',
    targets: ['LOW_BATTERY'],
    scope: 'device',
    why: '低电关阀 already says the battery is low, and that the customer has no gas: the battery call is the one to make',
  },
  {
    source: 'GATEWAY_OFFLINE',
    targets: ['NO_SIGNAL', 'POWER_LOST', 'DETECTOR_OFFLINE', 'MAIN_POWER_UNDERVOLTAGE', 'BACKUP_UNDERVOLTAGE', 'BACKUP_OPEN_CIRCUIT'],
    scope: 'gateway',
    why: 'an offline gateway explains its devices going silent and a power cut at the site: one visit to the gateway, not one ticket per device',
  },
];

/** What an inhibited alert carries. */
export interface Inhibition {
  /** The source condition and its alert. */
  by: Condition;
  alertId: string;
  /** When the inhibition began, ISO time (device time of the later of the two raises). */
  since: string;
}

const rulesBySource = new Map<Condition, InhibitRule[]>();
const rulesByTarget = new Map<Condition, InhibitRule[]>();
for (const rule of INHIBIT_RULES) {
  (rulesBySource.get(rule.source) ?? rulesBySource.set(rule.source, []).get(rule.source)!).push(rule);
  for (const t of rule.targets) (rulesByTarget.get(t) ?? rulesByTarget.set(t, []).get(t)!).push(rule);
}

export const rulesWithSource = (condition: Condition): readonly InhibitRule[] => rulesBySource.get(condition) ?? [];
export const rulesWithTarget = (condition: Condition): readonly InhibitRule[] => rulesByTarget.get(condition) ?? [];

/** Whether `source` (an active alert of the rule's source condition) inhibits `target` under `rule`. */
export function inScope(rule: InhibitRule, source: Alert, target: Alert): boolean {
  if (target.id === source.id || !rule.targets.includes(target.condition) || NEVER_INHIBITED.includes(target.condition)) return false;
  if (rule.scope === 'device') return target.subject === 'device' && target.subjectId === source.subjectId;
  return target.subject === 'device' && target.gatewayId !== '' && target.gatewayId === (source.subject === 'gateway' ? source.subjectId : source.gatewayId);
}
