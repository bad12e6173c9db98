/**
 * The ticket side of MAINTENANCE_DUE (processors/maintenance/README.md): a preventive, low-priority
 * ticket with its own resolve SLA, whose resolve records the service. PGlite; time is a ManualClock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import type { AlertBook } from '../alert-book.ts';
import type { Db } from '../store/db.ts';
import type { Notice } from './notice.ts';
import { TicketService, type ServiceDoneListener } from './ticket-service.ts';
import { DAY, FakeDirectory, HOUR, MIN, T0, lookupDevice, newBook, pgliteStores, raise, type TestStore } from './test-support.ts';

describe('MAINTENANCE_DUE tickets', () => {
  let store: TestStore;
  let db: Db;
  let clock: ManualClock;
  let book: AlertBook;
  let svc: TicketService;
  let notices: Notice[];
  let done: Array<Parameters<ServiceDoneListener>[0]>;

  beforeEach(async () => {
    store = await pgliteStores.create();
    db = await store.open();
    clock = new ManualClock(T0);
    book = newBook();
    notices = [];
    done = [];
    svc = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice, settings: {} });
    svc.onNotice((n) => notices.push(n));
    svc.onServiceDone((d) => done.push(d));
  });
  afterEach(async () => {
    await db.close();
    await store.dispose();
  });

  const maintenanceDue = () => raise(book, 'HM-1', 'MAINTENANCE_DUE', T0, { severity: 'low', kind: 'flow_meter', detail: { preventive: true, dueAt: new Date(T0 - DAY).toISOString() } });

  it('opens a low-priority ticket whose notices say preventive maintenance, not a fault', async () => {
    await svc.onAlertChanges(maintenanceDue());
    const [t] = await svc.list();
    expect(t).toMatchObject({ priority: 'low', conditions: ['MAINTENANCE_DUE'], deviceId: 'HM-1' });
    const ticketNotices = notices.filter((n) => n.data.ticketId === t!.id);
    expect(ticketNotices.length).toBeGreaterThan(0);
    for (const n of ticketNotices) {
      expect(n.data.preventive).toBe(true);
      expect(n.body['zh-CN']).toContain('预防性维护');
      expect(n.body.en).toContain('Preventive maintenance (not a fault)');
      expect(n.body['zh-CN']).not.toContain('故障：');
    }
  });

  it('its resolve SLA is 14 days, not the 7 of a low-priority fault', async () => {
    await svc.onAlertChanges(maintenanceDue());
    const [t] = await svc.list();
    await svc.acknowledge(t!.id, t!.assignee ?? 'tech-wang');
    const onSite = await svc.arriveOnSite(t!.id, t!.assignee ?? 'tech-wang');
    expect(Date.parse(onSite.slaDueAt!) - Date.parse(onSite.slaStartedAt)).toBe(14 * DAY);
  });

  it("resolving it records the service (implied, or serviceDone: true), told once to the listener with the resolve's time; a fault's plain resolve does not", async () => {
    await svc.onAlertChanges(maintenanceDue());
    const [t] = await svc.list();
    await svc.acknowledge(t!.id, 'tech-wang');
    await svc.arriveOnSite(t!.id, 'tech-wang');
    clock.advance(30 * MIN);
    const resolved = await svc.resolve(t!.id, { remedyDone: '加专用润滑油' }, 'tech-wang');
    expect(done).toEqual([{ deviceId: 'HM-1', ticketId: t!.id, atMs: T0 + 30 * MIN, actor: 'tech-wang' }]);
    const history = (await svc.get(resolved.id))!.history.find((h) => h.action === 'resolve');
    expect(history?.detail).toMatchObject({ serviceDone: true });

    await svc.onAlertChanges(raise(book, 'HM-2', 'ERR-6', T0 + HOUR));
    const fault = (await svc.list({ deviceId: 'HM-2' }))[0]!;
    await svc.acknowledge(fault.id, 'tech-wang');
    await svc.resolve(fault.id, { remedyDone: 'remote reset' }, 'tech-wang');
    expect(done).toHaveLength(1);

    await svc.onAlertChanges(raise(book, 'HM-9', 'ERR-6', T0 + HOUR));
    const serviced = (await svc.list({ deviceId: 'HM-9' }))[0]!;
    await svc.dispatch(serviced.id, 'tech-wang', 'supervisor');
    await svc.acknowledge(serviced.id, 'tech-wang');
    await svc.resolve(serviced.id, { remedyDone: 'reset and lubricated', serviceDone: true }, 'tech-wang');
    expect(done.map((d) => d.deviceId)).toEqual(['HM-1', 'HM-9']);
  });
});
