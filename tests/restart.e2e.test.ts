import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { startTestPipeline, type AlertItem } from './harness.ts';

const meter = (atMs: number, status: string[]) => ({ deviceId: 'HM-R1', kind: 'household_meter', at: new Date(atMs).toISOString(), volumeM3: 10, batteryV: 3.6, valve: 'open', status });

describe('restart', () => {
  it('neither re-fires nor forgets an active alert, and still clears it once', async () => {
    const clock = new ManualClock(Date.now());
    const first = await startTestPipeline({ clock });
    const publish = async (url: string, seq: number, status: string[]) => {
      const gw = await mqtt.connectAsync(url, { clientId: 'GW-R' });
      await gw.publishAsync('gas/v1/GW-R/up', JSON.stringify({ gatewayId: 'GW-R', seq, sentAt: new Date(clock.now()).toISOString(), readings: [meter(clock.now(), status)] }), { qos: 1 });
      await gw.endAsync();
    };

    await publish(first.mqttUrl, 1, ['ERR-3']);
    const [raised] = await first.until('ERR-3 raised', async () => {
      const { items } = await first.get<{ items: AlertItem[] }>('/alerts?deviceId=HM-R1');
      return items.length === 1 && items;
    });
    await first.close({ keepData: true });

    const second = await startTestPipeline({ clock, dataDir: first.dataDir });
    try {
      expect((await second.get<{ items: AlertItem[] }>('/alerts?state=active&deviceId=HM-R1')).items.map((a) => a.id)).toEqual([raised!.id]);
      clock.advance(60_000);
      await publish(second.mqttUrl, 2, ['ERR-3']);
      await second.until('reading judged', async () => (await second.metric('gas_processor_readings_total')) >= 1);
      expect((await second.get<{ items: AlertItem[] }>('/alerts?deviceId=HM-R1')).items).toHaveLength(1);

      clock.advance(60_000);
      await publish(second.mqttUrl, 3, []);
      const [cleared] = await second.until('ERR-3 cleared', async () => {
        const { items } = await second.get<{ items: AlertItem[] }>('/alerts?deviceId=HM-R1');
        return items.length === 1 && items[0]!.state === 'cleared' && items;
      });
      expect(cleared!.id).toBe(raised!.id);
    } finally {
      await second.close();
    }
  });

  it("raises GATEWAY_OFFLINE from a gateway's MQTT last will once it stays away past the grace, and clears it when the gateway is back", async () => {
    const pipeline = await startTestPipeline();
    try {
      const will = { topic: 'gas/v1/GW-W/status', payload: Buffer.from(JSON.stringify({ online: false })), qos: 1 as const, retain: true };
      const gw = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-W', will, reconnectPeriod: 0 });
      await gw.publishAsync('gas/v1/GW-W/status', JSON.stringify({ online: true }), { qos: 1, retain: true });
      await gw.publishAsync('gas/v1/GW-W/up', JSON.stringify({ gatewayId: 'GW-W', seq: 1, sentAt: new Date(pipeline.clock.now()).toISOString(), readings: [{ deviceId: 'HA-W1', kind: 'home_gas_alarm', at: new Date(pipeline.clock.now()).toISOString(), lelPct: 1 }] }), { qos: 1 });
      await pipeline.until('reading judged', async () => (await pipeline.metric('gas_processor_readings_total')) >= 1);
      gw.stream.destroy();
      await pipeline.until('last will received', async () => (await pipeline.metric('gas_ingest_messages_total{type="status"}')) >= 2);
      // Offline only once the gateway stays away for the last-will grace (60 s by default).
      await pipeline.processor.checkSilence();
      expect((await pipeline.get<{ items: AlertItem[] }>('/alerts?condition=GATEWAY_OFFLINE')).items).toEqual([]);
      pipeline.clock.advance(60_000);
      await pipeline.processor.checkSilence();
      const [offline] = await pipeline.until('GATEWAY_OFFLINE raised', async () => {
        const { items } = await pipeline.get<{ items: AlertItem[] }>('/alerts?state=active&condition=GATEWAY_OFFLINE');
        return items.length === 1 && items;
      });
      expect(offline).toMatchObject({ deviceId: 'GW-W', gatewayId: 'GW-W', severity: 'high', detail: { reason: 'last_will', devices: ['HA-W1'] } });
      await gw.endAsync(true);

      const back = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-W', will });
      await back.publishAsync('gas/v1/GW-W/status', JSON.stringify({ online: true }), { qos: 1, retain: true });
      await pipeline.until('GATEWAY_OFFLINE cleared', async () => {
        const { items } = await pipeline.get<{ items: AlertItem[] }>('/alerts?condition=GATEWAY_OFFLINE');
        return items.length === 1 && items[0]!.state === 'cleared';
      });
      expect((await pipeline.get<{ items: AlertItem[] }>('/alerts?condition=NO_SIGNAL')).items).toEqual([]);
      await back.endAsync();
    } finally {
      await pipeline.close();
    }
  });
});
