import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as geomap from '@grafana/grafana-foundation-sdk/geomap';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { OPEN_STATUSES_SQL, READING_FILTER, SET_POINTS, activeAlertsQuery, alertAnnotation, baseDashboard, influx, influxVariables, reduceLast, sql, thresholds } from './shared.ts';

const LEL_STEPS = thresholds([
  [null, 'green'],
  [SET_POINTS.l1LelPct, 'orange'],
  [SET_POINTS.l2LelPct, 'red'],
]);

/** The set-point series (`… L1`, `… L2`) drawn dashed in the colour of their level. */
const SET_POINT_LINES: Array<[string, string]> = [
  [' L1$', 'orange'],
  [' L2$', 'red'],
];

function withSetPointLines(panel: timeseries.PanelBuilder): timeseries.PanelBuilder {
  for (const [regexp, color] of SET_POINT_LINES) {
    panel.overrideByRegexp(regexp, [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'color', value: { mode: 'fixed', fixedColor: color } },
    ]);
  }
  return panel;
}

/**
 * Safety alarms still active, where they are: the ticket store holds each alarm with its ticket's
 * address and customer (InfluxDB holds edges, not addresses). Worst first, then oldest.
 */
const ACTIVE_GAS_ALARMS_SQL = `SELECT ta.raised_at AS "time", coalesce(ta.detail->>'deviceId', t.device_id) AS "device 设备", ta.condition AS "condition 故障",
  (ta.detail->>'lelPct')::numeric AS "%LEL", t.address AS "address 地址", t.customer AS "customer 用户", coalesce(t.district, 'unknown') AS "district 区域",
  t.id AS "ticket 工单", t.status AS "status 状态", t.assignee AS "technician 维修员"
FROM ticket_alerts ta JOIN tickets t ON t.id = ta.ticket_id
WHERE ta.cleared_at IS NULL AND ta.condition IN ('GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT') AND t.status IN ${OPEN_STATUSES_SQL}
  AND coalesce(t.district, 'unknown') ~ '^\${district:regex}$'
ORDER BY CASE ta.condition WHEN 'VALVE_NOT_CUT' THEN 0 WHEN 'GAS_ALARM_L2' THEN 1 ELSE 2 END, ta.raised_at, t.id
LIMIT 500`;

function activeStat(title: string, description: string, conditionRegex: string): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .height(5)
    .span(6)
    .withTarget(influx('A', activeAlertsQuery(conditionRegex), { format: 'table' }))
    .reduceOptions(reduceLast())
    .colorMode(common.BigValueColorMode.Background)
    .thresholds(thresholds([[null, 'green'], [1, 'red']]))
    .noValue('0');
}

/**
 * Active gas alarms where they are. InfluxDB holds alarm edges with deviceId as a field, so it
 * cannot say which devices are still in alarm; the ticket store can (every gas alarm has a ticket,
 * `ticket_alerts.cleared_at` is null while it lasts) and keeps the registry's point, in WGS-84 like
 * Grafana's base maps (alerts/store/migrations/100_ticket_points.sql). One row per device, its worst level.
 */
function activeGasAlarmMap(): geomap.PanelBuilder {
  const markers = new common.MapLayerOptionsBuilder()
    .type('markers')
    .name('燃气报警 Gas alarms')
    .location(new common.FrameGeometrySourceBuilder().mode(common.FrameGeometrySourceMode.Coords).latitude('latitude').longitude('longitude'))
    .tooltip(true)
    .config({
      showLegend: true,
      style: {
        color: { field: 'level', fixed: 'red' },
        size: { fixed: 9 },
        symbol: { mode: 'fixed', fixed: 'img/icons/marker/circle.svg' },
        opacity: 0.9,
      },
    });
  return new geomap.PanelBuilder()
    .title('Active gas alarms on the map 燃气报警地图')
    .description('Devices in gas alarm now (GAS_ALARM_L1 orange, GAS_ALARM_L2 red), from the ticket store, at their registry point (WGS-84). Devices without a point in the registry are not drawn: the console lists them.')
    .height(12)
    .span(24)
    .withTarget(
      sql(
        'A',
        `SELECT DISTINCT ON (t.id) a.raised_at AS "time", t.device_id, t.address, t.customer, coalesce(t.district, 'unknown') AS district,
           a.condition, CASE a.condition WHEN 'GAS_ALARM_L2' THEN 2 ELSE 1 END AS level, t.lat AS latitude, t.lon AS longitude, t.id AS ticket
         FROM ticket_alerts a JOIN tickets t ON t.id = a.ticket_id
         WHERE a.cleared_at IS NULL AND a.condition IN ('GAS_ALARM_L1', 'GAS_ALARM_L2') AND t.lat IS NOT NULL
           AND coalesce(t.district, 'unknown') ~ '^\${district:regex}$'
         ORDER BY t.id, level DESC, a.raised_at`,
      ),
    )
    .view(new geomap.MapViewConfigBuilder().id(geomap.MapCenterID.Fit).allLayers(true).padding(10).zoom(12).maxZoom(17))
    .controls(new geomap.ControlsOptionsBuilder().showZoom(true).mouseWheelZoom(true).showScale(true).showAttribution(true))
    // Grafana's configured default base map (CartoDB unless the server says otherwise), WGS-84 like the points.
    .basemap(new common.MapLayerOptionsBuilder().type('default').name('Basemap'))
    .layers([markers])
    .tooltip(new geomap.TooltipOptionsBuilder().mode(geomap.TooltipMode.Details))
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Thresholds))
    .thresholds(thresholds([[null, 'orange'], [2, 'red']]));
}

/** 燃气安全: concentrations against the set points and the alarms that need someone now. */
export function gasSafety(): dashboard.DashboardBuilder {
  return baseDashboard('gas-safety', '燃气安全 Gas safety', ['safety'])
    .refresh('10s')
    .variables(influxVariables())
    .annotations([alertAnnotation('raise', '(GAS_ALARM_L1|GAS_ALARM_L2|VALVE_NOT_CUT|DETECTOR_OFFLINE|SENSOR_FAULT)'), alertAnnotation('clear', '(GAS_ALARM_L1|GAS_ALARM_L2|VALVE_NOT_CUT|DETECTOR_OFFLINE|SENSOR_FAULT)')])
    .withPanel(activeStat('Active gas alarms 燃气报警', `GAS_ALARM_L1 and GAS_ALARM_L2 raised and not yet cleared (raise − clear edges, all time).`, '^GAS_ALARM_L[12]$'))
    .withPanel(activeStat('VALVE_NOT_CUT 未切断', 'Alarm sounding but the linked valve still open: gas is still flowing.', '^VALVE_NOT_CUT$'))
    .withPanel(activeStat('Detectors offline 探测器离线', 'DETECTOR_OFFLINE raised and not cleared.', '^DETECTOR_OFFLINE$'))
    .withPanel(
      new table.PanelBuilder()
        .title('Active gas alarms: where 燃气报警位置')
        .description('Every gas alarm (L1, L2) and VALVE_NOT_CUT still active, with its address, customer and ticket (PostgreSQL ticket store): the list to act on, worst first.')
        .height(8)
        .span(24)
        .withTarget(sql('A', ACTIVE_GAS_ALARMS_SQL))
        .overrideByName('condition 故障', [
          { id: 'mappings', value: [{ type: 'value', options: { VALVE_NOT_CUT: { text: '未切断 VALVE_NOT_CUT', color: 'dark-red' }, GAS_ALARM_L2: { text: '二级 L2', color: 'red' }, GAS_ALARM_L1: { text: '一级 L1', color: 'orange' } } }] },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ]),
    )
    .withPanel(
      new stat.PanelBuilder()
        .title(`Detector channels ≥ L1 now`)
        .description(`Industrial detector channels whose latest reading in the range is at or above the channel's own L1 set point (the registry's, written with each reading; default ${SET_POINTS.l1LelPct} %LEL).`)
        .height(5)
        .span(6)
        .withTarget(
          influx(
            'A',
            `SELECT count("margin") AS "channels" FROM (SELECT last("lelPct") - last("l1LelPct") AS "margin" FROM "gas_detector" WHERE ${READING_FILTER} GROUP BY "device", "detector")
             WHERE "margin" >= 0`,
            { format: 'table' },
          ),
        )
        .reduceOptions(reduceLast())
        .colorMode(common.BigValueColorMode.Background)
        .thresholds(thresholds([[null, 'green'], [1, 'orange']]))
        .noValue('0'),
    )
    .withPanel(activeGasAlarmMap())
    .withPanel(
      withSetPointLines(
        new timeseries.PanelBuilder()
          .title('Concentration by site and detector 浓度 (%LEL)')
          .description(`Highest reading per interval of each detector channel of each alarm controller; dashed: each site's own L1 (orange) and L2 (red) set points, as the registry sets them (default ${SET_POINTS.l1LelPct} / ${SET_POINTS.l2LelPct} %LEL).`)
          .height(10)
          .span(24)
          .withTarget(
            influx('A', `SELECT max("lelPct") FROM "gas_detector" WHERE ${READING_FILTER} GROUP BY time($__interval), "device", "detector" fill(none)`, {
              alias: '$tag_device ch$tag_detector',
            }),
          )
          .withTarget(
            influx('B', `SELECT last("l1LelPct") AS "L1", last("l2LelPct") AS "L2" FROM "gas_detector" WHERE ${READING_FILTER} GROUP BY time($__interval), "device" fill(none)`, {
              alias: '$tag_device $col',
            }),
          )
          .unit('percent')
          .min(0)
          .max(100),
      ),
    )
    .withPanel(
      withSetPointLines(
        new timeseries.PanelBuilder()
          .title('Home gas alarms: highest concentration by gateway (%LEL)')
          .description("Household alarms are millions, so deviceId is a field: the chart shows the highest reading behind each gateway, and dashed the lowest L1 and L2 set point among that gateway's alarms (each written with its readings).")
          .height(9)
          .span(12)
          .withTarget(
            influx('A', `SELECT max("lelPct") FROM "home_gas_alarm" WHERE ${READING_FILTER} GROUP BY time($__interval), "gateway" fill(none)`, { alias: '$tag_gateway' }),
          )
          .withTarget(
            influx('B', `SELECT min("l1LelPct") AS "L1", min("l2LelPct") AS "L2" FROM "home_gas_alarm" WHERE ${READING_FILTER} GROUP BY time($__interval), "gateway" fill(none)`, { alias: '$tag_gateway $col' }),
          )
          .unit('percent')
          .min(0),
      ),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Safety alarm edges 报警记录')
        .description('Raise and clear edges of the safety conditions in the range, newest first.')
        .height(9)
        .span(12)
        .withTarget(
          influx(
            'A',
            `SELECT "type", "condition", "severity", "district", "deviceId", "gatewayId", "text" FROM "alert_events"
             WHERE "condition" =~ /^(GAS_ALARM_L1|GAS_ALARM_L2|VALVE_NOT_CUT|DETECTOR_OFFLINE|SENSOR_FAULT)$/ AND "district" =~ /^$district$/ AND $timeFilter
             ORDER BY time DESC LIMIT 500`,
            { format: 'table' },
          ),
        )
        .overrideByName('type', [{ id: 'mappings', value: [{ type: 'value', options: { raise: { text: '报警 raise', color: 'red' }, clear: { text: '恢复 clear', color: 'green' } } }] }, { id: 'custom.cellOptions', value: { type: 'color-text' } }]),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Detector channels now 探测器现况')
        .description('Latest reading of every channel in the range; sensorFault is true while the detector shows --F.')
        .height(9)
        .span(24)
        .withTarget(
          influx(
            'A',
            `SELECT last("lelPct") AS "lelPct", last("sensorFault") AS "sensorFault" FROM "gas_detector" WHERE ${READING_FILTER}
             GROUP BY "district", "gateway", "device", "detector"`,
            { format: 'table' },
          ),
        )
        .overrideByName('lelPct', [{ id: 'unit', value: 'percent' }, { id: 'thresholds', value: LEL_STEPS.build() }, { id: 'custom.cellOptions', value: { type: 'color-background' } }]),
    );
}
