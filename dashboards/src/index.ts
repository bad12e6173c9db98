import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { flowMeters } from './flow-meters.ts';
import { gasSafety } from './gas-safety.ts';
import { meterFleet } from './meter-fleet.ts';
import { pipelineHealth } from './pipeline-health.ts';
import { ticketsSla } from './tickets-sla.ts';

/** Every dashboard, by the file name it is written to under dashboards/json. */
export const DASHBOARDS: ReadonlyArray<{ file: string; build: () => dashboard.DashboardBuilder }> = [
  { file: 'gas-safety.json', build: gasSafety },
  { file: 'meter-fleet.json', build: meterFleet },
  { file: 'flow-meters.json', build: flowMeters },
  { file: 'tickets-sla.json', build: ticketsSla },
  { file: 'pipeline-health.json', build: pipelineHealth },
];

/**
 * Builds a dashboard ready for Grafana's file provisioning: panel ids numbered in order (the SDK
 * leaves them unset and Grafana needs them unique for links and panel state).
 */
export function buildDashboard(builder: dashboard.DashboardBuilder): dashboard.Dashboard {
  const out = builder.build();
  (out.panels ?? []).forEach((p, i) => {
    (p as { id?: number }).id = i + 1;
  });
  return out;
}

/** Each dashboard's file name and the exact text written for it (stable: the staleness test compares it). */
export function renderDashboards(): Array<{ file: string; text: string }> {
  return DASHBOARDS.map(({ file, build }) => ({ file, text: JSON.stringify(buildDashboard(build()), null, 2) + '\n' }));
}
