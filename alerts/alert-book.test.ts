import { mkdtempSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contracts/messages.ts';
import { AlertBook } from './alert-book.ts';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');
const event = (type: 'raise' | 'clear', atS: number, condition: AlertEvent['condition'] = 'ERR-3', subjectId = 'HM-1'): AlertEvent => ({
  type, subject: 'device', subjectId, gatewayId: 'GW-1', kind: 'household_meter', condition, severity: 'high', atMs: T0 + atS * 1000,
});
const book = (dir?: string) => new AlertBook({ dir, historyLimit: 1000, compactAfterLines: 1000, fsync: false });

describe('AlertBook', () => {
  it("raises an alert carrying the manual's cause and remedy, and clears it", () => {
    const b = book();
    const [raised] = b.apply([event('raise', 0)]);
    expect(raised!.alert).toMatchObject({ deviceId: 'HM-1', condition: 'ERR-3', state: 'active', raisedAt: '2026-11-22T08:00:00.000Z', clearedAt: null });
    expect(raised!.alert.cause).toMatch(/.+ \/ .+/);
    expect(raised!.alert.remedy).toMatch(/.+ \/ .+/);
    b.apply([event('clear', 60)]);
    expect(b.query({ state: 'cleared', limit: 10 })).toMatchObject([{ state: 'cleared', clearedAt: '2026-11-22T08:01:00.000Z' }]);
    expect(b.query({ state: 'active', limit: 10 })).toEqual([]);
  });

  it('is idempotent: repeated, replayed and stale events change nothing', () => {
    const b = book();
    b.apply([event('raise', 0)]);
    expect(b.apply([event('raise', 0), event('raise', 30)])).toEqual([]);
    b.apply([event('clear', 60)]);
    expect(b.apply([event('clear', 60), event('raise', 0), event('clear', 90)])).toEqual([]);
    expect(b.query({ limit: 10 })).toHaveLength(1);
    expect(b.ignoredRepeats).toBe(5);
  });

  it('keeps one active alert per (device, condition)', () => {
    const b = book();
    b.apply([event('raise', 0, 'ERR-3'), event('raise', 0, 'LOW_BATTERY'), event('raise', 0, 'ERR-3', 'HM-2'), event('raise', 5, 'ERR-3')]);
    expect(b.query({ state: 'active', limit: 10 })).toHaveLength(3);
    expect(b.activeFor('HM-1').map((a) => a.condition).sort()).toEqual(['ERR-3', 'LOW_BATTERY']);
  });

  it('survives a restart from its journal, with the same ids and without re-firing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerts-'));
    const first = book(dir);
    const [raised] = first.apply([event('raise', 0), event('raise', 0, 'LOW_BATTERY')]);
    first.apply([event('clear', 60, 'LOW_BATTERY')]);
    // A crash mid-write leaves half a line at the end: everything before it is kept.
    appendFileSync(join(dir, 'alerts.journal'), '{"op":"raise","al');
    const second = book(dir);
    expect(second.query({ state: 'active', limit: 10 }).map((a) => a.id)).toEqual([raised!.alert.id]);
    expect(second.query({ state: 'cleared', limit: 10 }).map((a) => a.condition)).toEqual(['LOW_BATTERY']);
    expect(second.apply([event('raise', 0), event('raise', 30, 'LOW_BATTERY')])).toEqual([]);
    expect(second.apply([event('raise', 90, 'LOW_BATTERY')])).toHaveLength(1);
  });

  it('survives a restart after compaction', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerts-'));
    const first = book(dir);
    first.apply([event('raise', 0), event('raise', 0, 'TAMPER')]);
    first.compact();
    first.apply([event('clear', 60, 'TAMPER')]);
    const second = book(dir);
    expect(second.query({ state: 'active', limit: 10 }).map((a) => a.condition)).toEqual(['ERR-3']);
    expect(second.apply([event('raise', 10, 'TAMPER')])).toEqual([]);
  });

  it("keeps an operator's acknowledgement (seen) across a restart and a compaction, tells its listeners once, the first one standing", () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerts-'));
    const first = book(dir);
    const told: string[] = [];
    first.onSeen((a) => told.push(`${a.id} ${a.seen!.by}`));
    const [raised] = first.apply([event('raise', 0), event('raise', 0, 'TAMPER')]);
    const id = raised!.alert.id;
    expect(first.markSeen(id, 'desk 1', T0 + 5_000)!.seen).toEqual({ by: 'desk 1', at: '2026-11-22T08:00:05.000Z' });
    expect(first.markSeen(id, 'desk 2', T0 + 9_000)!.seen!.by).toBe('desk 1');
    expect(first.markSeen('nope', 'desk 1', T0)).toBeUndefined();
    expect(told).toEqual([`${id} desk 1`]);
    expect(book(dir).get(id)!.seen).toEqual({ by: 'desk 1', at: '2026-11-22T08:00:05.000Z' });
    first.compact();
    expect(book(dir).get(id)!.seen!.by).toBe('desk 1');
  });

  it('lists active alerts most severe first, so a limit cuts power alerts behind a storm, never the leak raised before it', () => {
    const b = book();
    b.apply([{ ...event('raise', 0, 'GAS_ALARM_L2', 'HA-1'), kind: 'home_gas_alarm', severity: 'critical' }]);
    b.apply(Array.from({ length: 20 }, (_, i) => ({ ...event('raise', 10 + i, 'POWER_LOST', `HA-P${i}`), kind: 'home_gas_alarm' as const, severity: 'medium' as const })));
    const listed = b.query({ state: 'active', limit: 5 });
    expect(listed[0]!.condition).toBe('GAS_ALARM_L2');
    // Newest first within a severity.
    expect(listed.slice(1).map((a) => a.deviceId)).toEqual(['HA-P19', 'HA-P18', 'HA-P17', 'HA-P16']);
  });
});
