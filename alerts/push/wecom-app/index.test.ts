/**
 * The WeCom application channel against a stand-in WeCom server (wecom-stand-in.ts: gettoken,
 * message/send, message/update_template_card, and signed, encrypted template_card_event clicks
 * built with WXBizMsgCrypt's algorithm written again from WeCom's documentation). The callback reaches the
 * real HTTP API (buildHttpApi over a socket), a real TicketService on PGlite and the audit log.
 */
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
import type { Notice } from '../../tickets/notice.ts';
import { FakeDirectory, lookupDevice, MIN, newBook, people, raise, T0 } from '../../tickets/test-support.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { ActionTokens, actionTicketRef, sqlTicketOfAlert, ticketActionApplier } from '../actions.ts';
import { type ChannelInstance, createChannels, pushCallbacksOf, type StaffChannelInstance } from '../channels.ts';
import { PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';
import { testWecomApp, wecomChannelConfig, WecomStandIn } from './wecom-stand-in.ts';

const WECOM = testWecomApp();
const AGENT_ID = WECOM.agentId;
const WECOM_USER: Record<string, string> = { 'tech-wang': 'WangGong', 'tech-li': 'LiGong' };

/** The directory's people with their WeCom userids. */
class WecomDirectory extends FakeDirectory {
  override async person(id: string): Promise<Person | undefined> {
    const p = people[id];
    return p && WECOM_USER[id] ? { ...p, accounts: { wecom: WECOM_USER[id] } } : p;
  }
}

// ---- the pipeline side ---------------------------------------------------------------------------
const log = pino({ level: 'silent' });
const clock = new ManualClock(T0);
const wecom = new WecomStandIn(WECOM);
let db: Db;
let svc: TicketService;
let audit: SqlAuditLog;
let app: FastifyInstance;
let channels: Map<string, ChannelInstance>;
let channel: StaffChannelInstance;
const directory = new WecomDirectory();
const notices: Notice[] = [];
const nowS = () => Math.floor(clock.now() / 1000);
const report = { origin: 'report', contact: { name: '张三', phone: '138 0000 0001' }, address: '东区幸福路 1 号 101', district: 'east', description: '厨房有燃气味' };

async function ticketWithCard(): Promise<{ ticketId: string; ack: string; onSite: string; card: any }> {
  const { ticket } = await svc.openByPerson(report as never, 'op-zhou');
  const notice = notices.filter((n) => n.ticketId === ticket.id && n.recipients.includes('tech-wang')).at(-1)!;
  expect(await channel.channel.send(notice, (await directory.person('tech-wang'))!)).toEqual({ delivered: true });
  const card = wecom.cards().at(-1)!.body;
  const [ack, onSite] = card.template_card.button_list.map((b: { key: string }) => b.key);
  return { ticketId: ticket.id, ack, onSite, card };
}

beforeAll(async () => {
  await wecom.start();
  db = await openDb({});
  svc = new TicketService({ db, clock, directory, lookupDevice });
  svc.onNotice((n) => notices.push(n));
  audit = new SqlAuditLog(db);
  const actions = new ActionTokens({ db, clock, secret: randomBytes(32), defaultTtlMs: 30 * MIN, audit });
  const applyAction = ticketActionApplier({ tickets: svc, people: directory, ticketOfAlert: sqlTicketOfAlert(db), clock, audit, log });
  channels = createChannels(
    [{ name: 'wecom-tech', type: 'wecom-app', config: wecomChannelConfig(WECOM, wecom.url) }],
    { log, clock, actions, redeemAction: actions, applyAction, people: directory },
  );
  channel = channels.get('wecom-tech') as StaffChannelInstance;
  app = await buildHttpApi({
    ...bareServices(),
    tickets: svc,
    clock,
    audit,
    actionTokens: actions,
    applyAction,
    pushCallbacks: pushCallbacksOf(channels),
  }, log);
  await app.listen({ port: 0, host: '127.0.0.1' });
  wecom.callbackUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/hooks/v1/push/wecom-tech/callback`;
});
afterAll(async () => {
  await app.close();
  await db.close();
  await new Promise((r) => wecom.server.close(r));
});
beforeEach(() => {
  wecom.sendFailures = [];
});

describe('wecom-app: message/send', () => {
  it('serves only people with a WeCom userid', async () => {
    expect(channel.serves((await directory.person('tech-wang'))!)).toBe(true);
    expect(channel.serves((await directory.person('sup-zhao'))!)).toBe(false);
  });

  it('sends the person a button_interaction template card: zh-CN title first, 接单 / 到场 buttons keyed by action tokens', async () => {
    const { ticketId, card, ack, onSite } = await ticketWithCard();
    expect(card).toMatchObject({ touser: 'WangGong', msgtype: 'template_card', agentid: AGENT_ID });
    expect(card.template_card).toMatchObject({
      card_type: 'button_interaction',
      horizontal_content_list: [{ keyname: '工单 Ticket', value: ticketId }],
      button_list: [{ text: '接单 Acknowledge', style: 1 }, { text: '到场 On site', style: 2 }],
    });
    expect(card.template_card.main_title.title).toMatch(/[\u4e00-\u9fff]/);
    expect(ack).toMatch(/^a1\./);
    expect(onSite).not.toBe(ack);
  });

  it('fetches the access token once and reuses it until expires_in minus the margin', async () => {
    const before = wecom.tokensIssued;
    await ticketWithCard();
    await ticketWithCard();
    expect(wecom.tokensIssued - before).toBeLessThanOrEqual(1);
    const issued = wecom.tokensIssued;
    clock.advance(7200_000 - 300_000);
    await ticketWithCard();
    expect(wecom.tokensIssued).toBe(issued + 1);
    expect(wecom.cards().at(-1)!.token).toBe(`AT-${issued + 1}`);
  });

  it('on errcode 42001 (token expired early at WeCom) fetches a new token and sends once more', async () => {
    wecom.valid.clear();
    const issued = wecom.tokensIssued;
    await ticketWithCard();
    expect(wecom.tokensIssued).toBe(issued + 1);
  });

  it('sorts errcodes into the push error classes: rate limit waits, busy retries, unknown user is refused', async () => {
    const { ticket } = await svc.openByPerson(report as never, 'op-zhou');
    const notice = notices.filter((n) => n.ticketId === ticket.id).at(-1)!;
    const wang = (await directory.person('tech-wang'))!;
    wecom.sendFailures = [{ errcode: 45009, errmsg: 'api freq out of limit' }];
    const throttled = await channel.channel.send(notice, wang).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(PushThrottledError);
    expect((throttled as PushThrottledError).retryAfterMs).toBe(60_000);
    wecom.sendFailures = [{ errcode: -1, errmsg: 'system busy' }];
    await expect(channel.channel.send(notice, wang)).rejects.toBeInstanceOf(PushUnavailableError);
    wecom.sendFailures = [{ errcode: 0, errmsg: 'ok', invaliduser: 'WangGong' }];
    await expect(channel.channel.send(notice, wang)).rejects.toBeInstanceOf(PushRejectedError);
    wecom.sendFailures = [{ errcode: 60020, errmsg: 'not allow to access from your ip' }];
    await expect(channel.channel.send(notice, wang)).rejects.toBeInstanceOf(PushRejectedError);
  });

  it('a retry after a lost answer is a new card (a fresh task_id), not refused as a repeat', async () => {
    const { ticket } = await svc.openByPerson(report as never, 'op-zhou');
    const notice = notices.filter((n) => n.ticketId === ticket.id).at(-1)!;
    const wang = (await directory.person('tech-wang'))!;
    wecom.loseNextAnswer = true;
    await expect(channel.channel.send(notice, wang)).rejects.toBeInstanceOf(PushUnavailableError);
    expect(await channel.channel.send(notice, wang)).toEqual({ delivered: true });
    const [a, b] = wecom.cards().slice(-2).map((c) => c.body.template_card.task_id);
    expect(a).not.toBe(b);
  });

  it('a leak pushed ahead of its ticket gets buttons on the alert; a notice naming neither ticket nor alert goes as text', async () => {
    const alarm: Notice = { id: 'alarm-1', kind: 'alarm.raised', ticketId: '', recipients: ['tech-wang'], priority: 'emergency', title: { 'zh-CN': '【紧急】燃气泄漏', en: '[EMERGENCY] Gas leak' }, body: { 'zh-CN': '东区', en: 'East' }, data: { alertIds: ['A1'] }, createdAtMs: clock.now() };
    const wang = (await directory.person('tech-wang'))!;
    await channel.channel.send(alarm, wang);
    const card = wecom.cards().at(-1)!.body;
    expect(card.template_card).toMatchObject({ horizontal_content_list: [{ keyname: '告警 Alert', value: 'A1' }], main_title: { title: '【紧急】燃气泄漏' }, source: { desc_color: 2 } });
    const claim = JSON.parse(Buffer.from(card.template_card.button_list[0].key.split('.')[1], 'base64url').toString());
    expect(claim).toMatchObject({ p: 'tech-wang', t: 'alert:A1', a: 'acknowledge' });
    await channel.channel.send({ ...alarm, id: 'note-1', data: {} }, wang);
    expect(wecom.cards().at(-1)!.body).toMatchObject({ touser: 'WangGong', msgtype: 'text', text: { content: expect.stringContaining('【紧急】燃气泄漏') } });
  });
});

describe('wecom-app: the callback route', () => {
  it('answers the URL verification with the decrypted echostr', async () => {
    const { status, text, echo } = await wecom.verifyUrl(nowS());
    expect(status).toBe(200);
    expect(text).toBe(echo);
  });

  it('a click on 接单 acknowledges the ticket as the clicking technician, audited via the instance, and the card shows 已接单', async () => {
    const { ticketId, ack } = await ticketWithCard();
    const res = await wecom.click('WangGong', ack, { responseCode: 'RC-ack', timestampS: nowS() });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    const t = await svc.get(ticketId);
    expect(t!.status).toBe('acknowledged');
    expect(t!.history.at(-1)).toMatchObject({ actor: 'tech-wang', action: 'acknowledge' });
    expect(await audit.list({ action: 'tickets.acknowledge.phone', targetId: ticketId, limit: 5 })).toEqual([expect.objectContaining({ actor: 'tech-wang', detail: expect.objectContaining({ via: 'wecom-tech' }) })]);
    expect(wecom.updates().at(-1)!.body).toEqual({ userids: ['WangGong'], agentid: AGENT_ID, response_code: 'RC-ack', button: { replace_name: '已接单 Acknowledged' } });
  });

  it('a replayed click is refused and audited; the ticket is touched once; the card says 已处理', async () => {
    const { ticketId, ack } = await ticketWithCard();
    await wecom.click('WangGong', ack, { responseCode: 'RC-1', timestampS: nowS() });
    const again = await wecom.click('WangGong', ack, { responseCode: 'RC-2', timestampS: nowS() });
    expect(again.status).toBe(200);
    expect((await svc.get(ticketId))!.history.filter((e) => e.action === 'acknowledge')).toHaveLength(1);
    expect(await audit.list({ action: 'actions.refused.replayed', targetId: ticketId, limit: 5 })).toEqual([expect.objectContaining({ actor: 'tech-wang', detail: expect.objectContaining({ via: 'wecom-tech' }) })]);
    expect(wecom.updates().at(-1)!.body).toMatchObject({ response_code: 'RC-2', button: { replace_name: '已处理 Already done' } });
  });

  it("a click by another WeCom user on someone else's card is refused as the wrong person and audited", async () => {
    const { ticketId, ack } = await ticketWithCard();
    await wecom.click('LiGong', ack, { timestampS: nowS() });
    expect((await svc.get(ticketId))!.status).toBe('dispatched');
    expect(await audit.list({ action: 'actions.refused.wrong_person', targetId: ticketId, limit: 5 })).toHaveLength(1);
    // The token was not spent: its own person can still use it.
    await wecom.click('WangGong', ack, { timestampS: nowS() });
    expect((await svc.get(ticketId))!.status).toBe('acknowledged');
  });

  it('到场 before 接单 is refused by the ticket rules and the card says so', async () => {
    const { ticketId, onSite } = await ticketWithCard();
    await wecom.click('WangGong', onSite, { responseCode: 'RC-os', timestampS: nowS() });
    expect((await svc.get(ticketId))!.status).toBe('dispatched');
    expect(wecom.updates().at(-1)!.body).toMatchObject({ response_code: 'RC-os', button: { replace_name: '工单状态已变 Ticket has moved on' } });
  });

  it("a tap on a leak's card before its ticket opens does nothing and leaves the buttons; the same tap later acknowledges", async () => {
    const [change] = raise(newBook(), 'HM-2', 'GAS_ALARM_L2', clock.now(), { kind: 'home_gas_alarm', severity: 'critical' });
    const alarm: Notice = { id: `alarm-${change!.alert.id}`, kind: 'alarm.raised', ticketId: '', recipients: ['tech-wang'], priority: 'emergency', title: { 'zh-CN': '【紧急】燃气泄漏', en: '[EMERGENCY] Gas leak' }, body: { 'zh-CN': '东区', en: 'East' }, data: { alertIds: [change!.alert.id] }, createdAtMs: clock.now() };
    await channel.channel.send(alarm, (await directory.person('tech-wang'))!);
    const ack = wecom.cards().at(-1)!.body.template_card.button_list[0].key;
    expect(actionTicketRef(alarm)).toBe(`alert:${change!.alert.id}`);
    const updates = wecom.updates().length;
    expect((await wecom.click('WangGong', ack, { responseCode: 'RC-early', timestampS: nowS() })).status).toBe(200);
    expect(wecom.updates()).toHaveLength(updates);
    await svc.onAlertChanges([change!]);
    await wecom.click('WangGong', ack, { responseCode: 'RC-later', timestampS: nowS() });
    expect(wecom.updates().at(-1)!.body).toMatchObject({ response_code: 'RC-later', button: { replace_name: '已接单 Acknowledged' } });
    const ticketId = (await svc.list({ deviceId: 'HM-2', limit: 5 } as never)).find((t: { status: string }) => t.status === 'acknowledged');
    expect(ticketId).toBeDefined();
  });

  it('a callback with a bad signature, or a stale timestamp, is refused with 401 and acts on nothing', async () => {
    const { ticketId, ack } = await ticketWithCard();
    const updates = wecom.updates().length;
    expect((await wecom.click('WangGong', ack, { timestampS: nowS(), tamper: true })).status).toBe(401);
    expect((await wecom.click('WangGong', ack, { timestampS: nowS() - 3600 })).status).toBe(401);
    expect((await svc.get(ticketId))!.status).toBe('dispatched');
    expect(wecom.updates()).toHaveLength(updates);
  });
});
