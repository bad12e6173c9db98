/**
 * Reports over a real in-memory PGlite store with every migration applied; time is a ManualClock
 * and each report is given its "now". T0 is 2026-11-22 16:00 in Shanghai.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import type { AlertBook } from '../alert-book.ts';
import type { Db } from '../store/db.ts';
import { openTestDb } from '../store/testing.ts';
import { TicketReports } from './reports.ts';
import { TicketService } from './ticket-service.ts';
import { DAY, FakeDirectory, HOUR, T0, clear, lookupDevice, newBook, raise } from './test-support.ts';

let db: Db;
let clock: ManualClock;
let book: AlertBook;
let svc: TicketService;
let reports: TicketReports;

beforeEach(async () => {
  db = await openTestDb();
  clock = new ManualClock(T0);
  book = newBook();
  svc = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice });
  reports = new TicketReports(db, 'Asia/Shanghai');
});
afterEach(async () => {
  await db.close();
});

/** Opens the device's ticket (dispatched to the district's technician) and returns its id. */
async function ticketFor(deviceId: string, condition: Parameters<typeof raise>[2] = 'ERR-4', kind: Parameters<typeof raise>[4] = {}): Promise<string> {
  await svc.onAlertChanges(raise(book, deviceId, condition, clock.now(), kind));
  return (await svc.list({ deviceId }))[0]!.id;
}

async function resolve(id: string): Promise<void> {
  // North has nobody on call: dispatched by hand.
  if ((await svc.get(id))!.status === 'opened') await svc.dispatch(id, 'tech-wang', 'cs');
  await svc.acknowledge(id, 'tech');
  await svc.arriveOnSite(id, 'tech');
  await svc.resolve(id, { remedyDone: 'replaced the battery' }, 'tech');
}

describe('issue 12 item 10: reports', () => {
  it('reopened stays 0 after an unsatisfied follow-up: it counts as followed up and reopened (daily, weekly, monthly)', async () => {
    const id = await ticketFor('HM-1');
    await resolve(id);
    clock.advance(HOUR);
    await svc.followUp(id, { satisfied: false, notes: 'still beeping' }, 'cs');
    expect((await svc.get(id))!.history.map((e) => e.action)).not.toContain('reopen');

    const day = await reports.daily('2026-11-22');
    expect(day.counts).toMatchObject({ resolved: 1, followedUp: 1, reopened: 1 });
    expect(day.byPriority.normal).toMatchObject({ followedUp: 1, reopened: 1 });
    expect(await reports.weekly('2026-11-16', clock.now())).toMatchObject({ resolved: 1, followedUp: 1, reopened: 1 });
    expect((await reports.monthly('2026-11', { nowMs: clock.now() })).counts).toMatchObject({ resolved: 1, followedUp: 1, reopened: 1 });
  });

  it('counts a ticket reopened twice in a day once, whether by follow-up or by hand', async () => {
    const id = await ticketFor('HM-1');
    await resolve(id);
    await svc.followUp(id, { satisfied: false }, 'cs');
    await resolve(id);
    // The device reports normal, so the close carries nothing to a new ticket and the reopen is this ticket's.
    await svc.onAlertChanges(clear(book, 'HM-1', 'ERR-4', clock.now()));
    await svc.followUp(id, { satisfied: true }, 'cs');
    await svc.reopen(id, 'customer called again', 'cs');
    expect((await reports.daily('2026-11-22')).counts).toMatchObject({ reopened: 1, followedUp: 1, closed: 1 });
  });

  it('gives the follow-up coverage of the jobs resolved in the period (100 % rule): within 3 days, late, and the ones never followed up', async () => {
    const [onTime, late, never, reopened] = [await ticketFor('HM-1'), await ticketFor('HM-2'), await ticketFor('HA-1', 'ERR-4'), await ticketFor('HM-9')];
    for (const id of [onTime, late, never, reopened]) await resolve(id);
    const resolvedMs = clock.now();
    // Reopened before any follow-up: the job went on, that resolution needs no follow-up.
    await svc.reopen(reopened, 'not fixed after all', 'cs');
    clock.advance(DAY);
    await svc.followUp(onTime, { satisfied: true }, 'cs');
    clock.advance(3 * DAY);
    await svc.followUp(late, { satisfied: true }, 'cs');

    const month = await reports.monthly('2026-11', { nowMs: clock.now() });
    expect(month.followUp).toMatchObject({ resolved: 3, followedUp: 2, followedUpWithinLimit: 1, coveragePct: 66.7, withinLimitPct: 33.3, followUpWithinHours: 72 });
    expect(month.followUp.notFollowedUp).toEqual([
      expect.objectContaining({ ticketId: never, resolvedAt: new Date(resolvedMs).toISOString(), dueAt: new Date(resolvedMs + 3 * DAY).toISOString(), overdue: true, assignee: 'tech-li', subjectId: 'HA-1', address: '西区和平街 8 号' }),
    ]);
    // A day after the resolve the missing follow-up is not overdue yet.
    const week = await reports.weekly('2026-11-16', resolvedMs + DAY);
    expect(week.followUp.notFollowedUp.find((m) => m.ticketId === never)).toMatchObject({ overdue: false });
    expect((await reports.monthly('2026-10', { nowMs: clock.now() })).followUp).toMatchObject({ resolved: 0, coveragePct: null });
  });

  it('gives the repair rate per 1,000 registry devices by device kind and by condition, and the complaint rate by class', async () => {
    await ticketFor('HM-1', 'ERR-4');
    await ticketFor('HM-2', 'LOW_BATTERY');
    await ticketFor('HA-1', 'SENSOR_FAULT', { kind: 'home_gas_alarm', severity: 'medium' });
    // A complaint phoned in (tickets.origin, migration 060): in the complaint rate, not the repair rate.
    await db.query(
      `INSERT INTO tickets (subject, subject_id, priority, status, opened_at, sla_started_at, updated_at, origin, complaint_class)
       VALUES ('customer', 'C-1', 'normal', 'opened', $1, $1, $1, 'complaint', 'justified')`,
      [new Date(T0).toISOString()],
    );

    const { repairRates } = await reports.monthly('2026-11', { nowMs: T0, fleet: { household_meter: 1000, home_gas_alarm: 250 } });
    expect(repairRates.devices).toBe(1250);
    expect(repairRates.byKind).toEqual([
      { kind: 'home_gas_alarm', kindName: { 'zh-CN': '居民燃气报警器', en: 'residential gas alarm' }, tickets: 1, devices: 250, per1000Devices: 4 },
      expect.objectContaining({ kind: 'household_meter', tickets: 2, devices: 1000, per1000Devices: 2 }),
    ]);
    expect(repairRates.byCondition.map((r) => [r.kind, r.condition, r.tickets, r.per1000Devices])).toEqual([
      ['home_gas_alarm', 'SENSOR_FAULT', 1, 4],
      ['household_meter', 'ERR-4', 1, 1],
      ['household_meter', 'LOW_BATTERY', 1, 1],
    ]);
    expect(repairRates.complaints).toEqual({ tickets: 1, per1000Devices: 0.8, byClass: [{ class: 'justified', tickets: 1 }] });
  });

  it('lists recurring faults: devices with 2 or more alerts of one condition in the month, with counts, last time and address', async () => {
    const first = await ticketFor('HM-1', 'ERR-1');
    await svc.onAlertChanges(clear(book, 'HM-1', 'ERR-1', clock.now()));
    await resolve(first);
    await svc.followUp(first, { satisfied: true }, 'cs');
    clock.advance(2 * DAY);
    await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', clock.now()));
    await svc.onAlertChanges(raise(book, 'HM-2', 'ERR-1', clock.now()));
    await svc.onAlertChanges(raise(book, 'HM-1', 'LOW_BATTERY', clock.now(), { severity: 'medium' }));

    const month = await reports.monthly('2026-11', { nowMs: clock.now() });
    expect(month.recurringFaults).toEqual({
      minCount: 2,
      items: [{ deviceId: 'HM-1', condition: 'ERR-1', name: { 'zh-CN': '故障代码ERR-1', en: 'Error code ERR-1' }, alerts: 2, tickets: 2, repeatTickets: 1, lastAt: new Date(T0 + 2 * DAY).toISOString(), address: '东区幸福路 1 号 101', district: 'east' }],
    });
    expect(month.repeatFaults).toBe(1);
    const strict = new TicketReports(db, 'Asia/Shanghai', { recurringMinCount: 3 });
    expect((await strict.monthly('2026-11', { nowMs: clock.now() })).recurringFaults.items).toEqual([]);
  });

  it("makes the previous month's report available from the 1st and keeps it, with generatedAt, from its snapshot day", async () => {
    const id = await ticketFor('HM-1');
    await resolve(id);
    // 2026-12-01 00:30 in Shanghai: November is complete.
    const firstOfDecember = Date.parse('2026-11-30T16:30:00.000Z');
    const kept = await reports.monthly('previous', { nowMs: firstOfDecember, fleet: { household_meter: 10 }, keep: true });
    expect(kept).toMatchObject({ month: '2026-11', complete: true, snapshot: true, generatedAt: new Date(firstOfDecember).toISOString(), counts: { opened: 1, resolved: 1 } });
    expect(kept.followUp.notFollowedUp).toHaveLength(1);

    // Later changes do not alter the copy management got; asking again shows it as generated.
    await svc.followUp(id, { satisfied: true }, 'cs');
    const again = await reports.monthly('2026-11', { nowMs: firstOfDecember + 5 * DAY, keep: true });
    expect(again).toEqual(kept);

    // The month still running: figures so far, never kept.
    const current = await reports.monthly('2026-12', { nowMs: firstOfDecember, keep: true });
    expect(current).toMatchObject({ complete: false, snapshot: false });
    expect((await db.query(`SELECT period FROM report_snapshots`)).map((r) => r.period)).toEqual(['2026-11']);
  });

  it('keeps the monthly report only from the configured snapshot day (≤ 21); before it the report is computed live', async () => {
    const later = new TicketReports(db, 'Asia/Shanghai', { monthlySnapshotDay: 4 });
    const dec3 = Date.parse('2026-12-03T12:00:00.000Z');
    expect(await later.monthly('previous', { nowMs: dec3, keep: true })).toMatchObject({ month: '2026-11', complete: true, snapshot: false });
    const dec4 = Date.parse('2026-12-03T16:00:00.000Z'); // 00:00 on the 4th in Shanghai
    expect(await later.monthly('previous', { nowMs: dec4, keep: true })).toMatchObject({ month: '2026-11', snapshot: true, generatedAt: new Date(dec4).toISOString() });
    expect(() => new TicketReports(db, 'Asia/Shanghai', { monthlySnapshotDay: 22 })).toThrow(/monthlySnapshotDay/);
  });

  it('refuses a malformed month', async () => {
    await expect(reports.monthly('2026-1', { nowMs: T0 })).rejects.toMatchObject({ code: 'GAS_TICKET_INVALID_INPUT' });
  });
});
