import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { DeadLetterLog } from '../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../registry/device-registry.ts';
import { AlertBook } from '../alert-book.ts';
import { buildHttpApi } from './server.ts';
import { TokenBook } from './tokens.ts';

const TOKEN = 'test-admin-token';
const auth = { authorization: `Bearer ${TOKEN}` };
let app: FastifyInstance;

beforeAll(async () => {
  const alerts = new AlertBook({ historyLimit: 100, compactAfterLines: 100, fsync: false });
  alerts.apply([{ type: 'raise', subject: 'device', subjectId: 'HM-1', gatewayId: 'GW-1', kind: 'household_meter', condition: 'ERR-1', severity: 'high', atMs: Date.parse('2026-11-22T08:00:00Z') }]);
  const registry = new DeviceRegistry([{ deviceId: 'HM-1', kind: 'household_meter', district: '东城区', customer: '张三', qmaxM3h: 4 }]);
  const deadLetters = new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 });
  deadLetters.append([{ reason: 'not_json', message: 'payload is not JSON', topic: 'gas/v1/GW-1/up', gatewayId: 'GW-1', payload: '{', receivedAtMs: 0 }]);
  const tokens = new TokenBook();
  tokens.add(TOKEN, { name: 'admin', role: 'admin' });
  app = await buildHttpApi({
    alerts,
    registry,
    devices: { statusOf: (id) => (id === 'HM-1' ? { kind: 'household_meter', registered: true, lastSeenAtMs: 0, lastReading: { deviceId: 'HM-1', kind: 'household_meter', at: '1970-01-01T00:00:00.000Z', atMs: 0, receivedAtMs: 0, gatewayId: 'GW-1', volumeM3: 1 } } : undefined) },
    deadLetters,
    metrics: { text: async () => 'gas_readings_per_second 0\n' },
    tokens,
    health: () => ({ status: 'ok', checks: { mqtt: 'connected' } }),
  }, pino({ level: 'silent' }));
});
afterAll(() => app.close());

describe('HTTP API', () => {
  it('serves health and metrics without a token', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok', checks: { mqtt: 'connected' } });
    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain('gas_readings_per_second');
  });

  it.each(['/api/v1/alerts', '/api/v1/devices/HM-1', '/api/v1/dead-letters'])('refuses %s without a valid bearer token', async (url) => {
    expect((await app.inject({ url })).statusCode).toBe(401);
    const wrong = await app.inject({ url, headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: 'GAS_HTTP_UNAUTHORIZED' });
  });

  it('lists alerts in the contract shape, filtered', async () => {
    const res = await app.inject({ url: '/api/v1/alerts?state=active&deviceId=HM-1&condition=ERR-1', headers: auth });
    expect(res.statusCode).toBe(200);
    const [item] = res.json().items;
    expect(Object.keys(item)).toEqual(expect.arrayContaining(['id', 'deviceId', 'gatewayId', 'condition', 'severity', 'state', 'raisedAt', 'clearedAt', 'cause', 'remedy']));
    expect(item).toMatchObject({ deviceId: 'HM-1', gatewayId: 'GW-1', condition: 'ERR-1', severity: 'high', state: 'active', clearedAt: null });
    expect((await app.inject({ url: '/api/v1/alerts?state=cleared', headers: auth })).json().items).toEqual([]);
  });

  it("shows where an alert is from the registry (district, customer), for the control room's filters", async () => {
    const [item] = (await app.inject({ url: '/api/v1/alerts?deviceId=HM-1', headers: auth })).json().items;
    expect(item).toMatchObject({ district: '东城区', customer: '张三' });
  });

  it('records an operator acknowledging an alarm as seen, the first one standing, and refuses an unknown alert', async () => {
    const [item] = (await app.inject({ url: '/api/v1/alerts?deviceId=HM-1', headers: auth })).json().items;
    expect(item.seen).toBeUndefined();
    const seen = await app.inject({ method: 'POST', url: `/api/v1/alerts/${item.id}/seen`, headers: auth });
    expect(seen.statusCode).toBe(200);
    expect(seen.json()).toMatchObject({ id: item.id, seen: { by: 'admin' } });
    const again = await app.inject({ method: 'POST', url: `/api/v1/alerts/${item.id}/seen`, headers: auth });
    expect(again.json().seen).toEqual(seen.json().seen);
    expect((await app.inject({ url: `/api/v1/alerts/${item.id}`, headers: auth })).json().seen).toEqual(seen.json().seen);
    expect((await app.inject({ method: 'POST', url: '/api/v1/alerts/nope/seen', headers: auth })).statusCode).toBe(404);
  });

  it('answers a bad query with a 400 that says what is wrong', async () => {
    const res = await app.inject({ url: '/api/v1/alerts?state=open', headers: auth });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'GAS_HTTP_VALIDATION' });
    expect(res.json().message).toContain('state');
  });

  it('shows a device with its record, last reading, last seen and active conditions', async () => {
    const res = await app.inject({ url: '/api/v1/devices/HM-1', headers: auth });
    expect(res.json()).toMatchObject({ deviceId: 'HM-1', kind: 'household_meter', registered: true, district: '东城区', lastReading: { volumeM3: 1 }, lastSeenAt: '1970-01-01T00:00:00.000Z', activeConditions: ['ERR-1'] });
    expect((await app.inject({ url: '/api/v1/devices/NOPE', headers: auth })).statusCode).toBe(404);
  });

  it('edits a device record, keeping unknown fields, and refuses a wrong type by name', async () => {
    const put = await app.inject({ method: 'PUT', url: '/api/v1/devices/HM-9', headers: auth, payload: { kind: 'flow_meter', qmaxM3h: 160, meterSerial: 'X-1' } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ deviceId: 'HM-9', kind: 'flow_meter', qmaxM3h: 160, meterSerial: 'X-1' });
    expect((await app.inject({ url: '/api/v1/devices/HM-9', headers: auth })).json()).toMatchObject({ kind: 'flow_meter', meterSerial: 'X-1' });
    const bad = await app.inject({ method: 'PUT', url: '/api/v1/devices/HM-9', headers: auth, payload: { kind: 'flow_meter', qmaxM3h: '160' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('qmaxM3h');
    const mismatch = await app.inject({ method: 'PUT', url: '/api/v1/devices/HM-9', headers: auth, payload: { deviceId: 'HM-8', kind: 'flow_meter' } });
    expect(mismatch.statusCode).toBe(400);
  });

  it('lists dead letters with their reasons', async () => {
    const res = await app.inject({ url: '/api/v1/dead-letters?reason=not_json', headers: auth });
    expect(res.json().items).toMatchObject([{ reason: 'not_json', topic: 'gas/v1/GW-1/up' }]);
  });
});
