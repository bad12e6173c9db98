/**
 * Every PromQL query of the Pipeline health dashboard (json/pipeline-health.json, enumerated by
 * panel-queries.ts), run as Grafana would run it against a real Prometheus (scripts/services.sh
 * `prometheus`) that scrapes a real pipeline: the embedded pipeline of tests/harness.ts is added as
 * a file_sd target under PROMETHEUS_TARGETS_DIR with a job label unique to this run, gateways'
 * batches and malformed messages go through its MQTT broker, and once Prometheus has scraped the
 * counters moving every query goes through /api/v1/query_range over the last minute (step 1 s).
 * A syntax error, an unknown function or a bad aggregation fails; the panels the pipeline surely
 * feeds here (readings/s, rejects by reason, processing lag, active alerts) must return data. Panels
 * whose metrics need Kafka or InfluxDB configured may come back empty, but must not error.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithServers } from '../sinks/influx/integration-env.ts';
import { startTestPipeline, type TestPipeline } from '../tests/harness.ts';
import { interpolate } from './grafana-macros.ts';
import { dashboardQueries, type DashboardQuery } from './panel-queries.ts';

const JSON_FILE = join(import.meta.dirname, 'json', 'pipeline-health.json');
const queries = dashboardQueries(JSON.parse(readFileSync(JSON_FILE, 'utf8'))).filter((q) => q.dialect === 'promql');
const label = (q: DashboardQuery) => `${q.where} [${q.refId}]`;

/** The scrape interval of the services.sh Prometheus, so `$__rate_interval` is 4 s here. */
const SCRAPE_MS = 1000;
const RANGE_MS = 60_000;
const STEP_S = 1;

/**
 * Panels the traffic below surely feeds, by `title [refId]`, and whether some value must be above
 * zero (a rate that moved) or the series merely present (a gauge the pipeline always sets).
 */
const MUST_HAVE_DATA: Record<string, 'positive' | 'present'> = {
  'Readings per second 读数/秒 [A]': 'positive',
  'Readings per second 读数/秒 [B]': 'positive',
  'Readings per second 读数/秒 [C]': 'positive',
  'Rejects by reason 拒收 [A]': 'positive',
  'Processing lag 处理延迟 [A]': 'present',
};
const ALERTS = 'Active alerts by condition 当前告警 [A]';

interface PromResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; values?: Array<[number, string]>; value?: [number, string] }> };
}

describeWithServers({ PROMETHEUS_URL: 'prometheus', PROMETHEUS_TARGETS_DIR: 'prometheus' }, 'pipeline health PromQL against Prometheus', (env) => {
  const job = `dashboards-${process.pid}-${Date.now().toString(36)}`;
  const targetFile = join(env.PROMETHEUS_TARGETS_DIR!, `${job}.json`);
  let pipeline: TestPipeline;
  let gateway: MqttClient;
  let seq = 0;
  let dir: string;

  async function prom(path: string, params: Record<string, string>): Promise<PromResponse> {
    const res = await fetch(`${env.PROMETHEUS_URL}${path}`, { method: 'POST', body: new URLSearchParams(params) });
    const body = (await res.json()) as PromResponse;
    if (!res.ok && body.status !== 'error') throw new Error(`${path}: HTTP ${res.status}`);
    return body;
  }

  /** An instant query's single value, or undefined when it returns nothing. */
  async function instant(query: string): Promise<number | undefined> {
    const body = await prom('/api/v1/query', { query });
    if (body.status !== 'success') throw new Error(`${query}: ${body.errorType} ${body.error}`);
    const v = body.data?.result[0]?.value?.[1];
    return v === undefined ? undefined : Number(v);
  }

  /** How many times Prometheus has scraped this run's pipeline in the last minute. */
  const scrapes = async () => (await instant(`count_over_time(up{job="${job}"}[1m])`)) ?? 0;

  async function publish(deviceId: string, lelPct: number): Promise<void> {
    // The test clock moves with the batches: a reading no newer than the device's last is late, not judged.
    pipeline.clock.advance(1000);
    const at = new Date(pipeline.clock.now()).toISOString();
    const readings = [
      { at, deviceId, kind: 'home_gas_alarm', lelPct, lamps: { power: true, fault: false, alarm: lelPct >= 25 }, buzzer: lelPct >= 25 ? 'intermittent' : 'off', valve: 'open' },
      { at, deviceId: 'HM-P2', kind: 'household_meter', vendor: 'meihua', volumeM3: 120 + seq, balanceM3: 40, batteryV: 3.6, valve: 'open' },
    ];
    await gateway.publishAsync('gas/v1/GW-P/up', JSON.stringify({ gatewayId: 'GW-P', seq: ++seq, sentAt: at, readings }), { qos: 1 });
  }

  /** Active alerts the pipeline itself reports on /metrics (the gas alarm above raises one). */
  async function activeAlerts(): Promise<number> {
    const text = await (await fetch(`${pipeline.httpUrl}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith('gas_alerts_active{')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  }

  async function runRange(q: DashboardQuery, endMs: number): Promise<PromResponse> {
    const query = interpolate(q.text, { dialect: 'promql', fromMs: endMs - RANGE_MS, toMs: endMs, intervalMs: STEP_S * 1000, scrapeIntervalMs: SCRAPE_MS });
    return prom('/api/v1/query_range', { query, start: String((endMs - RANGE_MS) / 1000), end: String(endMs / 1000), step: `${STEP_S}s` });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gas-promql-'));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify([
      { deviceId: 'HA-P1', kind: 'home_gas_alarm', gatewayId: 'GW-P', district: '城东区', address: '人民路 9 号', customer: '测试', reportIntervalS: 30 },
      { deviceId: 'HM-P2', kind: 'household_meter', vendor: 'meihua', gatewayId: 'GW-P', district: '城东区', address: '人民路 9 号', customer: '测试', reportIntervalS: 3600 },
    ]));
    pipeline = await startTestPipeline({ registryFile });
    gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-P' });

    // Written then renamed, so Prometheus never reads half a file.
    const host = new URL(pipeline.httpUrl).host;
    writeFileSync(`${targetFile}.tmp`, JSON.stringify([{ targets: [host], labels: { job } }]));
    renameSync(`${targetFile}.tmp`, targetFile);
    // Scraped before any traffic, so the counters' first samples are the idle values and rate() sees them move.
    await pipeline.until('Prometheus scraping the pipeline 3 times', async () => (await scrapes()) >= 3, 30_000);

    // Readings over ~6 s (one gas alarm raised), and two malformed messages some scrapes apart: the
    // pipeline exports every reason at 0 from the start, the second is there in case that changes.
    for (let i = 0; i < 6; i++) {
      await publish('HA-P1', i === 2 ? 62 : 0);
      if (i === 0 || i === 4) await gateway.publishAsync('gas/v1/GW-P/up', '{"gatewayId":', { qos: 1 });
      await new Promise((r) => setTimeout(r, 1000));
    }
    await pipeline.until('pipeline counted the traffic', async () => (await pipeline.metric('gas_ingest_rejects_total{reason="not_json"}')) === 2 && (await pipeline.metric('gas_processor_readings_total')) >= 12);
    const seen = await scrapes();
    await pipeline.until('Prometheus scraping the counters after the traffic', async () => (await scrapes()) >= Math.min(seen + 3, 60), 30_000);
  }, 120_000);

  afterAll(async () => {
    rmSync(targetFile, { force: true });
    rmSync(`${targetFile}.tmp`, { force: true });
    await gateway?.endAsync();
    await pipeline?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the dashboard has PromQL panels, each expected one among them', () => {
    const labels = queries.map(label);
    expect(labels.length).toBeGreaterThan(5);
    for (const must of [...Object.keys(MUST_HAVE_DATA), ALERTS]) expect(labels, must).toContain(must);
  });

  it.each(queries.map((q) => [label(q), q] as const))('%s runs', async (name, q) => {
    const body = await runRange(q, Date.now());
    expect(body.error ?? '', `${name}: ${q.text}`).toBe('');
    expect(body.status).toBe('success');
    expect(body.data?.resultType).toBe('matrix');
    const series = body.data!.result;
    let expected = MUST_HAVE_DATA[name];
    if (name === ALERTS && (await activeAlerts()) > 0) expected = 'positive';
    if (!expected) return;
    const values = series.flatMap((s) => (s.values ?? []).map(([, v]) => Number(v)));
    expect(values.length, `${name}: no data in the last minute`).toBeGreaterThan(0);
    if (expected === 'positive') expect(Math.max(...values), `${name}: never above 0`).toBeGreaterThan(0);
  });

  it('rejects are broken down by the reason the pipeline gave', async () => {
    const q = queries.find((x) => label(x) === 'Rejects by reason 拒收 [A]')!;
    const body = await runRange(q, Date.now());
    expect(body.data!.result.map((s) => s.metric.reason)).toContain('not_json');
  });
});
