import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { PROMETHEUS, baseDashboard, sql } from './shared.ts';

function prom(refId: string, expr: string, legend: string): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder().refId(refId).datasource(PROMETHEUS).expr(expr).legendFormat(legend).range();
}

function promSeries(title: string, description: string, unit: string, ...targets: prometheus.DataqueryBuilder[]): timeseries.PanelBuilder {
  let panel = new timeseries.PanelBuilder().title(title).description(description).height(8).span(12).unit(unit);
  for (const t of targets) panel = panel.withTarget(t);
  return panel;
}

/**
 * 管道运行: the pipeline's own /metrics (scraped by a Prometheus the compose file does not have yet,
 * datasource uid `gas-prometheus`), plus push deliveries from the ticket store, which has them
 * per attempt.
 */
export function pipelineHealth(): dashboard.DashboardBuilder {
  return baseDashboard('pipeline-health', '管道运行 Pipeline health', ['pipeline'])
    .withPanel(
      promSeries(
        'Readings per second 读数/秒',
        'Readings accepted by ingest (rate of the counter) and the pipeline\'s own 10 s gauge, summed over instances.',
        'reqps',
        prom('A', 'sum(rate(gas_ingest_readings_total[$__rate_interval]))', 'accepted (rate)'),
        prom('B', 'sum(gas_readings_per_second)', 'accepted (10 s gauge)'),
        prom('C', 'sum(rate(gas_processor_readings_total[$__rate_interval]))', 'judged'),
      ),
    )
    .withPanel(
      promSeries(
        'Rejects by reason 拒收',
        'Messages and readings refused at the edge (they are in the dead-letter log with their reason).',
        'reqps',
        prom('A', 'sum by (reason) (rate(gas_ingest_rejects_total[$__rate_interval])) > 0', '{{reason}}'),
        prom('B', 'sum(rate(gas_ingest_duplicate_batches_total[$__rate_interval]))', 'duplicate batches'),
        prom('C', 'sum(rate(gas_ingest_missing_batches_total[$__rate_interval]))', 'missing batches'),
      ).drawStyle(common.GraphDrawStyle.Bars),
    )
    .withPanel(
      promSeries(
        'Kafka consumer lag 积压',
        'Messages not yet committed, per consumer group and topic (summed over partitions).',
        'short',
        prom('A', 'sum by (group, topic) (gas_kafka_consumer_lag)', '{{group}} {{topic}}'),
      ),
    )
    .withPanel(
      promSeries(
        'Processing lag 处理延迟',
        'Time from a batch arriving to its readings being judged, latest batch, worst instance.',
        's',
        prom('A', 'max(gas_pipeline_lag_seconds)', 'lag'),
      ),
    )
    .withPanel(
      promSeries(
        'InfluxDB writes 写入',
        'Lines acknowledged per second, failed write requests per second, lines waiting.',
        'short',
        prom('A', 'sum by (target) (rate(gas_influx_lines_written[$__rate_interval]))', 'written/s {{target}}'),
        prom('B', 'sum by (target) (rate(gas_influx_failed_requests[$__rate_interval]))', 'failed requests/s {{target}}'),
        prom('C', 'sum by (target) (gas_influx_lines_buffered)', 'buffered {{target}}'),
      ),
    )
    .withPanel(
      promSeries(
        'InfluxDB lines dropped 丢弃',
        'Lines the server will never take, by reason (bad_line, field_type_conflict, cardinality_limit, …) and shutdown losses.',
        'short',
        prom('A', 'sum by (target, reason) (increase(gas_influx_lines_dropped[$__rate_interval])) > 0', '{{target}} {{reason}}'),
      ).drawStyle(common.GraphDrawStyle.Bars),
    )
    .withPanel(
      promSeries(
        'Active alerts by condition 当前告警',
        'Alerts currently active in the alert book.',
        'short',
        prom('A', 'sum by (condition) (gas_alerts_active) > 0', '{{condition}}'),
      ),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Notification failures 推送失败')
        .description('Push delivery attempts that failed or will be retried, per channel (from the ticket store: the pipeline exports no delivery metric).')
        .height(8)
        .span(12)
        .withTarget(
          sql(
            'A',
            `SELECT $__timeGroupAlias(at, '5m'), channel || ' ' || status AS metric, count(*) AS attempts
             FROM deliveries WHERE status IN ('failed', 'retry', 'not_delivered') AND $__timeFilter(at)
             GROUP BY 1, 2 ORDER BY 1`,
            'time_series',
          ),
        )
        .drawStyle(common.GraphDrawStyle.Bars),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Deliveries given up or pending 未送达')
        .description('Notices whose delivery failed for good or is still waiting for a retry, with the ticket they belong to.')
        .height(8)
        .span(24)
        .withTarget(
          sql(
            'A',
            `SELECT d.updated_at AS "time", d.status, d.channel, d.recipient_id, d.attempts, d.next_attempt_at, d.last_error, n.ticket_id, n.kind AS notice
             FROM delivery_state d LEFT JOIN ticket_notices n ON n.id = d.notice_id
             WHERE d.status IN ('failed', 'pending')
             ORDER BY d.updated_at DESC LIMIT 200`,
          ),
        ),
    );
}
