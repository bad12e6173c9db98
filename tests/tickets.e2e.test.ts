import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { startTestPipeline, type TestPipeline } from './harness.ts';
import { openStream, type StreamClient } from './stream-client.ts';

// Monday 10:00 in Asia/Shanghai: shift a of the example rota is on site.
const START = Date.parse('2026-11-23T02:00:00.000Z');
const MIN = 60_000;

interface TicketItem { id: string; subject: string; deviceId: string; conditions: string[]; priority: string; status: string; assignee: string | null; openedAt: string; slaDueAt: string | null; followUpDueAt: string | null; deviceNormalAt: string | null; address: string | null; customer: string | null; manual: Array<{ condition: string; remedy: { 'zh-CN': string; en: string } }> }
interface TicketDetail extends TicketItem { history: Array<{ action: string; actor: string }>; breaches: Array<{ clock: string }>; escalations: Array<{ level: string; target: string | null; reason: string }> }

let pipeline: TestPipeline;
let gateway: MqttClient;
let stream: StreamClient;
let technician: string;
let techToken: string;
const clock = new ManualClock(START);
let seq = 0;

async function call<T>(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${pipeline.httpUrl}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, json: (res.status === 204 ? undefined : await res.json()) as T };
}
const admin = <T>(method: string, path: string, body?: unknown) => call<T>(method, path, pipeline.adminToken, body);

async function publish(...readings: Array<Record<string, unknown>>): Promise<void> {
  const at = new Date(clock.now()).toISOString();
  await gateway.publishAsync('gas/v1/GW-E/up', JSON.stringify({ gatewayId: 'GW-E', seq: ++seq, sentAt: at, readings: readings.map((r) => ({ at, ...r })) }), { qos: 1 });
}

async function ticketOf(deviceId: string): Promise<TicketItem> {
  // The device's own ticket: a silent gateway's ticket lists the device too.
  return pipeline.until(`ticket for ${deviceId}`, async () => (await admin<{ items: TicketItem[] }>('GET', `/tickets?deviceId=${deviceId}`)).json.items.find((t) => t.subject === 'device'));
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gas-tickets-'));
  const registryFile = join(dir, 'registry.json');
  writeFileSync(registryFile, JSON.stringify([
    { deviceId: 'HA-E1', kind: 'home_gas_alarm', gatewayId: 'GW-E', district: '城东区', address: '人民路 1 号 3 单元 201', customer: '王芳', reportIntervalS: 30 },
    { deviceId: 'HM-E2', kind: 'household_meter', vendor: 'meihua', gatewayId: 'GW-E', district: '城东区', address: '人民路 1 号 3 单元 202', customer: '李强', reportIntervalS: 3600 },
  ]));
  pipeline = await startTestPipeline({ clock, registryFile, settings: { slaCheckIntervalMs: 3_600_000 } });
  const onCall = await admin<{ technician?: { id: string } }>('GET', `/oncall?district=${encodeURIComponent('城东区')}`);
  technician = onCall.json.technician!.id;
  techToken = (await admin<{ token: string }>('POST', '/tokens', { name: 'phone of the on-call technician', role: 'technician', personId: technician })).json.token;
  stream = await openStream(`${pipeline.httpUrl}/api/v1/stream?access_token=${techToken}`);
  gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-E' });
});
afterAll(async () => {
  stream?.close();
  await gateway?.endAsync();
  await pipeline?.close();
});

describe('a leak becomes an emergency ticket pushed to the technician on call', () => {
  it('opens one emergency ticket, dispatched to the on-call technician, and pushes it to their stream', async () => {
    await publish({ deviceId: 'HA-E1', kind: 'home_gas_alarm', lelPct: 62, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'open' });
    const ticket = await pipeline.until('all three conditions on the ticket', async () => {
      const t = await ticketOf('HA-E1');
      return t.conditions.length === 3 && t.status !== 'opened' && t;
    });
    expect(ticket).toMatchObject({ priority: 'emergency', status: 'dispatched', assignee: technician, address: '人民路 1 号 3 单元 201', customer: '王芳' });
    expect([...ticket.conditions].sort()).toEqual(['GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT']);
    expect(ticket.manual.find((m) => m.condition === 'VALVE_NOT_CUT')?.remedy.en).toBeTruthy();
    // The safety lane pushed the leak before the ticket existed; the ticket took that push as its dispatch.
    const pushed = await stream.next((e) => JSON.stringify(e.data).includes('HA-E1'));
    expect(pushed.event).toBe('alarm.raised');
    expect(JSON.stringify(pushed.data)).toMatch(/[\u4e00-\u9fff]/);
    expect(JSON.stringify(pushed.data)).toContain('VALVE_NOT_CUT');
    expect((await admin<{ items: TicketItem[] }>('GET', '/tickets?deviceId=HA-E1')).json.items.filter((t) => t.subject === 'device')).toHaveLength(1);
  });

  it('escalates while nobody acknowledges, and stops once the technician does', async () => {
    const { id } = await ticketOf('HA-E1');
    clock.advance(6 * MIN);
    await pipeline.services.checkSla();
    clock.advance(6 * MIN);
    await pipeline.services.checkSla();
    let detail = (await admin<TicketDetail>('GET', `/tickets/${id}`)).json;
    expect(detail.breaches.map((b) => b.clock)).toContain('acknowledge');
    expect(detail.escalations.length).toBeGreaterThanOrEqual(2);
    expect(detail.escalations.some((e) => e.level === 'supervisor')).toBe(true);

    const ack = await call<TicketItem>('POST', `/tickets/${id}/acknowledge`, techToken, {});
    expect(ack.status).toBe(200);
    const chasedAtAck = detail.escalations.filter((e) => e.reason === 'no_ack').length;
    clock.advance(30 * MIN);
    await pipeline.services.checkSla();
    detail = (await admin<TicketDetail>('GET', `/tickets/${id}`)).json;
    // The chase for an acknowledgement stops; a later on-site breach is a new, separate escalation.
    expect(detail.escalations.filter((e) => e.reason === 'no_ack')).toHaveLength(chasedAtAck);
    expect(detail.history.find((h) => h.action === 'acknowledge')?.actor).toBe(technician);
  });

  it('records the device back to normal but leaves resolving to a person, then sets the follow-up due in 3 days', async () => {
    const { id } = await ticketOf('HA-E1');
    for (let i = 0; i < 4; i++) {
      clock.advance(30_000);
      await publish({ deviceId: 'HA-E1', kind: 'home_gas_alarm', lelPct: 0, lamps: { power: true, fault: false, alarm: false }, buzzer: 'off', valve: 'closed' });
    }
    const normal = await pipeline.until('device normal recorded', async () => {
      const t = await ticketOf('HA-E1');
      return t.deviceNormalAt !== null && t;
    });
    expect(normal.status).toBe('acknowledged');
    expect((await call('POST', `/tickets/${id}/on-site`, techToken, {})).status).toBe(200);
    const resolved = await call<TicketItem>('POST', `/tickets/${id}/resolve`, techToken, { remedyDone: '更换电磁阀 / replaced the solenoid valve', partsUsed: ['电磁阀 solenoid valve'], notes: '' });
    expect(resolved.status).toBe(200);
    expect(Date.parse(resolved.json.followUpDueAt!) - clock.now()).toBe(3 * 24 * 60 * MIN);
    // Follow-up calls are the call centre's, not the technician's.
    expect((await call('POST', `/tickets/${id}/follow-up`, techToken, { satisfied: true })).status).toBe(403);
  });

  it('gives a battery fault a normal ticket and raises it to urgent once the valve closed', async () => {
    await publish({ deviceId: 'HM-E2', kind: 'household_meter', vendor: 'meihua', volumeM3: 120, balanceM3: 40, batteryV: 3.1, valve: 'open' });
    expect(await ticketOf('HM-E2')).toMatchObject({ priority: 'normal', conditions: ['LOW_BATTERY'] });
    clock.advance(MIN);
    await publish({ deviceId: 'HM-E2', kind: 'household_meter', vendor: 'meihua', volumeM3: 120, balanceM3: 40, batteryV: 2.9, valve: 'closed', status: ['低电', '关阀'] });
    const urgent = await pipeline.until('priority raised', async () => {
      const t = await ticketOf('HM-E2');
      return t.priority === 'urgent' && t;
    });
    expect([...urgent.conditions].sort()).toEqual(['LOW_BATTERY', 'VALVE_CLOSED_LOW_BATTERY']);
    expect((await admin<{ items: TicketItem[] }>('GET', '/tickets?deviceId=HM-E2')).json.items.filter((t) => t.subject === 'device')).toHaveLength(1);
  });

  it("shows a technician only their own tickets", async () => {
    const mine = (await call<{ items: TicketItem[] }>('GET', '/tickets', techToken)).json.items;
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((t) => t.assignee === technician)).toBe(true);
  });
});
