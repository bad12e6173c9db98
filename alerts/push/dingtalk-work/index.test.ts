import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ManualClock } from '../../../app/clock.ts';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
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

/**
 * A stand-in for DingTalk's open API as documented: `GET /gettoken?appkey&appsecret` answers
 * `{errcode:0, access_token, expires_in:7200}`; `POST /topapi/message/corpconversation/asyncsend_v2
 * ?access_token=` takes `{agent_id, userid_list: "a,b", msg}` and answers `{errcode:0, task_id}`.
 * It checks what DingTalk checks (token, agent, msg shape) and, like DingTalk, drops a notice whose
 * content the user already got from the app that day: `phone` holds only what would reach a phone.
 * `POST /topapi/message/corpconversation/getsendresult?access_token=` takes `{agent_id, task_id}` and
 * answers `{errcode:0, send_result:{read_user_id_list, unread_user_id_list, …}}` (open.dingtalk.com,
 * 获取工作通知消息的发送结果): a user is read once the test opens the notice (`readBy`).
 */
const APP = { appKey: 'dingappkey01', appSecret: 'app-secret-01', agentId: 2_718_281_828 };
let server: Server;
let base: string;
let validTokens: Set<string>;
let tokenCalls: number;
let sendCalls: Array<{ token: string; body: any }>;
let phone: Array<{ userid: string; msg: any; taskId: number }>;
/** `<task_id>:<userid>` of the notices their recipient opened. */
let readBy: Set<string>;
let nextTaskId = 256_271_667_526;
const tasks = new Map<number, string[]>();
let seenToday: Set<string>;
/** Replaces the stand-in's answer to the next sends, one per call (then back to normal). */
let sendScript: Array<{ status: number; body: unknown } | 'hang'>;
/** The same for gettoken. */
let tokenScript: Array<{ status: number; body: unknown }>;

function reply(res: import('node:http').ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' }).end(JSON.stringify(body));
}

function checkMsg(msg: any): string | undefined {
  if (msg?.msgtype === 'markdown') return typeof msg.markdown?.title === 'string' && typeof msg.markdown?.text === 'string' ? undefined : 'markdown needs title and text';
  if (msg?.msgtype === 'action_card') {
    const c = msg.action_card;
    if (typeof c?.title !== 'string' || typeof c?.markdown !== 'string') return 'action_card needs title and markdown';
    const single = typeof c.single_title === 'string' && typeof c.single_url === 'string';
    const list = Array.isArray(c.btn_json_list) && c.btn_json_list.length > 0 && c.btn_json_list.every((b: any) => typeof b.title === 'string' && /^https?:\/\//.test(b.action_url));
    if (!single && !list) return 'action_card needs single_title/single_url or btn_json_list';
    if (c.btn_orientation !== undefined && !['0', '1'].includes(c.btn_orientation)) return 'btn_orientation is "0" or "1"';
    return undefined;
  }
  return `unsupported msgtype ${msg?.msgtype}`;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url!, base);
      if (req.method === 'GET' && url.pathname === '/gettoken') {
        tokenCalls++;
        const scripted = tokenScript.shift();
        if (scripted) return reply(res, scripted.status, scripted.body);
        if (url.searchParams.get('appkey') !== APP.appKey || url.searchParams.get('appsecret') !== APP.appSecret) return reply(res, 200, { errcode: 40089, errmsg: '不合法的corpid或corpsecret' });
        const token = randomBytes(16).toString('hex');
        validTokens.add(token);
        return reply(res, 200, { errcode: 0, errmsg: 'ok', access_token: token, expires_in: 7200 });
      }
      if (req.method === 'POST' && url.pathname === '/topapi/message/corpconversation/asyncsend_v2') {
        const token = url.searchParams.get('access_token') ?? '';
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        sendCalls.push({ token, body });
        const scripted = sendScript.shift();
        if (scripted === 'hang') return;
        if (scripted) return reply(res, scripted.status, scripted.body);
        if (!validTokens.has(token)) return reply(res, 200, { errcode: 88, sub_code: '40014', sub_msg: '不合法的access_token', errmsg: 'ding talk error[subcode=40014,submsg=不合法的access_token]' });
        if (body.agent_id !== APP.agentId) return reply(res, 200, { errcode: 88, sub_code: '60020', errmsg: '访问ip不在白名单之中或agent_id错误' });
        if (typeof body.userid_list !== 'string' || !body.userid_list) return reply(res, 200, { errcode: 40035, errmsg: 'userid_list 不能为空' });
        const bad = checkMsg(body.msg);
        if (bad) return reply(res, 200, { errcode: 40035, errmsg: `不合法的参数: ${bad}` });
        const taskId = nextTaskId++;
        tasks.set(taskId, body.userid_list.split(','));
        for (const userid of body.userid_list.split(',')) {
          const key = `${userid}\u0000${JSON.stringify(body.msg)}`;
          if (seenToday.has(key)) continue; // same content to the same person within a day: dropped
          seenToday.add(key);
          phone.push({ userid, msg: body.msg, taskId });
        }
        return reply(res, 200, { errcode: 0, errmsg: 'ok', task_id: taskId, request_id: 'req-1' });
      }
      if (req.method === 'POST' && url.pathname === '/topapi/message/corpconversation/getsendresult') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (!validTokens.has(url.searchParams.get('access_token') ?? '')) return reply(res, 200, { errcode: 88, sub_code: '40014', errmsg: 'ding talk error[subcode=40014,submsg=不合法的access_token]' });
        const userids = tasks.get(body.task_id);
        if (body.agent_id !== APP.agentId || !userids) return reply(res, 200, { errcode: 400002, errmsg: '无效的参数 task_id' });
        const read = userids.filter((u) => readBy.has(`${body.task_id}:${u}`));
        const send_result = { read_user_id_list: read, unread_user_id_list: userids.filter((u) => !read.includes(u)), invalid_user_id_list: [], forbidden_user_id_list: [], failed_user_id_list: [], invalid_dept_id_list: [], forbidden_list: [] };
        return reply(res, 200, { errcode: 0, errmsg: 'ok', send_result, request_id: 'req-2' });
      }
      reply(res, 404, { errcode: 404, errmsg: '请求的URI地址不存在' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  validTokens = new Set();
  tokenCalls = 0;
  sendCalls = [];
  phone = [];
  readBy = new Set();
  seenToday = new Set();
  sendScript = [];
  tokenScript = [];
});

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
    [{ name: 'dingtalk', type: 'dingtalk-work', config: { ...APP, appUrl: 'https://ops.example.com/console/', baseUrl: base, ...config } }],
    { log: pino({ level: 'silent' }), clock, actions },
  );
  return channels.get('dingtalk') as StaffChannelInstance;
}

describe('dingtalk-work channel against a local DingTalk stand-in', () => {
  it('sends an action card to the person’s userid with one-tap 接单/到场 links whose tokens act once, as that person', async () => {
    await expect(dingtalk({ actionTtlMs: 3_600_000 }).channel.send(notice(), chen)).resolves.toEqual({ delivered: true });
    expect(phone).toHaveLength(1);
    const { userid, msg } = phone[0]!;
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
    await expect(tokens.redeem(tokenOf(phone[1]!.msg.action_card.btn_json_list[1].action_url), ctx)).rejects.toMatchObject({ reason: 'expired' });
  });

  it('names the notice in the text, so a repeat about the same ticket is not dropped as a duplicate', async () => {
    const ch = dingtalk({}, undefined);
    await ch.channel.send(notice({ id: 'N-1' }), chen);
    await ch.channel.send(notice({ id: 'N-2', kind: 'ticket.sla_breached', createdAtMs: clock.now() + 600_000 }), chen);
    expect(sendCalls).toHaveLength(2);
    expect(phone).toHaveLength(2);
    expect(phone[0]!.msg.action_card.markdown).toContain('N-1');
    expect(phone[1]!.msg.action_card.markdown).toContain('N-2');
  });

  it('gives a leak pushed ahead of its ticket links that name its alert, and sends markdown when there is nothing to tap', async () => {
    await dingtalk().channel.send(notice({ ticketId: '', url: undefined, data: { alertIds: ['A-9'] } }), chen);
    const [ack] = phone[0]!.msg.action_card.btn_json_list;
    const token = decodeURIComponent(ack.action_url.match(/#\/act\/(.+)$/)![1]!);
    await expect(tokens.redeem(token, { via: 'link' })).resolves.toEqual({ personId: 'tech-chen', ticketId: 'alert:A-9', action: 'acknowledge' });
    expect(phone[0]!.msg.action_card.markdown).toContain('A-9');

    await dingtalk().channel.send(notice({ id: 'N-2', ticketId: '', url: undefined, data: {} }), chen);
    expect(phone[1]!.msg.msgtype).toBe('markdown');
  });

  it('takes the service’s appUrl when the instance names none, and shows no 接单/到场 without any', async () => {
    const make = (appUrl: string | undefined) =>
      createChannels([{ name: 'd', type: 'dingtalk-work', config: { ...APP, baseUrl: base } }], { log: pino({ level: 'silent' }), clock, actions: tokens, ...(appUrl ? { appUrl } : {}) }).get('d')!;
    await make('https://console.example.com').channel.send(notice({ id: 'N-7' }), chen);
    expect(phone[0]!.msg.action_card.btn_json_list[0].action_url).toMatch(/^https:\/\/console\.example\.com\/#\/act\/a1\./);
    await make(undefined).channel.send(notice({ id: 'N-8' }), chen);
    expect(phone[1]!.msg.action_card.btn_json_list.map((b: any) => b.title)).toEqual(['打开工单 Open ticket']);
  });

  it('fetches the access token once, reuses it, and refreshes it when DingTalk says it expired', async () => {
    const ch = dingtalk();
    await ch.channel.send(notice({ id: 'N-1' }), chen);
    await ch.channel.send(notice({ id: 'N-2' }), chen);
    expect(tokenCalls).toBe(1);
    validTokens.clear(); // revoked at DingTalk's side before its time
    await expect(ch.channel.send(notice({ id: 'N-3' }), chen)).resolves.toEqual({ delivered: true });
    expect(tokenCalls).toBe(2);
    expect(sendCalls).toHaveLength(4);
    expect(sendCalls[2]!.token).not.toBe(sendCalls[3]!.token);
    // And ahead of its expiry (7200 s) without being told.
    clock.advance(7_000_000);
    await ch.channel.send(notice({ id: 'N-4' }), chen);
    expect(tokenCalls).toBe(3);
  });

  it('shares one token fetch between pushes sent at once, and does not keep a failed fetch', async () => {
    const ch = dingtalk({ timeoutMs: 200 });
    await Promise.all([1, 2, 3].map((i) => ch.channel.send(notice({ id: `N-${i}` }), chen)));
    expect(tokenCalls).toBe(1);
    expect(phone).toHaveLength(3);

    const other = dingtalk();
    tokenScript = [{ status: 503, body: {} }];
    await expect(other.channel.send(notice({ id: 'N-4' }), chen)).rejects.toMatchObject({ code: 'GAS_PUSH_UNAVAILABLE', statusCode: 503 });
    await expect(other.channel.send(notice({ id: 'N-4' }), chen)).resolves.toEqual({ delivered: true });
  });

  it('refuses for good on a wrong app secret, a bad parameter or an unknown userid', async () => {
    await expect(dingtalk({ appSecret: 'wrong' }).channel.send(notice(), chen)).rejects.toMatchObject({ code: 'GAS_PUSH_REJECTED', message: expect.stringMatching(/40089/) });
    sendScript = [{ status: 200, body: { errcode: 40035, errmsg: '不合法的参数' } }];
    await expect(dingtalk().channel.send(notice(), chen)).rejects.toBeInstanceOf(PushRejectedError);
    await expect(dingtalk().channel.send(notice(), technician)).rejects.toBeInstanceOf(PushRejectedError);
  });

  it('waits on flow control, retries when busy, on 5xx and on no answer', async () => {
    const ch = dingtalk({ throttleMs: 30_000, timeoutMs: 200 });
    sendScript = [{ status: 200, body: { errcode: 90018, errmsg: '您的企业调用钉钉开放平台当前接口的所有请求都被暂时禁用了' } }];
    const throttled = await ch.channel.send(notice(), chen).catch((e) => e);
    expect(throttled).toBeInstanceOf(PushThrottledError);
    expect(throttled.retryAfterMs).toBe(30_000);
    sendScript = [{ status: 200, body: { errcode: -1, errmsg: '系统繁忙' } }];
    await expect(ch.channel.send(notice(), chen)).rejects.toBeInstanceOf(PushUnavailableError);
    sendScript = [{ status: 502, body: {} }];
    await expect(ch.channel.send(notice(), chen)).rejects.toMatchObject({ code: 'GAS_PUSH_UNAVAILABLE', statusCode: 502 });
    sendScript = [{ status: 429, body: {} }];
    await expect(ch.channel.send(notice(), chen)).rejects.toBeInstanceOf(PushThrottledError);
    sendScript = ['hang'];
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
    const channels = createChannels([{ name: 'dingtalk', type: 'dingtalk-work', config: { ...APP, baseUrl: base } }], {
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
      alerts: newBook(),
      registry: new DeviceRegistry([]),
      devices: { statusOf: () => undefined },
      deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
      metrics: { text: async () => '' },
      tokens: apiTokens,
      health: () => ({ status: 'ok', checks: {} }),
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
    const notice = phone.find((p) => p.userid === 'wang0815' && p.msg.action_card.markdown.includes(ticket.id))!;
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
      return { ticket, sent: phone.find((p) => p.userid === 'wang0815' && p.msg.action_card.markdown.includes(ticket.id))! };
    };
    const read = await dispatchedTo('HM-2');
    const unread = await dispatchedTo('GW-1');
    const sentAtMs = clock.now();
    readBy.add(`${read.sent.taskId}:wang0815`); // 王工 opens the first notice on his phone
    await scheduler.advance(5 * 60_000);
    readBy.add(`${unread.sent.taskId}:wang0815`); // the second only after DingTalk was asked: not seen here
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
