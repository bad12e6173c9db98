import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { describeWithServer } from '../sinks/influx/integration-env.ts';
import { startTestPipeline } from './harness.ts';

/**
 * The embedded pipeline with INFLUXQL_URL set writes what it judged to InfluxDB 1.x: the readings
 * for the dashboards and the alert raise/clear edges for their annotations, read back with InfluxQL.
 */
describeWithServer('INFLUXQL_URL', 'influxdb', 'pipeline → InfluxDB', (url) => {
  const database = `pipeline_${Date.now().toString(36)}`;
  const influxql = async (q: string, db = database): Promise<Array<{ name: string; columns: string[]; values: unknown[][] }>> => {
    const res = await fetch(`${url}/query?db=${db}&epoch=ms&q=${encodeURIComponent(q)}`, { method: 'POST' });
    const body = (await res.json()) as { results: Array<{ series?: Array<{ name: string; columns: string[]; values: unknown[][] }>; error?: string }> };
    if (body.results[0]?.error) throw new Error(body.results[0].error);
    return body.results[0]?.series ?? [];
  };

  it('writes readings and alert edges with the registry district as a tag', async () => {
    await influxql(`CREATE DATABASE ${database}`, '');
    const dir = mkdtempSync(join(tmpdir(), 'gas-influx-e2e-'));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify([{ deviceId: 'HA-I1', kind: 'home_gas_alarm', gatewayId: 'GW-I', district: '城南区', reportIntervalS: 30 }]));
    const clock = new ManualClock(Date.now());
    const pipeline = await startTestPipeline({ clock, registryFile, influx: [{ url, target: 'v1', database }] });
    const gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-I' });
    try {
      let seq = 0;
      const send = async (lelPct: number) => {
        const at = new Date(clock.now()).toISOString();
        await gateway.publishAsync('gas/v1/GW-I/up', JSON.stringify({ gatewayId: 'GW-I', seq: ++seq, sentAt: at, readings: [{ deviceId: 'HA-I1', kind: 'home_gas_alarm', at, lelPct }] }), { qos: 1 });
        clock.advance(30_000);
      };
      // L1 is 25 %LEL; the alarm clears after 60 s of device time below it.
      for (const lel of [2, 35, 35, 1, 1, 1, 1]) await send(lel);

      await pipeline.until('seven readings in InfluxDB', async () => (await influxql('SELECT count(lelPct) FROM home_gas_alarm'))[0]?.values[0]?.[1] === 7, 30_000);
      const [readings] = await influxql(`SELECT lelPct, deviceId FROM home_gas_alarm WHERE district = '城南区' AND gateway = 'GW-I'`);
      expect(readings!.values.map((v) => [v[1], v[2]])).toEqual([2, 35, 35, 1, 1, 1, 1].map((lel) => [lel, 'HA-I1']));

      const edges = await pipeline.until('raise and clear edges', async () => {
        const [series] = await influxql(`SELECT active, deviceId FROM alert_events WHERE "condition" = 'GAS_ALARM_L1'`);
        return series && series.values.length >= 2 ? series.values : undefined;
      }, 30_000);
      expect(edges.map((v) => [v[1], v[2]])).toEqual([[1, 'HA-I1'], [0, 'HA-I1']]);
      const metrics = await (await fetch(`${pipeline.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/^gas_influx_lines_written\{target="v1",url="[^"]+"\} [1-9]\d*$/m);

      // The device page's history comes from InfluxDB then, and no local history is kept.
      const from = new Date(clock.now() - 10 * 30_000).toISOString();
      const history = await pipeline.get<{ source: string; points: Array<{ at: string; lelPct: number }> }>(`/devices/HA-I1/readings?from=${from}&to=${new Date(clock.now()).toISOString()}`);
      expect(history.source).toBe('influxdb');
      expect(history.points.map((p) => p.lelPct)).toEqual([2, 35, 35, 1, 1, 1, 1]);
      expect(metrics).not.toContain('gas_history_devices');
    } finally {
      await gateway.endAsync();
      await pipeline.close();
      await influxql(`DROP DATABASE ${database}`, '');
    }
  }, 60_000);
});
