/**
 * Issue 13 #1: one poisoned record never blocks the others. A NUL in a text field makes PGlite
 * (and PostgreSQL) refuse the statement (SQLSTATE 22021), which used to fail the whole batch of
 * up to 200 alert changes — and every reconcile retry and every later start with it.
 */
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import { storeDeadLetterSink } from '../../app/store-dead-letters.ts';
import type { AlertEvent } from '../../contracts/messages.ts';
import type { Alert, AlertBook, AlertChange } from '../alert-book.ts';
import type { Db } from '../store/db.ts';
import type { StoreDeadLetter, StoreDeadLetterSink } from '../store/dead-letters.ts';
import { TicketService } from './ticket-service.ts';
import { FakeDirectory, MIN, T0, lookupDevice, newBook, pgliteStores, raise, type TestStore } from './test-support.ts';

/** A raise whose vendor (or other fields) carry what the store cannot hold. */
function hostileRaise(book: AlertBook, deviceId: string, event: Partial<AlertEvent>): AlertChange[] {
  return book.apply([{ type: 'raise', subject: 'device', subjectId: deviceId, gatewayId: 'GW-1', kind: 'household_meter', condition: 'ERR-1', severity: 'high', atMs: T0, ...event }]);
}

const quietLog = { warn: () => {} };

describe('ticket store: poisoned alert changes are isolated (PGlite)', () => {
  let store: TestStore;
  let db: Db;
  let clock: ManualClock;
  let book: AlertBook;
  let registry: Registry;
  let letters: StoreDeadLetter[];
  let sink: StoreDeadLetterSink;
  let svc: TicketService;

  const service = (database: Db = db) => new TicketService({ db: database, clock, directory: new FakeDirectory(), lookupDevice, log: quietLog, onDeadLetter: sink });
  const counted = async (reason: string): Promise<number> => {
    const metric = await registry.getSingleMetric('gas_ticket_dead_letters_total')!.get();
    return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
  };

  beforeEach(async () => {
    store = await pgliteStores.create();
    db = await store.open();
    clock = new ManualClock(T0);
    book = newBook();
    registry = new Registry();
    letters = [];
    sink = storeDeadLetterSink(registry, quietLog, (l) => letters.push(l));
    svc = service();
  });

  afterEach(async () => {
    await db.close();
    await store.dispose();
  });

  it('issue 13 #1: a NUL in one alert\'s vendor no longer costs the clean leak in the same batch its ticket', async () => {
    const poisoned = hostileRaise(book, 'HM-2', { vendor: 'ac\u0000me' });
    const leak = raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' });
    await svc.onAlertChanges([...poisoned, ...leak]);

    const [leakTicket] = await svc.list({ deviceId: 'HA-1' });
    expect(leakTicket).toMatchObject({ conditions: ['GAS_ALARM_L2'], priority: 'emergency', status: 'dispatched', assignee: 'tech-li' });
    // The poisoned alert keeps its ticket too, with its text made safe and the change flagged.
    const [bad] = await svc.list({ deviceId: 'HM-2' });
    expect(bad).toMatchObject({ vendor: 'acme', conditions: ['ERR-1'] });
    expect((await svc.get(bad!.id))!.alerts[0]!.detail).toMatchObject({ sanitised: ['vendor'] });
    expect(letters).toEqual([expect.objectContaining({ reason: 'ticket_sanitised', source: 'tickets', alertId: poisoned[0]!.alert.id, deviceId: 'HM-2' })]);
    expect(letters[0]!.message).toMatch(/0x00|UTF8/);
    expect(letters[0]!.payload).toContain('ac\\u0000me');
    expect(await counted('ticket_sanitised')).toBe(1);
  });

  it('issue 13 #1: a lone surrogate in an alert\'s detail (jsonb) is made safe the same way', async () => {
    const poisoned = hostileRaise(book, 'HM-2', { detail: { status: 'ok\ud800', nested: { deep: ['\u0007bell'] } } });
    const leak = raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' });
    await svc.onAlertChanges([...poisoned, ...leak]);
    expect(await svc.list({ deviceId: 'HA-1' })).toHaveLength(1);
    const [bad] = await svc.list({ deviceId: 'HM-2' });
    expect((await svc.get(bad!.id))!.alerts[0]!.detail).toEqual({ status: 'ok\ufffd', nested: { deep: ['bell'] }, sanitised: ['detail.status', 'detail.nested.deep[0]'] });
  });

  it('issue 13 #1: an alert the store refuses even made safe is dead-lettered once, and reconcile does not offer it again', async () => {
    const [refused] = hostileRaise(book, 'HM-2', {});
    // A subject the tickets table's CHECK refuses: nothing in its text to repair.
    const alien = { ...refused!.alert, subject: 'satellite' } as unknown as Alert;
    const leak = raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' });
    await svc.onAlertChanges([{ type: 'raised', alert: alien }, ...leak]);
    expect(await svc.list({ deviceId: 'HA-1' })).toHaveLength(1);
    expect(await svc.list({ deviceId: 'HM-2' })).toHaveLength(0);
    expect(letters.map((l) => l.reason)).toEqual(['ticket_rejected']);
    expect(letters[0]!.message).toMatch(/check constraint/);

    await expect(svc.reconcile([alien, leak[0]!.alert])).resolves.toMatchObject({ opened: 0 });
    expect(letters).toHaveLength(1);
    expect(await counted('ticket_rejected')).toBe(1);
  });

  it('issue 13 #1: a start (reconcile) with a stored alert whose id holds a NUL starts, and the next one does not dead-letter it again', async () => {
    const [change] = raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' });
    const poisonedId = { ...change!.alert, id: `${change!.alert.id}\u0000x` };
    const clean = raise(book, 'HM-1', 'ERR-2', T0)[0]!.alert;
    await expect(svc.reconcile([poisonedId, clean])).resolves.toMatchObject({ opened: 2 });
    // A leak must never lose its ticket: it is opened under the id made safe.
    const [t] = await svc.list({ deviceId: 'HA-1' });
    expect(t).toMatchObject({ priority: 'emergency' });
    expect((await svc.get(t!.id))!.alerts[0]!.alertId).toBe(`${change!.alert.id}x`);
    expect(await svc.list({ deviceId: 'HM-1' })).toHaveLength(1);
    expect(letters.map((l) => l.reason)).toEqual(['ticket_sanitised']);

    const restarted = service();
    await expect(restarted.reconcile([poisonedId, clean])).resolves.toMatchObject({ opened: 0 });
    expect(letters).toHaveLength(1);
  });

  it('issue 13 #1: a poisoned alert cleared while the store was down is reconciled without failing the start', async () => {
    const [raised] = hostileRaise(book, 'HM-2', { vendor: 'x\u0000' });
    clock.advance(MIN);
    const [cleared] = book.apply([{ type: 'clear', subject: 'device', subjectId: 'HM-2', gatewayId: 'GW-1', condition: 'ERR-1', severity: 'high', atMs: T0 + MIN }]);
    expect(cleared!.alert.id).toBe(raised!.alert.id);
    await expect(svc.reconcile([], [cleared!.alert])).resolves.toMatchObject({ cleared: 1 });
    const [t] = await svc.list({ deviceId: 'HM-2' });
    expect(t).toMatchObject({ vendor: 'x', activeConditions: [] });
    // Only the raise held the NUL; its clear goes by the alert id and is recorded as it is.
    expect(letters.map((l) => l.reason)).toEqual(['ticket_sanitised']);
  });

  it('issue 13 #1: a storm folded into an incident with one poisoned alert still tickets every alert, one by one', async () => {
    const alerts = [
      ...raise(book, 'HM-1', 'GATEWAY_OFFLINE', T0),
      ...hostileRaise(book, 'HM-2', { condition: 'GATEWAY_OFFLINE', detail: { note: 'v\u0000' } }),
      ...raise(book, 'HM-9', 'GATEWAY_OFFLINE', T0),
    ].map((c) => c.alert);
    await svc.openIncident({ subject: 'district', id: 'east' }, 'GATEWAY_OFFLINE', alerts);
    const tickets = await svc.list();
    expect(tickets.map((t) => t.subjectId).sort()).toEqual(['HM-1', 'HM-2', 'HM-9']);
    expect(letters.map((l) => l.reason)).toEqual(['ticket_sanitised']);
  });

  it('issue 13 #1: a store outage is retried, not dead-lettered: the batch fails for reconcile to repair', async () => {
    let down = true;
    const flaky: Db = {
      query: (sql, params) => db.query(sql, params),
      transaction: (work) => (down ? Promise.reject(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })) : db.transaction(work)),
      close: async () => {},
    };
    const svcDown = service(flaky);
    const leak = raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' });
    await expect(svcDown.onAlertChanges(leak)).rejects.toMatchObject({ code: '57P01' });
    expect(letters).toEqual([]);
    down = false;
    await svcDown.reconcile([leak[0]!.alert]);
    expect(await svcDown.list({ deviceId: 'HA-1' })).toHaveLength(1);
    expect(await counted('ticket_rejected')).toBe(0);
  });
});
