import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeInfluxServer } from '../influx/test-support.ts';
import { HistoryUnavailableError } from './errors.ts';
import { InfluxQlHistory } from './influxql-history.ts';

/** InfluxQlHistory against a stand-in answering as InfluxDB 1.x's /query does (JSON, epoch=ms). */

const T0 = Date.UTC(2026, 10, 23, 2, 0, 0);
const MIN = 60_000;
const server = new FakeInfluxServer();
const log = pino({ level: 'silent' });

const series = (name: string, columns: string[], values: unknown[][]) => ({ name, columns, values });
const answer = (...results: Array<ReturnType<typeof series>[] | { error: string }>) =>
  ({ status: 200, body: JSON.stringify({ results: results.map((r, i) => (Array.isArray(r) ? { statement_id: i, series: r } : { statement_id: i, ...r })) }) });
const statementsOf = (i: number) => new URL(server.received[i]!.path, server.url).searchParams.get('q')!.split('; ');

beforeAll(() => server.start());
afterAll(() => server.stop());
beforeEach(() => {
  server.received.length = 0;
  server.replies.length = 0;
});

describe('InfluxQlHistory', () => {
  it("asks a household meter's readings by gateway tag and deviceId field, and reads them back as points", async () => {
    server.replies.push(answer([series('household_meter', ['time', 'volumeM3', 'balanceM3', 'batteryV', 'status'], [[T0, 10.5, 30, 3.6, null], [T0 + MIN, 10.75, null, 3.5, 'ERR-4,故障,ERR-4']])]));
    const history = new InfluxQlHistory({ url: `${server.url}/`, database: 'gas', username: 'grafana', password: 's3cret' }, log);
    const got = await history.query({ deviceId: 'HM-1', kind: 'household_meter', gatewayId: 'GW-7', fromMs: T0, toMs: T0 + 60 * MIN, limit: 100 });
    expect(got).toEqual({
      source: 'influxdb',
      bucketMs: null,
      points: [
        { atMs: T0, values: { volumeM3: 10.5, balanceM3: 30, batteryV: 3.6 } },
        { atMs: T0 + MIN, values: { volumeM3: 10.75, batteryV: 3.5 }, status: ['ERR-4', '故障'] },
      ],
    });
    const request = new URL(server.received[0]!.path, server.url);
    expect(request.pathname).toBe('/query');
    expect(request.searchParams.get('db')).toBe('gas');
    expect(request.searchParams.get('epoch')).toBe('ms');
    expect(statementsOf(0)).toEqual([
      `SELECT "volumeM3", "balanceM3", "batteryV", "status" FROM "household_meter" WHERE "gateway" = 'GW-7' AND "deviceId" = 'HM-1' AND time >= ${T0}ms AND time <= ${T0 + 60 * MIN}ms ORDER BY time ASC LIMIT 101`,
    ]);
    expect(server.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from('grafana:s3cret').toString('base64')}`);
  });

  it('asks an industrial kind by its device tag, and a controller its highest channel from gas_detector', async () => {
    server.replies.push(answer(
      [series('alarm_controller', ['time', 'mainLoadPct', 'mainPowerV', 'backupV', 'status'], [[T0, 40, 220, 12.5, null]])],
      [series('gas_detector', ['time', 'lelPct', 'sensorFault', 'detector'], [[T0, 3, false, '1'], [T0, 27, false, '2'], [T0, null, true, '3']])],
    ));
    const history = new InfluxQlHistory({ url: server.url, database: 'gas' }, log);
    const got = await history.query({ deviceId: 'AC-1', kind: 'alarm_controller', gatewayId: 'GW-7', fromMs: T0, toMs: T0 + MIN, limit: 100 });
    expect(got.points).toEqual([{ atMs: T0, values: { lelPct: 27, mainLoadPct: 40, mainPowerV: 220, backupV: 12.5 }, status: ['ch3 --F'] }]);
    const [controller, detectors] = statementsOf(0);
    expect(controller).toContain(`FROM "alarm_controller" WHERE "device" = 'AC-1' AND time >= `);
    expect(controller).not.toContain('gateway');
    expect(detectors).toContain(`FROM "gas_detector" WHERE "device" = 'AC-1' AND time >= `);
    expect(server.received[0]!.headers.authorization).toBeUndefined();
  });

  it('asks again with GROUP BY time() and each field’s merge rule when there are more readings than the limit', async () => {
    const rows = Array.from({ length: 11 }, (_, i) => [T0 + i * MIN, i, 30, 1, null]);
    server.replies.push(answer([series('flow_meter', ['time', 'flowM3h', 'pressureKPa', 'temperatureC', 'volumeM3', 'status'], rows)]));
    server.replies.push(answer([series('flow_meter', ['time', 'flowM3h', 'pressureKPa', 'temperatureC', 'volumeM3', 'status'], [[T0, 9, 101, 4, 1e6 + 9, 'ERR-1']])]));
    const history = new InfluxQlHistory({ url: server.url, database: 'gas' }, log);
    const got = await history.query({ deviceId: 'FM-1', kind: 'flow_meter', fromMs: T0, toMs: T0 + 10 * MIN, limit: 10 });
    expect(got).toEqual({ source: 'influxdb', bucketMs: 67_000, points: [{ atMs: T0, values: { flowM3h: 9, pressureKPa: 101, temperatureC: 4, volumeM3: 1e6 + 9 }, status: ['ERR-1'] }] });
    expect(statementsOf(1)).toEqual([
      `SELECT max("flowM3h") AS "flowM3h", max("pressureKPa") AS "pressureKPa", max("temperatureC") AS "temperatureC", last("volumeM3") AS "volumeM3", last("status") AS "status" FROM "flow_meter" WHERE "device" = 'FM-1' AND time >= ${T0}ms AND time <= ${T0 + 10 * MIN}ms GROUP BY time(67000ms) fill(none)`,
    ]);
  });

  it('answers an empty history while nothing was ever written to the database', async () => {
    server.replies.push(answer({ error: 'database not found: gas' }));
    const got = await new InfluxQlHistory({ url: server.url, database: 'gas' }, log).query({ deviceId: 'HA-1', kind: 'home_gas_alarm', fromMs: T0, toMs: T0 + MIN, limit: 10 });
    expect(got).toEqual({ source: 'influxdb', bucketMs: null, points: [] });
  });

  it.each([
    { name: 'a 500', reply: { status: 500, body: '{"error":"engine: shard closed"}' } },
    { name: 'a refused statement', reply: answer({ error: 'error parsing query: found EOF' }) },
    { name: 'a body that is not JSON', reply: { status: 200, body: '<html>proxy</html>' } },
    { name: 'a dropped connection', reply: 'hang-up' as const },
  ])('throws HistoryUnavailableError (retryable, 503 at the API) on $name', async ({ reply }) => {
    server.replies.push(reply);
    const history = new InfluxQlHistory({ url: server.url, database: 'gas' }, log);
    const err = await history.query({ deviceId: 'HA-1', kind: 'home_gas_alarm', fromMs: T0, toMs: T0 + MIN, limit: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HistoryUnavailableError);
    expect(err).toMatchObject({ code: 'GAS_HISTORY_UNAVAILABLE', retryable: true });
    // The server's own words stay in the log.
    expect((err as Error).message).not.toMatch(/shard|EOF|proxy/);
  });
});
