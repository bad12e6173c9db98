/**
 * The ticket-store suite, run against PGlite and against a real PostgreSQL (see the two
 * `ticket-store.*.test.ts` files). Every test gets its own store; time is a ManualClock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import type { AlertBook } from '../alert-book.ts';
import { parseSlaSettings } from '../sla/sla-policy.ts';
import { SlaWatch } from '../sla/sla-watch.ts';
import { conditionName } from '../catalog/messages.ts';
import type { Db } from '../store/db.ts';
import { migrate } from '../store/migrate.ts';
import { IllegalTransitionError, SafetyConditionsActiveError, TicketConflictError } from './errors.ts';
import type { Notice } from './notice.ts';
import { localTime } from './notice-text.ts';
import { TicketReports } from './reports.ts';
import { TicketService } from './ticket-service.ts';
import { DAY, FakeDirectory, HOUR, MIN, T0, clear, lookupDevice, newBook, raise, type TestStore, type TestStoreFactory } from './test-support.ts';

export function ticketStoreSuite(factory: TestStoreFactory | (() => TestStoreFactory)): void {
  let store: TestStore;
  let db: Db;
  let clock: ManualClock;
  let directory: FakeDirectory;
  let book: AlertBook;
  let svc: TicketService;
  let watch: SlaWatch;
  let notices: Notice[];
  const sla = parseSlaSettings({});

  /** Delivery states as the push dispatcher leaves them, per channel, for one notice and person. */
  const recordDeliveries = async (noticeId: string, recipientId: string, states: Record<string, string>) => {
    await db.query(`INSERT INTO push_notices (id, notice) VALUES ($1, '{}'::jsonb) ON CONFLICT (id) DO NOTHING`, [noticeId]);
    for (const [channel, status] of Object.entries(states)) {
      await db.query(
        `INSERT INTO delivery_state (notice_id, recipient_id, channel, status, updated_at) VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (notice_id, recipient_id, channel) DO UPDATE SET status = EXCLUDED.status`,
        [noticeId, recipientId, channel, status],
      );
    }
  };

  const makeService = (database: Db, settings = {}) => {
    const s = new TicketService({ db: database, clock, directory, lookupDevice, settings });
    s.onNotice((n) => notices.push(n));
    return s;
  };

  beforeEach(async (ctx) => {
    const f = typeof factory === 'function' ? factory() : factory;
    store = await f.create({ persistent: ctx.task.name.startsWith('survives a restart') });
    db = await store.open();
    clock = new ManualClock(T0);
    directory = new FakeDirectory();
    book = newBook();
    notices = [];
    svc = makeService(db);
    watch = new SlaWatch({ db, directory, settings: sla });
    watch.onNotice((n) => notices.push(n));
  });

  afterEach(async () => {
    await db.close();
    await store.dispose();
  });

  describe('store', () => {
    it('migrates once; running again, or twice at once, applies nothing new', async () => {
      const rows = await db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toContain('001');
      expect(await migrate(db)).toEqual([]);
      const second = await store.open();
      try {
        const [a, b] = await Promise.all([migrate(db), migrate(second)]);
        expect([...a, ...b]).toEqual([]);
      } finally {
        await second.close();
      }
    });

    it('rolls a failed transaction back', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO ticket_comments (ticket_id, at, author, body) SELECT 'nope', now(), 'x', 'y' WHERE false");
          await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', ['999', 'temp']);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await db.query('SELECT * FROM schema_migrations WHERE version = $1', ['999'])).toEqual([]);
    });
  });

  describe('alerts → tickets', () => {
    it('opens one ticket per device, enriched, with the manual, dispatched to the on-call technician', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-4', T0));
      const [t] = await svc.list();
      expect(t).toMatchObject({ deviceId: 'HM-1', gatewayId: 'GW-1', district: 'east', address: '东区幸福路 1 号 101', customer: '张三', lat: 31.2304, lon: 121.4737, conditions: ['ERR-4'], priority: 'normal', status: 'dispatched', assignee: 'tech-wang' });
      expect(t!.manual[0]!.cause['zh-CN']).toContain('死表');
      expect(t!.slaDueAt).toBe(new Date(T0 + 2 * HOUR).toISOString());
      const dispatched = notices.filter((n) => n.kind === 'ticket.dispatched');
      expect(dispatched).toHaveLength(1);
      expect(dispatched[0]!.recipients).toEqual(['tech-wang']);
      expect(dispatched[0]!.title['zh-CN']).toMatch(/^【普通】/);
      expect(dispatched[0]!.body.en).toContain('Remedy');
    });

    it('gathers further conditions on the open ticket and raises the priority to the worst', async () => {
      await svc.onAlertChanges(raise(book, 'HA-1', 'SENSOR_FAULT', T0, { kind: 'home_gas_alarm', severity: 'medium' }));
      await svc.onAlertChanges(raise(book, 'HA-1', 'GAS_ALARM_L2', T0 + MIN, { kind: 'home_gas_alarm', severity: 'critical' }));
      const list = await svc.list({ deviceId: 'HA-1' });
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ conditions: ['SENSOR_FAULT', 'GAS_ALARM_L2'], activeConditions: ['SENSOR_FAULT', 'GAS_ALARM_L2'], priority: 'emergency' });
      expect(list[0]!.manual[0]!.condition).toBe('GAS_ALARM_L2');
    });

    it('applies a storm of changes in batches: 450 devices, 450 tickets, each alert linked once', async () => {
      const changes = Array.from({ length: 450 }, (_, i) => raise(book, `HM-S${i}`, 'ERR-1', T0)).flat();
      await svc.onAlertChanges(changes);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tickets'))[0]!.n).toBe(450);
      expect((await db.query<{ n: number }>('SELECT count(DISTINCT alert_id)::int AS n FROM ticket_alerts'))[0]!.n).toBe(450);
      expect(notices.filter((n) => n.kind === 'ticket.dispatched')).toHaveLength(0); // no district: escalated instead
      expect(notices.filter((n) => n.kind === 'ticket.escalated')).toHaveLength(450);
    });

    it('folds a storm into one incident on the gateway: devices listed, alerts kept, one push with the count; a device with its own ticket keeps its alert', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      const storm = [...raise(book, 'HM-1', 'POWER_LOST', T0 + MIN), ...Array.from({ length: 60 }, (_, i) => raise(book, `HA-S${i}`, 'POWER_LOST', T0 + MIN, { kind: 'home_gas_alarm', severity: 'medium' })).flat()];
      notices.length = 0;
      await svc.openIncident({ subject: 'gateway', id: 'GW-1' }, 'POWER_LOST', storm.map((c) => c.alert));
      await svc.openIncident({ subject: 'gateway', id: 'GW-1' }, 'POWER_LOST', storm.map((c) => c.alert)); // replayed: nothing new
      const incident = (await svc.list()).find((t) => t.subject === 'gateway')!;
      expect(incident).toMatchObject({ subjectId: 'GW-1', district: 'east', conditions: ['POWER_LOST'], status: 'dispatched', assignee: 'tech-wang' });
      expect(incident.devices).toHaveLength(60);
      expect(incident.devices).not.toContain('HM-1');
      const detail = await svc.get(incident.id);
      expect(detail!.alerts).toHaveLength(60);
      expect(detail!.history.filter((e) => e.action === 'incident')).toHaveLength(1);
      const own = (await svc.list({ deviceId: 'HM-1' }))[0]!;
      expect(own.conditions).toEqual(['ERR-1', 'POWER_LOST']);
      const pushed = notices.filter((n) => n.kind === 'ticket.dispatched');
      expect(pushed).toHaveLength(1);
      expect(pushed[0]!.body['zh-CN']).toContain('网关 GW-1（60 台设备）');
      // Every folded device clearing marks the incident normal again.
      for (let i = 0; i < 60; i++) await svc.onAlertChanges(clear(book, `HA-S${i}`, 'POWER_LOST', T0 + 2 * MIN));
      expect((await svc.get(incident.id))!.deviceNormalAt).toBe(new Date(T0 + 2 * MIN).toISOString());
    });

    it('folds a district storm across gateways into one district incident: no single device address, routed to the district technician on call', async () => {
      const storm = book.apply(Array.from({ length: 30 }, (_, i) => ({ type: 'raise' as const, subject: 'device' as const, subjectId: `HA-D${i}`, gatewayId: `GW-D${i % 15}`, kind: 'home_gas_alarm' as const, condition: 'POWER_LOST' as const, severity: 'medium' as const, atMs: T0 })));
      notices.length = 0;
      await svc.openIncident({ subject: 'district', id: 'east' }, 'POWER_LOST', storm.map((c) => c.alert));
      const [incident] = await svc.list();
      expect(incident).toMatchObject({ subject: 'district', subjectId: 'east', district: 'east', deviceId: null, gatewayId: null, address: null, customer: null, lat: null, lon: null, status: 'dispatched', assignee: 'tech-wang' });
      expect(incident!.devices).toHaveLength(30);
      expect((await svc.get(incident!.id))!.alerts).toHaveLength(30);
      expect((await svc.list({ deviceId: 'HA-D7' })).map((t) => t.id)).toEqual([incident!.id]);
      const pushed = notices.filter((n) => n.kind === 'ticket.dispatched');
      expect(pushed).toHaveLength(1);
      expect(pushed[0]!.body['zh-CN']).toContain('片区 east（30 台设备）');
    });

    it('a ticket whose leak the safety lane already pushed takes that push as its dispatch: the technician is called once', async () => {
      const changes = raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' });
      const lane = new TicketService({ db, clock, directory, lookupDevice, priorAlarm: (ids) => (ids.includes(changes[0]!.alert.id) ? { notice: { id: 'alarm:X' }, recipients: ['tech-li'], atMs: T0 } : undefined) });
      const seen: Notice[] = [];
      lane.onNotice((n) => seen.push(n));
      await lane.onAlertChanges(changes);
      const [t] = await lane.list();
      expect(t).toMatchObject({ status: 'dispatched', assignee: 'tech-li', priority: 'emergency' });
      expect(seen).toEqual([]);
      expect(await db.query('SELECT id, kind FROM ticket_notices')).toEqual([{ id: 'alarm:X', kind: 'ticket.dispatched' }]);
      // Another technician on call by now: the ticket's own dispatch goes out to them.
      directory.technicians.set('west', 'tech-wang');
      await lane.onAlertChanges(raise(book, 'HA-1', 'VALVE_NOT_CUT', T0, { kind: 'home_gas_alarm', severity: 'critical' }));
      expect(seen).toEqual([]); // added to the open ticket: no new dispatch
    });

    it('is idempotent by alert id: duplicate changes and a replay give one ticket and one alert link', async () => {
      const changes = raise(book, 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', T0);
      await Promise.all([svc.onAlertChanges(changes), svc.onAlertChanges(changes), svc.openTicketFor(changes[0]!.alert)]);
      await svc.onAlertChanges(changes);
      const list = await svc.list();
      expect(list).toHaveLength(1);
      expect(list[0]!.priority).toBe('urgent');
      const detail = await svc.get(list[0]!.id);
      expect(detail!.alerts).toHaveLength(1);
      expect(detail!.history.filter((e) => e.action === 'open')).toHaveLength(1);
      expect(notices.filter((n) => n.kind === 'ticket.dispatched')).toHaveLength(1);
    });

    it('two processes applying the same alerts at once make one ticket with both alerts', async () => {
      const other = await store.open();
      try {
        const svc2 = makeService(other);
        const changes = [...raise(book, 'HM-1', 'ERR-1', T0), ...raise(book, 'HM-1', 'ERR-3', T0)];
        await Promise.all([svc.onAlertChanges(changes), svc2.onAlertChanges(changes), svc2.onAlertChanges(changes)]);
        const list = await svc.list();
        expect(list).toHaveLength(1);
        expect((await svc.get(list[0]!.id))!.alerts.map((a) => a.condition).sort()).toEqual(['ERR-1', 'ERR-3']);
        expect(notices.filter((n) => n.kind === 'ticket.dispatched')).toHaveLength(1);
      } finally {
        await other.close();
      }
    });

    it('survives a restart: replaying the alerts on the same store opens nothing new; an alert missed before the crash gets its ticket', async () => {
      const first = raise(book, 'HM-1', 'ERR-1', T0);
      await svc.onAlertChanges(first);
      const missed = raise(book, 'HM-2', 'ERR-3', T0 + MIN); // applied to the book, never reached the ticket service
      await db.close();

      db = await store.open();
      svc = makeService(db);
      const result = await svc.reconcile(book.active());
      expect(result.opened).toBe(1);
      await svc.onAlertChanges(first);
      await svc.reconcile(book.active());
      const list = await svc.list();
      expect(list.map((t) => t.deviceId).sort()).toEqual(['HM-1', 'HM-2']);
      expect(missed).toHaveLength(1);
    });

    it('gives a fault raised and cleared while the store was down its ticket on reconcile, marked normal again', async () => {
      raise(book, 'HM-3', 'ERR-2', T0);
      clear(book, 'HM-3', 'ERR-2', T0 + 2 * MIN); // neither change reached the ticket service
      const result = await svc.reconcile(book.active(), book.query({ state: 'cleared', limit: 1000 }));
      expect(result.opened).toBe(1);
      const [t] = await svc.list({ deviceId: 'HM-3' });
      expect(t).toMatchObject({ conditions: ['ERR-2'], activeConditions: [], deviceNormalAt: new Date(T0 + 2 * MIN).toISOString() });
      await svc.reconcile(book.active(), book.query({ state: 'cleared', limit: 1000 }));
      expect(await svc.list({ deviceId: 'HM-3' })).toHaveLength(1);
    });

    it('opens one gateway ticket listing the devices behind it', async () => {
      const detail = { reason: 'last_will', deviceCount: 2, devices: ['HM-1', 'HM-2'] };
      await svc.onAlertChanges(raise(book, 'GW-1', 'GATEWAY_OFFLINE', T0, { gateway: true, detail }));
      const [t] = await svc.list();
      expect(t).toMatchObject({ subject: 'gateway', subjectId: 'GW-1', deviceId: null, gatewayId: 'GW-1', devices: ['HM-1', 'HM-2'], conditions: ['GATEWAY_OFFLINE'], district: 'east' });
      expect((await svc.list({ deviceId: 'HM-2' })).map((x) => x.id)).toEqual([t!.id]);
    });

    it('turns LOW_BALANCE and NO_BALANCE into customer notices, once each, never tickets', async () => {
      const low = raise(book, 'HM-1', 'LOW_BALANCE', T0, { severity: 'info' });
      await svc.onAlertChanges(low);
      await svc.onAlertChanges(low);
      await svc.onAlertChanges(raise(book, 'HM-1', 'NO_BALANCE', T0 + HOUR, { severity: 'info' }));
      await svc.onAlertChanges(clear(book, 'HM-1', 'LOW_BALANCE', T0 + 2 * HOUR));
      expect(await svc.list()).toEqual([]);
      const cn = await svc.customerNotices('HM-1');
      expect(cn).toHaveLength(2);
      expect(cn.find((c) => c.condition === 'LOW_BALANCE')!.resolved_at).not.toBeNull();
      const pushed = notices.filter((n) => n.kind === 'customer.notice');
      expect(pushed).toHaveLength(2);
      expect(pushed[0]!.recipients).toEqual(['customer:张三']);
    });

    it('records device-normal when every condition clears, but the ticket stays open for a person to resolve', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      await svc.onAlertChanges(raise(book, 'HM-1', 'LOW_BATTERY', T0 + MIN, { severity: 'medium' }));
      await svc.onAlertChanges(clear(book, 'HM-1', 'ERR-1', T0 + 2 * MIN));
      let [t] = await svc.list();
      expect(t!.activeConditions).toEqual(['LOW_BATTERY']);
      expect(t!.deviceNormalAt).toBeNull();
      await svc.onAlertChanges(clear(book, 'HM-1', 'LOW_BATTERY', T0 + 3 * MIN));
      [t] = await svc.list();
      expect(t).toMatchObject({ status: 'dispatched', activeConditions: [], deviceNormalAt: new Date(T0 + 3 * MIN).toISOString() });
      const d = await svc.get(t!.id);
      expect(d!.history.map((e) => e.action)).toEqual(['open', 'dispatch', 'condition_added', 'condition_cleared', 'condition_cleared', 'device_normal']);
    });

    it('links a fault recurring within the repeat window to the earlier resolved ticket; not after it', async () => {
      svc = makeService(db, { repeatWindowMs: 2 * DAY });
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-6', T0));
      const [first] = await svc.list();
      await svc.acknowledge(first!.id, 'tech-wang');
      await svc.arriveOnSite(first!.id, 'tech-wang');
      await svc.onAlertChanges(clear(book, 'HM-1', 'ERR-6', T0 + HOUR));
      clock.set(T0 + HOUR);
      await svc.resolve(first!.id, { remedyDone: '更换干簧管', partsUsed: [{ part: 'reed switch', qty: 1 }] }, 'tech-wang');

      clock.set(T0 + DAY);
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-6', T0 + DAY));
      const second = (await svc.list({ status: 'dispatched' }))[0]!;
      expect(second.id).not.toBe(first!.id);
      expect(second.repeatOf).toBe(first!.id);

      await svc.acknowledge(second.id, 'tech-wang');
      await svc.resolve(second.id, { remedyDone: 'remote reset' }, 'tech-wang');
      await svc.onAlertChanges(clear(book, 'HM-1', 'ERR-6', T0 + DAY + MIN));
      clock.set(T0 + 5 * DAY);
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-6', T0 + 5 * DAY));
      const third = (await svc.list({ status: 'dispatched' }))[0]!;
      expect(third.repeatOf).toBeNull();
    });

    it('leaves a ticket opened and escalates to the supervisor when nobody is on call', async () => {
      await svc.onAlertChanges(raise(book, 'HM-9', 'ERR-1', T0));
      const [t] = await svc.list();
      expect(t).toMatchObject({ status: 'opened', assignee: null, district: 'north', escalationStep: 2 });
      const esc = notices.filter((n) => n.kind === 'ticket.escalated');
      expect(esc.map((n) => n.recipients)).toEqual([['sup-zhao']]);
      clock.advance(5 * MIN);
      const r = await watch.check(clock.now());
      expect(r.escalations).toEqual([]);
      expect(r.breaches).toEqual([]);
      clock.advance(MIN);
      const r2 = await watch.check(clock.now());
      expect(r2.breaches.map((b) => b.clock)).toEqual(['dispatch']);
      // A normal ticket reaches the director only once its 2 h acknowledge limit has passed.
      clock.set(T0 + 2 * HOUR);
      expect((await watch.check(clock.now())).escalations).toEqual([]);
      clock.advance(MIN);
      expect((await watch.check(clock.now())).escalations.map((e) => [e.level, e.target])).toEqual([['director', 'dir-qian']]);
    });

    it('dispatches a ticket opened while nobody was on call at the next shift start (tickets opened with nobody on call were never dispatched later)', async () => {
      await svc.onAlertChanges(raise(book, 'HM-9', 'VALVE_CLOSED_LOW_BATTERY', T0));
      expect(await svc.dispatchWaiting()).toEqual([]); // still nobody on call in the north
      const [waiting] = await svc.list();
      expect(waiting).toMatchObject({ status: 'opened', assignee: null });
      notices.length = 0;
      // 09:00: the day shift covers the north.
      clock.advance(4 * HOUR);
      directory.technicians.set('north', 'tech-li');
      expect(await svc.dispatchWaiting()).toEqual([waiting!.id]);
      expect(await svc.get(waiting!.id)).toMatchObject({ status: 'dispatched', assignee: 'tech-li' });
      expect(notices.filter((n) => n.kind === 'ticket.dispatched').map((n) => n.recipients)).toEqual([['tech-li']]);
      // Once dispatched it is not taken again.
      expect(await svc.dispatchWaiting()).toEqual([]);
    });
  });

  describe('lifecycle', () => {
    /** A ticket whose fault the device has reported cleared (so it may be cancelled). */
    async function openOne(): Promise<string> {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      await svc.onAlertChanges(clear(book, 'HM-1', 'ERR-1', T0));
      return (await svc.list())[0]!.id;
    }

    it('refuses to resolve a ticket while its leak is active (a closed ticket with a live gas alarm); a supervisor override with a reason is recorded', async () => {
      const leak = [
        ...raise(book, 'HA-1', 'GAS_ALARM_L1', T0, { kind: 'home_gas_alarm', severity: 'high' }),
        ...raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' }),
        ...raise(book, 'HA-1', 'ERR-1', T0, { kind: 'home_gas_alarm' }),
      ];
      await svc.onAlertChanges(leak);
      const [t] = await svc.list();
      await svc.acknowledge(t!.id, 'tech-li');
      await svc.arriveOnSite(t!.id, 'tech-li');
      const refused = svc.resolve(t!.id, { remedyDone: '关闭阀门' }, 'tech-li');
      await expect(refused).rejects.toBeInstanceOf(SafetyConditionsActiveError);
      await expect(refused).rejects.toMatchObject({ code: 'GAS_TICKET_SAFETY_ACTIVE', conditions: ['GAS_ALARM_L1', 'GAS_ALARM_L2'] });
      expect((await svc.get(t!.id))!.status).toBe('on_site');
      // L2 clears, L1 still active: still refused.
      await svc.onAlertChanges(clear(book, 'HA-1', 'GAS_ALARM_L2', T0 + MIN));
      await expect(svc.resolve(t!.id, { remedyDone: '关闭阀门' }, 'tech-li')).rejects.toMatchObject({ conditions: ['GAS_ALARM_L1'] });
      // A supervisor decides: recorded with who, why and what was still active.
      const over = await svc.resolve(t!.id, { remedyDone: '关闭阀门', overrideReason: '探测器损坏，现场复测无泄漏' }, 'sup-zhao');
      expect(over.status).toBe('resolved');
      const resolveEvent = (await svc.get(t!.id))!.history.find((e) => e.action === 'resolve')!;
      expect(resolveEvent.detail).toMatchObject({ safetyOverride: { by: 'sup-zhao', reason: '探测器损坏，现场复测无泄漏', activeConditions: ['GAS_ALARM_L1'] } });
      // Once the leak is gone a technician resolves as usual; a non-safety condition never blocks.
      await svc.onAlertChanges([...raise(book, 'HM-2', 'GAS_ALARM_L1', T0, { severity: 'high' }), ...raise(book, 'HM-2', 'ERR-1', T0)]);
      const second = (await svc.list({ deviceId: 'HM-2' }))[0]!;
      await svc.acknowledge(second.id, 'tech-wang');
      await svc.onAlertChanges(clear(book, 'HM-2', 'GAS_ALARM_L1', T0 + MIN));
      expect((await svc.resolve(second.id, { remedyDone: '通风，复测正常' }, 'tech-wang')).status).toBe('resolved');
    });

    it('moves a condition still active at close to a new ticket linked to it (issue 12 #1: a closed ticket kept its live gas alarm and publishing 70 %LEL again opened nothing)', async () => {
      await svc.onAlertChanges([...raise(book, 'HA-1', 'GAS_ALARM_L1', T0, { kind: 'home_gas_alarm', severity: 'high' }), ...raise(book, 'HA-1', 'ERR-1', T0, { kind: 'home_gas_alarm' })]);
      const [t] = await svc.list();
      await svc.acknowledge(t!.id, 'tech-li');
      await svc.resolve(t!.id, { remedyDone: '更换探测器', overrideReason: '探测器损坏' }, 'sup-zhao');
      clock.advance(HOUR);
      await svc.followUp(t!.id, { satisfied: true }, 'cs-sun');
      const closed = (await svc.get(t!.id))!;
      expect(closed).toMatchObject({ status: 'closed', activeConditions: [] });
      expect(closed.history.map((e) => e.action)).toContain('carried_over');
      const [next] = await svc.list({ deviceId: 'HA-1', status: 'dispatched' });
      expect(next).toMatchObject({ repeatOf: t!.id, assignee: 'tech-li', priority: 'urgent', lat: 31.2201, lon: 121.4412 });
      expect(next!.activeConditions.sort()).toEqual(['ERR-1', 'GAS_ALARM_L1']);
      expect(notices.filter((n) => n.kind === 'ticket.dispatched' && n.ticketId === next!.id)).toHaveLength(1);
      // Nor can it be cancelled while the device still reports them; once cleared it can.
      await expect(svc.cancel(next!.id, '重复工单', 'op-zhou')).rejects.toMatchObject({ code: 'GAS_TICKET_CONDITIONS_ACTIVE', conditions: ['ERR-1', 'GAS_ALARM_L1'] });
      await svc.onAlertChanges([...clear(book, 'HA-1', 'GAS_ALARM_L1', clock.now()), ...clear(book, 'HA-1', 'ERR-1', clock.now())]);
      await svc.cancel(next!.id, '已恢复', 'op-zhou');
      expect(await svc.list({ deviceId: 'HA-1', status: ['opened', 'dispatched'] })).toEqual([]);
    });

    it('pushes again at once when a worse fault raises the priority, the worst condition first (every push carries the ticket\'s current worst condition and priority)', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      const [t] = await svc.list();
      await svc.acknowledge(t!.id, 'tech-wang');
      notices.length = 0;
      clock.advance(MIN);
      await svc.onAlertChanges(raise(book, 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', clock.now()));
      expect(notices.map((n) => [n.kind, n.recipients, n.priority])).toEqual([['ticket.priority_raised', ['tech-wang'], 'urgent']]);
      expect(notices[0]!.title['zh-CN']).toMatch(/^【加急】/);
      const title = notices[0]!.title['zh-CN'];
      expect(title.indexOf(conditionName('VALVE_CLOSED_LOW_BATTERY')['zh-CN'])).toBeGreaterThan(-1);
      expect(title.indexOf(conditionName('VALVE_CLOSED_LOW_BATTERY')['zh-CN'])).toBeLessThan(title.indexOf(conditionName('ERR-1')['zh-CN']));
      // No second push for a fault that raises nothing, nor for a leak (the safety lane pushed it already).
      notices.length = 0;
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-4', clock.now()));
      await svc.onAlertChanges(raise(book, 'HM-1', 'GAS_ALARM_L2', clock.now(), { severity: 'critical' }));
      expect(notices).toEqual([]);
      expect((await svc.get(t!.id))!.priority).toBe('emergency');
    });

    it('keeps a flapping leak active on its one ticket when the engine reopens its alert (the ticket recorded the device normal at the first clear)', async () => {
      const first = raise(book, 'HA-1', 'GAS_ALARM_L1', T0, { kind: 'home_gas_alarm' });
      await svc.onAlertChanges(first);
      await svc.onAlertChanges(clear(book, 'HA-1', 'GAS_ALARM_L1', T0 + MIN));
      const [t] = await svc.list();
      expect((await svc.get(t!.id))!.deviceNormalAt).not.toBeNull();
      const again = raise(book, 'HA-1', 'GAS_ALARM_L1', T0 + 2 * MIN, { kind: 'home_gas_alarm', detail: { flapping: true, changes: 3 } });
      expect(again[0]!.alert.id).toBe(first[0]!.alert.id);
      await svc.onAlertChanges(again);
      const d = (await svc.get(t!.id))!;
      expect(d).toMatchObject({ activeConditions: ['GAS_ALARM_L1'], deviceNormalAt: null });
      expect(d.history.map((e) => e.action)).toContain('condition_reraised');
      expect(await svc.list()).toHaveLength(1);
      // Stable again: one clear, the device normal.
      await svc.onAlertChanges(clear(book, 'HA-1', 'GAS_ALARM_L1', T0 + 20 * MIN));
      expect((await svc.get(t!.id))!.activeConditions).toEqual([]);
    });

    it('walks opened → dispatched → acknowledged → on site → resolved → followed up → closed, with an audit trail', async () => {
      svc = makeService(db, { autoDispatch: false });
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      const id = (await svc.list())[0]!.id;
      expect((await svc.get(id))!.status).toBe('opened');
      clock.advance(MIN);
      await svc.dispatch(id, 'tech-li', 'op-1');
      await svc.dispatch(id, 'tech-wang', 'op-1'); // reassign
      clock.advance(MIN);
      await svc.acknowledge(id, 'tech-wang');
      clock.advance(10 * MIN);
      await svc.arriveOnSite(id, 'tech-wang');
      await svc.comment(id, '用户不在家，已电话联系', 'tech-wang');
      clock.advance(30 * MIN);
      const resolved = await svc.resolve(id, { remedyDone: '更换防磁干簧管，维修卡清除', partsUsed: [{ part: '防磁干簧管', qty: 1 }], notes: 'ok' }, 'tech-wang');
      expect(resolved).toMatchObject({ status: 'resolved', remedyDone: '更换防磁干簧管，维修卡清除', partsUsed: [{ part: '防磁干簧管', qty: 1 }] });
      expect(resolved.followUpDueAt).toBe(new Date(clock.now() + 3 * DAY).toISOString());
      expect(resolved.slaDueAt).toBe(resolved.followUpDueAt);
      await svc.onAlertChanges(clear(book, 'HM-1', 'ERR-1', clock.now()));
      clock.advance(DAY);
      const closed = await svc.followUp(id, { satisfied: true, notes: '满意' }, 'cs-1');
      expect(closed).toMatchObject({ status: 'closed', satisfaction: 'satisfied', slaDueAt: null });
      const d = (await svc.get(id))!;
      expect(d.history.map((e) => [e.action, e.actor, e.toStatus])).toEqual([
        ['open', 'system', 'opened'],
        ['dispatch', 'op-1', 'dispatched'],
        ['dispatch', 'op-1', 'dispatched'],
        ['acknowledge', 'tech-wang', 'acknowledged'],
        ['arrive_on_site', 'tech-wang', 'on_site'],
        ['comment', 'tech-wang', 'on_site'],
        ['resolve', 'tech-wang', 'resolved'],
        ['condition_cleared', 'device', 'resolved'],
        ['device_normal', 'device', 'resolved'],
        ['follow_up_satisfied', 'cs-1', 'closed'],
        ['close', 'cs-1', 'closed'],
      ]);
      expect(d.history[3]!.at).toBe(new Date(T0 + 2 * MIN).toISOString());
      expect(d.comments.map((c) => c.body)).toEqual(['用户不在家，已电话联系']);
    });

    it('refuses illegal transitions with GAS_TICKET_ILLEGAL_TRANSITION and changes nothing', async () => {
      const id = await openOne();
      const illegal: Array<() => Promise<unknown>> = [
        () => svc.arriveOnSite(id, 'x'),
        () => svc.resolve(id, { remedyDone: 'x' }, 'x'),
        () => svc.followUp(id, { satisfied: true }, 'x'),
        () => svc.reopen(id, 'x', 'x'),
      ];
      for (const act of illegal) {
        const err = await act().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(IllegalTransitionError);
        expect((err as IllegalTransitionError).code).toBe('GAS_TICKET_ILLEGAL_TRANSITION');
      }
      await svc.cancel(id, 'duplicate report', 'op-1');
      await expect(svc.acknowledge(id, 'x')).rejects.toMatchObject({ code: 'GAS_TICKET_ILLEGAL_TRANSITION' });
      await expect(svc.acknowledge('T999999', 'x')).rejects.toMatchObject({ code: 'GAS_TICKET_NOT_FOUND' });
      const d = (await svc.get(id))!;
      expect(d.status).toBe('cancelled');
      expect(d.history.map((e) => e.action)).toEqual(['open', 'dispatch', 'condition_cleared', 'device_normal', 'cancel']);
    });

    it('unsatisfied follow-up sends it back to the same technician with fresh clocks', async () => {
      const id = await openOne();
      await svc.acknowledge(id, 'tech-wang');
      await svc.arriveOnSite(id, 'tech-wang');
      await svc.resolve(id, { remedyDone: 'x' }, 'tech-wang');
      clock.advance(DAY);
      const back = await svc.followUp(id, { satisfied: false, notes: '还是报错' }, 'cs-1');
      expect(back).toMatchObject({ status: 'dispatched', assignee: 'tech-wang', round: 1, resolvedAt: null, acknowledgedAt: null, satisfaction: 'unsatisfied' });
      expect(back.slaDueAt).toBe(new Date(clock.now() + 2 * HOUR).toISOString());
      const reopened = notices.filter((n) => n.kind === 'ticket.reopened');
      expect(reopened.map((n) => n.recipients)).toEqual([['tech-wang']]);
      await svc.acknowledge(id, 'tech-wang');
    });

    it('reopens a cancelled ticket, unless the device already has a newer open ticket', async () => {
      const id = await openOne();
      await svc.cancel(id, 'x', 'op');
      expect((await svc.reopen(id, 'not a duplicate', 'op')).status).toBe('dispatched');
      await svc.cancel(id, 'x', 'op');
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-3', T0 + MIN));
      expect((await svc.noticesSince(T0)).map((n) => n.kind)).toEqual(['ticket.dispatched', 'ticket.reopened', 'ticket.dispatched']);
      await expect(svc.reopen(id, 'y', 'op')).rejects.toBeInstanceOf(TicketConflictError);
    });

    it('lists by status, assignee, district and priority', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      await svc.onAlertChanges(raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' }));
      expect((await svc.list({ assignee: 'tech-li' })).map((t) => t.deviceId)).toEqual(['HA-1']);
      expect((await svc.list({ district: 'east' })).map((t) => t.deviceId)).toEqual(['HM-1']);
      expect((await svc.list({ priority: ['emergency', 'urgent'] })).map((t) => t.deviceId)).toEqual(['HA-1']);
      expect(await svc.list({ status: 'closed' })).toEqual([]);
      expect(await svc.list({ limit: 1 })).toHaveLength(1);
    });

    it('links every push to its ticket on the console hash route (the "打开工单 Open ticket" link was a 404)', async () => {
      svc = makeService(db, { appUrl: 'https://gas.example.cn/console/' });
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      const [t] = await svc.list();
      expect(notices.find((n) => n.kind === 'ticket.dispatched')?.url).toBe(`https://gas.example.cn/console/#/tickets/${t!.id}`);
    });

    it('writes times in pushes in local time, Asia/Shanghai by default (times in pushes were UTC ISO)', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      const [t] = await svc.list();
      const body = notices.find((n) => n.kind === 'ticket.dispatched')!.body;
      expect(body['zh-CN']).toContain(`时限：${localTime(t!.slaDueAt!)}`);
      expect(body['zh-CN']).not.toContain(t!.slaDueAt!);
      // The defect's own example: 21:16 UTC is 05:16 the next morning in Shanghai.
      expect(localTime('2026-12-04T21:16:08Z')).toBe('2026-12-05 05:16 (Asia/Shanghai)');
      expect(localTime('2026-12-04T21:16:08Z', 'UTC')).toBe('2026-12-04 21:16 (UTC)');
    });

    it('orders by urgency, then SLA due time (the technician list sorted by newest hid an older emergency below nine routine tickets)', async () => {
      await svc.onAlertChanges([...raise(book, 'HM-1', 'GAS_ALARM_L2', T0, { severity: 'critical' })]);
      for (let i = 0; i < 9; i++) {
        clock.advance(MIN);
        book.apply([{ type: 'raise', subject: 'device', subjectId: `HM-R${i}`, gatewayId: 'GW-1', kind: 'household_meter', condition: 'ERR-1', severity: 'medium', atMs: clock.now() }]);
      }
      await svc.reconcile(book.active());
      for (const t of await svc.list({ priority: 'normal' })) await svc.dispatch(t.id, 'tech-wang', 'op');
      await svc.onAlertChanges(raise(book, 'HM-2', 'VALVE_CLOSED_LOW_BATTERY', clock.now()));
      const newest = (await svc.list({ assignee: 'tech-wang' })).map((t) => t.deviceId);
      expect(newest[0]).toBe('HM-2');
      expect(newest.at(-1)).toBe('HM-1');
      const urgent = await svc.list({ assignee: 'tech-wang', order: 'urgency' });
      expect(urgent.map((t) => t.priority)).toEqual(['emergency', 'urgent', ...Array(9).fill('normal')]);
      expect(urgent[0]!.deviceId).toBe('HM-1');
      // Within one priority, the earliest SLA due first.
      const dues = urgent.slice(2).map((t) => Date.parse(t.slaDueAt!));
      expect(dues).toEqual([...dues].sort((a, b) => a - b));
    });
  });

  describe('SLA and escalation', () => {
    it('routes a reopened ticket that was never assigned', async () => {
      svc = makeService(db, { autoDispatch: false });
      await svc.onAlertChanges(raise(book, 'HM-2', 'ERR-1', T0));
      const id = (await svc.list())[0]!.id;
      await expect(svc.cancel(id, 'x', 'op')).rejects.toMatchObject({ code: 'GAS_TICKET_CONDITIONS_ACTIVE', conditions: ['ERR-1'] });
      await svc.onAlertChanges(clear(book, 'HM-2', 'ERR-1', T0));
      await svc.cancel(id, 'x', 'op');
      svc = makeService(db);
      expect(await svc.reopen(id, 'needed after all', 'op')).toMatchObject({ status: 'dispatched', assignee: 'tech-wang', round: 1 });
    });

    it('records each breach once and escalates technician → repeat → supervisor → director, then keeps paging the director up to the cap (issue 12 #4: after the director nothing repeated, so an unacknowledged emergency fell silent)', async () => {
      await svc.onAlertChanges(raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' }));
      const id = (await svc.list())[0]!.id;
      notices.length = 0;
      const steps: string[] = [];
      for (let i = 0; i < 12; i++) {
        clock.advance(5 * MIN);
        const r = await watch.check(clock.now());
        steps.push(...r.escalations.map((e) => `${e.level}:${e.target}`));
        // Due at exactly 5 min is not yet late; at 10 min it is, and it is recorded once.
        if (i === 0) expect(r.breaches).toEqual([]);
        if (i === 1) expect(r.breaches.map((b) => b.clock)).toEqual(['acknowledge']);
        if (i > 1) expect(r.breaches.filter((b) => b.clock === 'acknowledge')).toEqual([]);
      }
      const cap = sla.escalation.topRepeats;
      expect(steps).toEqual(['repeat:tech-li', 'supervisor:sup-zhao', ...Array<string>(1 + cap).fill('director:dir-qian')]);
      clock.advance(HOUR);
      expect((await watch.check(clock.now())).escalations).toEqual([]);
      const d = (await svc.get(id))!;
      expect(d.breaches.map((b) => b.clock)).toContain('acknowledge');
      expect(d.escalations.map((e) => [e.level, e.reason]).slice(0, 4)).toEqual([
        ['repeat', 'no_ack'],
        ['supervisor', 'sla_breach:acknowledge'],
        ['supervisor', 'no_ack'],
        ['director', 'no_ack'],
      ]);
      const breach = notices.find((n) => n.kind === 'ticket.sla_breached')!;
      expect(breach.recipients).toEqual(['tech-li', 'sup-zhao']);
      expect(breach.title['zh-CN']).toContain('接单超时');
      expect(notices.filter((n) => n.kind === 'ticket.escalated').map((n) => n.recipients[0])).toEqual(['tech-li', 'sup-zhao', ...Array<string>(1 + cap).fill('dir-qian')]);
    });

    it('escalates by the priority\'s own gap and never pages the director for a low ticket inside its 24 h acknowledge limit (issue 12 #4: every unacknowledged ticket paged the director after 15 minutes)', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0, { severity: 'low' }));
      const t = (await svc.list())[0]!;
      expect(t.priority).toBe('low');
      const at: Array<[number, string]> = [];
      for (let m = 0; m <= 30 * 60; m += 15) {
        clock.set(T0 + m * MIN);
        for (const e of (await watch.check(clock.now())).escalations) at.push([m / 60, e.level]);
      }
      // Low: a 2 h gap; the supervisor at 4 h; the director only once the 24 h limit has passed.
      expect(at.slice(0, 3)).toEqual([
        [2, 'repeat'],
        [4, 'supervisor'],
        [24.25, 'director'],
      ]);
      expect(at.slice(3).every(([, level]) => level === 'director')).toBe(true);
      // A normal ticket with the same settings: a 30 min gap, the director after its 2 h limit.
      await svc.onAlertChanges(raise(book, 'HM-2', 'ERR-1', clock.now()));
      const start = clock.now();
      const normal: Array<[number, string]> = [];
      for (let m = 15; m <= 180; m += 15) {
        clock.set(start + m * MIN);
        for (const e of (await watch.check(clock.now())).escalations) if (e.ticketId !== t.id) normal.push([m, e.level]);
      }
      expect(normal.slice(0, 3)).toEqual([
        [30, 'repeat'],
        [60, 'supervisor'],
        [135, 'director'],
      ]);
    });

    it('stops at the supervisor for a priority whose top level is the supervisor, repeating there', async () => {
      watch.updateSettings(parseSlaSettings({ escalation: { topLevel: { normal: 'supervisor' }, topRepeats: 2 } }));
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      const levels: string[] = [];
      for (let i = 0; i < 12; i++) {
        clock.advance(30 * MIN);
        levels.push(...(await watch.check(clock.now())).escalations.map((e) => `${e.level}:${e.target}`));
      }
      expect(levels).toEqual(['repeat:tech-wang', 'supervisor:sup-zhao', 'supervisor:sup-zhao', 'supervisor:sup-zhao']);
    });

    it('stops escalating once acknowledged', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'VALVE_CLOSED_LOW_BATTERY', T0));
      const id = (await svc.list())[0]!.id;
      clock.advance(5 * MIN);
      expect((await watch.check(clock.now())).escalations.map((e) => e.level)).toEqual(['repeat']);
      await svc.acknowledge(id, 'tech-wang');
      clock.advance(HOUR);
      expect((await watch.check(clock.now())).escalations).toEqual([]);
      expect((await svc.get(id))!.escalations.map((e) => e.level)).toEqual(['repeat']);
    });

    it('counts a stage reached late as a breach, and the follow-up 3 days after resolve', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      const id = (await svc.list())[0]!.id;
      clock.advance(3 * HOUR);
      await svc.acknowledge(id, 'tech-wang'); // normal: 2 h
      await svc.arriveOnSite(id, 'tech-wang');
      await svc.resolve(id, { remedyDone: 'x' }, 'tech-wang');
      let r = await watch.check(clock.now());
      expect(r.breaches.map((b) => b.clock)).toEqual(['acknowledge']);
      clock.advance(3 * DAY);
      expect((await watch.check(clock.now())).breaches).toEqual([]);
      clock.advance(1);
      r = await watch.check(clock.now());
      expect(r.breaches.map((b) => b.clock)).toEqual(['follow_up']);
      expect((await watch.check(clock.now())).breaches).toEqual([]);
    });

    it('escalates a person the notice reached on no channel to the next level, once', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      const dispatched = notices.find((n) => n.kind === 'ticket.dispatched')!;
      const failed = { noticeId: dispatched.id, recipientId: 'tech-wang', channel: 'webhook', status: 'failed' as const, attempts: 5, atMs: T0 + MIN };
      await recordDeliveries(dispatched.id, 'tech-wang', { webhook: 'failed', email: 'failed' });
      const e = await watch.onDeliveryOutcome(failed);
      expect(e).toMatchObject({ level: 'supervisor', target: 'sup-zhao', reason: 'delivery_failed' });
      expect(await watch.onDeliveryOutcome({ ...failed, channel: 'email' })).toBeUndefined();
      expect(await watch.onDeliveryOutcome({ ...failed, status: 'delivered' })).toBeUndefined();
      const toSup = notices.filter((n) => n.kind === 'ticket.escalated').at(-1)!;
      expect(toSup.recipients).toEqual(['sup-zhao']);
      await recordDeliveries(toSup.id, 'sup-zhao', { webhook: 'failed' });
      const e2 = await watch.onDeliveryOutcome({ ...failed, noticeId: toSup.id, recipientId: 'sup-zhao' });
      expect(e2).toMatchObject({ level: 'director', target: 'dir-qian' });
      // The chain goes on from the director, once the normal ticket's 2 h acknowledge limit has passed.
      clock.set(T0 + HOUR);
      expect((await watch.check(clock.now())).escalations).toEqual([]);
      clock.set(T0 + 2 * HOUR + MIN);
      expect((await watch.check(clock.now())).escalations.map((e) => e.level)).toEqual(['director']);
    });

    it('does not escalate when one channel failed but another reached the same person (issue 12 #9: one failing channel escalated although the technician was reached on two others)', async () => {
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      const dispatched = notices.find((n) => n.kind === 'ticket.dispatched')!;
      const failed = { noticeId: dispatched.id, recipientId: 'tech-wang', channel: 'webhook', status: 'failed' as const, attempts: 5, atMs: T0 + MIN };
      await recordDeliveries(dispatched.id, 'tech-wang', { webhook: 'failed', sse: 'delivered', email: 'delivered' });
      expect(await watch.onDeliveryOutcome(failed)).toBeUndefined();
      // Another channel still trying: not judged yet; its own outcome decides.
      await recordDeliveries(dispatched.id, 'tech-wang', { sse: 'pending', email: 'not_delivered' });
      expect(await watch.onDeliveryOutcome(failed)).toBeUndefined();
      await recordDeliveries(dispatched.id, 'tech-wang', { sse: 'failed' });
      expect(await watch.onDeliveryOutcome({ ...failed, channel: 'sse' })).toMatchObject({ level: 'supervisor', reason: 'delivery_failed' });
      expect((await svc.get((await svc.list())[0]!.id))!.escalations.filter((e) => e.reason === 'delivery_failed')).toHaveLength(1);
      // The channel still trying ends without an outcome (no open stream): the next check decides.
      await svc.onAlertChanges(raise(book, 'HM-2', 'ERR-1', T0));
      const second = notices.find((n) => n.kind === 'ticket.dispatched' && n.data.deviceId === 'HM-2')!;
      await recordDeliveries(second.id, 'tech-wang', { webhook: 'failed', sse: 'pending' });
      expect(await watch.onDeliveryOutcome({ ...failed, noticeId: second.id })).toBeUndefined();
      await recordDeliveries(second.id, 'tech-wang', { sse: 'not_delivered' });
      expect((await watch.check(clock.now())).escalations).toMatchObject([{ level: 'supervisor', reason: 'delivery_failed' }]);
      expect((await watch.check(clock.now())).escalations).toEqual([]);
    });
  });

  describe('reports', () => {
    it('daily, weekly and monthly in Asia/Shanghai', async () => {
      // T0 is 16:00 in Shanghai on 2026-11-22.
      await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', T0));
      await svc.onAlertChanges(raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' }));
      await svc.onAlertChanges(raise(book, 'HM-9', 'ERR-4', T0));
      const id = (await svc.list({ deviceId: 'HM-1' }))[0]!.id;
      clock.advance(MIN);
      await svc.acknowledge(id, 'tech-wang');
      await svc.arriveOnSite(id, 'tech-wang');
      await svc.resolve(id, { remedyDone: 'x' }, 'tech-wang');
      await svc.onAlertChanges(clear(book, 'HM-1', 'ERR-1', clock.now()));
      clock.advance(10 * MIN);
      await watch.check(clock.now());
      clock.set(T0 + 9 * HOUR); // 01:00 next day in Shanghai
      await svc.followUp(id, { satisfied: true }, 'cs');

      const reports = new TicketReports(db, 'Asia/Shanghai');
      const day = await reports.daily('2026-11-22');
      expect(day.from).toBe('2026-11-21T16:00:00.000Z');
      expect(day.counts).toMatchObject({ opened: 3, dispatched: 2, acknowledged: 1, resolved: 1, followedUp: 0, closed: 0, openAtEndOfDay: 2 });
      expect(day.counts.breaches).toBeGreaterThanOrEqual(2);
      expect(day.byPriority.emergency).toMatchObject({ opened: 1, openAtEndOfDay: 1 });
      const next = await reports.daily('2026-11-23');
      expect(next.counts).toMatchObject({ opened: 0, followedUp: 1, closed: 1, openAtEndOfDay: 2 });
      const week = await reports.weekly('2026-11-17');
      expect(week).toMatchObject({ taken: 3, dispatched: 2, resolved: 1, followedUp: 1 });
      const month = await reports.monthly('2026-11');
      expect(month.byConditionAndDistrict.map((c) => [c.condition, c.district, c.alerts])).toEqual([
        ['ERR-1', 'east', 1],
        ['ERR-4', 'north', 1],
        ['GAS_ALARM_L2', 'west', 1],
      ]);
      expect(month.byCondition.find((c) => c.condition === 'GAS_ALARM_L2')!.name['zh-CN']).toBeTruthy();
      expect((await reports.monthly('2026-10')).byConditionAndDistrict).toEqual([]);
    });
  });
}
