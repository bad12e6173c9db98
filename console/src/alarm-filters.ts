import type { Alert } from './api.ts';

/** What the operator narrowed the alarm list to; kept in the URL (`#/alarms?district=…&q=…`) so a reload or a shared link keeps it. */
export interface AlarmFilters {
  district?: string;
  severity?: string;
  condition?: string;
  gateway?: string;
  /** Free text: device, address, customer or gateway. */
  q?: string;
}

const KEYS = ['district', 'severity', 'condition', 'gateway', 'q'] as const;

/** Conditions that put lives at risk: never folded, always sounded (alerts/tickets/priority.ts SAFETY_CONDITIONS). */
export const SAFETY_CONDITIONS: ReadonlySet<string> = new Set(['GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT']);

export const isSafety = (a: Pick<Alert, 'condition' | 'severity'>): boolean => SAFETY_CONDITIONS.has(a.condition) || a.severity === 'critical';

export function filtersFromHash(hash: string): AlarmFilters {
  const query = hash.includes('?') ? hash.slice(hash.indexOf('?') + 1) : '';
  const params = new URLSearchParams(query);
  const out: AlarmFilters = {};
  for (const k of KEYS) {
    const v = params.get(k)?.trim();
    if (v) out[k] = v;
  }
  return out;
}

export function hashWithFilters(filters: AlarmFilters): string {
  const params = new URLSearchParams();
  for (const k of KEYS) if (filters[k]) params.set(k, filters[k]!);
  const query = params.toString();
  return query ? `#/alarms?${query}` : '#/alarms';
}

export function matchesFilters(a: Alert, f: AlarmFilters): boolean {
  if (f.district && a.district !== f.district) return false;
  if (f.severity && a.severity !== f.severity) return false;
  if (f.condition && a.condition !== f.condition) return false;
  if (f.gateway && a.gatewayId !== f.gateway) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    const fields = [a.deviceId, a.gatewayId, a.address, a.customer];
    if (!fields.some((v) => v !== undefined && v.toLowerCase().includes(q))) return false;
  }
  return true;
}

export type AlarmRow = { type: 'alert'; alert: Alert } | { type: 'group'; key: string; condition: string; gatewayId: string; severity: string; alerts: Alert[] };

export const SEVERITY_ORDER: readonly string[] = ['critical', 'high', 'medium', 'low', 'info'];
/** 0 for critical, up to 4 for info; an unknown severity after them all. */
export const severityRank = (severity: string): number => {
  const i = SEVERITY_ORDER.indexOf(severity);
  return i < 0 ? SEVERITY_ORDER.length : i;
};
const bySeverityThenNewest = (a: Alert, b: Alert): number => severityRank(a.severity) - severityRank(b.severity) || b.raisedAt.localeCompare(a.raisedAt);

/**
 * The rows of the alarm list: most severe first, newest first within a severity. `minGroup` or
 * more alerts of one condition behind one gateway (a power cut, a gateway's storm) are one folded
 * row with their count, where the fold's newest alert would stand; leaks are never folded.
 */
export function alarmRows(alerts: readonly Alert[], minGroup = 10): AlarmRow[] {
  const sorted = [...alerts].sort(bySeverityThenNewest);
  const groups = new Map<string, Alert[]>();
  for (const a of sorted) {
    if (isSafety(a)) continue;
    const key = `${a.condition}\u0000${a.gatewayId}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(a);
  }
  const rows: AlarmRow[] = [];
  const placed = new Set<string>();
  for (const a of sorted) {
    const key = `${a.condition}\u0000${a.gatewayId}`;
    const group = isSafety(a) ? undefined : groups.get(key);
    if (!group || group.length < minGroup) {
      rows.push({ type: 'alert', alert: a });
      continue;
    }
    if (placed.has(key)) continue;
    placed.add(key);
    rows.push({ type: 'group', key, condition: a.condition, gatewayId: a.gatewayId, severity: a.severity, alerts: group });
  }
  return rows;
}

/** Distinct values of a field among the alerts, sorted, for the filter choices. */
export function choices(alerts: readonly Alert[], field: 'district' | 'severity' | 'condition' | 'gatewayId'): string[] {
  const set = new Set<string>();
  for (const a of alerts) {
    const v = a[field];
    if (v) set.add(v);
  }
  return [...set].sort();
}
