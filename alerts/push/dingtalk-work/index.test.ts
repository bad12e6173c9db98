import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ManualClock } from '../../../app/clock.ts';
import { bareServices } from '../../api/testing.ts';
import { buildHttpApi } from '../../api/server.ts';
import { TokenBook } from '../../api/tokens.ts';
import { SqlAuditLog } from '../../audit/audit-log.ts';
import { SqlOnCallDirectory } from '../../oncall/oncall-directory.ts';
import { FakeDirectory, lookupDevice, newBook, people, raise } from '../../tickets/test-support.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import type { Person } from '../../oncall/directory.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { ActionTokens, type ActionTokenIssuer, ticketActionApplier } from '../actions.ts';
import { createChannels, type StaffChannelInstance } from '../channels.ts';
import { PushDispatcher } from '../delivery-queue.ts';
import { ManualScheduler } from '../scheduler.ts';
import { PushRejectedError, PushThrottledError, PushTimeoutError, PushUnavailableError } from '../errors.ts';
import { notice, technician } from '../testing.ts';
import { DINGTALK_APP, type DingtalkStandIn, startDingtalkStandIn } from './stand-in.ts';

const APP = DINGTALK_APP;
let ding: DingtalkStandIn;
beforeAll(async () => {
  ding = await startDingtalkStandIn();
});
afterAll(() => ding.close());
beforeEach(() => ding.reset());

const chen: Person = { ...technician, accounts: { dingtalk: 'manager4711' } };
const clock = new ManualClock(Date.parse('2026-11-22T08:00:00Z'));
let db: Db;
let tokens: ActionTokens;
beforeAll(async () => {
  db = await openDb({});
  tokens = new ActionTokens({ db, clock, secret: randomBytes(32), defaultTtlMs: 1_800_000 });
});
afterAll(async () => {
  await db.close();
});

function dingtalk(config: Record<string, unknown> = {}, actions: ActionTokenIssuer | undefined = tokens) {
  const channels = createChannels(
    [{ name: 'dingtalk', type: 'dingtalk-work', config: { ...APP, appUrl: 'https://ops.example.com/console/', baseUrl: ding.base, ...config } }],
    { log: pino({ level: 'silent' }), clock, actions },
  );
  return channels.get('dingtalk') as StaffChannelInstance;
}

describe('dingtalk-work channel against a local DingTalk stand-in', () => {
  it('sends an action card to the person’s userid with one-tap 接单/到场 links whose tokens act once, as that person', async () => {
    await expect(dingtalk({ actionTtlMs: 3_600_000 }).channel.send(notice(), chen)).resolves.toEqual({ delivered: true });
    expect(ding.phone).toHaveLength(1);
    const { userid, msg } = ding.phone[0]!;
    expect(userid).toBe('manager4711');
    expect(msg.msgtype).toBe('action_card');
    expect(msg.action_card.title).toContain('二级燃气报警');
    expect(msg.action_card.markdown).toContain('Gas alarm, level 2');
    expect(msg.action_card.markdown).toContain('T000001');
    const [ack, onSite, open] = msg.action_card.btn_json_list;
    expect(ack.title).toBe('接单 Acknowledge');
    expect(onSite.title).toBe('到场 On site');
    expect(open).toEqual({ title: '打开工单 Open ticket', action_url: 'https://ops.example.com/tickets/T000001' });
    // `<appUrl>/#/act/<token>`, redeemed as the console's acknowledge screen does.
    const tokenOf = (u: string) => decodeURIComponent(u.match(/^https:\/\/ops\.example\.com\/console\/#\/act\/(.+)$/)![1]!);
    const ctx = { via: 'link', path: '/hooks/v1/actions' };
    await expect(tokens.redeem(tokenOf(ack.action_url), ctx)).resolves.toEqual({ personId: 'tech-chen', ticketId: 'T000001', action: 'acknowledge' });
    await expect(tokens.redeem(tokenOf(ack.action_url), ctx)).rejects.toMatchObject({ reason: 'replayed' });
    // actionTtlMs: the 到场 link still acts after the tokens' default 30 minutes, not after the hour.
    clock.advance(40 * 60_000);
    await expect(tokens.redeem(tokenOf(onSite.action_url), ctx)).resolves.toMatchObject({ action: 'on_site' });
    await dingtalk({ actionTtlMs: 3_600_000 }).channel.send(notice({ id: 'N-9' }), chen);
    clock.advance(61 * 60_000);
    await expect(tokens.redeem(tokenOf(ding.phone[1]!.msg.action_card.btn_json_list[1].action_url), ctx)).rejects.toMatchObject({ reason: 'expired' });
  });

  it('names the notice in the text, so a repeat about the same ticket is not dropped as a duplicate', async () => {
    const ch = dingtalk({}, undefined);
    await ch.channel.send(notice({ id: 'N-1' }), chen);
    await ch.channel.send(notice({ id: 'N-2', kind: 'ticket.sla_breached', createdAtMs: clock.now() + 600_000 }), chen);
    expect(ding.sendCalls).toHaveLength(2);
    expect(ding.phone).toHaveLength(2);
    expect(ding.phone[0]!.msg.action_card.markdown).toContain('N-1');
    expect(ding.phone[1]!.msg.action_card.markdown).toContain('N-2');
  });

  it('gives a leak pushed ahead of its ticket links that name its alert, and sends markdown when there is nothing to tap', async () => {
    await dingtalk().channel.send(notice({ ticketId: '', url: undefined, data: { alertIds: ['A-9'] } }), chen);
    const [ack] = ding.phone[0]!.msg.action_card.btn_json_list;
    const token = decodeURIComponent(ack.action_url.match(/#\/act\/(.+)$/)![1]!);
    await expect(tokens.redeem(token, { via: 'link' })).resolves.toEqual({ personId: 'tech-chen', ticketId: 'alert:A-9', action: 'acknowledge' });
    expect(ding.phone[0]!.msg.action_card.markdown).toContain('A-9');

    await dingtalk().channel.send(notice({ id: 'N-2', ticketId: '', url: undefined, data: {} }), chen);
    expect(ding.phone[1]!.msg.msgtype).toBe('markdown');
  });

  it('takes the service’s appUrl when the instance names none, and shows no 接单/到场 without any', async () => {
    const make = (appUrl: string | undefined) =>
      createChannels([{ name: 'd', type: 'dingtalk-work', config: { ...APP, baseUrl: ding.base } }], { log: pino({ level: 'silent' }), clock, actions: tokens, ...(appUrl ? { appUrl } : {}) }).get('d')!;
    await make('https://console.example.com').channel.send(notice({ id: 'N-7' }), chen);
    expect(ding.phone[0]!.msg.action_card.btn_json_list[0].action_url).toMatch(/^https:\/\/console\.example\.com\/#\/act\/a1\./);
    await make(undefined).channel.send(notice({ id: 'N-8' }), chen);
    expect(ding.phone[1]!.msg.action_card.btn_json_list.map((b: any) => b.title)).toEqual(['打开工单 Open ticket']);
  });

  it('fetches the access token once, reuses it, and refreshes it when DingTalk says it expired', async () => {
    const ch = dingtalk();
    await ch.channel.send(notice({ id: 'N-1' }), chen);
    await ch.channel.send(notice({ id: 'N-2' }), chen);
    expect(ding.tokenCalls).toBe(1);
    ding.validTokens.clear(); // revoked at DingTalk's side before its time
    await expect(ch.channel.send(notice({ id: 'N-3' }), chen)).resolves.toEqual({ delivered: true });
    expect(ding.tokenCalls).toBe(2);
    expect(ding.sendCalls).toHaveLength(4);
    expect(ding.sendCalls[2]!.token).not.toBe(ding.sendCalls[3]!.token);
    // And ahead of its expiry (7200 s) without being told.
    clock.advance(7_000_000);
    await ch.channel.send(notice({ id: 'N-4' }), chen);
    expect(ding.tokenCalls).toBe(3);
  });

  it('shares one token fetch between pushes sent at once, and does not keep a failed fetch', async () => {
    const ch = dingtalk({ timeoutMs: 200 });
    await Promise.all([1, 2, 3].map((i) => ch.channel.send(notice({ id: `N-${i}` }), chen)));
    expect(ding.tokenCalls).toBe(1);
    expect(ding.phone).toHaveLength(3);

    const other = dingtalk();
    ding.tokenScript.push({ status: 503, body: {} });
    await expect(other.channel.send(notice({ id: 'N-4' }), chen)).rejects.toMatchObject({ code: 'GAS_PUSH_UNAVAILABLE', statusCode: 503 });
    await expect(other.channel.send(notice({ id: 'N-4' }), chen)).resolves.toEqual({ delivered: true });
  });

  it('refuses for good on a wrong app secret, a bad parameter or an unknown userid', async () => {
    await expect(dingtalk({ appSecret: 'wrong' }).channel.send(notice(), chen)).rejects.toMatchObject({ code: 'GAS_PUSH_REJECTED', message: expect.stringMatching(/40089/) });
    ding.sendScript.push({ status: 200, body: { errcode: 40035, errmsg: '不合法的参数' } });
    await expect(dingtalk().channel.send(notice(), chen)).rejects.toBeInstanceOf(PushRejectedError);
    await expect(dingtalk().channel.send(notice(), technician)).rejects.toBeInstanceOf(PushRejectedError);
  });

  it('waits on flow control, retries when busy, on 5xx and on no answer', async () => {
    const ch = dingtalk({ throttleMs: 30_000, timeoutMs: 200 });
    ding.sendScript.push({ status: 200, body: { errcode: 90018, errmsg: '您的企业调用钉钉开放平台当前接口的所有请求都被暂时禁用了' } });
    const throttled = await ch.channel.send(notice(), chen).catch((e) => e);
    expect(throttled).toBeInstanceOf(PushThrottledError);
    expect(throttled.retryAfterMs).toBe(30_000);
    ding.sendScript.push({ status: 200, body: { errcode: -1, errmsg: '系统繁忙' } });
    await expect(ch.channel.send(notice(), chen)).rejects.toBeInstanceOf(PushUnavailableError);
    ding.sendScript.push({ status: 502, body: {} });
    await expect(ch.channel.send(notice(), chen)).rejects.toMatchObject({ code: 'GAS_PUSH_UNAVAILABLE', statusCode: 502 });
    ding.sendScript.push({ status: 429, body: {} });
    await expect(ch.channel.send(notice(), chen)).rejects.toBeInstanceOf(PushThrottledError);
    ding.sendScript.push('hang');
    await expect(ch.channel.send(notice(), chen)).rejects.toBeInstanceOf(PushTimeoutError);
  });

  it('serves only people with a DingTalk userid, and refuses a config without the app’s keys at start', () => {
    const ch = dingtalk();
    expect(ch.serves(chen)).toBe(true);
    expect(ch.serves(technician)).toBe(false);
    expect(() => createChannels([{ name: 'd', type: 'dingtalk-work', config: { appKey: 'k', appSecret: 's', appUrl: 'https://x' } }], { log: pino({ level: 'silent' }), clock })).toThrow(
      /push.channels.d.config/,
    );
  });
});

describe('a leak pushed as a DingTalk work notice and acknowledged from its link', () => {
  const OPERATOR = 'operator-token';
  const log = pino({ level: 'silent' });
  const sending: Promise<unknown>[] = [];
  const scheduler = new ManualScheduler(clock);
  let svc: TicketService;
  let dispatcher: PushDispatcher;
  let app: FastifyInstance;

  beforeAll(async () => {
    svc = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice });
    const audit = new SqlAuditLog(db);
    const directory = new SqlOnCallDirectory(db, { now: () => clock.now() });
    await directory.savePerson({ ...people['tech-wang']!, accounts: { dingtalk: 'wang0815' } });
    const applyAction = ticketActionApplier({ tickets: svc, people: directory, clock, audit, log });
    const channels = createChannels([{ name: 'dingtalk', type: 'dingtalk-work', config: { ...APP, baseUrl: ding.base } }], {
      log,
      clock,
      scheduler,
      appUrl: 'https://ops.example.com',
      people: directory,
      actions: tokens,
      receipts: { recordReceipt: (...r) => dispatcher.recordReceipt(...r) },
    });
    dispatcher = new PushDispatcher({ db, people: directory, channels, log, clock, scheduler, random: () => 1 });
    svc.onNotice((n) => sending.push(dispatcher.dispatchFresh(n)));
    const apiTokens = new TokenBook();
    apiTokens.add(OPERATOR, { name: 'call centre', role: 'operator' });
    app = await buildHttpApi({
      ...bareServices(),
      tokens: apiTokens,
      tickets: svc,
      clock,
      audit,
      actionTokens: tokens,
      applyAction,
    }, log);
  });
  afterAll(async () => {
    await app.close();
    await dispatcher.close();
  });

  it('sends the action card on dispatch; its 接单 link, posted as the console’s one-tap screen does, acknowledges as the technician once', async () => {
    await svc.onAlertChanges(raise(newBook(), 'HM-1', 'GAS_ALARM_L2', clock.now(), { severity: 'critical' }));
    for (let i = 0; i < 5; i++) {
      await Promise.all(sending.splice(0));
      await dispatcher.idle();
    }
    const ticket = (await svc.list({ deviceId: 'HM-1' }))[0]!;
    const notice = ding.phone.find((p) => p.userid === 'wang0815' && p.msg.action_card.markdown.includes(ticket.id))!;
    const link: string = notice.msg.action_card.btn_json_list.find((b: any) => b.title === '接单 Acknowledge').action_url;
    const token = link.match(/^https:\/\/ops\.example\.com\/#\/act\/(.+)$/)![1]!;

    const act = () => app.inject({ method: 'POST', url: '/hooks/v1/actions', payload: { token } });
    const done = await act();
    expect(done.statusCode).toBe(200);
    expect(done.json()).toEqual({ ticketId: ticket.id, action: 'acknowledge', status: 'acknowledged' });
    expect((await act()).statusCode).toBe(409);

    const detail = await app.inject({ url: `/api/v1/tickets/${ticket.id}`, headers: { authorization: `Bearer ${OPERATOR}` } });
    const rows = detail.json().deliveries.filter((d: { kind: string; recipientId: string }) => d.kind === 'ticket.dispatched' && d.recipientId === 'tech-wang');
    expect(rows).toEqual([expect.objectContaining({ channel: 'dingtalk', status: 'sent', attempts: 1, acknowledgedVia: 'link' })]);
  });

  it('asks DingTalk once, five minutes after sending, whether the technician read it: the ticket shows the read time, or none when unread then', async () => {
    const dispatchedTo = async (deviceId: string) => {
      await svc.onAlertChanges(raise(newBook(), deviceId, 'GAS_ALARM_L2', clock.now(), { severity: 'critical' }));
      for (let i = 0; i < 5; i++) {
        await Promise.all(sending.splice(0));
        await dispatcher.idle();
      }
      const ticket = (await svc.list({ deviceId }))[0]!;
      return { ticket, sent: ding.phone.find((p) => p.userid === 'wang0815' && p.msg.action_card.markdown.includes(ticket.id))! };
    };
    const read = await dispatchedTo('HM-2');
    const unread = await dispatchedTo('GW-1');
    const sentAtMs = clock.now();
    ding.readBy.add(`${read.sent.taskId}:wang0815`); // 王工 opens the first notice on his phone
    await scheduler.advance(5 * 60_000);
    ding.readBy.add(`${unread.sent.taskId}:wang0815`); // the second only after DingTalk was asked: not seen here
    await scheduler.advance(60 * 60_000);

    const rowOf = async (ticketId: string) => {
      const detail = await app.inject({ url: `/api/v1/tickets/${ticketId}`, headers: { authorization: `Bearer ${OPERATOR}` } });
      return detail.json().deliveries.find((d: { kind: string; recipientId: string }) => d.kind === 'ticket.dispatched' && d.recipientId === 'tech-wang');
    };
    const readAt = new Date(sentAtMs + 5 * 60_000).toISOString();
    expect(await rowOf(read.ticket.id)).toMatchObject({ channel: 'dingtalk', status: 'delivered', deliveredAt: readAt, readAt });
    expect(await rowOf(unread.ticket.id)).toMatchObject({ channel: 'dingtalk', status: 'sent', readAt: null });
  });
});
