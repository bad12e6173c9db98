/**
 * What every dashboard shares: datasource references (uids fixed by provisioning/datasources),
 * query builders for the query kinds the SDK has no typed builder for (raw InfluxQL, raw SQL),
 * template variables, alert annotations and set points taken from the pipeline's own defaults.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DEVICE_KINDS } from '../../contracts/messages.ts';
import { KIND_DEFAULTS, VENDOR_DEFAULTS } from '../../processors/device-profile.ts';

export const INFLUX: common.DataSourceRef = { type: 'influxdb', uid: 'gas-influxdb' };
export const POSTGRES: common.DataSourceRef = { type: 'grafana-postgresql-datasource', uid: 'gas-postgres' };
export const PROMETHEUS: common.DataSourceRef = { type: 'prometheus', uid: 'gas-prometheus' };

/**
 * Set points drawn on the panels. They are the kind defaults the detectors use when the registry
 * gives none; per-device overrides live in the registry, which InfluxDB does not hold.
 */
export const SET_POINTS = {
  l1LelPct: KIND_DEFAULTS.alarm_controller.l1LelPct,
  l2LelPct: KIND_DEFAULTS.alarm_controller.l2LelPct,
  flowQmaxM3h: KIND_DEFAULTS.flow_meter.qmaxM3h,
  lowBatteryV: KIND_DEFAULTS.household_meter.lowBatteryV,
  qianfengLowBatteryV: VENDOR_DEFAULTS.qianfeng?.lowBatteryV ?? KIND_DEFAULTS.household_meter.lowBatteryV,
} as const;

/** Tickets still being worked: the statuses of `tickets_one_open_per_subject`. */
export const OPEN_STATUSES_SQL = "('opened', 'dispatched', 'acknowledged', 'on_site')";

/** A raw InfluxQL target. `query` may use `$timeFilter`, `$__interval` and the template variables. */
export interface InfluxQuery extends cog.Dataquery {
  refId: string;
  datasource: common.DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  alias?: string;
}

/** A raw SQL target for the PostgreSQL datasource (code editor mode). */
export interface SqlQuery extends cog.Dataquery {
  refId: string;
  datasource: common.DataSourceRef;
  rawSql: string;
  rawQuery: true;
  editorMode: 'code';
  format: 'time_series' | 'table';
}

const variant = { _implementsDataqueryVariant(): void {} };

export function influx(refId: string, query: string, opts: { format?: 'time_series' | 'table'; alias?: string } = {}): cog.Builder<InfluxQuery> {
  return {
    build: () => ({
      ...variant,
      refId,
      datasource: INFLUX,
      query: squash(query),
      rawQuery: true,
      resultFormat: opts.format ?? 'time_series',
      ...(opts.alias ? { alias: opts.alias } : {}),
    }),
  };
}

export function sql(refId: string, rawSql: string, format: 'time_series' | 'table' = 'table'): cog.Builder<SqlQuery> {
  return { build: () => ({ ...variant, refId, datasource: POSTGRES, rawSql: squash(rawSql), rawQuery: true, editorMode: 'code', format }) };
}

/** Queries are written indented in the source; the JSON keeps one space per run of whitespace. */
function squash(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Net count of active alerts from the raise/clear edges in `alert_events`: each raise adds one,
 * each clear removes one, so `2·sum(active) − count(active)` is raises − clears. No time filter on
 * purpose: an alarm raised before the dashboard's range is still active. Edges are idempotent
 * (a redelivered edge overwrites its own point), so duplicates do not count twice.
 */
export function activeAlertsQuery(conditionRegex: string, extraWhere = '', groupBy = ''): string {
  return `SELECT 2 * sum("active") - count("active") AS "active" FROM "alert_events"
    WHERE "condition" =~ /${conditionRegex}/ AND "district" =~ /^$district$/ ${extraWhere}
    ${groupBy ? `GROUP BY ${groupBy}` : ''}`;
}

/** The standard filter on readings: district and gateway variables, the dashboard's time range. */
export const READING_FILTER = `"district" =~ /^$district$/ AND "gateway" =~ /^$gateway$/ AND $timeFilter`;

// --- template variables ---------------------------------------------------------------------

/** Multi-value district from InfluxDB tags; "All" is `.*` so the regex stays short at 10 k gateways. */
export function districtVariable(): cog.Builder<dashboard.VariableModel> {
  return new dashboard.QueryVariableBuilder('district')
    .label('District 区域')
    .datasource(INFLUX)
    .query('SHOW TAG VALUES WITH KEY = "district"')
    .definition('SHOW TAG VALUES WITH KEY = "district"')
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all', selected: true });
}

/** Gateways of the chosen districts. */
export function gatewayVariable(): cog.Builder<dashboard.VariableModel> {
  const q = 'SHOW TAG VALUES WITH KEY = "gateway" WHERE "district" =~ /^$district$/';
  return new dashboard.QueryVariableBuilder('gateway')
    .label('Gateway 网关')
    .datasource(INFLUX)
    .query(q)
    .definition(q)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all', selected: true });
}

/** Device kind: the fixed list of the wire format; it is both the `kind` tag and the measurement name. */
export function kindVariable(): cog.Builder<dashboard.VariableModel> {
  return new dashboard.CustomVariableBuilder('kind')
    .label('Device kind 设备类型')
    .values(DEVICE_KINDS.join(','))
    .multi(true)
    .includeAll(true)
    // An explicit list, not `.*`: `FROM /^$kind$/` must not match gas_detector or alert_events.
    .allValue(`(${DEVICE_KINDS.join('|')})`)
    .current({ text: 'All', value: '$__all', selected: true });
}

/** The InfluxDB dashboards' variables, in dependency order. */
export function influxVariables(): cog.Builder<dashboard.VariableModel>[] {
  return [districtVariable(), gatewayVariable(), kindVariable()];
}

// --- annotations ----------------------------------------------------------------------------

/**
 * Alert raise (red) and clear (green) edges from `alert_events`, filtered by the district variable.
 * Grafana 11's InfluxDB annotation editor reads the legacy `query`/`textColumn`/`tagsColumn` fields;
 * `target` carries the same query for newer versions.
 */
export function alertAnnotation(type: 'raise' | 'clear', conditionRegex = '.*'): cog.Builder<dashboard.AnnotationQuery> {
  const query = squash(`SELECT "text", "condition", "severity", "deviceId", "gatewayId" FROM "alert_events"
    WHERE "type" = '${type}' AND "condition" =~ /^${conditionRegex}$/ AND "district" =~ /^$district$/ AND $timeFilter`);
  const base = new dashboard.AnnotationQueryBuilder()
    .name(type === 'raise' ? 'Alerts raised 告警' : 'Alerts cleared 恢复')
    .datasource(INFLUX)
    .enable(true)
    .iconColor(type === 'raise' ? 'red' : 'green')
    .target(influx('Anno', query));
  return {
    build: () => {
      // As for links (withoutPlacement): the toggles belong on the dashboard, not in Grafana 12's controls menu.
      const { placement: _placement, ...built } = base.build();
      return { ...built, query, textColumn: 'text', tagsColumn: 'condition,severity' } as dashboard.AnnotationQuery;
    },
  };
}

// --- panels ---------------------------------------------------------------------------------

export function thresholds(steps: Array<[number | null, string]>): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

/** Draws the thresholds of a time series as dashed lines (the L1/L2, Qmax and battery set points). */
export function thresholdLines(): cog.Builder<common.GraphThresholdsStyleConfig> {
  return new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed);
}

export function reduceLast(): common.ReduceDataOptionsBuilder {
  return new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);
}

/** The SDK defaults a link's `placement` to Grafana 12's controls menu; 11.x shows links in the bar. */
function withoutPlacement(link: cog.Builder<dashboard.DashboardLink>): cog.Builder<dashboard.DashboardLink> {
  return {
    build: () => {
      const { placement: _placement, ...rest } = link.build();
      return rest as dashboard.DashboardLink;
    },
  };
}

/** Dashboard defaults: Asia/Shanghai (the utility's wall clock), 30 s refresh, read-only (provisioned). */
export function baseDashboard(uid: string, title: string, tags: string[]): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .tags(['gas', ...tags])
    .timezone('Asia/Shanghai')
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    // The other gas dashboards in one menu, keeping the time range and the district choice.
    .link(withoutPlacement(new dashboard.DashboardLinkBuilder('燃气 Gas dashboards').type(dashboard.DashboardLinkType.Dashboards).tags(['gas']).asDropdown(true).keepTime(true).includeVars(true)))
    .readonly();
}
