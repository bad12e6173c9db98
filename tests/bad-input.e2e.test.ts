import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPipeline, type TestPipeline } from './harness.ts';
import { openStream, type StreamClient } from './stream-client.ts';

let pipeline: TestPipeline;
let gateway: MqttClient;

beforeAll(async () => {
  pipeline = await startTestPipeline();
  gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-BAD' });
});
afterAll(async () => {
  await gateway?.endAsync();
  await pipeline?.close();
});

const at = () => new Date(pipeline.clock.now()).toISOString();
const meter = (deviceId: string, extra: Record<string, unknown> = {}) => ({ deviceId, kind: 'household_meter', at: at(), volumeM3: 1, batteryV: 3.6, valve: 'open', ...extra });
let seq = 0;
const batch = (readings: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ gatewayId: 'GW-BAD', seq: ++seq, sentAt: at(), readings, ...extra });

describe('bad input through real MQTT', () => {
  it.each([
    { reason: 'not_json', payload: () => '{"gatewayId":' },
    { reason: 'bad_shape', payload: () => JSON.stringify({ gatewayId: 'GW-BAD', readings: 'none' }) },
    { reason: 'gateway_mismatch', payload: () => batch([meter('HM-M1')], { gatewayId: 'GW-OTHER' }) },
    { reason: 'oversize', payload: () => Buffer.alloc(2 * 1024 * 1024 + 1, 0x20) },
    { reason: 'too_many_readings', payload: () => batch(Array.from({ length: 5001 }, (_, i) => meter(`HM-T${i}`))) },
  ])('rejects a message: $reason, counts it and keeps it as a dead letter', async ({ reason, payload }) => {
    const before = await pipeline.metric(`gas_ingest_rejects_total{reason="${reason}"}`);
    await gateway.publishAsync('gas/v1/GW-BAD/up', payload(), { qos: 1 });
    await pipeline.until(`${reason} counted`, async () => (await pipeline.metric(`gas_ingest_rejects_total{reason="${reason}"}`)) === before + 1);
    const letters = await pipeline.get<{ items: Array<{ reason: string; message: string; gatewayId: string }> }>(`/dead-letters?reason=${reason}`);
    expect(letters.items[0]).toMatchObject({ reason, gatewayId: 'GW-BAD' });
    expect(letters.items[0]!.message).not.toBe('');
  });

  it('rejects each bad reading alone and still judges the good readings of its batch', async () => {
    const before = {
      bad: await pipeline.metric('gas_ingest_rejects_total{reason="bad_reading"}'),
      kind: await pipeline.metric('gas_ingest_rejects_total{reason="unknown_kind"}'),
      time: await pipeline.metric('gas_ingest_rejects_total{reason="timestamp_out_of_range"}'),
    };
    await gateway.publishAsync('gas/v1/GW-BAD/up', batch([
      meter('HM-G1', { status: ['ERR-6'] }),
      meter('HM-X1', { batteryV: 'flat' }),
      { ...meter('HM-X2'), kind: 'water_meter' },
      meter('HM-X3', { at: '2099-01-01T00:00:00.000Z' }),
      meter('HM-G2', { status: ['ERR-7'] }),
    ]), { qos: 1 });
    const alerts = await pipeline.until('both good readings judged', async () => {
      const { items } = await pipeline.get<{ items: Array<{ deviceId: string; condition: string }> }>('/alerts?state=active');
      const found = items.filter((a) => a.deviceId === 'HM-G1' || a.deviceId === 'HM-G2');
      return found.length === 2 && found;
    });
    expect(alerts.map((a) => `${a.deviceId} ${a.condition}`).sort()).toEqual(['HM-G1 ERR-6', 'HM-G2 ERR-7']);
    expect(await pipeline.metric('gas_ingest_rejects_total{reason="bad_reading"}')).toBe(before.bad + 1);
    expect(await pipeline.metric('gas_ingest_rejects_total{reason="unknown_kind"}')).toBe(before.kind + 1);
    expect(await pipeline.metric('gas_ingest_rejects_total{reason="timestamp_out_of_range"}')).toBe(before.time + 1);
  });

  it('drops a repeated batch and counts it, raising nothing twice', async () => {
    const payload = batch([meter('HM-D1', { status: ['ERR-4'] })]);
    const before = await pipeline.metric('gas_ingest_duplicate_batches_total');
    await gateway.publishAsync('gas/v1/GW-BAD/up', payload, { qos: 1 });
    await gateway.publishAsync('gas/v1/GW-BAD/up', payload, { qos: 1 });
    await pipeline.until('duplicate counted', async () => (await pipeline.metric('gas_ingest_duplicate_batches_total')) === before + 1);
    const { items } = await pipeline.get<{ items: unknown[] }>('/alerts?deviceId=HM-D1');
    expect(items).toHaveLength(1);
  });

  it('counts batches lost in a seq gap', async () => {
    const before = await pipeline.metric('gas_ingest_missing_batches_total');
    seq += 3;
    await gateway.publishAsync('gas/v1/GW-BAD/up', batch([meter('HM-S1')]), { qos: 1 });
    await pipeline.until('gap counted', async () => (await pipeline.metric('gas_ingest_missing_batches_total')) === before + 3);
  });

  it('issue 13 #1: a NUL in vendor is refused at the edge and the clean leak in the batch is raised', async () => {
    const before = await pipeline.metric('gas_ingest_rejects_total{reason="unsafe_text"}');
    const leak = { deviceId: 'HA-P1', kind: 'home_gas_alarm', at: at(), lelPct: 62, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'open' };
    // As sent: a NUL in one meter's vendor, a lone surrogate in another's status token, both beside a real leak.
    const payload = batch([meter('HM-P1', { vendor: 'mei\u0000hua', status: ['ERR-3'] }), leak, meter('HM-P2', { status: ['ERR-2'] })])
      .replace('"ERR-2"', '"\\ud800"');
    await gateway.publishAsync('gas/v1/GW-BAD/up', payload, { qos: 1 });
    const ticket = await pipeline.until('a ticket for the leak', async () => {
      const { items } = await pipeline.get<{ items: Array<{ id: string; condition?: string }> }>('/tickets?deviceId=HA-P1');
      return items[0];
    });
    expect(ticket.id).toBeTruthy();
    expect(await pipeline.metric('gas_ingest_rejects_total{reason="unsafe_text"}')).toBe(before + 2);
    const { items: alerts } = await pipeline.get<{ items: Array<{ deviceId: string }> }>('/alerts?state=active');
    expect(alerts.filter((a) => a.deviceId === 'HM-P1' || a.deviceId === 'HM-P2')).toEqual([]);
    const letters = await pipeline.get<{ items: Array<{ deviceId?: string; message: string; payload: string }> }>('/dead-letters?reason=unsafe_text');
    expect(letters.items.map((l) => l.message).sort()).toEqual(['readings[0]/vendor contains NUL (U+0000) at 3', 'readings[2]/status/0 contains a lone surrogate (U+D800) at 0']);
    for (const l of letters.items) expect(l.payload).not.toMatch(/\u0000|[\uD800-\uDFFF]/);
    // Not judged, so the device is unknown to the API.
    await expect(pipeline.get('/devices/HM-P1')).rejects.toThrow(/404/);
  });

  it('issue 13 #4: a reading nested 5,000 levels deep is refused and counted as too_deep; its neighbour is judged and readable', async () => {
    const before = await pipeline.metric('gas_ingest_rejects_total{reason="too_deep"}');
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const payload = batch([meter('HM-Q1', { extra: 'DEEP' }), meter('HM-Q2', { status: ['ERR-1'], signalDbm: -80 })]).replace('"DEEP"', deep);
    await gateway.publishAsync('gas/v1/GW-BAD/up', payload, { qos: 1 });
    await pipeline.until('too_deep counted', async () => (await pipeline.metric('gas_ingest_rejects_total{reason="too_deep"}')) === before + 1);
    const device = await pipeline.until('the neighbour judged', async () => {
      const res = await fetch(`${pipeline.httpUrl}/api/v1/devices/HM-Q2`, { headers: { authorization: `Bearer ${pipeline.adminToken}` } });
      return res.status === 200 && ((await res.json()) as { activeConditions: string[]; lastReading: Record<string, unknown> });
    });
    expect(device.activeConditions).toContain('ERR-1');
    expect(device.lastReading).toMatchObject({ signalDbm: -80 });
    await expect(pipeline.get('/devices/HM-Q1')).rejects.toThrow(/404/);
    // The message was acknowledged: later batches of the gateway still flow.
    await gateway.publishAsync('gas/v1/GW-BAD/up', batch([meter('HM-Q3', { status: ['ERR-2'] })]), { qos: 1 });
    await pipeline.until('the next batch judged', async () => (await pipeline.get<{ items: unknown[] }>('/alerts?deviceId=HM-Q3')).items.length === 1);
  });

  it('issue 13 #5: a NUL in a query parameter answers 400 naming it, not 500 from the ticket store', async () => {
    for (const [path, field] of [['/tickets?assignee=%00', 'assignee'], ['/audit?actor=%00', 'actor'], ['/oncall?district=%00', 'district']] as const) {
      const res = await fetch(`${pipeline.httpUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${pipeline.adminToken}` } });
      expect(res.status, path).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'GAS_HTTP_UNSAFE_TEXT', message: expect.stringContaining(`querystring/${field}`) });
    }
  });

  it("issue 13 #3: a client with ingest's client id is refused by the open embedded broker, and ingest keeps its session", async () => {
    const before = await pipeline.metric('gas_mqtt_refused_total{reason="client_id"}');
    const thief = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'gas-ingest-test', clean: false, reconnectPeriod: 0 }).then(
      (c) => c,
      (err: Error & { code?: number }) => err,
    );
    expect(thief).toBeInstanceOf(Error);
    expect((thief as { code?: number }).code).toBe(2);
    expect(await pipeline.metric('gas_mqtt_refused_total{reason="client_id"}')).toBe(before + 1);
    await gateway.publishAsync('gas/v1/GW-BAD/up', batch([meter('HM-R1', { status: ['ERR-6'] })]), { qos: 1 });
    await pipeline.until('ingest still reading', async () => (await pipeline.get<{ items: unknown[] }>('/alerts?deviceId=HM-R1')).items.length === 1);
  });

  it('issue 13 #6 and #8: streams take only ?access_token=, and the 11th stream of one token answers 429', async () => {
    const url = `${pipeline.httpUrl}/api/v1/stream/alerts`;
    expect((await fetch(`${url}?access%5Ftoken=${pipeline.adminToken}`)).status).toBe(401);
    const streams: StreamClient[] = [];
    try {
      for (let i = 0; i < 10; i++) streams.push(await openStream(`${url}?access_token=${pipeline.adminToken}`));
      const refused = await fetch(`${url}?access_token=${pipeline.adminToken}`);
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ error: 'GAS_HTTP_TOO_MANY_STREAMS' });
    } finally {
      for (const s of streams) s.close();
    }
  });

  it('stays up: health is ok after all of it', async () => {
    const res = await fetch(`${pipeline.httpUrl}/healthz`);
    expect(res.status).toBe(200);
  });
});
