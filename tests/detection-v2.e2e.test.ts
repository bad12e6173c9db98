/**
 * Issue 15 "Detection fidelity v2" end to end: readings published over real MQTT into the embedded
 * pipeline, alerts and tickets read back through the HTTP API. Time is a ManualClock moved with the
 * readings; nothing sleeps. Each item has its own describe block and its own pipeline.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { OFFLINE_PAYLOAD, ONLINE_PAYLOAD, statusTopic } from '../simulators/simulation.ts';
import { startTestPipeline, type AlertItem, type TestPipeline } from './harness.ts';
import { openStream, type StreamClient } from './stream-client.ts';

// Monday 10:00 in Asia/Shanghai: the example rota has a technician on site.
const START = Date.parse('2026-11-23T02:00:00.000Z');

interface TicketItem { id: string; subject: string; deviceId: string | null; conditions: string[]; status: string }
type InhibitedAlert = AlertItem & { inhibited?: { by: string; alertId: string; since: string } };

/** One gateway publishing readings stamped with the test clock, waiting until the processors judged each batch. */
class Site {
  #seq = 0;
  #published = 0;
  private constructor(
    readonly pipeline: TestPipeline,
    readonly gatewayId: string,
    readonly client: MqttClient,
  ) {}

  static async start(gatewayId: string, registry: Array<Record<string, unknown>>): Promise<Site> {
    const dir = mkdtempSync(join(tmpdir(), 'gas-detection-v2-'));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify(registry.map((r) => ({ gatewayId, district: '城东区', reportIntervalS: 3600, ...r }))));
    const pipeline = await startTestPipeline({ clock: new ManualClock(START), registryFile });
    const client = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: gatewayId });
    return new Site(pipeline, gatewayId, client);
  }

  async publish(...readings: Array<Record<string, unknown>>): Promise<void> {
    const at = new Date(this.pipeline.clock.now()).toISOString();
    await this.client.publishAsync(`gas/v1/${this.gatewayId}/up`, JSON.stringify({ gatewayId: this.gatewayId, seq: ++this.#seq, sentAt: at, readings: readings.map((r) => ({ at, ...r })) }), { qos: 1 });
    this.#published += readings.length;
    const p = this.pipeline;
    const want = this.#published;
    await p.until(`${want} readings judged`, async () => (await p.metric('gas_processor_readings_total')) + (await p.metric('gas_processor_late_readings_total')) >= want);
  }

  /** The live stream of the technician on call in 城东区: their phone, to count the pages. */
  async technicianStream(): Promise<StreamClient> {
    const { httpUrl, adminToken } = this.pipeline;
    const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const onCall = await this.pipeline.get<{ technician?: { id: string } }>(`/oncall?district=${encodeURIComponent('城东区')}`);
    const res = await fetch(`${httpUrl}/api/v1/tokens`, { method: 'POST', headers, body: JSON.stringify({ name: 'phone of the on-call technician', role: 'technician', personId: onCall.technician!.id }) });
    const { token } = (await res.json()) as { token: string };
    return openStream(`${httpUrl}/api/v1/stream?access_token=${token}`);
  }

  alerts(deviceId: string, condition?: string): Promise<InhibitedAlert[]> {
    return this.pipeline.get<{ items: InhibitedAlert[] }>(`/alerts?deviceId=${deviceId}${condition ? `&condition=${condition}` : ''}&limit=100`).then((r) => r.items);
  }

  /** The device's own tickets, once it has one (the storm folder may hold a raise for its group wait). */
  deviceTickets(deviceId: string): Promise<TicketItem[]> {
    return this.pipeline.until(`a ticket for ${deviceId}`, async () => {
      const items = (await this.pipeline.get<{ items: TicketItem[] }>(`/tickets?deviceId=${deviceId}`)).items.filter((t) => t.subject === 'device');
      return items.length > 0 && items;
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
    await this.pipeline.close();
  }
}

describe('issue 15 #1: late and backfilled readings judged in event time over real MQTT', () => {
  let site: Site;
  let stream: StreamClient;
  beforeAll(async () => {
    site = await Site.start('GW-LT', [
      { deviceId: 'HA-LT1', kind: 'home_gas_alarm', address: '建设路 9 号 302', customer: '孙丽' },
      { deviceId: 'HM-LT2', kind: 'household_meter', vendor: 'meihua' },
      { deviceId: 'HA-LT3', kind: 'home_gas_alarm', address: '建设路 9 号 402' },
      { deviceId: 'HM-LT4', kind: 'household_meter', vendor: 'meihua' },
      { deviceId: 'HA-LT5', kind: 'home_gas_alarm' },
    ]);
    stream = await site.technicianStream();
  });
  afterAll(async () => {
    stream?.close();
    await site?.close();
  });

  const alarm = (deviceId: string, lelPct: number, atMs?: number) => ({
    deviceId, kind: 'home_gas_alarm', lelPct, valve: 'closed', buzzer: lelPct >= 25 ? 'intermittent' : 'off',
    lamps: { power: true, fault: false, alarm: lelPct >= 25 }, ...(atMs !== undefined ? { at: new Date(atMs).toISOString() } : {}),
  });
  const meter = (deviceId: string, status: string[], atMs?: number) => ({
    deviceId, kind: 'household_meter', vendor: 'meihua', volumeM3: 321, balanceM3: 80, batteryV: 3.6, valve: 'open', status, ...(atMs !== undefined ? { at: new Date(atMs).toISOString() } : {}),
  });
  const pagesAbout = (deviceId: string) => stream.events.filter((e) => e.event === 'alarm.raised' && JSON.stringify(e.data).includes(deviceId));

  it('a home alarm that reported normal delivers a reading from 9 minutes ago at 48 %LEL: a historical L1 at its own time, late with the delay, a ticket and a page; the current state stays normal', async () => {
    for (let i = 0; i <= 20; i++) {
      if (i > 0) site.pipeline.clock.advance(30_000);
      await site.publish(alarm('HA-LT1', 0));
    }
    const nowMs = site.pipeline.clock.now();
    await site.publish(alarm('HA-LT1', 48, nowMs - 540_000));
    const [l1] = await site.pipeline.until('historical L1', async () => {
      const items = await site.alerts('HA-LT1', 'GAS_ALARM_L1');
      return items.length > 0 && items;
    });
    expect(l1).toMatchObject({ late: true, delayMs: 540_000, raisedAt: new Date(nowMs - 540_000).toISOString(), state: 'cleared', clearedAt: new Date(nowMs).toISOString() });
    expect(await site.alerts('HA-LT1', 'GAS_ALARM_L2')).toEqual([]);
    expect((await site.pipeline.get<{ activeConditions: string[] }>('/devices/HA-LT1')).activeConditions).toEqual([]);
    // The site must still be checked: a ticket, and the technician paged, told it is late and when it happened.
    expect((await site.deviceTickets('HA-LT1')).flatMap((t) => t.conditions)).toEqual(['GAS_ALARM_L1']);
    const page = await stream.next((e) => e.event === 'alarm.raised' && JSON.stringify(e.data).includes('HA-LT1'));
    expect(JSON.stringify(page.data)).toContain('迟报');
    // A newer normal reading changes nothing.
    site.pipeline.clock.advance(30_000);
    await site.publish(alarm('HA-LT1', 0));
    expect(await site.alerts('HA-LT1', 'GAS_ALARM_L1')).toHaveLength(1);
  });

  it("a household meter's late ERR-6 is recorded as a historical alert without a ticket or a push", async () => {
    const nowMs = site.pipeline.clock.now();
    await site.publish(meter('HM-LT2', []));
    await site.publish(meter('HM-LT2', ['ERR-6'], nowMs - 300_000));
    const [err6] = await site.pipeline.until('historical ERR-6', async () => {
      const items = await site.alerts('HM-LT2', 'ERR-6');
      return items.length > 0 && items;
    });
    expect(err6).toMatchObject({ late: true, delayMs: 300_000, state: 'cleared' });
    // A live fault on another meter afterwards gets its ticket: by then the late one was through the ticket side too.
    site.pipeline.clock.advance(30_000);
    await site.publish(meter('HM-LT4', ['ERR-6']));
    await site.deviceTickets('HM-LT4');
    expect((await site.pipeline.get<{ items: TicketItem[] }>('/tickets?deviceId=HM-LT2')).items).toEqual([]);
    expect(stream.events.filter((e) => JSON.stringify(e.data).includes('HM-LT2'))).toEqual([]);
  });

  it('a backfill of 600 buffered readings with a leak in them, delivered twice after the live batch: one historical L1 and L2, one ticket, one page', async () => {
    const nowMs = site.pipeline.clock.now();
    await site.publish(alarm('HA-LT3', 0));
    // Five hours every 30 s; 60 %LEL for 90 s two hours ago.
    const leakFrom = 360;
    const backlog = Array.from({ length: 600 }, (_, i) => alarm('HA-LT3', i >= leakFrom && i < leakFrom + 3 ? 60 : 0, nowMs - (600 - i) * 30_000));
    await site.publish(...backlog);
    await site.publish(...backlog);
    // A live leak elsewhere afterwards: its page means the backlog's went through the safety lane before it.
    site.pipeline.clock.advance(30_000);
    await site.publish(alarm('HA-LT5', 60));
    await stream.next((e) => e.event === 'alarm.raised' && JSON.stringify(e.data).includes('HA-LT5'));
    for (const condition of ['GAS_ALARM_L1', 'GAS_ALARM_L2']) {
      const alerts = await site.alerts('HA-LT3', condition);
      expect(alerts, condition).toHaveLength(1);
      expect(alerts[0], condition).toMatchObject({ late: true, state: 'cleared', raisedAt: new Date(nowMs - (600 - leakFrom) * 30_000).toISOString() });
    }
    expect(await site.deviceTickets('HA-LT3')).toHaveLength(1);
    expect(pagesAbout('HA-LT3')).toHaveLength(1);
    expect((await site.pipeline.get<{ activeConditions: string[] }>('/devices/HA-LT3')).activeConditions).toEqual([]);
  });
});

describe('issue 15 #2: COUNT_MISMATCH judged on increments over real MQTT', () => {
  let site: Site;
  beforeAll(async () => {
    site = await Site.start('GW-CD', [{ deviceId: 'IC-CD1', kind: 'industrial_controller', vendor: 'meihua', qmaxM3h: 100, flowMeterId: 'IC-CD1-FM' }]);
  });
  afterAll(() => site?.close());

  const controller = (volumeM3: number, flowMeterVolumeM3: number) => ({
    deviceId: 'IC-CD1', kind: 'industrial_controller', vendor: 'meihua', volumeM3, flowMeterVolumeM3, flowMeterId: 'IC-CD1-FM',
    balanceM3: 2_000, batteryV: 3.6, externalPowerV: 12, valve: 'open',
  });

  it('a controller counting 22 m³ while its flow meter counts 5.5 m³ in 22 minutes (totals in the thousands) raises one COUNT_MISMATCH, controller ahead, cleared once re-synced', async () => {
    for (let min = 0; min <= 22; min++) {
      if (min > 0) site.pipeline.clock.advance(60_000);
      await site.publish(controller(4_000 + min, 3_987.2 + 0.25 * min));
    }
    const [raised] = await site.alerts('IC-CD1', 'COUNT_MISMATCH');
    expect(raised).toMatchObject({ state: 'active', condition: 'COUNT_MISMATCH' });
    expect(raised!.detail).toMatchObject({ ahead: 'controller', flowMeterId: 'IC-CD1-FM' });
    expect(Number(raised!.detail!.driftPct)).toBeGreaterThan(50);
    expect((await site.deviceTickets('IC-CD1')).flatMap((t) => t.conditions)).toContain('COUNT_MISMATCH');

    // The technician re-syncs the flow meter's count to the controller's.
    for (let min = 23; min <= 25; min++) {
      site.pipeline.clock.advance(60_000);
      await site.publish(controller(4_000 + min, 4_000 + min));
    }
    const after = await site.alerts('IC-CD1', 'COUNT_MISMATCH');
    expect(after.map((a) => a.state)).toEqual(['cleared']);
  });
});

describe('issue 15 #4: a flapping gas alarm over real MQTT', () => {
  let site: Site;
  let stream: StreamClient;
  beforeAll(async () => {
    site = await Site.start('GW-FL', [{ deviceId: 'HA-FL1', kind: 'home_gas_alarm', address: '人民路 2 号 101', customer: '赵敏' }]);
    // The phone of the technician on call, to count the leak pages.
    stream = await site.technicianStream();
  });
  afterAll(async () => {
    stream?.close();
    await site?.close();
  });

  const alarm = (lelPct: number) => ({
    deviceId: 'HA-FL1', kind: 'home_gas_alarm', lelPct, valve: 'closed', buzzer: lelPct > 0 ? 'intermittent' : 'off',
    lamps: { power: true, fault: false, alarm: lelPct > 0 },
  });

  it('three 60 → 0 %LEL cycles in 5 minutes give one L1 and one L2 alert marked flapping with the count, on one ticket, cleared once stable for the window', async () => {
    let first = true;
    const step = async (lelPct: number) => {
      if (!first) site.pipeline.clock.advance(30_000);
      first = false;
      await site.publish(alarm(lelPct));
    };
    for (let cycle = 0; cycle < 3; cycle++) for (const lel of [60, 0, 0, 0]) await step(lel);

    for (const condition of ['GAS_ALARM_L1', 'GAS_ALARM_L2']) {
      const alerts = await site.alerts('HA-FL1', condition);
      expect(alerts, condition).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ state: 'active', detail: { flapping: true, changes: 3 } });
    }
    const tickets = await site.deviceTickets('HA-FL1');
    expect(tickets).toHaveLength(1);
    expect([...tickets[0]!.conditions].sort()).toEqual(['GAS_ALARM_L1', 'GAS_ALARM_L2']);

    // Quiet for the 10-minute window after the last change: cleared once, still one alert and one ticket.
    for (let i = 0; i < 21; i++) await step(0);
    for (const condition of ['GAS_ALARM_L1', 'GAS_ALARM_L2']) {
      const alerts = await site.alerts('HA-FL1', condition);
      expect(alerts.map((a) => a.state), condition).toEqual(['cleared']);
      // Three raises and three clears counted.
      expect(alerts[0]!.detail, condition).toMatchObject({ flapping: true, changes: 6 });
    }
    expect(await site.deviceTickets('HA-FL1')).toHaveLength(1);
    // The technician was paged about the leak once, not once per cycle.
    await stream.next((e) => e.event === 'alarm.raised' && JSON.stringify(e.data).includes('HA-FL1'));
    expect(stream.events.filter((e) => e.event === 'alarm.raised' && JSON.stringify(e.data).includes('HA-FL1'))).toHaveLength(1);
  });
});

describe('issue 15 #7: inhibition over real MQTT', () => {
  let site: Site;
  beforeAll(async () => {
    site = await Site.start('GW-IN', [
      { deviceId: 'HM-IN1', kind: 'household_meter', vendor: 'qianfeng' },
      { deviceId: 'HM-IN2', kind: 'household_meter', vendor: 'qianfeng' },
      { deviceId: 'HA-IN3', kind: 'home_gas_alarm' },
    ]);
  });
  afterAll(() => site?.close());

  const meter = (deviceId: string, status: string[], valve: 'open' | 'closed') => ({ deviceId, kind: 'household_meter', vendor: 'qianfeng', volumeM3: 120, balanceM3: 80, batteryV: 3.9, valve, status });

  it('a meter showing 低电 关阀: VALVE_CLOSED_LOW_BATTERY stands, LOW_BATTERY is kept but inhibited (in the API) and is not on the ticket', async () => {
    await site.publish(meter('HM-IN1', ['请换电池', '低电', '关阀'], 'closed'));
    const low = await site.alerts('HM-IN1', 'LOW_BATTERY');
    const valve = await site.alerts('HM-IN1', 'VALVE_CLOSED_LOW_BATTERY');
    expect(low).toHaveLength(1);
    expect(low[0]).toMatchObject({ state: 'active', inhibited: { by: 'VALVE_CLOSED_LOW_BATTERY', alertId: valve[0]!.id } });
    expect(valve[0]!.inhibited).toBeUndefined();
    const [ticket] = await site.deviceTickets('HM-IN1');
    expect(ticket!.conditions).toEqual(['VALVE_CLOSED_LOW_BATTERY']);
  });

  it('LOW_BATTERY first, then 关阀: the earlier LOW_BATTERY is marked inhibited; a new battery clears both, one ticket', async () => {
    await site.publish(meter('HM-IN2', ['请换电池'], 'open'));
    expect((await site.alerts('HM-IN2', 'LOW_BATTERY'))[0]!.inhibited).toBeUndefined();
    site.pipeline.clock.advance(60_000);
    await site.publish(meter('HM-IN2', ['请换电池', '低电', '关阀'], 'closed'));
    expect((await site.alerts('HM-IN2', 'LOW_BATTERY'))[0]).toMatchObject({ state: 'active', inhibited: { by: 'VALVE_CLOSED_LOW_BATTERY' } });
    site.pipeline.clock.advance(60_000);
    await site.publish({ ...meter('HM-IN2', [], 'open'), batteryV: 4.5 }); // a new battery
    expect((await site.alerts('HM-IN2')).map((a) => `${a.condition} ${a.state}`).sort()).toEqual(['LOW_BATTERY cleared', 'VALVE_CLOSED_LOW_BATTERY cleared']);
    expect(await site.deviceTickets('HM-IN2')).toHaveLength(1);
  });

  it('GATEWAY_OFFLINE inhibits the power alert of a device behind it, and releases it when the gateway is back', async () => {
    site.pipeline.clock.advance(30_000);
    await site.publish({ deviceId: 'HA-IN3', kind: 'home_gas_alarm', lelPct: 0, valve: 'open', buzzer: 'off', lamps: { power: false, fault: false, alarm: false } });
    expect((await site.alerts('HA-IN3', 'POWER_LOST'))[0]).toMatchObject({ state: 'active' });

    // What the broker publishes as the gateway's last will when its link dies.
    await site.client.publishAsync(statusTopic('GW-IN'), OFFLINE_PAYLOAD, { qos: 1, retain: true });
    // Called offline once the last-will grace (60 s) is over and the gateway is still away.
    const offline = await site.pipeline.until('GATEWAY_OFFLINE raised', async () => {
      site.pipeline.clock.advance(5_000);
      await site.pipeline.processor.checkSilence();
      return (await site.alerts('GW-IN', 'GATEWAY_OFFLINE')).find((a) => a.state === 'active');
    });
    const power = await site.pipeline.until('POWER_LOST inhibited', async () => (await site.alerts('HA-IN3', 'POWER_LOST')).find((a) => a.inhibited));
    expect(power.inhibited).toMatchObject({ by: 'GATEWAY_OFFLINE', alertId: offline.id });

    await site.client.publishAsync(statusTopic('GW-IN'), ONLINE_PAYLOAD, { qos: 1, retain: true });
    await site.pipeline.until('GATEWAY_OFFLINE cleared', async () => (await site.alerts('GW-IN', 'GATEWAY_OFFLINE')).every((a) => a.state === 'cleared'));
    const released = (await site.alerts('HA-IN3', 'POWER_LOST'))[0]!;
    expect(released).toMatchObject({ state: 'active' });
    expect(released.inhibited).toBeUndefined();
    expect((await site.deviceTickets('HA-IN3'))[0]!.conditions).toContain('POWER_LOST');
  });
});

describe('issue 15 #5: model profiles over real MQTT', () => {
  let site: Site;
  beforeAll(async () => {
    site = await Site.start('GW-MD', [
      { deviceId: 'HM-MD1', kind: 'household_meter', vendor: 'qianfeng', model: 'QF-G2.5' },
      { deviceId: 'HM-MD2', kind: 'household_meter', vendor: 'meihua', model: 'MH-G2.5' },
      { deviceId: 'HM-MD3', kind: 'household_meter', vendor: 'meihua', model: 'MH-NB-G4' },
      { deviceId: 'IC-MD4', kind: 'industrial_controller', vendor: 'meihua', model: 'MHCG-G' },
    ]);
  });
  afterAll(() => site?.close());

  const meter = (deviceId: string, fields: Record<string, unknown>) => ({ deviceId, kind: 'household_meter', valve: 'open', balanceM3: 50, ...fields });

  it("judges the battery against the model's threshold: a Qianfeng QF-G2.5 at 3.8 V is low (4.0 V), a Meihua MH-G2.5 is not", async () => {
    await site.publish(meter('HM-MD1', { batteryV: 3.8, volumeM3: 10 }), meter('HM-MD2', { batteryV: 3.8, volumeM3: 10 }));
    const [low] = await site.alerts('HM-MD1', 'LOW_BATTERY');
    expect(low).toMatchObject({ state: 'active' });
    expect(low!.detail).toMatchObject({ batteryV: 3.8, lowBatteryV: 4 });
    expect(await site.alerts('HM-MD2', 'LOW_BATTERY')).toEqual([]);
  });

  it('judges overload against the Qmax of the size the model names: a G4 meter at 5 m³/h is in range, at 7 m³/h overloaded', async () => {
    await site.publish(meter('HM-MD3', { batteryV: 3.6, volumeM3: 100 }));
    site.pipeline.clock.advance(3_600_000);
    await site.publish(meter('HM-MD3', { batteryV: 3.6, volumeM3: 105 }));
    expect(await site.alerts('HM-MD3', 'OVERLOAD')).toEqual([]);
    site.pipeline.clock.advance(3_600_000);
    await site.publish(meter('HM-MD3', { batteryV: 3.6, volumeM3: 112 }));
    const [over] = await site.alerts('HM-MD3', 'OVERLOAD');
    expect(over).toMatchObject({ state: 'active' });
    expect(over!.detail).toMatchObject({ source: 'volume_delta', qmaxM3h: 6 });
  });

  it("reads an MHCG-G controller's ERR-1 as its internal battery (meaning named), not as tampering", async () => {
    await site.publish({ deviceId: 'IC-MD4', kind: 'industrial_controller', vendor: 'meihua', status: ['关阀', '故障', 'ERR-1'], valve: 'closed', externalPowerV: 12 });
    const [err] = await site.alerts('IC-MD4', 'ERR-1');
    expect(err).toMatchObject({ state: 'active' });
    expect(String(err!.detail!.meaning)).toContain('控制器内电池低电');
    expect(await site.alerts('IC-MD4', 'TAMPER')).toEqual([]);
  });
});

describe('issue 15 #6: GB 16808-2025 two-detector confirmation over real MQTT', () => {
  let site: Site;
  beforeAll(async () => {
    site = await Site.start('GW-TD', [
      { deviceId: 'AC-TD1', kind: 'alarm_controller', alarmConfirmRule: 'two-detector', address: '工业园 8 号锅炉房', reportIntervalS: 30 },
      { deviceId: 'AC-TD2', kind: 'alarm_controller', address: '工业园 9 号厨房', reportIntervalS: 30 },
      // A boiler room whose controller shuts gas through a valve on the meter it guards.
      { deviceId: 'AC-TD3', kind: 'alarm_controller', alarmConfirmRule: 'two-detector', valveId: 'IC-TD3', address: '工业园 10 号锅炉房', reportIntervalS: 30 },
      { deviceId: 'IC-TD3', kind: 'industrial_controller', vendor: 'meihua', model: 'MHCG-G', address: '工业园 10 号锅炉房' },
    ]);
  });
  afterAll(() => site?.close());

  const controller = (deviceId: string, ...lel: number[]) => ({
    deviceId, kind: 'alarm_controller', mainPowerV: 220, mainLoadPct: 40, backupV: 12.5, backup: 'ok',
    detectors: lel.map((lelPct, i) => ({ channel: i + 1, lelPct })),
  });

  it("one channel over L2 at a two-detector site raises its channel alarm (L1, rule 'two-detector') and no controller alarm; a second channel confirms it (L2), on an emergency ticket", async () => {
    await site.publish(controller('AC-TD1', 0, 0, 0));
    site.pipeline.clock.advance(30_000);
    await site.publish(controller('AC-TD1', 60, 0, 0));
    const [l1] = await site.alerts('AC-TD1', 'GAS_ALARM_L1');
    expect(l1).toMatchObject({ state: 'active' });
    expect(l1!.detail).toMatchObject({ rule: 'two-detector', scope: 'channel', channels: [1] });
    expect(await site.alerts('AC-TD1', 'GAS_ALARM_L2')).toEqual([]);

    site.pipeline.clock.advance(30_000);
    await site.publish(controller('AC-TD1', 62, 55, 0));
    const [l2] = await site.alerts('AC-TD1', 'GAS_ALARM_L2');
    expect(l2).toMatchObject({ state: 'active', severity: 'critical' });
    expect(l2!.detail).toMatchObject({ rule: 'two-detector', scope: 'controller', confirmedBy: [1, 2] });
    const tickets = await site.pipeline.until('an emergency ticket for AC-TD1', async () => {
      const items = (await site.pipeline.get<{ items: Array<TicketItem & { priority: string }> }>('/tickets?deviceId=AC-TD1')).items;
      return items.some((t) => t.conditions.includes('GAS_ALARM_L2') && t.priority === 'emergency') && items;
    });
    expect(tickets.flatMap((t) => t.conditions)).toEqual(expect.arrayContaining(['GAS_ALARM_L1', 'GAS_ALARM_L2']));
  });

  it("one channel over L2 at a site on the default rule raises L1 and L2, the detail saying rule 'single'", async () => {
    await site.publish(controller('AC-TD2', 60, 0));
    const [l2] = await site.alerts('AC-TD2', 'GAS_ALARM_L2');
    expect(l2).toMatchObject({ state: 'active' });
    expect(l2!.detail).toMatchObject({ rule: 'single', channels: [1] });
  });

  it('expects the valve cut only on a confirmed alarm: one channel with the valve open is no VALVE_NOT_CUT, two are', async () => {
    await site.publish({ deviceId: 'IC-TD3', kind: 'industrial_controller', vendor: 'meihua', volumeM3: 2_000, balanceM3: 500, batteryV: 3.6, externalPowerV: 12, valve: 'open' });
    site.pipeline.clock.advance(30_000);
    await site.publish(controller('AC-TD3', 60, 0, 0));
    expect((await site.alerts('AC-TD3', 'GAS_ALARM_L1'))[0]).toMatchObject({ state: 'active' });
    expect(await site.alerts('AC-TD3', 'VALVE_NOT_CUT')).toEqual([]);
    site.pipeline.clock.advance(30_000);
    await site.publish(controller('AC-TD3', 60, 58, 0));
    const [notCut] = await site.alerts('AC-TD3', 'VALVE_NOT_CUT');
    expect(notCut).toMatchObject({ state: 'active', severity: 'critical' });
    expect(notCut!.detail).toMatchObject({ rule: 'two-detector', valveSource: 'linked', valveId: 'IC-TD3', channels: [1, 2] });
  });
});

describe('issue 15 #8: NO_SIGNAL follows the report schedule over real MQTT', () => {
  // A daily NB-IoT meter that connects on its own (its id is its gateway's), slot 02:00 Beijing + 240 min.
  let site: Site;
  beforeAll(async () => {
    site = await Site.start('HM-NB1', [
      { deviceId: 'HM-NB1', kind: 'household_meter', vendor: 'meihua', model: 'MH-NB-G2.5', reportIntervalS: 86_400, reportAt: '02:00', reportWindowMin: 240, reportTz: 'Asia/Shanghai' },
    ]);
  });
  afterAll(() => site?.close());

  const meter = (volumeM3: number) => ({ deviceId: 'HM-NB1', kind: 'household_meter', vendor: 'meihua', volumeM3, balanceM3: 50, batteryV: 3.6, valve: 'open' });
  /** Moves the clock to `iso` and runs a silence check there (the stage also checks every 100 ms on its own). */
  const moveTo = async (iso: string) => {
    site.pipeline.clock.set(Date.parse(iso));
    await site.pipeline.processor.checkSilence();
  };

  it('raises NO_SIGNAL for the one meter of a gateway of scheduled meters that missed its window while another reported late in it, and no GATEWAY_OFFLINE', async () => {
    const gw = await Site.start('GW-NB', [
      { deviceId: 'HM-NB2', kind: 'household_meter', vendor: 'meihua', model: 'MH-NB-G2.5', reportIntervalS: 86_400 },
      { deviceId: 'HM-NB3', kind: 'household_meter', vendor: 'meihua', model: 'MH-NB-G2.5', reportIntervalS: 86_400 },
    ]);
    try {
      const m = (deviceId: string) => ({ ...meter(10), deviceId });
      await gw.publish(m('HM-NB2'), m('HM-NB3')); // 2026-11-23 10:00 Beijing
      // The model's slot: 02:00 Beijing + 240 min. HM-NB2 reports at 05:55 on the 24th; HM-NB3 does not.
      gw.pipeline.clock.set(Date.parse('2026-11-23T21:55:00.000Z'));
      await gw.publish(m('HM-NB2'));
      gw.pipeline.clock.set(Date.parse('2026-11-23T22:04:00.000Z'));
      await gw.pipeline.processor.checkSilence();
      expect(await gw.alerts('HM-NB3', 'NO_SIGNAL')).toEqual([]);
      gw.pipeline.clock.set(Date.parse('2026-11-23T22:06:00.000Z'));
      await gw.pipeline.processor.checkSilence();
      const [silent] = await gw.pipeline.until('NO_SIGNAL for HM-NB3', async () => {
        const items = await gw.alerts('HM-NB3', 'NO_SIGNAL');
        return items.length > 0 && items;
      });
      expect(silent).toMatchObject({ state: 'active', detail: { dueAt: '2026-11-23T22:05:00.000Z' } });
      expect(await gw.alerts('HM-NB2', 'NO_SIGNAL')).toEqual([]);
      expect(await gw.alerts('GW-NB', 'GATEWAY_OFFLINE')).toEqual([]);
    } finally {
      await gw.close();
    }
  });

  it('stays quiet while the meter reports anywhere in its window (late one day, early the next), then raises one NO_SIGNAL after the missed slot and its window, never GATEWAY_OFFLINE', async () => {
    await site.publish(meter(10)); // 2026-11-23 10:00 Beijing
    // Next slot 11-24 02:00 Beijing (18:00Z), window to 06:00: it reports at 05:55, nearly 20 h after, late in its window.
    await moveTo('2026-11-23T21:55:00.000Z');
    await site.publish(meter(11));
    // Next day at 02:10 (31 h 15 min after its last report: more than a day, still on time).
    await moveTo('2026-11-24T18:10:00.000Z');
    await site.publish(meter(12));
    // It misses the 11-26 02:00 slot: silent once that window (to 06:00 = 22:00Z) and the 5 min grace are over.
    await moveTo('2026-11-25T22:00:00.000Z');
    expect(await site.alerts('HM-NB1', 'NO_SIGNAL')).toEqual([]);
    await moveTo('2026-11-25T22:06:00.000Z');
    const [silent] = await site.pipeline.until('NO_SIGNAL raised', async () => {
      const items = await site.alerts('HM-NB1', 'NO_SIGNAL');
      return items.length > 0 && items;
    });
    expect(silent).toMatchObject({ state: 'active' });
    expect(silent!.detail).toMatchObject({ schedule: { reportAt: '02:00', reportWindowMin: 240 }, dueAt: '2026-11-25T22:05:00.000Z' });
    expect(await site.alerts('HM-NB1', 'GATEWAY_OFFLINE')).toEqual([]);

    // The meter is back: its buffered readings clear NO_SIGNAL once.
    await site.publish(meter(13));
    expect((await site.alerts('HM-NB1', 'NO_SIGNAL')).map((a) => a.state)).toEqual(['cleared']);
  });
});

describe('issue 15 #3: MAINTENANCE_DUE for flow meters by the calendar, over real MQTT and the API', () => {
  const DAY = 86_400_000;
  let pipeline: TestPipeline;
  let client: MqttClient;
  let techToken: string;
  let technician: string;
  let registryFile: string;
  let seq = 0;

  async function call<T>(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: T }> {
    const res = await fetch(`${pipeline.httpUrl}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, json: (await res.json()) as T };
  }
  const admin = <T>(method: string, path: string, body?: unknown) => call<T>(method, path, pipeline.adminToken, body);
  const maintenanceAlerts = async (deviceId: string) => (await pipeline.get<{ items: AlertItem[] }>(`/alerts?deviceId=${deviceId}&condition=MAINTENANCE_DUE&limit=100`)).items;
  const flowReading = (deviceId: string) => ({ deviceId, kind: 'flow_meter', vendor: 'meihua', flowM3h: 42, volumeM3: 12_345, temperatureC: 12, pressureKPa: 101, batteryV: 3.6 });

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gas-detection-v2-maintenance-'));
    registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify([
      // Serviced 2026-09-01: due 2026-11-15 (75 days), a week before the test clock starts.
      { deviceId: 'FM-MT1', kind: 'flow_meter', vendor: 'meihua', gatewayId: 'GW-MT', district: '城东区', address: '工业园 3 号调压站', reportIntervalS: 86_400, qmaxM3h: 160, installedAt: '2026-03-01', lastServiceAt: '2026-09-01' },
      // Serviced 2026-11-01: due 2027-01-15.
      { deviceId: 'FM-MT2', kind: 'flow_meter', vendor: 'meihua', gatewayId: 'GW-MT', district: '城东区', reportIntervalS: 86_400, qmaxM3h: 160, installedAt: '2026-03-01', lastServiceAt: '2026-11-01' },
    ]));
    pipeline = await startTestPipeline({ clock: new ManualClock(START), registryFile, settings: { maintenance: { checkIntervalMs: 100 }, slaCheckIntervalMs: 3_600_000 } });
    technician = (await admin<{ technician?: { id: string } }>('GET', `/oncall?district=${encodeURIComponent('城东区')}`)).json.technician!.id;
    techToken = (await admin<{ token: string }>('POST', '/tokens', { name: 'technician phone', role: 'technician', personId: technician })).json.token;
    client = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-MT' });
  });
  afterAll(async () => {
    await client?.endAsync();
    await pipeline?.close();
  });

  it('a flow meter whose service date passed gets one low-priority preventive ticket by the calendar, readings normal; backfilled and repeated readings change nothing; the other is not due', async () => {
    const at = new Date(pipeline.clock.now()).toISOString();
    await client.publishAsync('gas/v1/GW-MT/up', JSON.stringify({ gatewayId: 'GW-MT', seq: ++seq, sentAt: at, readings: [flowReading('FM-MT1'), flowReading('FM-MT2')].map((r) => ({ at, ...r })) }), { qos: 1 });
    await pipeline.until('readings judged', async () => (await pipeline.metric('gas_processor_readings_total')) >= 2);
    const [alert] = await pipeline.until('MAINTENANCE_DUE on FM-MT1', async () => {
      const items = await maintenanceAlerts('FM-MT1');
      return items.length > 0 && items;
    });
    expect(alert).toMatchObject({ condition: 'MAINTENANCE_DUE', severity: 'low', state: 'active', detail: { preventive: true, dueAt: '2026-11-15T00:00:00.000Z', serviceIntervalDays: 75, overdueDays: 8 } });
    expect(alert!.cause).toContain('2~3月');
    const ticket = await pipeline.until('ticket for FM-MT1', async () => (await pipeline.get<{ items: Array<TicketItem & { priority: string }> }>('/tickets?deviceId=FM-MT1')).items.find((t) => t.subject === 'device'));
    expect(ticket).toMatchObject({ priority: 'low', conditions: ['MAINTENANCE_DUE'] });
    // Event time does not enter into it: a backfilled batch stamped before the due date (and the same batch again) neither clears nor raises it again.
    const nowMs = pipeline.clock.now();
    const backfill = JSON.stringify({ gatewayId: 'GW-MT', seq: ++seq, sentAt: new Date(nowMs).toISOString(), readings: [10, 9, 8].map((d) => ({ at: new Date(nowMs - d * DAY).toISOString(), ...flowReading('FM-MT1') })) });
    await client.publishAsync('gas/v1/GW-MT/up', backfill, { qos: 1 });
    await client.publishAsync('gas/v1/GW-MT/up', backfill, { qos: 1 });
    await pipeline.until('backfill judged', async () => (await pipeline.metric('gas_processor_readings_total')) + (await pipeline.metric('gas_processor_late_readings_total')) >= 5);
    // Checks kept coming (every 100 ms) while the ticket was awaited: still one alert, one ticket.
    expect(await maintenanceAlerts('FM-MT1')).toHaveLength(1);
    expect((await pipeline.get<{ items: TicketItem[] }>('/tickets?deviceId=FM-MT1')).items).toHaveLength(1);
    expect(await maintenanceAlerts('FM-MT2')).toEqual([]);
  });

  it('resolving the ticket records the service in the registry, clears the alert and moves the next due date 75 days on', async () => {
    const ticket = (await pipeline.get<{ items: Array<TicketItem & { assignee: string | null }> }>('/tickets?deviceId=FM-MT1')).items[0]!;
    if (ticket.status === 'opened') expect((await admin('POST', `/tickets/${ticket.id}/dispatch`, { assignee: technician })).status).toBe(200);
    expect((await call('POST', `/tickets/${ticket.id}/acknowledge`, techToken, {})).status).toBe(200);
    const onSite = await call<{ slaStartedAt: string; slaDueAt: string }>('POST', `/tickets/${ticket.id}/on-site`, techToken, {});
    expect(onSite.status).toBe(200);
    // Its own resolve SLA: 14 days (sla.conditionResolveWithinMs), not the 7 of a low-priority fault.
    expect(Date.parse(onSite.json.slaDueAt) - Date.parse(onSite.json.slaStartedAt)).toBe(14 * DAY);
    const resolvedAtMs = pipeline.clock.now();
    const resolved = await call<{ status: string }>('POST', `/tickets/${ticket.id}/resolve`, techToken, { remedyDone: '流量计加专用润滑油 / lubricated the flow meter with its special oil', serviceDone: true });
    expect(resolved).toMatchObject({ status: 200, json: { status: 'resolved' } });
    const device = await pipeline.until('service recorded', async () => {
      const d = await pipeline.get<{ lastServiceAt?: string; activeConditions: string[] }>('/devices/FM-MT1');
      return d.lastServiceAt === new Date(resolvedAtMs).toISOString() && d;
    });
    expect(device.lastServiceAt).toBe(new Date(resolvedAtMs).toISOString());
    const [cleared] = await pipeline.until('MAINTENANCE_DUE cleared', async () => {
      const items = await maintenanceAlerts('FM-MT1');
      return items.every((a) => a.state === 'cleared') && items;
    });
    expect(cleared).toMatchObject({ state: 'cleared' });
    // Next due: 75 days after the service. Not 74 days on, when FM-MT2 (due 2027-01-15) shows a check ran on the new clock…
    pipeline.clock.advance(74 * DAY);
    await pipeline.until('FM-MT2 due on its own date', async () => (await maintenanceAlerts('FM-MT2')).some((a) => a.state === 'active'));
    expect((await maintenanceAlerts('FM-MT1')).filter((a) => a.state === 'active')).toEqual([]);
    // …but on the day.
    pipeline.clock.advance(1 * DAY + 1);
    const again = await pipeline.until('MAINTENANCE_DUE again at the new due date', async () => {
      const active = (await maintenanceAlerts('FM-MT1')).filter((a) => a.state === 'active');
      return active.length > 0 && active;
    });
    expect(again[0]!.detail).toMatchObject({ preventive: true, dueAt: new Date(resolvedAtMs + 75 * DAY).toISOString() });
  });

  it('a restart raises nothing twice, and clears at start a meter whose service was recorded in the registry file while the pipeline was down (the watch is seeded from the alert book)', async () => {
    const before = await maintenanceAlerts('FM-MT1');
    expect(before.map((a) => a.state).sort()).toEqual(['active', 'cleared']);
    expect((await maintenanceAlerts('FM-MT2')).map((a) => a.state)).toEqual(['active']);
    const { dataDir, clock } = pipeline;
    await client.endAsync();
    await pipeline.close({ keepData: true });
    // While it is down, FM-MT2's service is entered in the registry file.
    const records = JSON.parse(readFileSync(registryFile, 'utf8')) as Array<Record<string, unknown>>;
    writeFileSync(registryFile, JSON.stringify(records.map((r) => (r.deviceId === 'FM-MT2' ? { ...r, lastServiceAt: new Date(clock.now()).toISOString() } : r))));
    pipeline = await startTestPipeline({ dataDir, clock, registryFile, settings: { maintenance: { checkIntervalMs: 100 }, slaCheckIntervalMs: 3_600_000 } });
    client = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-MT' });
    // The watch publishes in order: once this clear is in, anything its start-up check raised is too.
    await pipeline.until('FM-MT2 cleared at start', async () => (await maintenanceAlerts('FM-MT2')).every((a) => a.state === 'cleared'));
    expect((await maintenanceAlerts('FM-MT1')).map((a) => `${a.id} ${a.state}`).sort()).toEqual(before.map((a) => `${a.id} ${a.state}`).sort());
  });
});
