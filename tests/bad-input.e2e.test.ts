import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPipeline, type TestPipeline } from './harness.ts';

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

  it('stays up: health is ok after all of it', async () => {
    const res = await fetch(`${pipeline.httpUrl}/healthz`);
    expect(res.status).toBe(200);
  });
});
