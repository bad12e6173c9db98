/**
 * The service-stage API (tokens, roles, tickets, on-call, SLA settings, reports, live stream)
 * over a real in-memory PGlite store with every migration applied; time is a ManualClock.
 */
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import { DeadLetterLog } from '../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../registry/device-registry.ts';
import { SqlOnCallDirectory } from '../oncall/oncall-directory.ts';
import { CustomerNoticeLog } from '../push/customer-notice-log.ts';
import { SseHub } from '../push/sse/hub.ts';
import { parseSlaSettings, type SlaSettings } from '../sla/sla-policy.ts';
import type { Db } from '../store/db.ts';
import { openDb } from '../store/open-db.ts';
import type { Notice } from '../tickets/notice.ts';
import { TicketReports } from '../tickets/reports.ts';
import { TicketService } from '../tickets/ticket-service.ts';
import { FakeDirectory, MIN, T0, lookupDevice, newBook, raise } from '../tickets/test-support.ts';
import { buildHttpApi } from './server.ts';
import { SqlTokenStore } from './token-store.ts';
import { TokenBook, TokenChain, type Role } from './tokens.ts';

const ADMIN = 'bootstrap-admin-token';
let app: FastifyInstance;
let db: Db;
let hub: SseHub;
let svc: TicketService;
let sla: SlaSettings = parseSlaSettings({});
const clock = new ManualClock(T0);
const beats: Array<() => void> = [];
const tok: Record<string, string> = {};
const ticketOf: Record<string, string> = {};

const h = (token: string) => ({ authorization: `Bearer ${token}` });
const as = (who: string) => h(tok[who]!);

async function issue(name: string, role: Role, personId?: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: h(ADMIN), payload: { name, role, ...(personId ? { personId } : {}) } });
  expect(res.statusCode).toBe(201);
  return res.json().token as string;
}

beforeAll(async () => {
  db = await openDb({});
  const book = newBook();
  svc = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice });
  hub = new SseHub({ startedAtMs: T0 });
  const store = new SqlTokenStore(db);
  const bootstrap = new TokenBook();
  bootstrap.add(ADMIN, { name: 'admin', role: 'admin' });
  app = await buildHttpApi({
    alerts: book,
    registry: new DeviceRegistry([{ deviceId: 'HM-1', kind: 'household_meter', district: 'east' }]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens: new TokenChain(bootstrap, store),
    health: () => ({ status: 'ok', checks: {} }),
    apiTokens: store,
    tickets: svc,
    customerNotices: new CustomerNoticeLog(db),
    reports: new TicketReports(db, 'UTC'),
    oncall: new SqlOnCallDirectory(db),
    sse: hub,
    getSlaSettings: () => sla,
    setSlaSettings: (s) => {
      sla = s;
    },
    clock,
  }, pino({ level: 'silent' }), { sseHeartbeat: (beat) => { beats.push(beat); return () => beats.splice(beats.indexOf(beat), 1); } });

  tok.wang = await issue('王工 phone', 'technician', 'tech-wang');
  tok.li = await issue('李工 phone', 'technician', 'tech-li');
  tok.operator = await issue('call centre', 'operator');
  tok.supervisor = await issue('赵主管', 'supervisor', 'sup-zhao');
  tok.admin = ADMIN;

  // East (HM-1, HM-2) is tech-wang's, west (HA-1) tech-li's: auto-dispatched on opening.
  for (const [device, condition] of [['HM-1', 'GAS_ALARM_L2'], ['HM-2', 'ERR-1'], ['HA-1', 'ERR-2']] as const) {
    await svc.onAlertChanges(raise(book, device, condition, clock.now()));
    ticketOf[device] = (await svc.list({ deviceId: device }))[0]!.id;
  }
});
afterAll(async () => {
  await app.close();
  await db.close();
});

describe('API tokens', () => {
  it('issues a token once, keeps only its SHA-256, lists without it, and revokes it at once', async () => {
    const token = await issue('temp', 'operator');
    expect(token).toMatch(/^gas_[A-Za-z0-9_-]{43}$/);
    const dump = JSON.stringify(await db.query('SELECT * FROM api_tokens'));
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(token.slice(4));

    const list = await app.inject({ url: '/api/v1/tokens', headers: h(ADMIN) });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(token);
    const entry = list.json().items.find((t: { name: string }) => t.name === 'temp');
    expect(entry).toMatchObject({ role: 'operator', personId: null, revokedAt: null });
    expect(entry).not.toHaveProperty('token');

    expect((await app.inject({ url: '/api/v1/tickets', headers: h(token) })).statusCode).toBe(200);
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${entry.id}`, headers: h(ADMIN) })).statusCode).toBe(204);
    expect((await app.inject({ url: '/api/v1/tickets', headers: h(token) })).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/tokens/nope', headers: h(ADMIN) })).statusCode).toBe(404);
  });

  it('lets only admins manage tokens', async () => {
    for (const who of ['supervisor', 'operator', 'wang']) {
      expect((await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: as(who), payload: { name: 'x', role: 'admin' } })).statusCode).toBe(403);
      expect((await app.inject({ url: '/api/v1/tokens', headers: as(who) })).statusCode).toBe(403);
    }
    const bad = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: h(ADMIN), payload: { name: 'x', role: 'root' } });
    expect(bad.statusCode).toBe(400);
  });
});

describe('roles per route family', () => {
  const cases: Array<[string, string, string, number]> = [
    ['GET', '/api/v1/alerts', 'wang', 200],
    ['GET', '/api/v1/dead-letters', 'operator', 200],
    ['GET', '/api/v1/dead-letters', 'wang', 403],
    ['PUT', '/api/v1/devices/HM-1', 'operator', 403],
    ['PUT', '/api/v1/devices/HM-1', 'supervisor', 200],
    ['GET', '/api/v1/customer-notices', 'operator', 200],
    ['GET', '/api/v1/customer-notices', 'wang', 403],
    ['GET', '/api/v1/reports/daily?date=2026-11-22', 'wang', 403],
    ['GET', '/api/v1/reports/daily?date=2026-11-22', 'operator', 200],
    ['GET', '/api/v1/oncall/teams', 'wang', 200],
    ['PUT', '/api/v1/oncall/people/tech-x', 'operator', 403],
    ['GET', '/api/v1/settings/sla', 'wang', 200],
    ['PUT', '/api/v1/settings/sla', 'operator', 403],
    ['GET', '/api/v1/people/tech-wang/stream', 'operator', 403],
  ];
  it.each(cases)('%s %s as %s → %i', async (method, url, who, status) => {
    const payload = method === 'PUT' ? (url.includes('devices') ? { kind: 'household_meter' } : url.includes('people') ? { name: 'X', role: 'technician' } : {}) : undefined;
    const res = await app.inject({ method: method as 'GET', url, headers: as(who), ...(payload ? { payload } : {}) });
    expect(res.statusCode).toBe(status);
    if (status === 403) expect(res.json()).toMatchObject({ error: 'GAS_HTTP_FORBIDDEN' });
  });

  it.each(['/api/v1/tickets', '/api/v1/oncall', '/api/v1/reports/monthly?month=2026-11', '/api/v1/tokens', '/api/v1/stream'])('answers %s without a token with 401', async (url) => {
    expect((await app.inject({ url })).statusCode).toBe(401);
  });

  it('takes ?access_token= on the stream routes only', async () => {
    expect((await app.inject({ url: `/api/v1/tickets?access_token=${tok.operator}` })).statusCode).toBe(401);
  });
});

describe('tickets', () => {
  it('lists tickets in the contract shape, filtered', async () => {
    const res = await app.inject({ url: '/api/v1/tickets?status=dispatched&deviceId=HM-1', headers: as('operator') });
    expect(res.statusCode).toBe(200);
    const items = res.json().items;
    expect(items).toHaveLength(1);
    expect(Object.keys(items[0])).toEqual(expect.arrayContaining(['id', 'deviceId', 'gatewayId', 'conditions', 'priority', 'status', 'openedAt', 'slaDueAt', 'assignee']));
    expect(items[0]).toMatchObject({ deviceId: 'HM-1', gatewayId: 'GW-1', conditions: ['GAS_ALARM_L2'], priority: 'emergency', status: 'dispatched', assignee: 'tech-wang' });
    const bad = await app.inject({ url: '/api/v1/tickets?status=open', headers: as('operator') });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('status');
  });

  it('shows a technician only their own tickets, whatever the query', async () => {
    const mine = await app.inject({ url: '/api/v1/tickets?assignee=tech-li', headers: as('wang') });
    expect(mine.json().items.map((t: { deviceId: string }) => t.deviceId).sort()).toEqual(['HM-1', 'HM-2']);
    // A technician's list comes by urgency (the emergency first), unless newest is asked for.
    const ids = async (query: string) => (await app.inject({ url: `/api/v1/tickets${query}`, headers: as('wang') })).json().items.map((t: { deviceId: string }) => t.deviceId);
    expect(await ids('')).toEqual(['HM-1', 'HM-2']);
    expect(await ids('?order=newest')).toEqual(['HM-2', 'HM-1']);
    expect((await app.inject({ url: '/api/v1/tickets?order=random', headers: as('wang') })).statusCode).toBe(400);
    expect((await app.inject({ url: `/api/v1/tickets/${ticketOf['HA-1']}`, headers: as('wang') })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: `/api/v1/tickets/${ticketOf['HA-1']}/acknowledge`, headers: as('wang') })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: `/api/v1/tickets/${ticketOf['HA-1']}/comments`, headers: as('wang'), payload: { body: 'hi' } })).statusCode).toBe(404);
    expect((await app.inject({ url: `/api/v1/tickets/${ticketOf['HA-1']}`, headers: as('li') })).statusCode).toBe(200);
    // Follow-up is the call centre's, dispatch and cancel the supervisors'.
    expect((await app.inject({ method: 'POST', url: `/api/v1/tickets/${ticketOf['HM-1']}/dispatch`, headers: as('wang'), payload: { assignee: 'tech-wang' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: `/api/v1/tickets/${ticketOf['HM-1']}/follow-up`, headers: as('wang'), payload: { satisfied: true } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: `/api/v1/tickets/${ticketOf['HM-1']}/cancel`, headers: as('wang'), payload: { reason: 'x' } })).statusCode).toBe(403);
  });

  it('carries a ticket through every lifecycle action over HTTP, each audited with its actor', async () => {
    const id = ticketOf['HM-1']!;
    const post = (who: string, action: string, payload?: object) =>
      app.inject({ method: 'POST', url: `/api/v1/tickets/${id}/${action}`, headers: as(who), ...(payload ? { payload } : {}) });
    clock.advance(MIN);
    expect((await post('wang', 'acknowledge')).json()).toMatchObject({ status: 'acknowledged' });
    expect((await post('wang', 'on-site', {})).json()).toMatchObject({ status: 'on_site' });
    expect((await post('wang', 'comments', { body: '阀门已关闭 / valve closed' })).statusCode).toBe(201);
    // Its GAS_ALARM_L2 is still active: not resolvable by the technician, nor overridable by one.
    const refused = await post('wang', 'resolve', { remedyDone: '更换密封圈 / seal replaced' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: 'GAS_TICKET_SAFETY_ACTIVE' });
    expect(refused.json().message).toContain('GAS_ALARM_L2 is still active');
    expect((await post('wang', 'resolve', { remedyDone: 'x', overrideReason: 'sure' })).statusCode).toBe(403);
    const resolved = await post('supervisor', 'resolve', { remedyDone: '更换密封圈 / seal replaced', partsUsed: [{ part: 'seal', qty: 1 }], notes: 'ok', overrideReason: '现场复测无泄漏，探测器待换 / no leak on site, detector to be replaced' });
    expect(resolved.json()).toMatchObject({ status: 'resolved', remedyDone: '更换密封圈 / seal replaced', partsUsed: [{ part: 'seal', qty: 1 }] });
    expect((await post('operator', 'follow-up', { satisfied: true, notes: '客户满意' })).json()).toMatchObject({ status: 'closed', satisfaction: 'satisfied' });

    const illegal = await post('wang', 'acknowledge');
    expect(illegal.statusCode).toBe(409);
    expect(illegal.json()).toMatchObject({ error: 'GAS_TICKET_ILLEGAL_TRANSITION' });

    // The leak is still active: closing moved it to a new ticket, linked to this one and dispatched again.
    const carried = (await app.inject({ url: '/api/v1/tickets?deviceId=HM-1&status=dispatched', headers: as('supervisor') })).json().items;
    expect(carried).toMatchObject([{ repeatOf: id, assignee: 'tech-wang', priority: 'emergency', activeConditions: ['GAS_ALARM_L2'] }]);
    const next = carried[0].id as string;
    const reopen = await post('operator', 'reopen', { reason: 'leak again' });
    expect(reopen.statusCode).toBe(409);
    expect(reopen.json().message).toContain(next);
    const onNext = (who: string, action: string, payload?: object) =>
      app.inject({ method: 'POST', url: `/api/v1/tickets/${next}/${action}`, headers: as(who), ...(payload ? { payload } : {}) });
    expect((await onNext('supervisor', 'dispatch', { assignee: 'tech-li' })).json()).toMatchObject({ status: 'dispatched', assignee: 'tech-li' });
    // Reassigned away: the ticket is no longer tech-wang's to see.
    expect((await app.inject({ url: `/api/v1/tickets/${next}`, headers: as('wang') })).statusCode).toBe(404);
    const cancel = await onNext('operator', 'cancel', { reason: 'duplicate report' });
    expect(cancel.statusCode).toBe(409);
    expect(cancel.json()).toMatchObject({ error: 'GAS_TICKET_CONDITIONS_ACTIVE' });
    expect(cancel.json().message).toContain('GAS_ALARM_L2 is still active');

    const detail = (await app.inject({ url: `/api/v1/tickets/${id}`, headers: as('supervisor') })).json();
    const trail = detail.history.map((e: { action: string; actor: string }) => `${e.action}:${e.actor}`);
    expect(trail).toEqual([
      'open:system',
      'dispatch:system',
      'acknowledge:tech-wang',
      'arrive_on_site:tech-wang',
      'comment:tech-wang',
      'resolve:sup-zhao',
      'follow_up_satisfied:call centre',
      'close:call centre',
      'carried_over:system',
    ]);
    expect(detail.comments).toMatchObject([{ author: 'tech-wang', body: '阀门已关闭 / valve closed' }]);
    expect(detail.conditions).toEqual(['GAS_ALARM_L2']);
    const nextTrail = (await app.inject({ url: `/api/v1/tickets/${next}`, headers: as('supervisor') })).json().history.map((e: { action: string; actor: string }) => `${e.action}:${e.actor}`);
    expect(nextTrail).toEqual(['open:system', 'dispatch:system', 'dispatch:sup-zhao']);
    expect(detail).toHaveProperty('breaches');
    expect(detail).toHaveProperty('escalations');
  });

  it('answers bad input with 400 and an unknown ticket with 404', async () => {
    const resolve = await app.inject({ method: 'POST', url: `/api/v1/tickets/${ticketOf['HM-2']}/resolve`, headers: as('operator'), payload: { partsUsed: [] } });
    expect(resolve.statusCode).toBe(400);
    expect(resolve.json().message).toContain('remedyDone');
    expect((await app.inject({ url: '/api/v1/tickets/999999', headers: as('operator') })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/api/v1/tickets/999999/cancel', headers: as('operator'), payload: { reason: 'x' } })).statusCode).toBe(404);
  });
});

describe('on-call', () => {
  beforeAll(async () => {
    const put = async (url: string, payload: object) => {
      const res = await app.inject({ method: 'PUT', url, headers: as('supervisor'), payload });
      expect(res.statusCode, res.body).toBe(200);
    };
    await put('/api/v1/oncall/people/tech-a', { name: '甲', role: 'technician' });
    await put('/api/v1/oncall/people/tech-b', { name: '乙', role: 'technician' });
    await put('/api/v1/oncall/people/sup-1', { name: '主管', role: 'supervisor' });
    await put('/api/v1/oncall/people/dir-1', { name: '经理', role: 'director' });
    await put('/api/v1/oncall/teams/east', { name: 'East', districts: ['east'], supervisorId: 'sup-1', directorId: 'dir-1' });
    await put('/api/v1/oncall/teams/east/rotation', {
      members: ['tech-a', 'tech-b'],
      shifts: [{ name: 'day', kind: 'on_site', start: '08:00', end: '20:00' }, { name: 'night', kind: 'home', start: '20:00', end: '08:00' }],
      periodDays: 1,
      anchorDate: '2026-11-22',
      timeZone: 'UTC',
    });
  });

  it('says who is on call now and at an instant, with shift kind and the chain above', async () => {
    const now = (await app.inject({ url: '/api/v1/oncall?district=east', headers: as('wang') })).json();
    expect(now).toMatchObject({ teamId: 'east', at: new Date(clock.now()).toISOString(), technician: { id: 'tech-a' }, shift: { name: 'day', kind: 'on_site' }, supervisor: { id: 'sup-1' }, director: { id: 'dir-1' }, gaps: [] });
    const night = (await app.inject({ url: '/api/v1/oncall?district=east&at=2026-11-22T21:00:00Z', headers: as('operator') })).json();
    expect(night).toMatchObject({ technician: { id: 'tech-b' }, shift: { name: 'night', kind: 'home' } });
    expect((await app.inject({ url: '/api/v1/oncall?district=east&at=yesterday', headers: as('operator') })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/v1/oncall?district=nowhere', headers: as('operator') })).statusCode).toBe(404);
  });

  it('reports a gap in the rota for a district (the seeded example rota left 22:00–09:00 uncovered and nothing warned)', async () => {
    const put = (url: string, payload: object) => app.inject({ method: 'PUT', url, headers: as('supervisor'), payload });
    await put('/api/v1/oncall/teams/south', { name: 'South', districts: ['south'], supervisorId: 'sup-1', directorId: 'dir-1' });
    await put('/api/v1/oncall/teams/south/rotation', { members: ['tech-a'], shifts: [{ name: 'day', kind: 'on_site', start: '09:00', end: '22:00' }], periodDays: 1, anchorDate: '2026-11-22', timeZone: 'UTC' });
    const south = (await app.inject({ url: '/api/v1/oncall?district=south&at=2026-11-22T10:00:00Z', headers: as('operator') })).json();
    expect(south.gaps).toHaveLength(7);
    expect(south.gaps[0]).toEqual({ from: '2026-11-22T22:00:00.000Z', to: '2026-11-23T09:00:00.000Z' });
  });

  it('shows a schedule, and an override changes who answers', async () => {
    const sched = (await app.inject({ url: '/api/v1/oncall/teams/east/schedule?from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z', headers: as('wang') })).json();
    expect(sched.items.map((e: { personId: string; shiftName: string }) => `${e.shiftName}:${e.personId}`)).toContain('day:tech-a');
    const o = await app.inject({ method: 'POST', url: '/api/v1/oncall/overrides', headers: as('supervisor'), payload: { teamId: 'east', personId: 'tech-b', replacesId: 'tech-a', fromMs: T0, toMs: T0 + 60 * MIN, reason: 'sick' } });
    expect(o.statusCode).toBe(201);
    expect((await app.inject({ url: '/api/v1/oncall?district=east', headers: as('wang') })).json().technician.id).toBe('tech-b');
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/oncall/overrides/${o.json().id}`, headers: as('supervisor') })).statusCode).toBe(204);
    expect((await app.inject({ url: '/api/v1/oncall?district=east', headers: as('wang') })).json().technician.id).toBe('tech-a');
    const badRota = await app.inject({ method: 'PUT', url: '/api/v1/oncall/teams/east/rotation', headers: as('admin'), payload: { members: ['ghost'], shifts: [{ name: 'day', kind: 'on_site', start: '08:00', end: '20:00' }], anchorDate: '2026-11-22' } });
    expect(badRota.statusCode).toBe(404);
  });
});

describe('hand-over', () => {
  it('lists the district\'s open tickets for the shift, most urgent first, and needs a district', async () => {
    const res = await app.inject({ url: '/api/v1/oncall/handover?district=east', headers: as('wang') });
    expect(res.statusCode).toBe(200);
    const note = res.json();
    expect(note.open.map((i: { ticket: { deviceId: string } }) => i.ticket.deviceId).slice(0, 2)).toEqual(['HM-1', 'HM-2']);
    expect(note.open[0]).toMatchObject({ ticket: { priority: 'emergency' }, passedOn: false });
    expect((await app.inject({ url: '/api/v1/oncall/handover', headers: as('wang') })).statusCode).toBe(400);
  });
});

describe('SLA settings', () => {
  it('round-trips the limits and names a bad field in the 400', async () => {
    const current = (await app.inject({ url: '/api/v1/settings/sla', headers: as('operator') })).json();
    expect(current.dispatchWithinMs.emergency).toBe(5 * MIN);
    const next = { ...current, acknowledgeWithinMs: { ...current.acknowledgeWithinMs, emergency: 3 * MIN }, escalation: { ...current.escalation, repeatNotifyMs: { ...current.escalation.repeatNotifyMs, emergency: 2 * MIN }, repeats: 2 } };
    const put = await app.inject({ method: 'PUT', url: '/api/v1/settings/sla', headers: as('supervisor'), payload: next });
    expect(put.statusCode).toBe(200);
    expect(sla.acknowledgeWithinMs.emergency).toBe(3 * MIN);
    expect((await app.inject({ url: '/api/v1/settings/sla', headers: as('wang') })).json()).toEqual(next);
    const bad = await app.inject({ method: 'PUT', url: '/api/v1/settings/sla', headers: as('supervisor'), payload: { ...next, resolveWithinMs: { ...next.resolveWithinMs, urgent: -1 } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('resolveWithinMs');
    expect(sla.resolveWithinMs.urgent).toBeGreaterThan(0);
  });
});

describe('reports', () => {
  it('gives the daily duty report, weekly counts and the monthly fault classification', async () => {
    const daily = await app.inject({ url: '/api/v1/reports/daily?date=2026-11-22', headers: as('operator') });
    expect(daily.statusCode).toBe(200);
    // Three faults, and the leak still active at the close carried to a new ticket.
    expect(daily.json()).toMatchObject({ date: '2026-11-22', counts: { opened: 4, resolved: 1 } });
    // 2026-11-22 is a Sunday: its week starts on Monday the 16th.
    const weekly = (await app.inject({ url: '/api/v1/reports/weekly?week=2026-11-22', headers: as('supervisor') })).json();
    expect(weekly).toMatchObject({ weekStart: '2026-11-16', taken: 4, resolved: 1, followedUp: 1 });
    const monthly = (await app.inject({ url: '/api/v1/reports/monthly?month=2026-11', headers: as('admin') })).json();
    expect(monthly.byConditionAndDistrict).toEqual(expect.arrayContaining([
      expect.objectContaining({ condition: 'GAS_ALARM_L2', district: 'east', alerts: 1, tickets: 1 }),
      expect.objectContaining({ condition: 'ERR-2', district: 'west', tickets: 1 }),
    ]));
    expect(monthly.byCondition).toHaveLength(3);
    expect((await app.inject({ url: '/api/v1/reports/monthly?month=2026-13', headers: as('admin') })).statusCode).toBe(400);
  });
});

describe('live stream', () => {
  let base: string;
  beforeAll(async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const addr = app.server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });

  const notice = (id: string): Notice => ({
    id,
    kind: 'ticket.dispatched',
    ticketId: ticketOf['HM-2']!,
    recipients: ['tech-wang'],
    priority: 'normal',
    title: { 'zh-CN': '新工单', en: 'New ticket' },
    body: { 'zh-CN': '请处理', en: 'Please attend' },
    data: {},
    createdAtMs: clock.now(),
  });

  /** Reads the stream until `until` matches what arrived so far. */
  async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, until: (text: string) => boolean): Promise<string> {
    const decoder = new TextDecoder();
    let text = '';
    while (!until(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    return text;
  }

  async function waitFor(check: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setImmediate(r));
    expect(check()).toBe(true);
  }

  it("delivers a pushed notice to the technician's stream, beats, replays after Last-Event-ID, and ends on disconnect", async () => {
    const abort = new AbortController();
    const res = await fetch(`${base}/api/v1/stream?access_token=${tok.wang}`, { signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    expect(await readUntil(reader, (t) => t.includes(': connected'))).toContain(': connected');

    const first = hub.publish('tech-wang', notice('n-1')).event;
    hub.publish('tech-li', notice('n-other'));
    let text = await readUntil(reader, (t) => t.includes('n-1'));
    expect(text).toContain(`id: ${first.id}\nevent: ticket.dispatched\n`);
    expect(text).not.toContain('n-other');
    expect(beats).toHaveLength(1);
    beats[0]!();
    text = await readUntil(reader, (t) => t.includes(': heartbeat'));
    expect(text).toContain(': heartbeat');

    abort.abort();
    await waitFor(() => hub.listenerCount('tech-wang') === 0 && beats.length === 0);

    // Missed while away: replayed on reconnect after the last id seen.
    hub.publish('tech-wang', notice('n-2'));
    hub.publish('tech-wang', notice('n-3'));
    const again = new AbortController();
    const res2 = await fetch(`${base}/api/v1/stream`, { signal: again.signal, headers: { ...as('wang'), 'last-event-id': first.id } });
    const reader2 = res2.body!.getReader();
    const replay = await readUntil(reader2, (t) => t.includes('n-3'));
    expect(replay).toContain('n-2');
    expect(replay).not.toContain('"id":"n-1"');
    again.abort();
    await waitFor(() => hub.listenerCount('tech-wang') === 0);
  });

  it("lets a supervisor watch a person's stream, and refuses a token with no person", async () => {
    expect((await fetch(`${base}/api/v1/stream?access_token=${tok.operator}`)).status).toBe(403);
    const abort = new AbortController();
    const res = await fetch(`${base}/api/v1/people/tech-li/stream?access_token=${tok.supervisor}`, { signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await readUntil(reader, (t) => t.includes(': connected'));
    hub.publish('tech-li', notice('n-li'));
    expect(await readUntil(reader, (t) => t.includes('n-li'))).toContain('n-li');
    abort.abort();
  });
});

describe('request logs', () => {
  it('mask an access token given in the query string', async () => {
    const lines: string[] = [];
    const tokens = new TokenBook();
    tokens.add('query-secret', { name: 'a', role: 'admin' });
    const logged = await buildHttpApi({
      alerts: newBook(),
      registry: new DeviceRegistry([]),
      devices: { statusOf: () => undefined },
      deadLetters: new DeadLetterLog({ capacity: 1, maxFileBytes: 1024 }),
      metrics: { text: async () => '' },
      tokens,
      health: () => ({ status: 'ok', checks: {} }),
      sse: new SseHub(),
    }, pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }));
    await logged.inject({ url: '/api/v1/stream?access_token=query-secret' });
    await logged.close();
    expect(lines.join('')).toContain('access_token=[redacted]');
    expect(lines.join('')).not.toContain('query-secret');
  });
});
