import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { testWecomApp, wecomChannelConfig, WecomStandIn } from '../alerts/push/wecom-app/wecom-stand-in.ts';
import { startTestPipeline, type TestPipeline } from './harness.ts';

/**
 * Issue 14 #1 end to end: the embedded pipeline with a wecom-app channel pointed at a stand-in
 * WeCom server. Gas leaks published over MQTT reach the technician's WeCom as application messages
 * (publish → first message/send measured, p50/p99), the ticket's card carries 接单 / 到场 buttons, and
 * a signed, encrypted click through /hooks/v1/push/<instance>/callback acknowledges the ticket as
 * the person whose WeCom userid clicked.
 */

// Monday 10:00 in Asia/Shanghai: shift a of the example rota is on site in 城东区.
const START = Date.parse('2026-11-23T02:00:00.000Z');
const LEAKS = 20;
const WECOM = testWecomApp();

interface Ticket { id: string; status: string; assignee: string | null; history: Array<{ actor: string; action: string }> }

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

describe('wecom-app through the whole pipeline', () => {
  let pipeline: TestPipeline;
  const wecom = new WecomStandIn(WECOM);
  const devices = Array.from({ length: LEAKS }, (_, i) => `HA-W${i + 1}`);
  const wecomIdOf = (personId: string) => `WX-${personId}`;

  beforeAll(async () => {
    await wecom.start();
    const dir = mkdtempSync(join(tmpdir(), 'gas-wecom-e2e-'));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify(devices.map((deviceId) => ({ deviceId, kind: 'home_gas_alarm', gatewayId: 'GW-W', district: '城东区', reportIntervalS: 30 }))));
    pipeline = await startTestPipeline({
      clock: new ManualClock(START),
      registryFile,
      settings: {
        slaCheckIntervalMs: 3_600_000,
        push: { channels: [{ name: 'sse', type: 'sse' }, { name: 'wecom-tech', type: 'wecom-app', config: wecomChannelConfig(WECOM, wecom.url) }] },
      },
    });
    wecom.callbackUrl = `${pipeline.httpUrl}/hooks/v1/push/wecom-tech/callback`;
    // Every person gets a WeCom userid through the API, as an operator would enter it.
    const headers = { authorization: `Bearer ${pipeline.adminToken}`, 'content-type': 'application/json' };
    const { items } = await pipeline.get<{ items: Array<Record<string, unknown> & { id: string }> }>('/oncall/people');
    for (const p of items) {
      const res = await fetch(`${pipeline.httpUrl}/api/v1/oncall/people/${p.id}`, { method: 'PUT', headers, body: JSON.stringify({ ...p, accounts: { wecom: wecomIdOf(p.id) } }) });
      expect(res.status).toBe(200);
    }
  });

  afterAll(async () => {
    await pipeline?.close();
    await new Promise((resolve) => wecom.server?.close(resolve));
  });

  it('reaches the technician on WeCom for each leak, and a card click acknowledges the ticket as them', async ({ annotate }) => {
    const gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-W' });
    const latencies: number[] = [];
    let seq = 0;
    try {
      for (const deviceId of devices) {
        const before = wecom.cards().length;
        const at = new Date(pipeline.clock.now()).toISOString();
        const t0 = performance.now();
        await gateway.publishAsync('gas/v1/GW-W/up', JSON.stringify({ gatewayId: 'GW-W', seq: ++seq, sentAt: at, readings: [{ deviceId, kind: 'home_gas_alarm', at, lelPct: 40 }] }), { qos: 1 });
        await pipeline.until(`WeCom message for ${deviceId}`, async () => wecom.cards().length > before, 10_000);
        latencies.push(performance.now() - t0);
        pipeline.clock.advance(30_000);
      }
      latencies.sort((a, b) => a - b);
      await annotate(`wecom-app publish → first message/send over ${LEAKS} leaks: p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms`);
      expect(quantile(latencies, 0.99)).toBeLessThan(5_000);

      // The leak's card came ahead of its ticket, its 接单 / 到场 buttons on the alert; the ticket's
      // dispatch to the same technician does not ring the phone again.
      const ticket = await pipeline.until('HA-W1 ticket dispatched', async () => (await pipeline.get<{ items: Ticket[] }>('/tickets?deviceId=HA-W1')).items.find((t) => t.assignee));
      const cards = wecom.cards().map((c) => c.body).filter((b) => b.touser === wecomIdOf(ticket.assignee!));
      expect(cards).toHaveLength(LEAKS);
      const card = cards[0];
      expect(card).toMatchObject({ msgtype: 'template_card', template_card: { card_type: 'button_interaction', horizontal_content_list: [{ keyname: '告警 Alert' }] } });
      expect(card.template_card.main_title.title).toMatch(/燃气报警 HA-W1/);
      const ack = card.template_card.button_list.find((b: { text: string }) => b.text.startsWith('接单')).key as string;

      const res = await wecom.click(card.touser, ack, { responseCode: 'RC-e2e', timestampS: Math.floor(pipeline.clock.now() / 1000) });
      expect(res.status).toBe(200);
      const acked = await pipeline.get<Ticket>(`/tickets/${ticket.id}`);
      expect(acked.status).toBe('acknowledged');
      expect(acked.history.at(-1)).toMatchObject({ actor: ticket.assignee, action: 'acknowledge' });
      expect(wecom.updates().at(-1)!.body).toMatchObject({ userids: [card.touser], response_code: 'RC-e2e', button: { replace_name: '已接单 Acknowledged' } });
    } finally {
      await gateway.endAsync();
    }
  }, 90_000);
});
