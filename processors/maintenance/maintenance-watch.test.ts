import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { ManualClock } from '../../app/clock.ts';
import type { DeviceRecord } from '../../contracts/device-record.ts';
import type { AlertEvent } from '../../contracts/messages.ts';
import { MaintenanceSettingsSchema, MaintenanceWatch, serviceSchedule, type MaintenanceSettings } from './maintenance-watch.ts';

const DAY = 86_400_000;
const settings = Value.Default(MaintenanceSettingsSchema, {}) as MaintenanceSettings;
const fm = (id: string, extra: Partial<DeviceRecord> = {}): DeviceRecord => ({ deviceId: id, kind: 'flow_meter', gatewayId: 'GW-1', vendor: 'meihua', ...extra });

function watchOf(records: DeviceRecord[], nowMs: number, s = settings) {
  const w = new MaintenanceWatch(s);
  const out: AlertEvent[] = [];
  for (const r of records) w.update(r.deviceId, r, nowMs, out);
  return { w, out };
}

describe('maintenance schedule from the registry', () => {
  it('defaults to 75 days (2-3 months) after the last service, or after installation before the first', () => {
    expect(settings.defaultIntervalDays).toBe(75);
    expect(serviceSchedule(fm('FM-1', { lastServiceAt: '2026-09-01' }), settings)!.dueMs).toBe(Date.parse('2026-09-01') + 75 * DAY);
    expect(serviceSchedule(fm('FM-1', { installedAt: '2026-08-01' }), settings)!.dueMs).toBe(Date.parse('2026-08-01') + 75 * DAY);
    expect(serviceSchedule(fm('FM-1', { installedAt: '2026-08-01', lastServiceAt: '2026-10-01T06:00:00Z', serviceIntervalDays: 60 }), settings)!.dueMs).toBe(Date.parse('2026-10-01T06:00:00Z') + 60 * DAY);
  });

  it('schedules only flow meters with a known date: other kinds and undated meters are never due', () => {
    expect(serviceSchedule({ deviceId: 'HM-1', kind: 'household_meter', installedAt: '2020-01-01' }, settings)).toBeUndefined();
    expect(serviceSchedule(fm('FM-2'), settings)).toBeUndefined();
  });
});

describe('MaintenanceWatch', () => {
  it('raises one low-severity preventive MAINTENANCE_DUE once the calendar passes the due date, without any reading, and never twice', () => {
    const clock = new ManualClock(Date.parse('2026-11-01T00:00:00Z'));
    const { w, out } = watchOf([fm('FM-1', { lastServiceAt: '2026-09-01' }), fm('FM-2', { lastServiceAt: '2026-10-01' })], clock.now());
    w.check(clock.now(), out);
    expect(out).toEqual([]);
    clock.set(Date.parse('2026-11-15T00:00:01Z')); // FM-1 due 2026-11-15
    w.check(clock.now(), out);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'raise', subjectId: 'FM-1', gatewayId: 'GW-1', kind: 'flow_meter', condition: 'MAINTENANCE_DUE', severity: 'low', atMs: clock.now(), detail: { preventive: true, dueAt: '2026-11-15T00:00:00.000Z', serviceIntervalDays: 75 } });
    expect(String(out[0]!.detail!.note)).toContain('预防性维护');
    for (let i = 0; i < 10; i++) w.check(clock.advance(DAY), out);
    expect(out.map((e) => e.subjectId)).toEqual(['FM-1']);
    clock.set(Date.parse('2026-12-16T00:00:00Z'));
    w.check(clock.now(), out);
    expect(out.map((e) => e.subjectId)).toEqual(['FM-1', 'FM-2']);
  });

  it('a check long after the due dates (the pipeline was down) raises each overdue meter once, saying how overdue', () => {
    const { w, out } = watchOf([fm('FM-1', { installedAt: '2026-01-01' }), fm('FM-2', { installedAt: '2026-02-01' })], Date.parse('2026-01-02'));
    w.check(Date.parse('2026-12-01'), out);
    w.check(Date.parse('2026-12-01'), out);
    expect(out.map((e) => [e.subjectId, e.detail!.overdueDays])).toEqual([['FM-1', 259], ['FM-2', 228]]);
  });

  it('the lead time raises it that many days before the due date', () => {
    const { w, out } = watchOf([fm('FM-1', { lastServiceAt: '2026-09-01' })], Date.parse('2026-09-02'), { ...settings, leadTimeDays: 7 });
    w.check(Date.parse('2026-11-07T23:59:59Z'), out);
    expect(out).toEqual([]);
    w.check(Date.parse('2026-11-08T00:00:00Z'), out);
    expect(out).toHaveLength(1);
  });

  it('recording the service clears the alert and moves the next due date; a raised meter is raised again only at the new date', () => {
    const now = Date.parse('2026-11-20T00:00:00Z');
    const { w, out } = watchOf([fm('FM-1', { lastServiceAt: '2026-09-01' })], now);
    w.check(now, out);
    expect(w.isActive('FM-1')).toBe(true);
    const serviced = fm('FM-1', { lastServiceAt: '2026-11-21T03:00:00.000Z' });
    w.update('FM-1', serviced, Date.parse('2026-11-21T03:00:00Z'), out);
    expect(out[1]).toMatchObject({ type: 'clear', subjectId: 'FM-1', condition: 'MAINTENANCE_DUE', detail: { reason: 'serviced', nextDueAt: '2027-02-04T03:00:00.000Z' } });
    expect(w.dueOf('FM-1')!.dueMs).toBe(Date.parse('2027-02-04T03:00:00Z'));
    w.check(Date.parse('2027-02-04T02:59:59Z'), out);
    expect(out).toHaveLength(2);
    w.check(Date.parse('2027-02-04T03:00:00Z'), out);
    expect(out.map((e) => e.type)).toEqual(['raise', 'clear', 'raise']);
  });

  it('an edit that leaves the meter still due keeps the one alert; an edit of another field does not re-raise', () => {
    const now = Date.parse('2026-11-20T00:00:00Z');
    const { w, out } = watchOf([fm('FM-1', { lastServiceAt: '2026-09-01' })], now);
    w.check(now, out);
    w.update('FM-1', fm('FM-1', { lastServiceAt: '2026-09-01', address: '新地址' }), now + 1000, out);
    w.check(now + 2000, out);
    expect(out.map((e) => e.type)).toEqual(['raise']);
  });

  it('a restarted watch seeded from the alert book neither raises again nor forgets to clear', () => {
    const now = Date.parse('2026-11-20T00:00:00Z');
    const w = new MaintenanceWatch(settings);
    w.seedActive(['FM-1']);
    const out: AlertEvent[] = [];
    w.update('FM-1', fm('FM-1', { lastServiceAt: '2026-09-01' }), now, out);
    w.check(now, out);
    expect(out).toEqual([]);
    w.update('FM-1', fm('FM-1', { lastServiceAt: '2026-11-20' }), now, out);
    expect(out.map((e) => e.type)).toEqual(['clear']);
  });

  it('a removed or rekinded meter with an active alert is cleared', () => {
    const now = Date.parse('2026-11-20T00:00:00Z');
    const { w, out } = watchOf([fm('FM-1', { lastServiceAt: '2026-09-01' }), fm('FM-2', { lastServiceAt: '2026-09-01' })], now);
    w.check(now, out);
    w.update('FM-1', undefined, now, out);
    w.update('FM-2', { deviceId: 'FM-2', kind: 'household_meter' }, now, out);
    expect(out.filter((e) => e.type === 'clear').map((e) => [e.subjectId, e.detail!.reason])).toEqual([['FM-1', 'removed'], ['FM-2', 'not_scheduled']]);
  });

  it('thousands of meters: a check costs only those that came due, each raised once', () => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    const records = Array.from({ length: 5000 }, (_, i) => fm(`FM-${i}`, { lastServiceAt: new Date(start + (i % 100) * DAY).toISOString() }));
    const { w, out } = watchOf(records, start);
    w.check(start + 75 * DAY + 49 * DAY + 1, out);
    expect(out).toHaveLength(2500);
    w.check(start + 75 * DAY + 49 * DAY + 2, out);
    expect(out).toHaveLength(2500);
    w.check(start + 400 * DAY, out);
    expect(new Set(out.map((e) => e.subjectId)).size).toBe(5000);
    expect(out).toHaveLength(5000);
  });
});
