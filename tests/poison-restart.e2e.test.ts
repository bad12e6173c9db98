import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { AlertBook } from '../alerts/alert-book.ts';
import { startTestPipeline } from './harness.ts';

/**
 * Issue 13 #1 end to end: a leak stored with a NUL in its vendor (written before the edge refused
 * such text) and corrupt lines in every journal. The start used to fail replaying them; now the
 * process starts, the leak gets its ticket (its text made safe and flagged), and each bad record
 * is dead-lettered, counted and listed.
 */
describe('start on poisoned stored records', () => {
  it('issue 13 #1: a start on journals with corrupt lines and a leak with a NUL in its vendor starts, and the leak is ticketed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gas-poison-'));
    const clock = new ManualClock(Date.now());
    const [change] = new AlertBook({ historyLimit: 10, compactAfterLines: 1000, fsync: false }).apply([
      { type: 'raise', subject: 'device', subjectId: 'HA-1', gatewayId: 'GW-1', kind: 'home_gas_alarm', vendor: 'ac\u0000me', condition: 'GAS_ALARM_L2', severity: 'critical', atMs: clock.now() - 60_000 },
    ]);
    const corrupt = ['null', '{"op":"raise"}', '{"t":"e","seq":"x"}', '{"torn'];
    const write = (dir: string, file: string, lines: string[]) => {
      mkdirSync(join(dataDir, dir), { recursive: true });
      writeFileSync(join(dataDir, dir, file), lines.map((l) => `${l}\n`).join(''));
    };
    write('alerts', 'alerts.journal', [corrupt[0]!, JSON.stringify({ op: 'raise', seq: 1, alert: change!.alert }), ...corrupt.slice(1)]);
    write('alarms', 'alarm-pushes.jsonl', corrupt);
    write('sse', 'sse-events.jsonl', corrupt);

    const pipeline = await startTestPipeline({ dataDir, clock, settings: { tickets: { stormGroupWaitMs: 0 } } });
    try {
      expect(pipeline.alerts.activeFor('HA-1').map((a) => a.condition)).toContain('GAS_ALARM_L2');
      const tickets = await pipeline.until('leak ticketed', async () => {
        const { items } = await pipeline.get<{ items: Array<{ id: string; vendor: string | null; priority: string; conditions: string[] }> }>('/tickets?deviceId=HA-1');
        return items.some((t) => t.conditions.includes('GAS_ALARM_L2')) ? items : undefined;
      });
      expect(tickets[0]).toMatchObject({ vendor: 'acme', priority: 'emergency' });

      expect(await pipeline.metric('gas_journal_dead_letters_total{journal="alerts.journal"}')).toBe(corrupt.length);
      expect(await pipeline.metric('gas_journal_dead_letters_total{journal="alarm-pushes.jsonl"}')).toBe(corrupt.length);
      expect(await pipeline.metric('gas_journal_dead_letters_total{journal="sse-events.jsonl"}')).toBe(corrupt.length);
      expect(await pipeline.metric('gas_ticket_dead_letters_total{reason="ticket_sanitised"}')).toBe(1);
      const { items } = await pipeline.get<{ items: Array<{ reason: string; topic: string; deviceId?: string }> }>('/dead-letters?limit=100');
      expect(items.filter((l) => l.reason === 'journal_record_corrupt')).toHaveLength(3 * corrupt.length);
      expect(items.filter((l) => l.reason === 'ticket_sanitised')).toEqual([expect.objectContaining({ topic: 'tickets', deviceId: 'HA-1' })]);
      expect((await fetch(`${pipeline.httpUrl}/healthz`)).ok).toBe(true);
    } finally {
      await pipeline.close();
    }
  }, 60_000);
});
