import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
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
import { SqlOnCallDirectory } from '../../oncall/oncall-directory.ts';
import { FakeDirectory, lookupDevice, newBook, people, raise, T0 } from '../../tickets/test-support.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { ActionTokens, ticketActionApplier } from '../actions.ts';
import type { ChannelDeps } from '../channel.ts';
import { createChannels, pushCallbacksOf, type StaffChannelInstance } from '../channels.ts';
import { PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';
import { notice } from '../testing.ts';

/**
 * A stand-in for Feishu's open platform as documented: `POST /open-apis/auth/v3/tenant_access_token
 * /internal` `{app_id, app_secret}` → `{code:0, tenant_access_token, expire:7200}`; `POST /open-apis/
 * im/v1/messages?receive_id_type=open_id` with `Authorization: Bearer …` and `{receive_id, msg_type:
 * "interactive", content: "<card JSON>"}` → `{code:0, data:{message_id}}`, errors as HTTP 400 with a
 * code. It also plays the tap on a card: a `card.action.trigger` (schema 2.0) callback, encrypted
 * (AES-256-CBC, key SHA-256 of the Encrypt Key, IV prefixed) and signed (X-Lark-Signature) as Feishu
 * does, built here from the card it holds, POSTed to our callback route over HTTP.
 */
const APP = { appId: 'cli_a1b2c3d4e5', appSecret: 'feishu-app-secret', encryptKey: 'kL9sEncryptKeyFromConsole', verificationToken: 'vT0kenFromConsole' };
let feishu: Server;
let base: string;
let validTokens: Set<string>;
let tokenCalls: number;
let inbox: Array<{ openId: string; card: any; messageId: string }>;
let sendScript: Array<{ status: number; body: unknown; headers?: Record<string, string> }>;

const reply = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));

beforeAll(async () => {
  feishu = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url!, base);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (url.pathname === '/open-apis/auth/v3/tenant_access_token/internal') {
        tokenCalls++;
        if (body.app_id !== APP.appId || body.app_secret !== APP.appSecret) return reply(res, 400, { code: 10014, msg: 'app secret invalid' });
        const token = `t-${randomBytes(12).toString('hex')}`;
        validTokens.add(token);
        return reply(res, 200, { code: 0, msg: 'ok', tenant_access_token: token, expire: 7200 });
      }
      if (url.pathname === '/open-apis/im/v1/messages' && req.method === 'POST') {
        const scripted = sendScript.shift();
        if (scripted) return reply(res, scripted.status, scripted.body, scripted.headers);
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (!token || !validTokens.has(token)) return reply(res, 400, { code: 99991663, msg: 'Invalid access token for authorization. Please make a request with token attached.' });
        if (url.searchParams.get('receive_id_type') !== 'open_id' || !/^ou_/.test(body.receive_id)) return reply(res, 400, { code: 230001, msg: 'Your request contains an invalid request parameter.' });
        if (body.msg_type !== 'interactive' || typeof body.content !== 'string') return reply(res, 400, { code: 230001, msg: 'invalid content' });
        const card = JSON.parse(body.content);
        if (!card.header?.title?.content || !Array.isArray(card.elements)) return reply(res, 400, { code: 230099, msg: 'Failed to create card content' });
        const messageId = `om_${randomBytes(8).toString('hex')}`;
        inbox.push({ openId: body.receive_id, card, messageId });
        return reply(res, 200, { code: 0, msg: 'success', data: { message_id: messageId, msg_type: 'interactive' } });
      }
      reply(res, 404, { code: 404, msg: 'not found' });
    });
  });
  await new Promise<void>((resolve) => feishu.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(feishu.address() as AddressInfo).port}`;
});
afterAll(async () => {
  feishu.closeAllConnections();
  await new Promise((resolve) => feishu.close(resolve));
});
beforeEach(() => {
  validTokens = new Set();
  tokenCalls = 0;
  inbox = [];
  sendScript = [];
});

/** Feishu's side of a callback: encrypt with the Encrypt Key, sign timestamp + nonce + key + body. */
function feishuRequest(event: unknown, options: { encryptKey?: string; tamper?: boolean; timestampS?: number; unsigned?: boolean } = {}) {
  const key = createHash('sha256').update(options.encryptKey ?? APP.encryptKey).digest();
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const encrypt = Buffer.concat([iv, cipher.update(JSON.stringify(event), 'utf8'), cipher.final()]).toString('base64');
  const body = JSON.stringify({ encrypt });
  const timestamp = String(options.timestampS ?? Math.floor(clock.now() / 1000));
  const nonce = randomBytes(8).toString('hex');
  const signature = createHash('sha256').update(timestamp + nonce + (options.encryptKey ?? APP.encryptKey) + body).digest('hex');
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (!options.unsigned) Object.assign(headers, { 'x-lark-request-timestamp': timestamp, 'x-lark-request-nonce': nonce, 'x-lark-signature': signature });
  return { headers, body: options.tamper ? body.replace(/"}$/, 'A"}') : body };
}

/** A tap on button `label` of a card held by the stand-in, by the user `operatorOpenId`. */
function cardAction(card: any, label: string, operatorOpenId: string) {
  const button = card.elements.flatMap((e: any) => e.actions ?? []).find((b: any) => b.text.content === label);
  if (!button) throw new Error(`no button ${label} on the card`);
  return {
    schema: '2.0',
    header: { event_id: randomBytes(8).toString('hex'), token: APP.verificationToken, create_time: String(clock.now() * 1000), event_type: 'card.action.trigger', tenant_key: 'tenant-1', app_id: APP.appId },
    event: {
      operator: { tenant_key: 'tenant-1', user_id: 'u1', open_id: operatorOpenId, union_id: 'on_1' },
      token: `c-${randomBytes(8).toString('hex')}`,
      action: { value: button.value, tag: 'button' },
      host: 'im_message',
      context: { open_message_id: 'om_x', open_chat_id: 'oc_x' },
    },
  };
}

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
    expect(inbox).toHaveLength(1);
    const { openId, card } = inbox[0]!;
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
    const ack = await post(feishuRequest(cardAction(inbox[0]!.card, '接单 Acknowledge', 'ou_wang7f3')));
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

    const onSite = await post(feishuRequest(cardAction(updated, '到场 On site', 'ou_wang7f3')));
    expect(onSite.body.toast.i18n.zh_cn).toBe('已到场');
    expect((await svc.get(ticketId))!.status).toBe('on_site');

    // The same tap again (a replayed callback): refused, the ticket untouched.
    const again = await post(feishuRequest(cardAction(inbox[0]!.card, '接单 Acknowledge', 'ou_wang7f3')));
    expect(again.body).toEqual({ toast: expect.objectContaining({ type: 'error', i18n: { zh_cn: '此按钮已使用过', en_us: 'This button has already been used' } }) });
    expect((await svc.get(ticketId))!.status).toBe('on_site');
  });

  it('refuses a tap by someone the card was not sent to (a forwarded card)', async () => {
    await svc.onAlertChanges(raise(newBook(), 'HM-2', 'GAS_ALARM_L2', clock.now(), { severity: 'critical' }));
    const other = (await svc.list({ deviceId: 'HM-2' }))[0]!.id;
    await channel().channel.send(notice({ id: 'N-2', ticketId: other }), wang);
    const res = await post(feishuRequest(cardAction(inbox[0]!.card, '接单 Acknowledge', 'ou_someone_else')));
    expect(res.body.toast).toMatchObject({ type: 'error', i18n: { zh_cn: '此卡片不是发给您的' } });
    expect((await svc.get(other))!.status).not.toBe('acknowledged');
    expect(await audit.list({ action: 'actions.refused.wrong_person', limit: 10 })).toEqual([expect.objectContaining({ actor: 'tech-wang', targetId: other, detail: expect.objectContaining({ via: 'feishu' }) })]);
  });

  it('refuses callbacks Feishu did not sign or encrypt with our keys, and stale ones', async () => {
    await channel().channel.send(notice({ id: 'N-3', ticketId }), wang);
    const event = cardAction(inbox[0]!.card, '接单 Acknowledge', 'ou_wang7f3');
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
    expect(tokenCalls).toBe(1);
    validTokens.clear();
    await expect(ch.channel.send(notice({ id: 'N-6' }), wang)).resolves.toEqual({ delivered: true });
    expect(tokenCalls).toBe(2);
    expect(inbox).toHaveLength(3);
  });

  it('sorts failures: rate limits wait, 5xx retries, bad parameters and a wrong app secret are permanent', async () => {
    const ch = channel({ throttleMs: 45_000 });
    sendScript = [{ status: 400, body: { code: 99991400, msg: 'request trigger frequency limit' } }];
    await expect(ch.channel.send(notice(), wang)).rejects.toMatchObject({ code: 'GAS_PUSH_THROTTLED', retryAfterMs: 45_000 });
    sendScript = [{ status: 429, body: { code: 99991400, msg: 'too many' }, headers: { 'x-ogw-ratelimit-reset': '12' } }];
    const limited = await ch.channel.send(notice(), wang).catch((e) => e);
    expect(limited).toBeInstanceOf(PushThrottledError);
    expect(limited.retryAfterMs).toBe(12_000);
    sendScript = [{ status: 503, body: { code: 1000, msg: 'internal error' } }];
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
