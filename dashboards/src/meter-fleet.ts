import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { OPEN_STATUSES_SQL, READING_FILTER, SET_POINTS, activeAlertsQuery, alertAnnotation, baseDashboard, influx, influxVariables, reduceLast, sql, thresholdLines, thresholds } from './shared.ts';

/** Every device kind's measurement, selected by the kind variable (its values are the measurement names). */
const KIND_FROM = 'FROM /^$kind$/';

function countStat(title: string, description: string, query: string, color: string): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .height(5)
    .span(6)
    .withTarget(influx('A', query, { format: 'table' }))
    .reduceOptions(reduceLast())
    .colorMode(common.BigValueColorMode.Background)
    .thresholds(thresholds([[null, 'green'], [1, color]]))
    .noValue('0');
}

/** 表具运行: which meters report, which went quiet, errors, batteries, closed valves, balances. */
export function meterFleet(): dashboard.DashboardBuilder {
  return baseDashboard('meter-fleet', '表具运行 Meter fleet', ['meters'])
    .variables([
      ...influxVariables(),
      new dashboard.CustomVariableBuilder('window')
        .label('Reporting window 上报窗口')
        .description('A device counts as reporting when it sent a reading within this window before now (household meters report daily).')
        .values('1h,6h,25h,3d')
        .current({ text: '25h', value: '25h', selected: true }),
    ])
    .annotations([alertAnnotation('raise'), alertAnnotation('clear')])
    .withPanel(countStat('Silent devices 失联设备', 'NO_SIGNAL raised and not cleared, for the chosen kinds and districts.', activeAlertsQuery('^NO_SIGNAL$', 'AND "kind" =~ /^$kind$/'), 'orange'))
    .withPanel(countStat('Gateways offline 网关离线', 'GATEWAY_OFFLINE raised and not cleared (gateway alerts carry no district).', 'SELECT 2 * sum("active") - count("active") AS "active" FROM "alert_events" WHERE "condition" = \'GATEWAY_OFFLINE\'', 'red'))
    .withPanel(countStat('Valve closed, low battery 低电关阀', 'VALVE_CLOSED_LOW_BATTERY active: customers cut off until the battery is changed.', activeAlertsQuery('^VALVE_CLOSED_LOW_BATTERY$'), 'red'))
    .withPanel(countStat('Low battery 低电', 'LOW_BATTERY active: the valve closes when the battery runs down further.', activeAlertsQuery('^LOW_BATTERY$'), 'orange'))
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Reporting devices by district 上报设备数')
        .description('Distinct devices with a reading in each interval, per kind and district.')
        .height(9)
        .span(12)
        .withTarget(influx('A', `SELECT count(distinct("deviceId")) ${KIND_FROM} WHERE ${READING_FILTER} GROUP BY time($__interval), "district" fill(0)`, { alias: '$m $tag_district' }))
        .drawStyle(common.GraphDrawStyle.Bars)
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Reporting vs silent by gateway 网关上报')
        .description('seen: devices with a reading in the range; reporting: with a reading in the last $window; silent = seen − reporting.')
        .height(9)
        .span(12)
        .withTarget(influx('A', `SELECT count(distinct("deviceId")) AS "seen" ${KIND_FROM} WHERE ${READING_FILTER} GROUP BY "district", "gateway"`, { format: 'table' }))
        .withTarget(
          influx('B', `SELECT count(distinct("deviceId")) AS "reporting" ${KIND_FROM} WHERE "district" =~ /^$district$/ AND "gateway" =~ /^$gateway$/ AND time > now() - $window GROUP BY "district", "gateway"`, {
            format: 'table',
          }),
        )
        .withTransformation({ id: 'merge', options: {} })
        .withTransformation({ id: 'organize', options: { excludeByName: { Time: true } } })
        .withTransformation({ id: 'calculateField', options: { mode: 'binary', alias: 'silent', binary: { left: 'seen', operator: '-', right: 'reporting' }, replaceFields: false } })
        .overrideByName('silent', [{ id: 'thresholds', value: thresholds([[null, 'green'], [1, 'orange']]).build() }, { id: 'custom.cellOptions', value: { type: 'color-background' } }]),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Error codes over time 故障代码')
        .description('ERR-1…ERR-7 and DEVICE_FAULT raised per interval.')
        .height(8)
        .span(12)
        .withTarget(
          influx(
            'A',
            `SELECT count("active") FROM "alert_events" WHERE "type" = 'raise' AND "condition" =~ /^(ERR-[1-7]|DEVICE_FAULT)$/ AND "district" =~ /^$district$/ AND "kind" =~ /^$kind$/ AND $timeFilter
             GROUP BY time($__interval), "condition" fill(0)`,
            { alias: '$tag_condition' },
          ),
        )
        .drawStyle(common.GraphDrawStyle.Bars)
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Lowest meter battery by gateway 电池电压 (V)')
        .description(`Lowest household-meter battery behind each gateway, per vendor; dashed lines: valve-close set points ${SET_POINTS.lowBatteryV} V (Meihua) and ${SET_POINTS.qianfengLowBatteryV} V (Qianfeng).`)
        .height(8)
        .span(12)
        .withTarget(influx('A', `SELECT min("batteryV") FROM "household_meter" WHERE "vendor" = 'meihua' AND ${READING_FILTER} GROUP BY time($__interval), "gateway" fill(none)`, { alias: 'meihua $tag_gateway' }))
        .withTarget(influx('B', `SELECT min("batteryV") FROM "household_meter" WHERE "vendor" = 'qianfeng' AND ${READING_FILTER} GROUP BY time($__interval), "gateway" fill(none)`, { alias: 'qianfeng $tag_gateway' }))
        .unit('volt')
        .thresholds(thresholds([[null, 'red'], [SET_POINTS.lowBatteryV, 'orange'], [SET_POINTS.qianfengLowBatteryV, 'green']]))
        .thresholdsStyle(thresholdLines()),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Lowest battery readings 低电表具')
        .description('The 20 lowest battery readings in the range (a meter may appear more than once).')
        .height(8)
        .span(8)
        .withTarget(influx('A', `SELECT bottom("batteryV", 20) AS "batteryV", "deviceId", "vendor", "valve", "gateway", "district" FROM "household_meter" WHERE ${READING_FILTER}`, { format: 'table' }))
        .overrideByName('batteryV', [{ id: 'unit', value: 'volt' }]),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Closed valves 关阀表具 (customers without gas)')
        .description('Meters that reported a closed valve in the range, per gateway (a meter reopened later in the range still counts).')
        .height(8)
        .span(8)
        .withTarget(
          influx('A', `SELECT count(distinct("deviceId")) AS "closed" FROM "household_meter" WHERE "valve" = 'closed' AND ${READING_FILTER} GROUP BY "district", "gateway"`, { format: 'table' }),
        ),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Low-balance notices 余额不足通知')
        .description('Open LOW_BALANCE / NO_BALANCE customer notices from the ticket store (the customer\'s business, no technician).')
        .height(8)
        .span(8)
        .withTarget(
          sql(
            'A',
            `SELECT opened_at AS "time", device_id, customer, coalesce(district, 'unknown') AS district, condition, now() - opened_at AS open_for
             FROM customer_notices
             WHERE resolved_at IS NULL AND coalesce(district, 'unknown') ~ '^\${district:regex}$'
             ORDER BY opened_at DESC LIMIT 500`,
          ),
        ),
    )
    .withPanel(
      new stat.PanelBuilder()
        .title('Open tickets for these meters 工单')
        .description('Tickets being worked for the chosen districts, from the ticket store.')
        .height(4)
        .span(24)
        .withTarget(sql('A', `SELECT count(*) AS open FROM tickets WHERE status IN ${OPEN_STATUSES_SQL} AND coalesce(district, 'unknown') ~ '^\${district:regex}$'`))
        .reduceOptions(reduceLast())
        .noValue('0'),
    );
}
