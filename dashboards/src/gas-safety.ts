import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as geomap from '@grafana/grafana-foundation-sdk/geomap';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { READING_FILTER, SET_POINTS, activeAlertsQuery, alertAnnotation, baseDashboard, influx, influxVariables, reduceLast, sql, thresholdLines, thresholds } from './shared.ts';

const LEL_STEPS = thresholds([
  [null, 'green'],
  [SET_POINTS.l1LelPct, 'orange'],
  [SET_POINTS.l2LelPct, 'red'],
]);

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
      new stat.PanelBuilder()
        .title(`Detector channels ≥ L1 now`)
        .description(`Industrial detector channels whose latest reading in the range is at or above the default L1 set point (${SET_POINTS.l1LelPct} %LEL).`)
        .height(5)
        .span(6)
        .withTarget(
          influx(
            'A',
            `SELECT count("last") AS "channels" FROM (SELECT last("lelPct") FROM "gas_detector" WHERE ${READING_FILTER} GROUP BY "device", "detector")
             WHERE "last" >= ${SET_POINTS.l1LelPct}`,
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
      new timeseries.PanelBuilder()
        .title('Concentration by site and detector 浓度 (%LEL)')
        .description(`Highest reading per interval of each detector channel of each alarm controller; dashed lines: L1 ${SET_POINTS.l1LelPct} and L2 ${SET_POINTS.l2LelPct} %LEL (kind defaults; the registry may set others per site).`)
        .height(10)
        .span(24)
        .withTarget(
          influx('A', `SELECT max("lelPct") FROM "gas_detector" WHERE ${READING_FILTER} GROUP BY time($__interval), "device", "detector" fill(none)`, {
            alias: '$tag_device ch$tag_detector',
          }),
        )
        .unit('percent')
        .min(0)
        .max(100)
        .thresholds(LEL_STEPS)
        .thresholdsStyle(thresholdLines()),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Home gas alarms: highest concentration by gateway (%LEL)')
        .description('Household alarms are millions, so deviceId is a field: the chart shows the highest reading behind each gateway.')
        .height(9)
        .span(12)
        .withTarget(
          influx('A', `SELECT max("lelPct") FROM "home_gas_alarm" WHERE ${READING_FILTER} GROUP BY time($__interval), "gateway" fill(none)`, { alias: '$tag_gateway' }),
        )
        .unit('percent')
        .min(0)
        .thresholds(LEL_STEPS)
        .thresholdsStyle(thresholdLines()),
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
