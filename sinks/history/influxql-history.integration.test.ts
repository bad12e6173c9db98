import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import type { Reading } from '../../contracts/messages.ts';
import { InfluxSink } from '../influx/influx-sink.ts';
import { InfluxWriter, parseInfluxWriterOptions } from '../influx/influx-writer.ts';
import { describeWithServer } from '../influx/integration-env.ts';
import { HistoryStore } from './history-store.ts';
import { InfluxQlHistory } from './influxql-history.ts';
import { parseHistorySettings } from './options.ts';
import type { HistoryAnswer, HistoryQuery } from './readings-history.ts';

/**
 * Against the real InfluxDB 1.x of scripts/services.sh (INFLUXQL_URL): readings written by the
 * InfluxDB sink come back from InfluxQlHistory exactly as the local store answers for the same
 * readings — as they are, and bucketed. Each run uses device and gateway ids of its own.
 */

const RUN = `IT${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const GW = `GW-${RUN}`;
const BASE = Date.UTC(2024, 1, 1, 8, 0, 0);
const MIN = 60_000;

/** Three kinds, one reading every 5 minutes for 4 hours (no two in one minute: the local store would merge them). */
function readings(): Reading[] {
  const out: Reading[] = [];
  const at = (i: number) => BASE + i * 5 * MIN + (i % 3) * 1000;
  for (let i = 0; i < 48; i++) {
    const atMs = at(i);
    const base = { at: new Date(atMs).toISOString(), atMs, gatewayId: GW, receivedAtMs: atMs };
    out.push({ ...base, deviceId: `HM-${RUN}`, kind: 'household_meter', volumeM3: 100 + i * 0.125, balanceM3: 40 - i / 8, batteryV: 3.6 - (i % 5) / 100, status: i === 7 ? ['故障', 'ERR-4'] : undefined });
    // A neighbour on the same gateway reporting at the same millisecond: must not leak into HM's answer.
    out.push({ ...base, deviceId: `HM-${RUN}-2`, kind: 'household_meter', volumeM3: 5000, batteryV: 2 });
    out.push({ ...base, deviceId: `FM-${RUN}`, kind: 'flow_meter', flowM3h: 30 + (i % 7), pressureKPa: 100 + (i % 4), temperatureC: -2 + (i % 9) / 2, volumeM3: 1e6 + i });
    out.push({ ...base, deviceId: `AC-${RUN}`, kind: 'alarm_controller', mainPowerV: 220 - (i % 6), mainLoadPct: 40 + (i % 11), backupV: 12.5, detectors: [{ channel: 1, lelPct: i % 13 }, { channel: 2, lelPct: i === 20 ? 61 : 2 }, { channel: 3, lelPct: i === 30 ? null : 0 }] });
  }
  return out;
}

const withoutStatus = (a: HistoryAnswer) => ({ ...a, source: undefined, points: a.points.map((p) => ({ atMs: p.atMs, values: p.values })) });

describeWithServer('INFLUXQL_URL', 'influxdb', 'InfluxQlHistory on InfluxDB 1.x', (url) => {
  const data = readings();
  // The local store keeping every reading (one tier of 1 min: readings 5 min apart never merge).
  const local = new HistoryStore(parseHistorySettings({ tiers: [{ upToAgeMs: 7 * 24 * 60 * MIN, resolutionMs: MIN }] }));
  local.append(data);
  const influx = new InfluxQlHistory({ url, database: 'gas' }, pino({ level: 'silent' }));
  const sink = new InfluxSink(new InfluxWriter(parseInfluxWriterOptions({ url, target: 'v1', database: 'gas', flushIntervalMs: 0 })));
  afterAll(() => sink.close());

  const ask = (deviceId: string, kind: Reading['kind'], limit: number, fromMs = BASE, toMs = BASE + 4 * 60 * MIN): HistoryQuery => ({ deviceId, kind, gatewayId: GW, fromMs, toMs, limit });

  it('answers every reading as it was, as the local store does', async () => {
    await sink.writeReadings(data);
    await sink.flush();
    for (const [id, kind] of [[`HM-${RUN}`, 'household_meter'], [`FM-${RUN}`, 'flow_meter'], [`AC-${RUN}`, 'alarm_controller']] as const) {
      const q = ask(id, kind, 500);
      const fromInflux = await influx.query(q);
      expect(fromInflux.source).toBe('influxdb');
      expect(fromInflux.points).toHaveLength(48);
      expect(fromInflux).toEqual({ ...local.query(id, q.fromMs, q.toMs, q.limit)!, source: 'influxdb' });
    }
    const meter = await influx.query(ask(`HM-${RUN}`, 'household_meter', 500));
    expect(meter.points[7]!.status).toEqual(['ERR-4', '故障']);
    const controller = await influx.query(ask(`AC-${RUN}`, 'alarm_controller', 500));
    expect(controller.points[20]!.values.lelPct).toBe(61);
    expect(controller.points[30]!.status).toEqual(['ch3 --F']);
  });

  it('buckets a longer answer server-side with max, min and last, as the local store does', async () => {
    for (const [id, kind] of [[`HM-${RUN}`, 'household_meter'], [`FM-${RUN}`, 'flow_meter'], [`AC-${RUN}`, 'alarm_controller']] as const) {
      const q = ask(id, kind, 10);
      const fromInflux = await influx.query(q);
      const fromLocal = local.query(id, q.fromMs, q.toMs, q.limit)!;
      expect(fromInflux.bucketMs).toBe(fromLocal.bucketMs);
      expect(fromInflux.points.length).toBeLessThanOrEqual(10);
      expect(withoutStatus(fromInflux)).toEqual(withoutStatus(fromLocal));
    }
    const peak = await influx.query(ask(`AC-${RUN}`, 'alarm_controller', 10));
    expect(Math.max(...peak.points.map((p) => p.values.lelPct!))).toBe(61);
  });

  it('answers nothing outside the range and for a device it never saw', async () => {
    expect((await influx.query(ask(`HM-${RUN}`, 'household_meter', 500, BASE - 60 * MIN, BASE - MIN))).points).toEqual([]);
    expect((await influx.query(ask(`HM-${RUN}-absent`, 'household_meter', 500))).points).toEqual([]);
  });
});
