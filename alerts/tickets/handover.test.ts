import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import type { OnCallAnswer } from '../oncall/directory.ts';
import type { Db } from '../store/db.ts';
import { handOverNote } from './handover.ts';
import { TicketService } from './ticket-service.ts';
import { FakeDirectory, HOUR, MIN, lookupDevice, newBook, people, pgliteStores, raise, type TestStore } from './test-support.ts';

/** East is covered 09:00–22:00 Shanghai time (01:00–14:00 UTC) by 王工; nobody is on duty overnight. */
class DayShiftDirectory extends FakeDirectory {
  override async whoIsOnCall(district: string | undefined, atMs: number): Promise<OnCallAnswer> {
    const base = await super.whoIsOnCall(district, atMs);
    const day = new Date(atMs);
    day.setUTCHours(1, 0, 0, 0);
    let start = day.getTime();
    if (atMs < start) start -= 24 * HOUR;
    const end = start + 13 * HOUR;
    if (district !== 'east' || atMs >= end) {
      const { technician: _, ...rest } = base;
      return rest;
    }
    return { ...base, technician: people['tech-wang']!, shift: { name: 'day', kind: 'on_site', startsAt: new Date(start).toISOString(), endsAt: new Date(end).toISOString() } };
  }
}

describe('hand-over note', () => {
  let store: TestStore;
  let db: Db;

  beforeEach(async () => {
    store = await pgliteStores.create();
    db = await store.open();
  });
  afterEach(async () => {
    await db.close();
    await store.dispose();
  });

  it('passes the night’s unrouted emergency to the 09:00 shift first, dispatched at the shift start (issue 12 #3: the 09:00 shift inherited nothing)', async () => {
    // 05:10 in Shanghai: nobody on duty in the east.
    const night = Date.parse('2026-12-04T21:10:00Z');
    const clock = new ManualClock(night);
    const directory = new DayShiftDirectory();
    const svc = new TicketService({ db, clock, directory, lookupDevice, settings: {} });
    const book = newBook();
    await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', night - HOUR));
    await svc.onAlertChanges(raise(book, 'HM-2', 'VALVE_NOT_CUT', night, { severity: 'critical' }));
    const waiting = await svc.list({ district: 'east' });
    expect(waiting.every((t) => t.status === 'opened' && t.assignee === null && t.escalationStep > 0)).toBe(true);

    const before = await handOverNote(svc, directory, 'east', night + MIN);
    expect(before.shift).toBeNull();
    expect(before.open.map((i) => [i.ticket.deviceId, i.waitedForShift])).toEqual([
      ['HM-2', true],
      ['HM-1', true],
    ]);

    // 09:00: the day shift begins; the SLA check dispatches what waited.
    const nine = Date.parse('2026-12-05T01:00:00Z');
    clock.set(nine);
    expect((await svc.dispatchWaiting()).length).toBe(2);
    clock.advance(MIN);
    const note = await handOverNote(svc, directory, 'east', clock.now());
    expect(note.shift).toMatchObject({ technicianId: 'tech-wang', name: 'day', startsAt: '2026-12-05T01:00:00.000Z' });
    expect(note.previousTechnicianId).toBeNull();
    expect(note.open[0]).toMatchObject({ passedOn: true, waitedForShift: true, overdue: true, ticket: { deviceId: 'HM-2', priority: 'emergency', status: 'dispatched', assignee: 'tech-wang' } });
    expect(note.open.map((i) => i.ticket.deviceId)).toEqual(['HM-2', 'HM-1']);

    // A fault raised during the shift is on the next hand-over, not passed on to this one.
    await svc.onAlertChanges(raise(book, 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', clock.now()));
    const later = await handOverNote(svc, directory, 'east', clock.now() + MIN);
    expect(later.open.find((i) => i.ticket.deviceId === 'HM-1')).toMatchObject({ passedOn: true });
    expect((await handOverNote(svc, directory, 'west', clock.now())).open).toEqual([]);
  });
});
