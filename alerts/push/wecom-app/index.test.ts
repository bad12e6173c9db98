/**
 * The WeCom application channel against a stand-in WeCom server (node:http) that implements the
 * documented gettoken, message/send (template_card) and message/update_template_card calls, and
 * clicks a card button by sending a signed, encrypted template_card_event callback, built with
 * WXBizMsgCrypt's algorithm written again here from WeCom's documentation. The callback reaches the
 * real HTTP API (buildHttpApi over a socket), a real TicketService on PGlite and the audit log.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
import { buildHttpApi } from '../../api/server.ts';
import { TokenBook } from '../../api/tokens.ts';
import { SqlAuditLog } from '../../audit/audit-log.ts';
import type { Person } from '../../oncall/directory.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import type { Notice } from '../../tickets/notice.ts';
import { FakeDirectory, lookupDevice, MIN, newBook, people, T0 } from '../../tickets/test-support.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { ActionTokens, ticketActionApplier } from '../actions.ts';
import { type ChannelInstance, createChannels, pushCallbacksOf, type StaffChannelInstance } from '../channels.ts';
import { PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';

const CORP_ID = 'ww1234567890abcdef';
const SECRET = 'app-secret-xyz';
const AGENT_ID = 1000002;
const CB_TOKEN = 'QDG6eK';
const AES_KEY_TEXT = randomBytes(32).toString('base64').slice(0, 43);
const WECOM_USER: Record<string, string> = { 'tech-wang': 'WangGong', 'tech-li': 'LiGong' };

/** The directory's people with their WeCom userids. */
class WecomDirectory extends FakeDirectory {
  override async person(id: string): Promise<Person | undefined> {
    const p = people[id];
    return p && WECOM_USER[id] ? { ...p, accounts: { wecom: WECOM_USER[id] } } : p;
  }
}

// ---- WXBizMsgCrypt, the sending side, as WeCom documents it ------------------------------------
function encryptForCallback(msg: string): string {
  const key = Buffer.from(`${AES_KEY_TEXT}=`, 'base64');
  const body = Buffer.from(msg, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const plain = Buffer.concat([randomBytes(16), len, body, Buffer.from(CORP_ID)]);
  const pad = 32 - (plain.length % 32);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), cipher.final()]).toString('base64');
}
const sign = (...parts: string[]) => createHash('sha1').update(parts.sort().join('')).digest('hex');

// ---- the stand-in WeCom server -------------------------------------------------------------------
interface Sent { path: string; token: string; body: any }
class WecomStandIn {
  server!: Server;
  url = '';
  tokensIssued = 0;
  /** Tokens the server still takes; a refresh adds one. */
  valid = new Set<string>();
  sent: Sent[] = [];
  /** errcodes to answer message/send with next, in order. */
  sendFailures: Array<{ errcode: number; errmsg: string; invaliduser?: string }> = [];
  callbackUrl = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.#handle(req).then(([status, json]) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    }));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async #handle(req: IncomingMessage): Promise<[number, unknown]> {
    const u = new URL(req.url!, this.url);
    let raw = '';
    for await (const c of req) raw += c;
    if (u.pathname === '/cgi-bin/gettoken' && req.method === 'GET') {
      if (u.searchParams.get('corpid') !== CORP_ID || u.searchParams.get('corpsecret') !== SECRET) return [200, { errcode: 40001, errmsg: 'invalid credential' }];
      const token = `AT-${++this.tokensIssued}`;
      this.valid.add(token);
      return [200, { errcode: 0, errmsg: 'ok', access_token: token, expires_in: 7200 }];
    }
    const token = u.searchParams.get('access_token') ?? '';
    if (req.method !== 'POST' || req.headers['content-type']?.startsWith('application/json') !== true) return [200, { errcode: 40035, errmsg: 'invalid args' }];
    if (!this.valid.has(token)) return [200, { errcode: 42001, errmsg: 'access_token expired' }];
    const body = JSON.parse(raw);
    if (u.pathname === '/cgi-bin/message/send') {
      const failure = this.sendFailures.shift();
      if (failure) return [200, failure];
      if (body.agentid !== AGENT_ID || typeof body.touser !== 'string') return [200, { errcode: 40056, errmsg: 'invalid agentid' }];
      if (body.msgtype === 'template_card') {
        const card = body.template_card;
        if (card.card_type !== 'button_interaction' || !card.main_title?.title || !/^[A-Za-z0-9_\-@]{1,128}$/.test(card.task_id) || !Array.isArray(card.button_list) || card.button_list.length < 1 || card.button_list.length > 6) {
          return [200, { errcode: 40058, errmsg: 'template_card invalid' }];
        }
        if (card.button_list.some((b: any) => !b.text || Buffer.byteLength(b.key) > 1024)) return [200, { errcode: 40058, errmsg: 'button key invalid' }];
      }
      this.sent.push({ path: u.pathname, token, body });
      return [200, { errcode: 0, errmsg: 'ok', invaliduser: '', msgid: `msg-${this.sent.length}`, response_code: `RC-send-${this.sent.length}` }];
    }
    if (u.pathname === '/cgi-bin/message/update_template_card') {
      if (body.agentid !== AGENT_ID || !body.response_code || !body.button?.replace_name) return [200, { errcode: 40058, errmsg: 'invalid update' }];
      this.sent.push({ path: u.pathname, token, body });
      return [200, { errcode: 0, errmsg: 'ok', invaliduser: [] }];
    }
    return [404, { errcode: 404, errmsg: 'not found' }];
  }

  /** What WeCom posts when `userId` taps the button whose key is `key`. */
  async click(userId: string, key: string, opts: { responseCode?: string; timestampS: number; tamper?: boolean }): Promise<Response> {
    const event = `<xml><ToUserName><![CDATA[${CORP_ID}]]></ToUserName><FromUserName><![CDATA[${userId}]]></FromUserName><CreateTime>${opts.timestampS}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[${key}]]></EventKey><TaskId><![CDATA[task]]></TaskId><CardType><![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[${opts.responseCode ?? 'RC-1'}]]></ResponseCode><AgentID>${AGENT_ID}</AgentID></xml>`;
    const encrypt = encryptForCallback(event);
    const nonce = randomBytes(6).toString('hex');
    const ts = String(opts.timestampS);
    const signature = sign(CB_TOKEN, ts, nonce, encrypt);
    const q = new URLSearchParams({ msg_signature: opts.tamper ? signature.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) : signature, timestamp: ts, nonce });
    const envelope = `<xml><ToUserName><![CDATA[${CORP_ID}]]></ToUserName><AgentID><![CDATA[${AGENT_ID}]]></AgentID><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;
    return fetch(`${this.callbackUrl}?${q}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: envelope });
  }

  async verifyUrl(timestampS: number): Promise<{ status: number; text: string; echo: string }> {
    const echo = `echo-${randomBytes(4).toString('hex')}`;
    const echostr = encryptForCallback(echo);
    const nonce = 'n1';
    const ts = String(timestampS);
    const q = new URLSearchParams({ msg_signature: sign(CB_TOKEN, ts, nonce, echostr), timestamp: ts, nonce, echostr });
    const res = await fetch(`${this.callbackUrl}?${q}`);
    return { status: res.status, text: await res.text(), echo };
  }

  updates(): Sent[] {
    return this.sent.filter((s) => s.path === '/cgi-bin/message/update_template_card');
  }
  cards(): Sent[] {
    return this.sent.filter((s) => s.path === '/cgi-bin/message/send');
  }
}

// ---- the pipeline side ---------------------------------------------------------------------------
const log = pino({ level: 'silent' });
const clock = new ManualClock(T0);
const wecom = new WecomStandIn();
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
  const applyAction = ticketActionApplier({ tickets: svc, people: directory, clock, audit, log });
  channels = createChannels(
    [{ name: 'wecom-tech', type: 'wecom-app', config: { corpId: CORP_ID, corpSecret: SECRET, agentId: AGENT_ID, apiBase: wecom.url, callbackToken: CB_TOKEN, encodingAesKey: AES_KEY_TEXT } }],
    { log, clock, actions, redeemAction: actions, applyAction, people: directory },
  );
  channel = channels.get('wecom-tech') as StaffChannelInstance;
  app = await buildHttpApi({
    alerts: newBook(),
    registry: new DeviceRegistry([]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens: new TokenBook(),
    health: () => ({ status: 'ok', checks: {} }),
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

  it('a notice with no ticket yet (an alarm ahead of its ticket) goes as text: no buttons to act on', async () => {
    const notice: Notice = { id: 'alarm-1', kind: 'alarm.raised', ticketId: '', recipients: ['tech-wang'], priority: 'emergency', title: { 'zh-CN': '【紧急】燃气泄漏', en: '[EMERGENCY] Gas leak' }, body: { 'zh-CN': '东区', en: 'East' }, data: { alertIds: ['A1'] }, createdAtMs: clock.now() };
    await channel.channel.send(notice, (await directory.person('tech-wang'))!);
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

  it('a callback with a bad signature, or a stale timestamp, is refused with 401 and acts on nothing', async () => {
    const { ticketId, ack } = await ticketWithCard();
    const updates = wecom.updates().length;
    expect((await wecom.click('WangGong', ack, { timestampS: nowS(), tamper: true })).status).toBe(401);
    expect((await wecom.click('WangGong', ack, { timestampS: nowS() - 3600 })).status).toBe(401);
    expect((await svc.get(ticketId))!.status).toBe('dispatched');
    expect(wecom.updates()).toHaveLength(updates);
  });
});
