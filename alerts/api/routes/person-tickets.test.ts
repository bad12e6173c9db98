/**
 * Tickets opened by people over HTTP (issue 12 #14): 报修 and 投诉 through POST /api/v1/tickets, their
 * lifecycle through the device tickets' routes, customer contacts, and their separation from device
 * alerts. A real PGlite store with every migration; time is a ManualClock.
 */
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import type { Notice } from '../../tickets/notice.ts';
import { FakeDirectory, lookupDevice, MIN, newBook, raise, T0 } from '../../tickets/test-support.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { buildHttpApi } from '../server.ts';
import { TokenBook } from '../tokens.ts';

let app: FastifyInstance;
let db: Db;
let svc: TicketService;
const clock = new ManualClock(T0);
const book = newBook();
const notices: Notice[] = [];
const tokens = new TokenBook();
tokens.add('op', { name: 'call centre', role: 'operator', personId: 'op-zhou' });
tokens.add('sup', { name: '赵主管', role: 'supervisor', personId: 'sup-zhao' });
tokens.add('wang', { name: '王工', role: 'technician', personId: 'tech-wang' });
tokens.add('li', { name: '李工', role: 'technician', personId: 'tech-li' });
const as = (who: string) => ({ authorization: `Bearer ${who}` });

const report = {
  origin: 'report',
  contact: { name: '张三', phone: '138 0000 0001' },
  address: '东区幸福路 1 号 101',
  district: 'east',
  description: '厨房有燃气味 / smell of gas in the kitchen',
};

const open = (payload: object, who = 'op') => app.inject({ method: 'POST', url: '/api/v1/tickets', headers: as(who), payload });
const detail = async (id: string) => (await app.inject({ url: `/api/v1/tickets/${id}`, headers: as('op') })).json();
const act = (id: string, action: string, who: string, payload?: object) =>
  app.inject({ method: 'POST', url: `/api/v1/tickets/${id}/${action}`, headers: as(who), ...(payload ? { payload } : {}) });

beforeAll(async () => {
  db = await openDb({});
  svc = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice });
  svc.onNotice((n) => notices.push(n));
  app = await buildHttpApi({
    alerts: book,
    registry: new DeviceRegistry([{ deviceId: 'HM-1', kind: 'household_meter', district: 'east' }]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens,
    health: () => ({ status: 'ok', checks: {} }),
    tickets: svc,
    clock,
  }, pino({ level: 'silent' }));
});
afterAll(async () => {
  await app.close();
  await db.close();
});

describe('POST /api/v1/tickets', () => {
  it('issue 12 #14: no way to open a ticket for a fault phoned in (报修) — the call centre opens it, routed to the district’s technician', async () => {
    const res = await open(report);
    expect(res.statusCode).toBe(201);
    const t = res.json();
    expect(t).toMatchObject({
      origin: 'report',
      subject: 'customer',
      subjectId: t.id,
      contact: { name: '张三', phone: '138 0000 0001' },
      description: report.description,
      address: report.address,
      district: 'east',
      customer: '张三',
      priority: 'normal',
      status: 'dispatched',
      assignee: 'tech-wang',
      complaintClass: null,
      conditions: [],
    });
    const d = await detail(t.id);
    expect(d.history[0]).toMatchObject({ actor: 'op-zhou', action: 'open', toStatus: 'opened', detail: { origin: 'report', priority: 'normal' } });
    // The technician's work order says what was reported and whom to call.
    const order = notices.find((n) => n.ticketId === t.id && n.kind === 'ticket.dispatched')!;
    expect(order.recipients).toEqual(['tech-wang']);
    expect(order.title['zh-CN']).toContain('报修');
    expect(order.body['zh-CN']).toContain('厨房有燃气味');
    expect(order.body['zh-CN']).toContain('138 0000 0001');
    // The technician sees it like any ticket assigned to them.
    expect((await app.inject({ url: `/api/v1/tickets/${t.id}`, headers: as('wang') })).statusCode).toBe(200);
  });

  it('issue 12 #14: lets only the call centre and supervisors open tickets', async () => {
    expect((await open(report, 'wang')).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/api/v1/tickets', payload: report })).statusCode).toBe(401);
  });

  it.each([
    ['a contact without phone', { ...report, contact: { name: '张三' } }, 'body/contact'],
    ['a phone that is no number', { ...report, contact: { name: '张三', phone: 'call me' } }, 'body/contact/phone'],
    ['an unknown origin', { ...report, origin: 'alert' }, 'body/origin'],
    ['a description over 2000 characters', { ...report, description: 'x'.repeat(2001) }, 'body/description'],
    ['an unknown field', { ...report, isRoot: true }, "unknown field 'isRoot'"],
    ['a complaint without its class', { ...report, origin: 'complaint' }, 'complaintClass'],
    ['a communication complaint without its kind', { ...report, origin: 'complaint', complaintClass: 'communication' }, 'complaintKind'],
    ['a report with a complaint class', { ...report, complaintClass: 'justified' }, 'complaintClass'],
    ['a device the registry does not know', { ...report, deviceId: 'HM-404' }, 'deviceId'],
  ])('answers 400 naming the field for %s', async (_name, payload, field) => {
    const res = await open(payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toContain(field);
  });

  it('issue 12 #14: a double-submitted form (same requestId) opens one ticket; the id reused for another form is a conflict', async () => {
    const form = { ...report, contact: { name: '钱七', phone: '13900000007' }, requestId: 'form-7f3a9c21' };
    const first = await open(form);
    const again = await open(form);
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    const list = (await app.inject({ url: '/api/v1/tickets?origin=report&limit=1000', headers: as('op') })).json().items;
    expect(list.filter((t: { contact: { name: string } | null }) => t.contact?.name === '钱七')).toHaveLength(1);
    const other = await open({ ...form, description: '另一件事 / something else' });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toMatchObject({ error: 'GAS_TICKET_CONFLICT' });
  });

  it('issue 12 #14: device alerts never join a person’s ticket about the device, nor does a person’s ticket join the device’s alert ticket', async () => {
    const byPerson = (await open({ ...report, deviceId: 'HM-2', district: undefined, description: '表显示 ERR-1' })).json();
    expect(byPerson).toMatchObject({ deviceId: 'HM-2', district: 'east', customer: '李四', address: report.address });
    await svc.onAlertChanges(raise(book, 'HM-2', 'ERR-1', clock.now()));
    const alertTicket = (await svc.list({ deviceId: 'HM-2', origin: 'alert' }))[0]!;
    expect(alertTicket.id).not.toBe(byPerson.id);
    expect(alertTicket).toMatchObject({ subject: 'device', subjectId: 'HM-2', conditions: ['ERR-1'], origin: 'alert' });
    expect((await detail(byPerson.id)).alerts).toEqual([]);
    // A second report on the device while its alert ticket is open: its own ticket, the alert ticket untouched.
    const second = (await open({ ...report, deviceId: 'HM-2', description: '又报一次 / calling again' })).json();
    expect(second.id).not.toBe(alertTicket.id);
    expect((await detail(alertTicket.id)).history.map((e: { action: string }) => e.action)).not.toContain('condition_added');
    await svc.onAlertChanges(raise(book, 'HM-2', 'LOW_BATTERY', clock.now()));
    expect((await detail(alertTicket.id)).conditions).toEqual(['ERR-1', 'LOW_BATTERY']);
    expect((await detail(byPerson.id)).conditions).toEqual([]);
    // The device's list shows both kinds; ?origin= tells them apart.
    const all = (await app.inject({ url: '/api/v1/tickets?deviceId=HM-2', headers: as('op') })).json().items.map((t: { id: string }) => t.id);
    expect(all).toEqual(expect.arrayContaining([alertTicket.id, byPerson.id, second.id]));
    const alertsOnly = (await app.inject({ url: '/api/v1/tickets?deviceId=HM-2&origin=alert', headers: as('op') })).json().items;
    expect(alertsOnly.map((t: { id: string }) => t.id)).toEqual([alertTicket.id]);
    expect((await app.inject({ url: '/api/v1/tickets?origin=person', headers: as('op') })).statusCode).toBe(400);
  });
});

describe('complaints', () => {
  it('issue 12 #14: a justified complaint is at least urgent and goes straight to the supervisor (001:197)', async () => {
    const res = await open({ ...report, origin: 'complaint', complaintClass: 'justified', description: '维修员态度恶劣 / the technician was rude', district: 'west' });
    expect(res.statusCode).toBe(201);
    const t = res.json();
    expect(t).toMatchObject({ origin: 'complaint', complaintClass: 'justified', complaintKind: null, priority: 'urgent', assignee: 'tech-li' });
    expect((await detail(t.id)).escalations).toEqual([expect.objectContaining({ level: 'supervisor', target: 'sup-zhao', reason: 'urgent_complaint' })]);
    const n = notices.find((x) => x.ticketId === t.id && x.kind === 'ticket.escalated')!;
    expect(n.recipients).toEqual(['sup-zhao']);
    expect(n.title['zh-CN']).toContain('投诉报主管');
    expect(n.body['zh-CN']).toContain('有效投诉');
  });

  it('issue 12 #14: a communication complaint marked major goes to the supervisor at once; a plain one does not', async () => {
    const major = (await open({ ...report, origin: 'complaint', complaintClass: 'communication', complaintKind: 'venting', major: true, description: '停气三天 / no gas for three days' })).json();
    expect(major).toMatchObject({ complaintClass: 'communication', complaintKind: 'venting', priority: 'normal' });
    expect((await detail(major.id)).escalations).toEqual([expect.objectContaining({ level: 'supervisor', reason: 'major_complaint' })]);
    const plain = (await open({ ...report, origin: 'complaint', complaintClass: 'communication', complaintKind: 'enquiry', description: '怎么购气？/ how do I buy gas?' })).json();
    expect((await detail(plain.id)).escalations).toEqual([]);
  });

  it('issue 12 #14: same lifecycle — an unsatisfied follow-up sends it back and makes a communication complaint justified (000:702), audited; satisfied closes it', async () => {
    const t = (await open({ ...report, origin: 'complaint', complaintClass: 'communication', complaintKind: 'help', description: '表箱漏水 / the meter box leaks' })).json();
    clock.advance(MIN);
    expect((await act(t.id, 'acknowledge', 'wang')).json()).toMatchObject({ status: 'acknowledged' });
    expect((await act(t.id, 'on-site', 'wang', {})).json()).toMatchObject({ status: 'on_site' });
    expect((await act(t.id, 'comments', 'wang', { body: '已处理 / done' })).statusCode).toBe(201);
    expect((await act(t.id, 'resolve', 'wang', { remedyDone: '更换表箱密封 / meter box resealed' })).json()).toMatchObject({ status: 'resolved' });
    const back = (await act(t.id, 'follow-up', 'op', { satisfied: false, notes: '仍漏水 / still leaking' })).json();
    expect(back).toMatchObject({ status: 'dispatched', round: 1, assignee: 'tech-wang', complaintClass: 'justified', priority: 'urgent' });
    const sentBack = notices.find((n) => n.ticketId === t.id && n.kind === 'ticket.reopened')!;
    expect(sentBack.recipients).toEqual(['tech-wang']);
    expect(sentBack.title['zh-CN']).toContain('有效投诉（求助）重开');
    expect(sentBack.body['zh-CN']).toContain('仍漏水');
    expect(sentBack.body['zh-CN']).toContain('表箱漏水');
    const d = await detail(t.id);
    expect(d.history.find((e: { action: string }) => e.action === 'reclassify')).toMatchObject({
      actor: 'op-zhou',
      detail: { from: 'communication', kind: 'help', to: 'justified', reason: 'follow_up_unsatisfied' },
    });
    expect(d.escalations).toEqual([expect.objectContaining({ level: 'supervisor', target: 'sup-zhao', reason: 'follow_up_unsatisfied' })]);
    await act(t.id, 'acknowledge', 'wang');
    await act(t.id, 'resolve', 'wang', { remedyDone: '更换表箱 / meter box replaced' });
    expect((await act(t.id, 'follow-up', 'op', { satisfied: true })).json()).toMatchObject({ status: 'closed', satisfaction: 'satisfied' });
    expect((await act(t.id, 'reopen', 'sup', { reason: '客户再次来电 / called again' })).json()).toMatchObject({ status: 'dispatched', round: 2 });
    expect((await act(t.id, 'cancel', 'sup', { reason: '重复 / duplicate' })).json()).toMatchObject({ status: 'cancelled' });
  });
});

describe('POST /api/v1/tickets/:id/customer-contacts', () => {
  it('issue 12 #14: records what the customer was told and by whom, audited and shown on the ticket', async () => {
    const t = (await open({ ...report, contact: { name: '孙八', phone: '13700000008' } })).json();
    clock.advance(30 * MIN);
    const res = await act(t.id, 'customer-contacts', 'op', { message: '技术员 10 点到 / the technician comes at 10', channel: 'phone' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ actor: 'op-zhou', channel: 'phone', message: '技术员 10 点到 / the technician comes at 10' });
    const d = await detail(t.id);
    expect(d.customerContacts).toEqual([expect.objectContaining({ actor: 'op-zhou', channel: 'phone' })]);
    expect(d.history.at(-1)).toMatchObject({ actor: 'op-zhou', action: 'customer_contact', detail: { channel: 'phone', message: '技术员 10 点到 / the technician comes at 10' } });
    expect((await act(t.id, 'customer-contacts', 'op', { message: '' })).statusCode).toBe(400);
    expect((await act(t.id, 'customer-contacts', 'op', { message: 'x', channel: 'pigeon' })).statusCode).toBe(400);
    // Another district's technician does not see the ticket.
    expect((await act(t.id, 'customer-contacts', 'li', { message: 'x' })).statusCode).toBe(404);
  });
});
