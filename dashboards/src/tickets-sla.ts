import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { OPEN_STATUSES_SQL, POSTGRES, baseDashboard, reduceLast, sql, thresholds } from './shared.ts';

/** Tickets of the chosen districts; tickets without a district show as `unknown`. */
const IN_DISTRICT = "coalesce(district, 'unknown') IN ($district)";
const PRIORITY_ORDER = "array_position(ARRAY['emergency', 'urgent', 'normal', 'low'], priority)";

/**
 * Who is on call now, per team, computed in SQL with the rota rule of alerts/oncall/rota.ts (the
 * integration test checks it against onShiftAt): in period p = floor((date − anchor) / periodDays),
 * shift i is worked by member (i − p) mod n; a shift ending at or before its start passes midnight
 * and belongs to the day it started, so yesterday's shifts are looked at too. Stand-ins replace the
 * person they cover; team-wide overrides come first.
 */
export const ON_CALL_NOW_SQL = `
WITH slot AS (
  SELECT t.id AS team_id, t.name AS team, t.districts, r.members, r.period_days, r.anchor_date::date AS anchor, r.time_zone,
         s.shift->>'name' AS shift, s.shift->>'kind' AS shift_kind, (s.idx - 1)::int AS shift_index, d.day,
         (d.day + (s.shift->>'start')::time) AT TIME ZONE r.time_zone AS starts_at,
         ((CASE WHEN (s.shift->>'end') <= (s.shift->>'start') THEN d.day + 1 ELSE d.day END) + (s.shift->>'end')::time) AT TIME ZONE r.time_zone AS ends_at
  FROM teams t
  JOIN rotations r ON r.team_id = t.id
  CROSS JOIN LATERAL jsonb_array_elements(r.shifts) WITH ORDINALITY AS s(shift, idx)
  CROSS JOIN LATERAL (VALUES ((now() AT TIME ZONE r.time_zone)::date), ((now() AT TIME ZONE r.time_zone)::date - 1)) AS d(day)
), duty AS (
  SELECT slot.*,
         members[1 + (((shift_index - floor((day - anchor)::numeric / period_days)::int) % cardinality(members)) + cardinality(members)) % cardinality(members)] AS rota_person
  FROM slot
  WHERE now() >= starts_at AND now() < ends_at
), on_call AS (
  SELECT team_id, team, districts, shift, shift_kind, shift_index, starts_at, ends_at,
         coalesce(o.person_id, rota_person) AS person_id, o.reason AS stand_in_for
  FROM duty
  LEFT JOIN LATERAL (
    SELECT person_id, 'stands in for ' || replaces_id || ': ' || reason AS reason FROM overrides
    WHERE overrides.team_id = duty.team_id AND replaces_id = duty.rota_person AND now() >= from_at AND now() < to_at
    ORDER BY from_at DESC LIMIT 1
  ) o ON true
  UNION ALL
  SELECT o.team_id, t.name, t.districts, 'override', 'on_site', -1, o.from_at, o.to_at, o.person_id, o.reason
  FROM overrides o JOIN teams t ON t.id = o.team_id
  WHERE o.replaces_id IS NULL AND now() >= o.from_at AND now() < o.to_at
)
SELECT c.team, array_to_string(c.districts, ', ') AS districts, p.name AS person, c.person_id, p.phone, c.shift, c.shift_kind,
       c.starts_at, c.ends_at, c.stand_in_for,
       s.name AS supervisor, s.phone AS supervisor_phone
FROM on_call c
JOIN people p ON p.id = c.person_id
JOIN teams t ON t.id = c.team_id
LEFT JOIN people s ON s.id = t.supervisor_id
ORDER BY c.team, CASE WHEN c.shift_index = -1 THEN 0 WHEN c.shift_kind = 'on_site' THEN 1 ELSE 2 END, c.shift_index`;

/** 工单与时效: the ticket queue, its age, SLA breaches, who is on call and follow-up calls due. */
export function ticketsSla(): dashboard.DashboardBuilder {
  const districtQuery = "SELECT DISTINCT coalesce(district, 'unknown') FROM tickets ORDER BY 1";
  return baseDashboard('tickets-sla', '工单与时效 Tickets and SLA', ['tickets'])
    .time({ from: 'now-7d', to: 'now' })
    .withVariable(
      new dashboard.QueryVariableBuilder('district')
        .label('District 区域')
        .datasource(POSTGRES)
        .query(districtQuery)
        .definition(districtQuery)
        .refresh(dashboard.VariableRefresh.OnDashboardLoad)
        .multi(true)
        .includeAll(true)
        .current({ text: 'All', value: '$__all', selected: true }),
    )
    .withPanel(
      new stat.PanelBuilder()
        .title('Open tickets by priority 未结工单')
        .description('Tickets opened, dispatched, acknowledged or on site.')
        .height(5)
        .span(12)
        .withTarget(
          sql('A', `SELECT priority, count(*) AS open FROM tickets WHERE status IN ${OPEN_STATUSES_SQL} AND ${IN_DISTRICT} GROUP BY priority ORDER BY ${PRIORITY_ORDER}`),
        )
        .reduceOptions(reduceLast().values(true).fields('/^open$/'))
        .textMode(common.BigValueTextMode.ValueAndName)
        .colorMode(common.BigValueColorMode.Background)
        .overrideByName('open', [{ id: 'displayName', value: '${__data.fields.priority}' }])
        .thresholds(thresholds([[null, 'blue']]))
        .noValue('0'),
    )
    .withPanel(
      new stat.PanelBuilder()
        .title('SLA breaches in range 超时')
        .description('Clocks (dispatch, acknowledge, on site, resolve, follow-up) that ran past their limit in the range.')
        .height(5)
        .span(12)
        .withTarget(
          sql(
            'A',
            `SELECT b.priority, count(*) AS breaches FROM sla_breaches b JOIN tickets t ON t.id = b.ticket_id
             WHERE $__timeFilter(b.breached_at) AND coalesce(t.district, 'unknown') IN ($district)
             GROUP BY b.priority ORDER BY array_position(ARRAY['emergency', 'urgent', 'normal', 'low'], b.priority)`,
          ),
        )
        .reduceOptions(reduceLast().values(true).fields('/^breaches$/'))
        .textMode(common.BigValueTextMode.ValueAndName)
        .colorMode(common.BigValueColorMode.Background)
        .overrideByName('breaches', [{ id: 'displayName', value: '${__data.fields.priority}' }])
        .thresholds(thresholds([[null, 'green'], [1, 'red']]))
        .noValue('0'),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Open by district and priority 区域分布')
        .height(7)
        .span(10)
        .withTarget(
          sql(
            'A',
            `SELECT coalesce(district, 'unknown') AS district,
                    count(*) FILTER (WHERE priority = 'emergency') AS emergency, count(*) FILTER (WHERE priority = 'urgent') AS urgent,
                    count(*) FILTER (WHERE priority = 'normal') AS normal, count(*) FILTER (WHERE priority = 'low') AS low, count(*) AS total
             FROM tickets WHERE status IN ${OPEN_STATUSES_SQL} AND ${IN_DISTRICT} GROUP BY 1 ORDER BY total DESC`,
          ),
        ),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('On call now 当前值班')
        .description('Per team: who answers now (team-wide override first, then on-site shifts, then home on-call), and the supervisor behind them.')
        .height(7)
        .span(14)
        .withTarget(sql('A', ON_CALL_NOW_SQL)),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Open tickets, oldest first 工单队列')
        .description('Age since opened; SLA due is the next clock\'s limit; overdue rows are red.')
        .height(10)
        .span(24)
        .withTarget(
          sql(
            'A',
            `SELECT id, priority, status, coalesce(district, 'unknown') AS district, address, customer, array_to_string(conditions, ', ') AS conditions,
                    assignee, opened_at, extract(epoch FROM now() - opened_at)::bigint AS age_s, sla_due_at,
                    (sla_due_at IS NOT NULL AND sla_due_at < now()) AS overdue, escalation_step
             FROM tickets WHERE status IN ${OPEN_STATUSES_SQL} AND ${IN_DISTRICT}
             ORDER BY ${PRIORITY_ORDER}, opened_at LIMIT 500`,
          ),
        )
        .overrideByName('age_s', [{ id: 'unit', value: 's' }, { id: 'displayName', value: 'age' }])
        .overrideByName('overdue', [
          { id: 'mappings', value: [{ type: 'value', options: { true: { text: 'OVERDUE', color: 'red' }, false: { text: '', color: 'transparent' } } }] },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ]),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Tickets opened 新建工单')
        .height(8)
        .span(12)
        .withTarget(
          sql(
            'A',
            `SELECT $__timeGroupAlias(opened_at, '1h'), priority AS metric, count(*) AS opened
             FROM tickets WHERE $__timeFilter(opened_at) AND ${IN_DISTRICT} GROUP BY 1, 2 ORDER BY 1`,
            'time_series',
          ),
        )
        .drawStyle(common.GraphDrawStyle.Bars)
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('SLA breaches 超时记录')
        .height(8)
        .span(12)
        .withTarget(
          sql(
            'A',
            `SELECT b.breached_at AS "time", b.ticket_id, b.clock, b.priority, b.due_at, coalesce(t.district, 'unknown') AS district, t.status, t.assignee
             FROM sla_breaches b JOIN tickets t ON t.id = b.ticket_id
             WHERE $__timeFilter(b.breached_at) AND coalesce(t.district, 'unknown') IN ($district)
             ORDER BY b.breached_at DESC LIMIT 500`,
          ),
        ),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Follow-ups due 回访')
        .description('Resolved tickets waiting for the customer follow-up call, soonest due first.')
        .height(8)
        .span(24)
        .withTarget(
          sql(
            'A',
            `SELECT id, priority, coalesce(district, 'unknown') AS district, customer, address, assignee, resolved_at, follow_up_due_at,
                    (follow_up_due_at < now()) AS overdue
             FROM tickets WHERE status = 'resolved' AND follow_up_due_at IS NOT NULL AND ${IN_DISTRICT}
             ORDER BY follow_up_due_at LIMIT 500`,
          ),
        )
        .overrideByName('overdue', [
          { id: 'mappings', value: [{ type: 'value', options: { true: { text: 'OVERDUE', color: 'red' }, false: { text: '', color: 'transparent' } } }] },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ]),
    );
}
