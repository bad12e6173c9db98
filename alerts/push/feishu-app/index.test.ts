import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { bareServices } from '../../api/testing.ts';
import { buildHttpApi } from '../../api/server.ts';
import { SqlAuditLog } from '../../audit/audit-log.ts';
import type { Person } from '../../oncall/directory.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { SqlOnCallDirectory } from '../../oncall/oncall-directory.ts';
import { FakeDirectory, lookupDevice, newBook, people, raise, T0 } from '../../tickets/test-support.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { ActionTokens, ticketActionApplier } from '../actions.ts';
import type { ChannelDeps } from '../channel.ts';
import { createChannels, pushCallbacksOf, type StaffChannelInstance } from '../channels.ts';
import { PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';
import { notice } from '../testing.ts';
import { cardAction, FEISHU_APP, type FeishuStandIn, feishuCallbackRequest, startFeishuStandIn } from './stand-in.ts';

let feishu: FeishuStandIn;
let base: string;
beforeAll(async () => {
  feishu = await startFeishuStandIn();
  base = feishu.base;
});
afterAll(() => feishu.close());
beforeEach(() => feishu.reset());

const APP = FEISHU_APP;
const feishuRequest = (event: unknown, options?: Parameters<typeof feishuCallbackRequest>[2]) => feishuCallbackRequest(clock, event, options);
const tap = (card: any, label: string, operatorOpenId: string) => cardAction(clock, card, label, operatorOpenId);

const clock = new ManualClock(T0);
const log = pino({ level: 'silent' });
let db: Db;
let svc: TicketService;
let audit: SqlAuditLog;
let app: FastifyInstance;
let hookUrl: string;
let deps: ChannelDeps;
let ticketId: string;
const wang: Person = { ...people['tech-wang']!, accounts: { feishu: 'ou_wang7f3' } };

async function post(req: { headers: Record<string, string>; body: string }) {
  const res = await fetch(hookUrl, { method: 'POST', headers: req.headers, body: req.body });
  return { status: res.status, body: (await res.json()) as any };
}

function channel(config: Record<string, unknown> = {}) {
  return createChannels([{ name: 'feishu', type: 'feishu-app', config: { ...APP, baseUrl: base, ...config } }], deps).get('feishu') as StaffChannelInstance;
}

beforeAll(async () => {
  db = await openDb({});
  svc = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice });
  audit = new SqlAuditLog(db);
  const tokens = new ActionTokens({ db, clock, secret: randomBytes(32), defaultTtlMs: 2 * 3_600_000, audit });
  // The directory knows tech-wang's open_id: the callback checks the tapping user against it.
  const directory = new SqlOnCallDirectory(db, { now: () => clock.now() });
  await directory.savePerson(wang);
  const applyAction = ticketActionApplier({ tickets: svc, people: directory, clock, audit, log });
  deps = { log, clock, people: directory, actions: tokens, redeemAction: tokens, applyAction };
  // A level-2 gas alarm in the east: its ticket is dispatched to tech-wang.
  await svc.onAlertChanges(raise(newBook(), 'HM-1', 'GAS_ALARM_L2', clock.now(), { severity: 'critical' }));
  ticketId = (await svc.list({ deviceId: 'HM-1' }))[0]!.id;

  // The API server as the service runs it: the instance's callbacks under /hooks/v1/push/feishu/, no bearer token.
  app = await buildHttpApi({
    ...bareServices(),
    tickets: svc,
    clock,
    audit,
    actionTokens: tokens,
    applyAction,
    pushCallbacks: pushCallbacksOf(createChannels([{ name: 'feishu', type: 'feishu-app', config: { ...APP, baseUrl: base } }], deps)),
  }, log);
  await app.listen({ port: 0, host: '127.0.0.1' });
  hookUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/hooks/v1/push/feishu/card`;
});
afterAll(async () => {
  await app.close();
  await db.close();
});

describe('feishu-app channel against a local Feishu stand-in', () => {
  it('sends an interactive card to the person’s open_id with 接单/到场 buttons carrying action tokens', async () => {
    await expect(channel().channel.send(notice({ ticketId }), wang)).resolves.toEqual({ delivered: true });
    expect(feishu.inbox).toHaveLength(1);
    const { openId, card } = feishu.inbox[0]!;
    expect(openId).toBe('ou_wang7f3');
    expect(card.header).toMatchObject({ template: 'red', title: { tag: 'plain_text', content: expect.stringContaining('二级燃气报警') } });
    expect(card.elements[0].text.content).toContain('Go on site now');
    const buttons = card.elements[1].actions;
    expect(buttons.map((b: any) => b.text.content)).toEqual(['接单 Acknowledge', '到场 On site', '打开工单 Open ticket']);
    expect(buttons[0].value).toMatchObject({ action_token: expect.stringMatching(/^a1\./), open_id: 'ou_wang7f3' });
    expect(buttons[2].url).toBe('https://ops.example.com/tickets/T000001');
  });

  it('acknowledges the ticket as that person when the card’s 接单 is tapped, then 到场 from the updated card', async () => {
    await channel().channel.send(notice({ ticketId }), wang);
    const ack = await post(feishuRequest(tap(feishu.inbox[0]!.card, '接单 Acknowledge', 'ou_wang7f3')));
    expect(ack.status).toBe(200);
    expect(ack.body.toast).toEqual({ type: 'success', content: '已接单 Acknowledged', i18n: { zh_cn: '已接单', en_us: 'Acknowledged' } });
    expect(ack.body.card.type).toBe('raw');
    const updated = ack.body.card.data;
    expect(updated.header.title.content).toContain('二级燃气报警');
    const labels = updated.elements[1].actions.map((b: any) => [b.text.content, b.disabled ?? false]);
    expect(labels).toEqual([['已接单 Acknowledged', true], ['到场 On site', false], ['打开工单 Open ticket', false]]);
    expect((await svc.get(ticketId))!.status).toBe('acknowledged');
    expect(await audit.list({ action: 'tickets.acknowledge.phone', limit: 10 })).toEqual([
      expect.objectContaining({ actor: 'tech-wang', targetId: ticketId, path: '/hooks/v1/push/feishu', detail: expect.objectContaining({ via: 'feishu', action: 'acknowledge' }) }),
    ]);

    const onSite = await post(feishuRequest(tap(updated, '到场 On site', 'ou_wang7f3')));
    expect(onSite.body.toast.i18n.zh_cn).toBe('已到场');
    expect((await svc.get(ticketId))!.status).toBe('on_site');

    // The same tap again (a replayed callback): refused, the ticket untouched.
    const again = await post(feishuRequest(tap(feishu.inbox[0]!.card, '接单 Acknowledge', 'ou_wang7f3')));
    expect(again.body).toEqual({ toast: expect.objectContaining({ type: 'error', i18n: { zh_cn: '此按钮已使用过', en_us: 'This button has already been used' } }) });
    expect((await svc.get(ticketId))!.status).toBe('on_site');
  });

  it('refuses a tap by someone the card was not sent to (a forwarded card)', async () => {
    await svc.onAlertChanges(raise(newBook(), 'HM-2', 'GAS_ALARM_L2', clock.now(), { severity: 'critical' }));
    const other = (await svc.list({ deviceId: 'HM-2' }))[0]!.id;
    await channel().channel.send(notice({ id: 'N-2', ticketId: other }), wang);
    const res = await post(feishuRequest(tap(feishu.inbox[0]!.card, '接单 Acknowledge', 'ou_someone_else')));
    expect(res.body.toast).toMatchObject({ type: 'error', i18n: { zh_cn: '此卡片不是发给您的' } });
    expect((await svc.get(other))!.status).not.toBe('acknowledged');
    expect(await audit.list({ action: 'actions.refused.wrong_person', limit: 10 })).toEqual([expect.objectContaining({ actor: 'tech-wang', targetId: other, detail: expect.objectContaining({ via: 'feishu' }) })]);
  });

  it('refuses callbacks Feishu did not sign or encrypt with our keys, and stale ones', async () => {
    await channel().channel.send(notice({ id: 'N-3', ticketId }), wang);
    const event = tap(feishu.inbox[0]!.card, '接单 Acknowledge', 'ou_wang7f3');
    expect((await post(feishuRequest(event, { tamper: true }))).status).toBe(401);
    expect((await post(feishuRequest(event, { encryptKey: 'someone-elses-key' }))).status).toBe(401);
    expect((await post(feishuRequest(event, { unsigned: true }))).status).toBe(401);
    expect((await post(feishuRequest(event, { timestampS: Math.floor(clock.now() / 1000) - 3600 }))).status).toBe(401);
    const wrongToken = await post(feishuRequest({ ...event, header: { ...event.header, token: 'wrong' } }));
    expect(wrongToken).toEqual({ status: 401, body: expect.objectContaining({ error: 'GAS_PUSH_CALLBACK_INVALID' }) });
  });

  it('answers the url_verification challenge sent encrypted when the callback address is saved', async () => {
    const challenge = { challenge: 'ajls384kdjx98XX', token: APP.verificationToken, type: 'url_verification' };
    expect(await post(feishuRequest(challenge, { unsigned: true }))).toEqual({ status: 200, body: { challenge: 'ajls384kdjx98XX' } });
    expect((await post(feishuRequest({ ...challenge, token: 'nope' }, { unsigned: true }))).status).toBe(401);
  });

  it('reuses the tenant access token and fetches a new one when Feishu says it is invalid', async () => {
    const ch = channel();
    await ch.channel.send(notice({ id: 'N-4' }), wang);
    await ch.channel.send(notice({ id: 'N-5' }), wang);
    expect(feishu.tokenCalls).toBe(1);
    feishu.validTokens.clear();
    await expect(ch.channel.send(notice({ id: 'N-6' }), wang)).resolves.toEqual({ delivered: true });
    expect(feishu.tokenCalls).toBe(2);
    expect(feishu.inbox).toHaveLength(3);
  });

  it('sorts failures: rate limits wait, 5xx retries, bad parameters and a wrong app secret are permanent', async () => {
    const ch = channel({ throttleMs: 45_000 });
    feishu.sendScript.push({ status: 400, body: { code: 99991400, msg: 'request trigger frequency limit' } });
    await expect(ch.channel.send(notice(), wang)).rejects.toMatchObject({ code: 'GAS_PUSH_THROTTLED', retryAfterMs: 45_000 });
    feishu.sendScript.push({ status: 429, body: { code: 99991400, msg: 'too many' }, headers: { 'x-ogw-ratelimit-reset': '12' } });
    const limited = await ch.channel.send(notice(), wang).catch((e) => e);
    expect(limited).toBeInstanceOf(PushThrottledError);
    expect(limited.retryAfterMs).toBe(12_000);
    feishu.sendScript.push({ status: 503, body: { code: 1000, msg: 'internal error' } });
    await expect(ch.channel.send(notice(), wang)).rejects.toBeInstanceOf(PushUnavailableError);
    await expect(ch.channel.send(notice(), { ...wang, accounts: { feishu: 'not-an-open-id' } })).rejects.toMatchObject({ code: 'GAS_PUSH_REJECTED', message: expect.stringMatching(/230001/) });
    await expect(channel({ appSecret: 'wrong' }).channel.send(notice(), wang)).rejects.toBeInstanceOf(PushRejectedError);
  });

  it('serves only people with a Feishu open_id, and refuses a config without the callback keys at start', () => {
    expect(channel().serves(wang)).toBe(true);
    expect(channel().serves(people['tech-wang']!)).toBe(false);
    expect(() => createChannels([{ name: 'f', type: 'feishu-app', config: { appId: 'a', appSecret: 'b' } }], deps)).toThrow(/push.channels.f.config/);
  });
});
