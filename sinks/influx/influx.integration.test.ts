import { afterAll, expect, it } from 'vitest';
import type { AlertEvent, Reading } from '../../contracts/messages.ts';
import { InfluxSink } from './influx-sink.ts';
import { InfluxWriter, parseInfluxWriterOptions, type InfluxWriterCounters } from './influx-writer.ts';
import { describeWithServer, services } from './integration-env.ts';
import { DEVICE_TAG_KINDS, nanoTimestamp } from './line-protocol.ts';

/**
 * Against the real servers of scripts/services.sh: VictoriaMetrics (INFLUX_URL, the v2 write API)
 * and InfluxDB 1.x (INFLUXQL_URL, InfluxQL). Each run writes under its own gateway ids.
 */

const RUN = `GW-IT${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const BASE_MS = Date.UTC(2024, 0, 15, 10, 0, 0);
const STRING_FIELDS = new Set(['deviceId', 'vendor', 'valve', 'flowMeterId', 'buzzer', 'backup', 'status']);

/** A small mixed fleet: three gateways; many meters report in the same millisecond on one gateway. */
function fleet(): Reading[] {
  const out: Reading[] = [];
  const base = (deviceId: string, kind: Reading['kind'], gw: number, atMs: number): Reading => ({ deviceId, kind, at: new Date(atMs).toISOString(), atMs, gatewayId: `${RUN}-${gw}`, receivedAtMs: atMs + 10 });
  for (let t = 0; t < 3; t++) {
    const atMs = BASE_MS + t * 60_000; // aligned: every meter reports on the minute
    for (let i = 0; i < 60; i++) out.push({ ...base(`HM-${i}`, 'household_meter', i % 2, atMs), volumeM3: 100 + i + t * 0.25, balanceM3: 50 - t, batteryV: 3.6 - i / 100, valve: i % 7 === 0 ? 'closed' : 'open', vendor: 'meihua', status: t === 1 && i === 3 ? ['故障', 'ERR-4'] : undefined });
    for (let i = 0; i < 10; i++) out.push({ ...base(`FM-${i}`, 'flow_meter', 2, atMs + i), flowM3h: 10 + i * 1.5, temperatureC: -2.5 + i, pressureKPa: 100 + t });
    for (let i = 0; i < 20; i++) out.push({ ...base(`HA-${i}`, 'home_gas_alarm', i % 2, atMs), lelPct: i === 4 ? 30 : 0, lamps: { power: true, fault: false, alarm: i === 4 }, buzzer: i === 4 ? 'continuous' : 'off' });
    for (let i = 0; i < 5; i++) out.push({ ...base(`AC-${i}`, 'alarm_controller', 2, atMs + 500), mainPowerV: 220, backup: 'ok', detectors: [{ channel: 1, lelPct: i * 2 }, { channel: 2, lelPct: null, status: ['--F'] }, { channel: 3, lelPct: 60 - t }] });
    for (let i = 0; i < 5; i++) out.push({ ...base(`IC-${i}`, 'industrial_controller', 2, atMs + 700), externalPowerV: 12.5, flowMeterId: `FM-${i}`, flowMeterVolumeM3: 1000 + t });
  }
  return out;
}
const DISTRICTS = (id: string) => (id.startsWith('HM-1') ? 'North' : id.startsWith('AC-') ? 'Port' : undefined);

function tagsOf(r: Reading): Record<string, string> {
  const tags: Record<string, string> = { district: DISTRICTS(r.deviceId) ?? 'unknown', gateway: r.gatewayId, kind: r.kind };
  if (DEVICE_TAG_KINDS.has(r.kind)) tags.device = r.deviceId;
  return tags;
}

/** Every numeric or boolean value a reading carries, as VictoriaMetrics keeps it: name, labels, ms, value. */
function expectedSamples(readings: Reading[]): string[] {
  const out: string[] = [];
  const key = (name: string, labels: Record<string, string>, ms: number, value: number) =>
    `${name}{${Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',')}} ${ms} ${digits12(value)}`;
  for (const r of readings) {
    const labels = tagsOf(r);
    for (const [field, value] of Object.entries(r)) {
      if (field === 'atMs' || field === 'receivedAtMs') continue;
      if (typeof value === 'number') out.push(key(`${r.kind}_${field}`, labels, r.atMs, value));
    }
    if (r.lamps) for (const [lamp, on] of Object.entries(r.lamps)) out.push(key(`${r.kind}_lamp${lamp[0].toUpperCase()}${lamp.slice(1)}`, labels, r.atMs, on ? 1 : 0));
    if (r.detectors) {
      out.push(key(`${r.kind}_detectors`, labels, r.atMs, r.detectors.length));
      for (const d of r.detectors) {
        const dl = { detector: String(d.channel), device: r.deviceId, district: labels.district, gateway: r.gatewayId };
        out.push(key('gas_detector_sensorFault', dl, r.atMs, d.lelPct === null ? 1 : 0));
        if (d.lelPct !== null) out.push(key('gas_detector_lelPct', dl, r.atMs, d.lelPct));
      }
    }
  }
  return out.sort();
}

/** VictoriaMetrics stores values as decimals of about 12 significant digits (3.5900000000000003 → 3.59). */
const digits12 = (v: number) => Number(v.toPrecision(12));

async function vmExport(url: string, match: string): Promise<string[]> {
  await fetch(`${url}/internal/force_flush`);
  const res = await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': match })}`);
  expect(res.ok).toBe(true);
  const out: string[] = [];
  for (const line of (await res.text()).split('\n')) {
    if (!line) continue;
    const { metric, values, timestamps } = JSON.parse(line) as { metric: Record<string, string>; values: number[]; timestamps: number[] };
    const { __name__: name, ...labels } = metric;
    const field = name.slice(name.lastIndexOf('_') + 1);
    if (STRING_FIELDS.has(field)) continue; // VictoriaMetrics keeps string fields as 0: not data
    const l = `{${Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',')}}`;
    values.forEach((v, i) => out.push(`${name}${l} ${timestamps[i]} ${digits12(v)}`));
  }
  return out.sort();
}

function writer(url: string, options: Record<string, unknown> = {}): InfluxWriter {
  return new InfluxWriter(parseInfluxWriterOptions({ url, org: 'gas', bucket: 'gas', ...options }));
}

const noDrops = (c: InfluxWriterCounters) => expect(c.dropped).toEqual({});

describeWithServer('INFLUX_URL', 'victoria-metrics', 'InfluxDB v2 write API on VictoriaMetrics', (url) => {
  it('reads back every reading written by the InfluxDB client, point for point', async () => {
    const readings = fleet();
    const sink = new InfluxSink(writer(url, { batchLines: 200, maxBufferedLines: 1000 }), { districtOf: DISTRICTS });
    for (let i = 0; i < readings.length; i += 50) await sink.writeReadings(readings.slice(i, i + 50));
    const [stats] = await sink.close();
    noDrops(stats);
    expect(stats).toMatchObject({ written: stats.accepted, buffered: 0 });
    const actual = await vmExport(url, `{gateway=~"${RUN}-.*"}`);
    const expected = expectedSamples(readings);
    expect(actual.length).toBe(expected.length);
    expect(actual).toEqual(expected);
  });

  it('buffers through an outage, applies back-pressure at its bound, and drains exactly when the server is back', async () => {
    const run = `${RUN}-outage`;
    const line = (i: number) => `outage_test,run=${run} v=${i} ${BASE_MS + i}000000`;
    const block = writer(url, { batchLines: 100, maxBufferedLines: 500, flushIntervalMs: 20, minRetryDelayMs: 50, maxRetryDelayMs: 400 });
    const drop = writer(url, { batchLines: 100, maxBufferedLines: 200, flushIntervalMs: 20, minRetryDelayMs: 50, maxRetryDelayMs: 400, onFull: 'drop' });
    await services('stop', 'victoria-metrics');
    try {
      await block.write(Array.from({ length: 300 }, (_, i) => line(i)));
      let released = false;
      const blocked = block.write(Array.from({ length: 400 }, (_, i) => line(300 + i))).then(() => (released = true));
      await drop.write(Array.from({ length: 700 }, (_, i) => line(1000 + i)));
      await expect.poll(() => block.stats().failedRequests, { timeout: 10_000 }).toBeGreaterThan(1);
      expect(released).toBe(false);
      expect(block.stats()).toMatchObject({ accepted: 500, written: 0, buffered: 500 });
      expect(drop.stats()).toMatchObject({ accepted: 700, written: 0, buffered: 200, dropped: { overflow: 500 } });
    } finally {
      await services('start', 'victoria-metrics');
    }
    await blocked_(block);
    const [b, d] = await Promise.all([block.close(), drop.close()]);
    expect(b).toMatchObject({ accepted: 700, written: 700, buffered: 0, dropped: {} });
    expect(b.retried).toBeGreaterThan(0);
    expect(d).toMatchObject({ accepted: 700, written: 200, buffered: 0, dropped: { overflow: 500 } });
    const samples = await vmExport(url, `{__name__="outage_test_v",run="${run}"}`);
    const values = samples.map((s) => Number(s.split(' ')[2])).sort((x, y) => x - y);
    // Block mode kept every line; drop mode kept exactly its newest 200.
    expect(values).toEqual([...Array.from({ length: 700 }, (_, i) => i), ...Array.from({ length: 200 }, (_, i) => 1500 + i)]);
  }, 120_000);
});

/** Waits for every write the writer accepted or still takes, through flush(). */
async function blocked_(w: InfluxWriter): Promise<void> {
  await expect.poll(() => w.stats().accepted, { timeout: 30_000 }).toBe(700);
  await w.flush();
}

interface InfluxQlSeries {
  name: string;
  columns: string[];
  values: unknown[][];
}

async function influxQl(url: string, q: string): Promise<InfluxQlSeries[]> {
  const res = await fetch(`${url}/query?${new URLSearchParams({ db: 'gas', epoch: 'ms', q })}`);
  const body = (await res.json()) as { results: Array<{ series?: InfluxQlSeries[]; error?: string }> };
  if (body.results[0]?.error) throw new Error(body.results[0].error);
  return body.results[0]?.series ?? [];
}

describeWithServer('INFLUXQL_URL', 'influxdb', 'InfluxDB 1.x /write and InfluxQL', (url) => {
  const sink = new InfluxSink(writer(url, { target: 'v1', database: 'gas', batchLines: 300, maxBufferedLines: 1000 }), { districtOf: DISTRICTS });
  afterAll(() => sink.close());

  it('reads the same lines back with InfluxQL SELECT, row for row', async () => {
    const readings = fleet();
    await sink.writeReadings(readings);
    await sink.flush();
    const [stats] = sink.stats();
    noDrops(stats);
    expect(stats.written).toBe(stats.accepted);

    const series = await influxQl(url, `SELECT * FROM /^(household_meter|flow_meter|home_gas_alarm|alarm_controller|industrial_controller)$/ WHERE gateway =~ /^${RUN}-/`);
    const rows = new Map<string, Record<string, unknown>>();
    for (const s of series) {
      for (const v of s.values) {
        const row = Object.fromEntries(s.columns.map((c, i) => [c, v[i]]));
        rows.set(`${s.name}|${row.deviceId}|${row.time}`, row);
      }
    }
    // Same-millisecond meters on one gateway are all there: one row per reading.
    expect(rows.size).toBe(readings.length);
    for (const r of readings) {
      const row = rows.get(`${r.kind}|${r.deviceId}|${r.atMs}`);
      expect(row, `${r.kind} ${r.deviceId} ${r.at}`).toBeDefined();
      expect(row).toMatchObject(tagsOf(r));
      for (const [field, value] of Object.entries(r)) {
        if (typeof value === 'number' && field !== 'atMs' && field !== 'receivedAtMs') expect(row![field]).toBe(value);
        if (typeof value === 'string' && STRING_FIELDS.has(field)) expect(row![field]).toBe(value);
      }
      if (r.status) expect(row!.status).toBe(r.status.join(','));
      if (r.lamps) expect(row!.lampAlarm).toBe(r.lamps.alarm);
    }

    // Concentration by site and detector, as a dashboard asks for it.
    const detectors = await influxQl(url, `SELECT last(lelPct) FROM gas_detector WHERE gateway = '${RUN}-2' GROUP BY device, detector`);
    expect(detectors).toHaveLength(5 * 2); // channel 2 only ever shows --F
    const faults = await influxQl(url, `SELECT count(sensorFault) FROM gas_detector WHERE gateway = '${RUN}-2' AND sensorFault = true`);
    expect(faults[0].values[0][1]).toBe(5 * 3);
  });

  it('stores times to the millisecond, ordered per device', async () => {
    const series = await influxQl(url, `SELECT volumeM3 FROM household_meter WHERE gateway = '${RUN}-1' AND deviceId = 'HM-1'`);
    expect(series[0].values.map((v) => v[0])).toEqual([BASE_MS, BASE_MS + 60_000, BASE_MS + 120_000]);
    const ns = await fetch(`${url}/query?${new URLSearchParams({ db: 'gas', epoch: 'ns', q: `SELECT volumeM3 FROM household_meter WHERE gateway = '${RUN}-1' AND deviceId = 'HM-1' LIMIT 1` })}`);
    // Read as text: nanosecond times exceed what a JSON number holds exactly.
    expect(await ns.text()).toContain(`[${nanoTimestamp(BASE_MS, 'HM-1')},`);
  });

  it('writes alert raise/clear events for Grafana annotations', async () => {
    const events: AlertEvent[] = [
      { type: 'raise', subject: 'device', subjectId: 'AC-1', gatewayId: `${RUN}-2`, kind: 'alarm_controller', condition: 'GAS_ALARM_L2', severity: 'critical', atMs: BASE_MS + 1, detail: { channel: 3, lelPct: 60 } },
      { type: 'clear', subject: 'device', subjectId: 'AC-1', gatewayId: `${RUN}-2`, kind: 'alarm_controller', condition: 'GAS_ALARM_L2', severity: 'critical', atMs: BASE_MS + 60_001 },
      { type: 'raise', subject: 'gateway', subjectId: `${RUN}-0`, gatewayId: `${RUN}-0`, condition: 'GATEWAY_OFFLINE', severity: 'high', atMs: BASE_MS + 1 },
    ];
    await sink.writeAlertEvents(events);
    await sink.flush();
    const series = await influxQl(url, `SELECT time, text, deviceId, condition, severity, "type" FROM alert_events WHERE gatewayId =~ /^${RUN}-/`);
    const rows = series[0].values.map((v) => Object.fromEntries(series[0].columns.map((c, i) => [c, v[i]])));
    // Two points share a millisecond; their order within it is the sub-ms offset's.
    rows.sort((a, b) => Number(a.time) - Number(b.time) || String(a.condition).localeCompare(String(b.condition)));
    expect(rows).toEqual([
      { time: BASE_MS + 1, text: 'GAS_ALARM_L2 raised on device AC-1 {"channel":3,"lelPct":60}', deviceId: 'AC-1', condition: 'GAS_ALARM_L2', severity: 'critical', type: 'raise' },
      { time: BASE_MS + 1, text: `GATEWAY_OFFLINE raised on gateway ${RUN}-0`, deviceId: null, condition: 'GATEWAY_OFFLINE', severity: 'high', type: 'raise' },
      { time: BASE_MS + 60_001, text: 'GAS_ALARM_L2 cleared on device AC-1', deviceId: 'AC-1', condition: 'GAS_ALARM_L2', severity: 'critical', type: 'clear' },
    ]);
  });

  it('counts refused lines by reason and keeps the rest of their batch', async () => {
    const w = writer(url, { target: 'v1', database: 'gas', flushIntervalMs: 0 });
    const line = (v: string, ms: number) => `refusal_test,run=${RUN} v=${v} ${BASE_MS + ms}000000`;
    // Separate batches: when one batch has both, InfluxDB 1.x names only the type conflict (see README).
    await w.write([line('1', 0), 'refusal_test,run=x v= 1', line('2', 2)]);
    await w.flush();
    await w.write([line('"text"', 1), line('3', 3)]);
    const stats = await w.close();
    expect(stats).toMatchObject({ accepted: 5, written: 3, buffered: 0, dropped: { bad_line: 1, field_type_conflict: 1 } });
    const series = await influxQl(url, `SELECT v FROM refusal_test WHERE run = '${RUN}'`);
    expect(series[0].values.map((v) => v[1])).toEqual([1, 2, 3]);
  });
});
