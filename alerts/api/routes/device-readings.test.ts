import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { InProcessBus } from '../../../bus/in-process-bus.ts';
import type { Reading } from '../../../contracts/messages.ts';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
import { HistoryPlugin, type HistorySink } from '../../../sinks/history/index.ts';
import { InfluxQlHistory } from '../../../sinks/history/influxql-history.ts';
import { parseHistorySettings } from '../../../sinks/history/options.ts';
import type { ReadingsHistory } from '../../../sinks/history/readings-history.ts';
import { FakeInfluxServer } from '../../../sinks/influx/test-support.ts';
import { AlertBook } from '../../alert-book.ts';
import { buildHttpApi } from '../server.ts';
import { TokenBook } from '../tokens.ts';

const NOW = Date.parse('2026-11-23T02:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const auth = { authorization: 'Bearer admin-token' };
const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'gas-readings-route-'));

async function api(readings: ReadingsHistory): Promise<FastifyInstance> {
  const tokens = new TokenBook();
  tokens.add('admin-token', { name: 'admin', role: 'admin' });
  return buildHttpApi({
    alerts: new AlertBook({ historyLimit: 100, compactAfterLines: 100, fsync: false }),
    registry: new DeviceRegistry([{ deviceId: 'HA-1', kind: 'home_gas_alarm', gatewayId: 'GW-1', district: '城东区' }, { deviceId: 'HM-9', kind: 'household_meter', gatewayId: 'GW-9' }]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens,
    health: () => ({ status: 'ok', checks: {} }),
    clock: new ManualClock(NOW),
    readings,
  }, log);
}

const alarm = (deviceId: string, atMs: number, lelPct: number, status?: string[]): Reading => ({ deviceId, kind: 'home_gas_alarm', at: new Date(atMs).toISOString(), atMs, gatewayId: 'GW-1', receivedAtMs: atMs, lelPct, status });

describe('GET /api/v1/devices/:id/readings on the local history', () => {
  const bus = new InProcessBus();
  let sink: HistorySink;
  let app: FastifyInstance;

  beforeAll(async () => {
    sink = await HistoryPlugin.start(parseHistorySettings({ persist: false }), { bus, dataDir: dir, log });
    app = await api(sink.readings);
    // Two days of a home alarm every 10 minutes through the bus, as the pipeline delivers them; a leak an hour ago.
    const readings: Reading[] = [];
    for (let t = NOW - 48 * HOUR; t <= NOW; t += 10 * MIN) readings.push(alarm('HA-1', t, t === NOW - HOUR ? 62 : 1, t === NOW - HOUR ? ['报警'] : undefined));
    await bus.readings.publish(readings);
    await bus.readings.publish([{ ...alarm('HA-X', NOW - MIN, 3), gatewayId: 'GW-2' }]);
  });
  afterAll(async () => {
    await app.close();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the last 24 hours by default, in device time, each point with its fields and status', async () => {
    const res = await app.inject({ url: '/api/v1/devices/HA-1/readings', headers: auth });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ deviceId: 'HA-1', kind: 'home_gas_alarm', source: 'local', from: new Date(NOW - 24 * HOUR).toISOString(), to: new Date(NOW).toISOString(), bucketMs: null });
    // The day older than an hour is kept at 15 minutes (the store's tiers): under 500 points, all of them.
    expect(body.points.length).toBeGreaterThan(24 * 4);
    expect(body.points.at(-1)).toEqual({ at: new Date(NOW).toISOString(), lelPct: 1 });
    expect(body.points.find((p: { lelPct: number }) => p.lelPct === 62)).toMatchObject({ status: ['报警'] });
    for (const p of body.points) expect(Date.parse(p.at)).toBeGreaterThanOrEqual(NOW - 24 * HOUR);
  });

  it('merges into at most `limit` buckets server-side and says how wide they are', async () => {
    const from = new Date(NOW - 2 * HOUR).toISOString();
    const to = new Date(NOW).toISOString();
    const res = await app.inject({ url: `/api/v1/devices/HA-1/readings?from=${from}&to=${to}&limit=10`, headers: auth });
    const body = res.json();
    expect(body.bucketMs).toBe(800_000);
    expect(body.points.length).toBeLessThanOrEqual(10);
    expect(Math.max(...body.points.map((p: { lelPct: number }) => p.lelPct))).toBe(62);
  });

  it('answers a device known only to the history, and 404 for one nobody knows', async () => {
    expect((await app.inject({ url: '/api/v1/devices/HA-X/readings', headers: auth })).json()).toMatchObject({ kind: 'home_gas_alarm', points: [{ lelPct: 3 }] });
    expect((await app.inject({ url: '/api/v1/devices/HM-9/readings', headers: auth })).json()).toMatchObject({ kind: 'household_meter', points: [] });
    const missing = await app.inject({ url: '/api/v1/devices/NOPE-1/readings', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'GAS_HTTP_NOT_FOUND' });
  });

  it.each([
    { query: 'from=2026-11-23T02:00:00Z&to=2026-11-23T01:00:00Z', says: 'must be before' },
    { query: 'from=2026-11-23T02:00:00Z&to=2026-11-23T02:00:00Z', says: 'must be before' },
    { query: 'from=yesterday', says: 'ISO-8601' },
    { query: 'from=2026-09-01T00:00:00Z&to=2026-11-01T00:00:00Z', says: 'at most 31 days' },
    { query: 'limit=5', says: 'limit must be 10-2000' },
    { query: 'limit=5000', says: 'limit must be 10-2000' },
  ])('refuses a bad range with 400 GAS_HTTP_BAD_RANGE: $query', async ({ query, says }) => {
    const res = await app.inject({ url: `/api/v1/devices/HA-1/readings?${query}`, headers: auth });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'GAS_HTTP_BAD_RANGE' });
    expect(res.json().message).toContain(says);
  });

  it('refuses a limit that is no number and unknown parameters by the schema', async () => {
    for (const query of ['limit=ten', 'since=2026-11-01T00:00:00Z']) {
      const res = await app.inject({ url: `/api/v1/devices/HA-1/readings?${query}`, headers: auth });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'GAS_HTTP_VALIDATION' });
    }
    expect((await app.inject({ url: '/api/v1/devices/HA-1/readings' })).statusCode).toBe(401);
  });
});

describe('GET /api/v1/devices/:id/readings on InfluxDB', () => {
  const server = new FakeInfluxServer();
  let app: FastifyInstance;
  beforeAll(async () => {
    await server.start();
    app = await api(new InfluxQlHistory({ url: server.url, database: 'gas', requestTimeoutMs: 2000 }, log));
  });
  afterAll(async () => {
    await app.close();
    await server.stop();
  });

  it('answers in the same shape, from InfluxDB, narrowed to the registry gateway', async () => {
    server.replies.push({ status: 200, body: JSON.stringify({ results: [{ statement_id: 0, series: [{ name: 'home_gas_alarm', columns: ['time', 'lelPct', 'status'], values: [[NOW - HOUR, 62, '报警'], [NOW, 1, null]] }] }] }) });
    const res = await app.inject({ url: '/api/v1/devices/HA-1/readings?from=2026-11-23T00:00:00Z', headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      deviceId: 'HA-1',
      kind: 'home_gas_alarm',
      source: 'influxdb',
      from: '2026-11-23T00:00:00.000Z',
      to: new Date(NOW).toISOString(),
      bucketMs: null,
      points: [{ at: new Date(NOW - HOUR).toISOString(), lelPct: 62, status: ['报警'] }, { at: new Date(NOW).toISOString(), lelPct: 1 }],
    });
    expect(new URL(server.received.at(-1)!.path, server.url).searchParams.get('q')).toContain(`"gateway" = 'GW-1' AND "deviceId" = 'HA-1'`);
  });

  it('answers 503 GAS_HISTORY_UNAVAILABLE when InfluxDB fails, without its words', async () => {
    server.replies.push({ status: 500, body: '{"error":"timeout waiting on shard 42"}' });
    const res = await app.inject({ url: '/api/v1/devices/HA-1/readings', headers: auth });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'GAS_HISTORY_UNAVAILABLE' });
    expect(res.body).not.toContain('shard');
  });
});
