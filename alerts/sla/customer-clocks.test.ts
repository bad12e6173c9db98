/**
 * The customer clocks of person-opened tickets (报修 12 h reply; 投诉 24 h reply, 48 h completion;
 * 48 h between updates to a waiting customer), over a real PGlite store, driven by explicit nowMs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import type { Db } from '../store/db.ts';
import { openTestDb } from '../store/testing.ts';
import type { Notice } from '../tickets/notice.ts';
import type { PersonTicketInput } from '../tickets/person-tickets.ts';
import { DAY, FakeDirectory, HOUR, lookupDevice, MIN, newBook, raise, T0 } from '../tickets/test-support.ts';
import type { Ticket } from '../tickets/ticket.ts';
import { TicketService } from '../tickets/ticket-service.ts';
import { CustomerClockWatch, customerClocks, parseCustomerClockSettings } from './customer-clocks.ts';
import { parseSlaSettings } from './sla-policy.ts';
import { SlaWatch } from './sla-watch.ts';

const settings = parseCustomerClockSettings({});
let db: Db;
let clock: ManualClock;
let svc: TicketService;
let watch: CustomerClockWatch;
let notices: Notice[];

const report: PersonTicketInput = { origin: 'report', contact: { name: '张三', phone: '13800000001' }, address: '东区幸福路 1 号 101', district: 'east', description: '燃气表不走字 / the meter does not count' };
const complaint = (c: Partial<PersonTicketInput>): PersonTicketInput => ({ ...report, origin: 'complaint', description: '维修员迟到 / the technician came late', complaintClass: 'justified', ...c });

async function open(input: PersonTicketInput): Promise<Ticket> {
  return (await svc.openByPerson(input, 'op-1')).ticket;
}
const breachesOf = async (id: string) => (await svc.get(id))!.breaches.map((b) => b.clock).sort();

describe('CustomerClockWatch', () => {
  beforeEach(async () => {
    db = await openTestDb();
    clock = new ManualClock(T0);
    svc = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice });
    watch = new CustomerClockWatch({ db, directory: new FakeDirectory(), settings });
    notices = [];
    watch.onNotice((n) => notices.push(n));
  });
  afterEach(async () => {
    await db.close();
  });


  it('writes the SLA chain\'s pushes about a person\'s case as that case: what was said, whom to call, where (they read 设备 T000123 … 故障：—)', async () => {
    const t = await open(report);
    const sla = new SlaWatch({ db, directory: new FakeDirectory(), settings: parseSlaSettings({}) });
    const pushed: Notice[] = [];
    sla.onNotice((n) => pushed.push(n));
    clock.set(T0 + 31 * MIN);
    await sla.check(clock.now());
    const repeat = pushed.find((n) => n.kind === 'ticket.escalated' && n.ticketId === t.id)!;
    expect(repeat.title['zh-CN']).toContain('报修');
    expect(repeat.body['zh-CN']).toContain('报修：燃气表不走字');
    expect(repeat.body['zh-CN']).toContain('张三 13800000001 地址：东区幸福路 1 号 101');
    expect(repeat.body['zh-CN']).not.toMatch(/设备 T|故障：/);
    expect(repeat.body.en).toContain('Repair report: 燃气表不走字');
  });
  it('issue 12 #14: no 12 h hotline-reply clock — a 报修 nobody answers breaches `reply` at 12 h, once, to the assignee and the supervisor', async () => {
    const t = await open(report);
    const t0 = clock.now();
    expect(t.assignee).toBe('tech-wang');
    expect(await watch.check(t0 + 12 * HOUR)).toEqual([]);
    const first = await watch.check(t0 + 12 * HOUR + 1);
    expect(first.map((b) => [b.ticketId, b.clock])).toEqual([[t.id, 'reply']]);
    expect(await watch.check(t0 + 13 * HOUR)).toEqual([]);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ kind: 'ticket.sla_breached', ticketId: t.id, recipients: ['tech-wang', 'sup-zhao'], data: { clock: 'reply' } });
    expect(notices[0]!.title['zh-CN']).toContain('答复客户');
    expect(notices[0]!.body['zh-CN']).toContain('13800000001');
    const detail = (await svc.get(t.id))!;
    expect(detail.breaches.map((b) => b.clock)).toEqual(['reply']);
    expect(detail.history.find((e) => e.action === 'customer_clock_breached')).toMatchObject({ actor: 'system', detail: { clock: 'reply' } });
  });

  it('issue 12 #14: no 48 h update clock — a contact stops the reply clock and restarts the 48 h gap, which breaches as customer_update#n', async () => {
    const t = await open(report);
    const t0 = clock.now();
    clock.set(t0 + HOUR);
    await svc.recordCustomerContact(t.id, { message: '技术员今天下午到 / the technician comes this afternoon' }, 'op-1');
    expect(await watch.check(t0 + 13 * HOUR)).toEqual([]);
    expect(await watch.check(t0 + HOUR + 48 * HOUR)).toEqual([]);
    expect((await watch.check(t0 + HOUR + 48 * HOUR + 1)).map((b) => b.clock)).toEqual(['customer_update#1']);
    clock.set(t0 + 50 * HOUR);
    await svc.recordCustomerContact(t.id, { message: '配件已订 / the part is ordered', channel: 'sms' }, 'op-1');
    expect(await watch.check(t0 + 50 * HOUR + 48 * HOUR)).toEqual([]);
    expect((await watch.check(t0 + 50 * HOUR + 48 * HOUR + 1)).map((b) => b.clock)).toEqual(['customer_update#2']);
    expect(await breachesOf(t.id)).toEqual(['customer_update#1', 'customer_update#2']);
  });

  it('counts a reply given after its limit as breached, though no check ran in between', async () => {
    const t = await open(report);
    const t0 = clock.now();
    clock.set(t0 + 13 * HOUR);
    await svc.recordCustomerContact(t.id, { message: '抱歉久等 / sorry for the wait' }, 'op-1');
    expect((await watch.check(t0 + 14 * HOUR)).map((b) => b.clock)).toEqual(['reply']);
  });

  it('gives a complaint 24 h to reply and 48 h to completion; a resolve in time stops completion and the update gap', async () => {
    const late = await open(complaint({}));
    const inTime = await open(complaint({ contact: { name: '李四', phone: '13800000002' } }));
    const t0 = clock.now();
    clock.set(t0 + 2 * HOUR);
    await svc.acknowledge(inTime.id, 'tech-wang');
    await svc.resolve(inTime.id, { remedyDone: '已致歉并改约 / apologised, new appointment' }, 'tech-wang');
    expect((await watch.check(t0 + 24 * HOUR + 1)).map((b) => [b.ticketId, b.clock])).toEqual([[late.id, 'reply'], [inTime.id, 'reply']]);
    expect((await watch.check(t0 + 48 * HOUR + 1)).map((b) => [b.ticketId, b.clock]).sort()).toEqual([[late.id, 'complete'], [late.id, 'customer_update#0']]);
    expect(await breachesOf(inTime.id)).toEqual(['reply']);
  });

  it('000:702: a communication complaint whose clock is breached becomes justified, at least urgent, audited as reclassify', async () => {
    const t = await open(complaint({ complaintClass: 'communication', complaintKind: 'enquiry' }));
    expect(t).toMatchObject({ complaintClass: 'communication', complaintKind: 'enquiry', priority: 'normal' });
    const [breach] = await watch.check(clock.now() + 24 * HOUR + 1);
    expect(breach).toMatchObject({ ticketId: t.id, clock: 'reply', reclassified: true });
    const after = (await svc.get(t.id))!;
    expect(after).toMatchObject({ complaintClass: 'justified', priority: 'urgent' });
    expect(after.history.find((e) => e.action === 'reclassify')).toMatchObject({
      actor: 'system',
      detail: { from: 'communication', kind: 'enquiry', to: 'justified', reason: 'customer_clock_breached:reply', priority: { from: 'normal', to: 'urgent' } },
    });
    // The push already carries the new class and priority.
    expect(notices[0]).toMatchObject({ priority: 'urgent', data: { complaintClass: 'justified' } });
  });

  it('runs no customer clock on tickets opened by alerts', async () => {
    const book = newBook();
    await svc.onAlertChanges(raise(book, 'HM-2', 'ERR-1', clock.now()));
    const alertTicket = (await svc.list({ deviceId: 'HM-2', origin: 'alert' }))[0]!;
    const breaches = await watch.check(clock.now() + 30 * DAY);
    expect(breaches.map((b) => b.ticketId)).not.toContain(alertTicket.id);
    expect(await breachesOf(alertTicket.id)).toEqual([]);
  });
});

describe('customerClocks', () => {
  const base = { origin: 'report', openedAt: new Date(T0).toISOString(), slaStartedAt: new Date(T0).toISOString(), resolvedAt: null, round: 0, status: 'dispatched' } as unknown as Ticket;
  const keys = (t: Partial<Ticket>, contacts: number[]) => customerClocks(settings, { ...base, ...t }, contacts).map((c) => [c.key, (c.dueMs - T0) / HOUR, c.metMs === null ? null : (c.metMs - T0) / HOUR]);

  it.each([
    ['a report just opened', {}, [], [['reply', 12, null], ['customer_update#0', 48, null]]],
    ['a report told once', {}, [2 * HOUR], [['reply', 12, 2], ['customer_update#0', 48, 2], ['customer_update#1', 50, null]]],
    ['a resolved report: the last gap stops at the resolve', { status: 'resolved', resolvedAt: new Date(T0 + 5 * HOUR).toISOString() }, [2 * HOUR], [['reply', 12, 2], ['customer_update#0', 48, 2], ['customer_update#1', 50, 5]]],
    ['a complaint', { origin: 'complaint' }, [], [['reply', 24, null], ['complete', 48, null], ['customer_update#0', 48, null]]],
    ['a reopened complaint: completion and the wait count from the reopen', { origin: 'complaint', round: 1, slaStartedAt: new Date(T0 + 100 * HOUR).toISOString() }, [HOUR], [['reply', 24, 1], ['complete#1', 148, null], ['customer_update#0', 48, 1], ['customer_update#1', 148, null]]],
  ] as const)('%s', (_name, t, contacts, expected) => {
    expect(keys(t as Partial<Ticket>, contacts.map((c) => T0 + c))).toEqual(expected);
  });

  it('is empty for an alert ticket', () => {
    expect(customerClocks(settings, { ...base, origin: 'alert' }, [])).toEqual([]);
  });

  it('refuses bad limits at start and fills defaults', () => {
    expect(settings).toEqual({ reportReplyWithinMs: 12 * HOUR, complaintReplyWithinMs: 24 * HOUR, complaintCompleteWithinMs: 48 * HOUR, updateGapMs: 48 * HOUR });
    expect(() => parseCustomerClockSettings({ updateGapMs: 0 })).toThrow(/updateGapMs/);
    expect(parseCustomerClockSettings({ reportReplyWithinMs: 30 * MIN }).reportReplyWithinMs).toBe(30 * MIN);
  });
});
