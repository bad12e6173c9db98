import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { READING_FILTER, SET_POINTS, activeAlertsQuery, alertAnnotation, baseDashboard, influx, influxVariables, reduceLast, thresholdLines, thresholds } from './shared.ts';

const FLOW_CONDITIONS = '(OVERLOAD|SELF_METERING|COUNT_MISMATCH)';
const QMAX_STEPS = thresholds([[null, 'green'], [SET_POINTS.flowQmaxM3h * 0.9, 'orange'], [SET_POINTS.flowQmaxM3h, 'red']]);

function series(title: string, description: string, field: string, unit: string, span: number): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .height(8)
    .span(span)
    .withTarget(influx('A', `SELECT mean("${field}") FROM "flow_meter" WHERE ${READING_FILTER} GROUP BY time($__interval), "device" fill(none)`, { alias: '$tag_device' }))
    .unit(unit);
}

/** 流量计: flow against the meter's range, overload and self-metering, temperature and pressure. */
export function flowMeters(): dashboard.DashboardBuilder {
  return baseDashboard('flow-meters', '流量计 Flow meters', ['flow'])
    .variables(influxVariables())
    .annotations([alertAnnotation('raise', FLOW_CONDITIONS), alertAnnotation('clear', FLOW_CONDITIONS)])
    .withPanel(
      new stat.PanelBuilder()
        .title('Active flow alarms 流量告警')
        .description('OVERLOAD, SELF_METERING and COUNT_MISMATCH raised and not cleared, by condition.')
        .height(5)
        .span(8)
        .withTarget(influx('A', activeAlertsQuery(`^${FLOW_CONDITIONS}$`, '', '"condition"'), { format: 'table' }))
        .reduceOptions(reduceLast().fields('/^active$/'))
        .colorMode(common.BigValueColorMode.Background)
        .thresholds(thresholds([[null, 'green'], [1, 'red']]))
        .noValue('0'),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Overload and self-metering events 过载与自走')
        .description('Raise edges per interval: OVERLOAD (flow above Qmax), SELF_METERING (volume counted with no flow), COUNT_MISMATCH (controller vs. its flow meter).')
        .height(5)
        .span(16)
        .withTarget(
          influx(
            'A',
            `SELECT count("active") FROM "alert_events" WHERE "type" = 'raise' AND "condition" =~ /^${FLOW_CONDITIONS}$/ AND "district" =~ /^$district$/ AND $timeFilter
             GROUP BY time($__interval), "condition" fill(0)`,
            { alias: '$tag_condition' },
          ),
        )
        .drawStyle(common.GraphDrawStyle.Bars),
    )
    .withPanel(
      series('Flow 瞬时流量 (m³/h) against Qmax', `Mean flow per interval of each flow meter; dashed: 90 % and 100 % of the default Qmax ${SET_POINTS.flowQmaxM3h} m³/h (DN80; the registry may set another per meter).`, 'flowM3h', 'm3/h', 24)
        .thresholds(QMAX_STEPS)
        .thresholdsStyle(thresholdLines())
        .min(0),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Peak flow as % of Qmax')
        .description(`Highest flow per interval divided by the default Qmax ${SET_POINTS.flowQmaxM3h} m³/h.`)
        .height(8)
        .span(12)
        .withTarget(
          influx('A', `SELECT max("flowM3h") / ${SET_POINTS.flowQmaxM3h} * 100 FROM "flow_meter" WHERE ${READING_FILTER} GROUP BY time($__interval), "device" fill(none)`, { alias: '$tag_device' }),
        )
        .unit('percent')
        .thresholds(thresholds([[null, 'green'], [90, 'orange'], [100, 'red']]))
        .thresholdsStyle(thresholdLines()),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Industrial controllers: counted volume 工业控制器')
        .description('Volume the controller counted from its flow meter\'s pulses: a step with no flow is self-metering.')
        .height(8)
        .span(12)
        .withTarget(
          influx('A', `SELECT last("flowMeterVolumeM3") FROM "industrial_controller" WHERE ${READING_FILTER} GROUP BY time($__interval), "device" fill(none)`, { alias: '$tag_device' }),
        )
        .unit('m3'),
    )
    .withPanel(series('Temperature 温度 (°C)', 'Gas temperature at each flow meter, mean per interval.', 'temperatureC', 'celsius', 12))
    .withPanel(series('Pressure 压力 (kPa)', 'Gas pressure at each flow meter, mean per interval.', 'pressureKPa', 'pressurekpa', 12))
    .withPanel(
      new table.PanelBuilder()
        .title('Flow meters now 流量计现况')
        .description('Latest values of each flow meter in the range.')
        .height(9)
        .span(24)
        .withTarget(
          influx(
            'A',
            `SELECT last("flowM3h") AS "flowM3h", last("temperatureC") AS "temperatureC", last("pressureKPa") AS "pressureKPa", last("volumeM3") AS "volumeM3"
             FROM "flow_meter" WHERE ${READING_FILTER} GROUP BY "district", "gateway", "device"`,
            { format: 'table' },
          ),
        )
        .overrideByName('flowM3h', [{ id: 'unit', value: 'm3/h' }, { id: 'thresholds', value: QMAX_STEPS.build() }, { id: 'custom.cellOptions', value: { type: 'color-background' } }]),
    );
}
