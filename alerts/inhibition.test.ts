import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONDITIONS, type AlertEvent, type Condition } from '../contracts/messages.ts';
import { AlertBook } from './alert-book.ts';
import { INHIBIT_RULES, NEVER_INHIBITED } from './inhibition.ts';
import { ticketAlerts, ticketChanges } from './ticket-door.ts';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');
const book = (dir?: string) => new AlertBook({ historyLimit: 100, compactAfterLines: 1000, fsync: false, ...(dir ? { dir } : {}) });
const device = (type: 'raise' | 'clear', subjectId: string, condition: Condition, atS: number, gatewayId = 'GW-1'): AlertEvent =>
  ({ type, subject: 'device', subjectId, gatewayId, kind: 'household_meter', condition, severity: 'medium', atMs: T0 + atS * 1000 });
const gateway = (type: 'raise' | 'clear', gatewayId: string, atS: number): AlertEvent =>
  ({ type, subject: 'gateway', subjectId: gatewayId, gatewayId, condition: 'GATEWAY_OFFLINE', severity: 'high', atMs: T0 + atS * 1000 });
const active = (b: AlertBook, subjectId: string, condition: Condition) => b.activeFor(subjectId).find((a) => a.condition === condition);

describe('inhibition table (issue 15 #7)', () => {
  it('declares known conditions, and never lets a leak be inhibited', () => {
    for (const rule of INHIBIT_RULES) {
      expect(CONDITIONS).toContain(rule.source);
      for (const t of rule.targets) {
        expect(CONDITIONS).toContain(t);
        expect(NEVER_INHIBITED).not.toContain(t);
        expect(t).not.toBe(rule.source);
      }
      expect(rule.why.length).toBeGreaterThan(10);
    }
  });

  it('VALVE_CLOSED_LOW_BATTERY after LOW_BATTERY on the same meter: LOW_BATTERY is kept, marked inhibited by it', () => {
    const b = book();
    b.apply([device('raise', 'HM-1', 'LOW_BATTERY', 0)]);
    const [raised] = b.apply([device('raise', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 60)]);
    const low = active(b, 'HM-1', 'LOW_BATTERY')!;
    expect(low.state).toBe('active');
    expect(low.inhibited).toEqual({ by: 'VALVE_CLOSED_LOW_BATTERY', alertId: raised!.alert.id, since: new Date(T0 + 60_000).toISOString() });
    expect(active(b, 'HM-1', 'VALVE_CLOSED_LOW_BATTERY')!.inhibited).toBeUndefined();
  });

  it('LOW_BATTERY raised while VALVE_CLOSED_LOW_BATTERY is active is born inhibited, and its raise reaches no ticket', () => {
    const b = book();
    b.apply([device('raise', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 0)]);
    const changes = b.apply([device('raise', 'HM-1', 'LOW_BATTERY', 30)]);
    expect(changes[0]!.alert.inhibited?.by).toBe('VALVE_CLOSED_LOW_BATTERY');
    expect(ticketChanges(changes)).toEqual([]);
  });

  it('only the same meter: another meter’s LOW_BATTERY stands', () => {
    const b = book();
    b.apply([device('raise', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 0), device('raise', 'HM-2', 'LOW_BATTERY', 10)]);
    expect(active(b, 'HM-2', 'LOW_BATTERY')!.inhibited).toBeUndefined();
  });

  it('when the source clears, a target still active stands on its own: released and raised again for its ticket', () => {
    const b = book();
    b.apply([device('raise', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 0), device('raise', 'HM-1', 'LOW_BATTERY', 30)]);
    const changes = b.apply([device('clear', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 90)]);
    expect(changes.map((c) => `${c.type} ${c.alert.condition}`)).toEqual(['cleared VALVE_CLOSED_LOW_BATTERY', 'raised LOW_BATTERY']);
    expect(active(b, 'HM-1', 'LOW_BATTERY')!.inhibited).toBeUndefined();
    expect(ticketChanges(changes)).toHaveLength(2);
  });

  it('a target that clears while inhibited keeps its mark in the history, and a reconcile offers it to no ticket', () => {
    const b = book();
    b.apply([device('raise', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 0), device('raise', 'HM-1', 'LOW_BATTERY', 30)]);
    b.apply([device('clear', 'HM-1', 'LOW_BATTERY', 60), device('clear', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 60)]);
    const cleared = b.query({ state: 'cleared', limit: 10 });
    expect(cleared.find((a) => a.condition === 'LOW_BATTERY')!.inhibited?.by).toBe('VALVE_CLOSED_LOW_BATTERY');
    expect(ticketAlerts(cleared).map((a) => a.condition)).toEqual(['VALVE_CLOSED_LOW_BATTERY']);
  });

  it('GATEWAY_OFFLINE inhibits the power and signal alerts of the devices behind it, not those of other gateways, nor a leak', () => {
    const b = book();
    b.apply([
      device('raise', 'HA-1', 'POWER_LOST', 0),
      device('raise', 'HA-2', 'POWER_LOST', 0, 'GW-2'),
      device('raise', 'HA-3', 'GAS_ALARM_L2', 0),
      device('raise', 'HM-4', 'LOW_BATTERY', 0),
    ]);
    const [offline] = b.apply([gateway('raise', 'GW-1', 60)]);
    expect(active(b, 'HA-1', 'POWER_LOST')!.inhibited).toMatchObject({ by: 'GATEWAY_OFFLINE', alertId: offline!.alert.id });
    expect(active(b, 'HA-2', 'POWER_LOST')!.inhibited).toBeUndefined();
    expect(active(b, 'HA-3', 'GAS_ALARM_L2')!.inhibited).toBeUndefined();
    expect(active(b, 'HM-4', 'LOW_BATTERY')!.inhibited).toBeUndefined();
    // A device alert raised while its gateway is offline (a late batch) is born inhibited.
    expect(b.apply([device('raise', 'HA-5', 'POWER_LOST', 90)])[0]!.alert.inhibited?.by).toBe('GATEWAY_OFFLINE');
  });

  it('event time: a redelivered source raise changes nothing, an older source clear (out of order) does not release the target', () => {
    const b = book();
    b.apply([device('raise', 'HM-1', 'LOW_BATTERY', 0), device('raise', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 60)]);
    const id = active(b, 'HM-1', 'LOW_BATTERY')!.inhibited!.alertId;
    expect(b.apply([device('raise', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 60)])).toEqual([]);
    // A clear stamped before the source's raise (a late, reordered message) is ignored: the target stays inhibited.
    expect(b.apply([device('clear', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 30)])).toEqual([]);
    expect(active(b, 'HM-1', 'LOW_BATTERY')!.inhibited).toMatchObject({ alertId: id });
  });

  it('a backfill of thousands of edges in one batch ends consistent: every still-active target under an active source is inhibited, the rest not', () => {
    const b = book();
    const events: AlertEvent[] = [];
    for (let i = 0; i < 1_000; i++) {
      const id = `HM-${i}`;
      events.push(device('raise', id, 'LOW_BATTERY', i), device('raise', id, 'VALVE_CLOSED_LOW_BATTERY', i + 1));
      if (i % 2 === 0) events.push(device('clear', id, 'VALVE_CLOSED_LOW_BATTERY', i + 2));
    }
    const changes = b.apply(events);
    for (let i = 0; i < 1_000; i++) {
      const low = active(b, `HM-${i}`, 'LOW_BATTERY')!;
      expect(Boolean(low.inhibited), `HM-${i}`).toBe(i % 2 === 1);
    }
    // Only the released targets reach the ticket side (their raise and its repeat at the release, one alert id: one ticket entry); no inhibited one does.
    const toTickets = ticketChanges(changes).filter((c) => c.type === 'raised' && c.alert.condition === 'LOW_BATTERY');
    expect(new Set(toTickets.map((c) => c.alert.subjectId)).size).toBe(500);
    expect(toTickets.every((c) => Number(c.alert.subjectId.slice(3)) % 2 === 0)).toBe(true);
  });

  it('survives a restart: marks and releases are journaled, the change sequence kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gas-inhibit-'));
    try {
      const b = book(dir);
      b.apply([device('raise', 'HM-1', 'LOW_BATTERY', 0)]);
      b.apply([device('raise', 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', 60), device('raise', 'HM-2', 'VALVE_CLOSED_LOW_BATTERY', 60)]);
      b.apply([device('raise', 'HM-2', 'LOW_BATTERY', 70), device('clear', 'HM-2', 'VALVE_CLOSED_LOW_BATTERY', 80)]);
      const again = book(dir);
      expect(active(again, 'HM-1', 'LOW_BATTERY')!.inhibited?.by).toBe('VALVE_CLOSED_LOW_BATTERY');
      expect(active(again, 'HM-2', 'LOW_BATTERY')!.inhibited).toBeUndefined();
      expect(again.lastChangeSeq).toBe(b.lastChangeSeq);
      expect(again.changesSince(0)!.map((c) => c.seq)).toEqual(b.changesSince(0)!.map((c) => c.seq));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
