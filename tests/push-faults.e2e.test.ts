import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { startTestPipeline, type AlertItem, type TestPipeline } from './harness.ts';

/**
 * The east district's group robot hangs (never answers) while alarms arrive. Deliveries to it time
 * out, are retried and finally fail, the failure escalates the ticket, and nothing else waits for
 * it: alerts, tickets and the technician's live stream keep going.
 */

// Monday 10:00 in Asia/Shanghai: shift a of the example rota is on site in 城东区.
const START = Date.parse('2026-11-23T02:00:00.000Z');

interface TicketDetail {
  id: string;
  escalations: Array<{ level: string; reason: string }>;
}

describe('a webhook receiver that hangs', () => {
  let pipeline: TestPipeline;
  let robot: Server;
  const requests: string[] = [];

  beforeAll(async () => {
    // Takes every request and never answers it.
    robot = createServer((req) => {
      requests.push(req.url ?? '');
      req.resume();
    });
    await new Promise<void>((resolve) => robot.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(robot.address() as AddressInfo).port}`;
    const dir = mkdtempSync(join(tmpdir(), 'gas-push-fault-'));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify(['HA-H1', 'HA-H2'].map((deviceId) => ({ deviceId, kind: 'home_gas_alarm', gatewayId: 'GW-H', district: '城东区', reportIntervalS: 30 }))));
    pipeline = await startTestPipeline({
      clock: new ManualClock(START),
      registryFile,
      settings: {
        slaCheckIntervalMs: 3_600_000,
        push: {
          channels: [
            { name: 'sse', type: 'sse' },
            { name: 'wecom-east', type: 'webhook', config: { format: 'wecom', url: `${base}/hang?key=k`, timeoutMs: 300 } },
          ],
          retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200, jitter: 0, maxRetryAfterMs: 1000 },
        },
      },
    });
  });

  afterAll(async () => {
    await pipeline?.close();
    robot?.closeAllConnections();
    await new Promise((resolve) => robot?.close(resolve));
  });

  it('times out, retries, fails, escalates — and holds up neither alerts nor tickets', async () => {
    const gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-H' });
    let seq = 0;
    const leak = async (deviceId: string) => {
      const at = new Date(pipeline.clock.now()).toISOString();
      await gateway.publishAsync('gas/v1/GW-H/up', JSON.stringify({ gatewayId: 'GW-H', seq: ++seq, sentAt: at, readings: [{ deviceId, kind: 'home_gas_alarm', at, lelPct: 40 }] }), { qos: 1 });
    };
    try {
      await leak('HA-H1');
      const first = await pipeline.until('HA-H1 ticket', async () => (await pipeline.get<{ items: Array<{ id: string }> }>('/tickets?deviceId=HA-H1')).items[0]);
      await pipeline.until('the robot is called', async () => requests.length > 0);

      // While the robot hangs, the next alarm is raised and ticketed as promptly as ever.
      pipeline.clock.advance(30_000);
      await leak('HA-H2');
      await pipeline.until('HA-H2 alert and ticket', async () => {
        const { items } = await pipeline.get<{ items: AlertItem[] }>('/alerts?state=active');
        return items.some((a) => a.deviceId === 'HA-H2') && (await pipeline.get<{ items: unknown[] }>('/tickets?deviceId=HA-H2')).items.length === 1;
      }, 5_000);

      // Three attempts of 300 ms each with short back-off, then failed, then escalated.
      const failed = await pipeline.until('deliveries to the robot failed', async () => {
        const rows = await pipeline.services.db.query<{ channel: string; status: string; attempts: number }>(`SELECT channel, status, attempts FROM delivery_state WHERE channel = 'wecom-east' AND status = 'failed'`);
        return rows.length > 0 && rows;
      }, 20_000);
      expect(failed.every((r) => Number(r.attempts) === 3)).toBe(true);
      const detail = await pipeline.until('escalated for the failed delivery', async () => {
        const d = await pipeline.get<TicketDetail>(`/tickets/${first.id}`);
        return d.escalations.some((e) => e.reason === 'delivery_failed') && d;
      }, 10_000);
      expect(detail.escalations.find((e) => e.reason === 'delivery_failed')).toBeDefined();
      expect(requests.filter((u) => u.startsWith('/hang')).length).toBeGreaterThanOrEqual(3);
    } finally {
      await gateway.endAsync();
    }
  }, 60_000);
});
