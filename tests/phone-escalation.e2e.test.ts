import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderStandIn } from '../alerts/push/sms/provider-stand-ins.ts';
import { testWecomApp, wecomChannelConfig, WecomStandIn } from '../alerts/push/wecom-app/wecom-stand-in.ts';
import { ManualClock } from '../app/clock.ts';
import { startTestPipeline, type TestPipeline } from './harness.ts';

/**
 * Issue 14, the emergency end to end through the running pipeline: a leak reaches the on-call
 * technician's WeCom as a card; nobody taps it; the SLA watch repeats to the technician five
 * minutes later, which rings their phone (Aliyun SingleCallByTts stand-in, signature checked); the
 * technician then taps 接单 on the card (a signed, encrypted WeCom callback) and the chain stops:
 * no supervisor, no director, no second call.
 */

// Monday 10:00 in Asia/Shanghai: shift a of the example rota is on site in 城东区.
const START = Date.parse('2026-11-23T02:00:00.000Z');
const MIN = 60_000;
const WECOM = testWecomApp();
const ALIYUN = { accessKeyId: 'LTAI5tVoiceE2E', accessKeySecret: 'aliyun-voice-e2e-secret' };

interface Ticket { id: string; status: string; assignee: string | null; priority: string; escalations: Array<{ level: string; target: string | null; reason: string }> }

describe('an unacknowledged emergency on the phone: WeCom card → no tap → repeat → voice call → tap → chain stops', () => {
  let pipeline: TestPipeline;
  const wecom = new WecomStandIn(WECOM);
  const voice = new ProviderStandIn({ aliyunSecret: ALIYUN.accessKeySecret, tencentSecretId: 'unused', tencentSecretKey: 'unused' });
  const wecomIdOf = (personId: string) => `WX-${personId}`;
  const phoneOf = new Map<string, string>();

  beforeAll(async () => {
    await wecom.start();
    await voice.start();
    voice.answerAliyun = ({ params }) => ({ body: { Code: 'OK', Message: 'OK', RequestId: 'R-call', CallId: `call-${params.CalledNumber}` } });
    const dir = mkdtempSync(join(tmpdir(), 'gas-phone-e2e-'));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify([{ deviceId: 'HA-P1', kind: 'home_gas_alarm', gatewayId: 'GW-P', district: '城东区', address: '城东区幸福路 12 号', reportIntervalS: 30 }]));
    pipeline = await startTestPipeline({
      clock: new ManualClock(START),
      registryFile,
      settings: {
        // The test runs the SLA check itself, at the times it chooses.
        slaCheckIntervalMs: 3_600_000,
        push: {
          channels: [
            { name: 'sse', type: 'sse' },
            { name: 'wecom-tech', type: 'wecom-app', config: wecomChannelConfig(WECOM, wecom.url) },
            { name: 'voice', type: 'voice', config: { provider: 'aliyun', ...ALIYUN, ttsCode: 'TTS_287910001', endpoint: voice.base } },
          ],
        },
      },
    });
    wecom.callbackUrl = `${pipeline.httpUrl}/hooks/v1/push/wecom-tech/callback`;
    const headers = { authorization: `Bearer ${pipeline.adminToken}`, 'content-type': 'application/json' };
    const { items } = await pipeline.get<{ items: Array<Record<string, unknown> & { id: string; phone?: string }> }>('/oncall/people');
    for (const [i, p] of items.entries()) {
      const phone = p.phone ?? `1390000${String(1000 + i)}`;
      phoneOf.set(p.id, phone);
      const res = await fetch(`${pipeline.httpUrl}/api/v1/oncall/people/${p.id}`, { method: 'PUT', headers, body: JSON.stringify({ ...p, phone, accounts: { wecom: wecomIdOf(p.id) } }) });
      expect(res.status).toBe(200);
    }
  });

  afterAll(async () => {
    await pipeline?.close();
    await new Promise((resolve) => wecom.server?.close(resolve));
    await voice.close();
  });

  it('rings the technician at the repeat, and their tap on the card stops the escalation', async () => {
    const calls = () => voice.aliyunCalls.filter((c) => c.signatureValid).map((c) => c.params.CalledNumber);
    const gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-P' });
    try {
      const at = new Date(pipeline.clock.now()).toISOString();
      await gateway.publishAsync('gas/v1/GW-P/up', JSON.stringify({ gatewayId: 'GW-P', seq: 1, sentAt: at, readings: [{ deviceId: 'HA-P1', kind: 'home_gas_alarm', at, lelPct: 60, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'open' }] }), { qos: 1 });
      const ticket = await pipeline.until('the leak ticket dispatched', async () => (await pipeline.get<{ items: Ticket[] }>('/tickets?deviceId=HA-P1')).items.find((t) => t.assignee));
      expect(ticket.priority).toBe('emergency');
      const technician = ticket.assignee!;
      const card = await pipeline.until('the WeCom card', async () => wecom.cards().map((c) => c.body).find((b) => b.touser === wecomIdOf(technician)));
      // The first alarm goes to the messenger, not to a voice call.
      expect(calls()).toEqual([]);

      // Nobody taps: five minutes on, the SLA check repeats to the technician, and the phone rings.
      pipeline.clock.advance(5 * MIN + 1000);
      await pipeline.services.checkSla();
      await pipeline.until('the voice call to the technician', async () => calls().length > 0 && calls());
      expect(calls()).toEqual([phoneOf.get(technician)]);

      // The technician taps 接单 on the card.
      const ack = card.template_card.button_list.find((b: { text: string }) => b.text.startsWith('接单')).key as string;
      const res = await wecom.click(card.touser, ack, { responseCode: 'RC-phone', timestampS: Math.floor(pipeline.clock.now() / 1000) });
      expect(res.status).toBe(200);
      await pipeline.until('acknowledged', async () => (await pipeline.get<Ticket>(`/tickets/${ticket.id}`)).status === 'acknowledged');

      // The chain stops: later checks page nobody and call nobody.
      for (let i = 0; i < 4; i++) {
        pipeline.clock.advance(5 * MIN);
        await pipeline.services.checkSla();
      }
      const detail = await pipeline.get<Ticket>(`/tickets/${ticket.id}`);
      expect(detail.escalations.filter((e) => e.reason === 'no_ack').map((e) => [e.level, e.target])).toEqual([['repeat', technician]]);
      expect(calls()).toEqual([phoneOf.get(technician)]);
    } finally {
      await gateway.endAsync();
    }
  }, 90_000);
});
