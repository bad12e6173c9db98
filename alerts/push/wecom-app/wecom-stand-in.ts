/**
 * Test support and `npm run stand-ins`: a stand-in WeCom server (node:http) implementing the documented gettoken,
 * message/send (template_card) and message/update_template_card calls, and clicking a card button
 * by sending a signed, encrypted template_card_event callback built with WXBizMsgCrypt's algorithm,
 * written again here from WeCom's documentation (not with the channel's own crypto.ts).
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PhoneListener } from '../phone-stand-ins.ts';

export interface WecomApp {
  corpId: string;
  secret: string;
  agentId: number;
  callbackToken: string;
  /** 43 characters. */
  aesKeyText: string;
}

export function testWecomApp(): WecomApp {
  return { corpId: 'ww1234567890abcdef', secret: 'app-secret-xyz', agentId: 1000002, callbackToken: 'QDG6eK', aesKeyText: randomBytes(32).toString('base64').slice(0, 43) };
}

/** The channel config for this app at this stand-in. */
export function wecomChannelConfig(app: WecomApp, apiBase: string): Record<string, unknown> {
  return { corpId: app.corpId, corpSecret: app.secret, agentId: app.agentId, apiBase, callbackToken: app.callbackToken, encodingAesKey: app.aesKeyText };
}

export function encryptForCallback(app: WecomApp, msg: string): string {
  const key = Buffer.from(`${app.aesKeyText}=`, 'base64');
  const body = Buffer.from(msg, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const plain = Buffer.concat([randomBytes(16), len, body, Buffer.from(app.corpId)]);
  const pad = 32 - (plain.length % 32);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), cipher.final()]).toString('base64');
}
export const sign = (...parts: string[]) => createHash('sha1').update(parts.sort().join('')).digest('hex');

export interface Sent { path: string; token: string; body: any }
export class WecomStandIn {
  constructor(readonly app: WecomApp) {}

  server!: Server;
  url = '';
  tokensIssued = 0;
  /** Tokens the server still takes; a refresh adds one. */
  valid = new Set<string>();
  sent: Sent[] = [];
  /** errcodes to answer message/send with next, in order. */
  sendFailures: Array<{ errcode: number; errmsg: string; invaliduser?: string }> = [];
  callbackUrl = '';
  /** WeCom refuses a task_id it has seen in the app. */
  taskIds = new Set<string>();
  /** Take the next message/send, then answer 502 as a proxy that lost the answer would. */
  loseNextAnswer = false;
  /** Told of every application message that reached a phone. */
  onPhone?: PhoneListener;

  async start(options: { port?: number; host?: string } = {}): Promise<void> {
    const host = options.host ?? '127.0.0.1';
    this.server = createServer((req, res) => void this.#handle(req).then(([status, json]) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    }));
    await new Promise<void>((resolve, reject) => this.server.once('error', reject).listen(options.port ?? 0, host, resolve));
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  async #handle(req: IncomingMessage): Promise<[number, unknown]> {
    const u = new URL(req.url!, this.url);
    let raw = '';
    for await (const c of req) raw += c;
    if (u.pathname === '/cgi-bin/gettoken' && req.method === 'GET') {
      if (u.searchParams.get('corpid') !== this.app.corpId || u.searchParams.get('corpsecret') !== this.app.secret) return [200, { errcode: 40001, errmsg: 'invalid credential' }];
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
      if (body.agentid !== this.app.agentId || typeof body.touser !== 'string') return [200, { errcode: 40056, errmsg: 'invalid agentid' }];
      if (body.msgtype === 'template_card') {
        const card = body.template_card;
        if (card.card_type !== 'button_interaction' || !card.main_title?.title || !/^[A-Za-z0-9_\-@]{1,128}$/.test(card.task_id) || !Array.isArray(card.button_list) || card.button_list.length < 1 || card.button_list.length > 6) {
          return [200, { errcode: 40058, errmsg: 'template_card invalid' }];
        }
        if (card.button_list.some((b: any) => !b.text || Buffer.byteLength(b.key) > 1024)) return [200, { errcode: 40058, errmsg: 'button key invalid' }];
        if (this.taskIds.has(card.task_id)) return [200, { errcode: 40058, errmsg: 'task_id exist' }];
        this.taskIds.add(card.task_id);
      }
      this.sent.push({ path: u.pathname, token, body });
      const text = body.msgtype === 'template_card' ? body.template_card.main_title.title : (body.text?.content ?? body.msgtype);
      for (const to of body.touser.split('|')) this.onPhone?.({ provider: 'wecom', kind: 'app', to, text });
      if (this.loseNextAnswer) {
        this.loseNextAnswer = false;
        return [502, { error: 'bad gateway' }];
      }
      return [200, { errcode: 0, errmsg: 'ok', invaliduser: '', msgid: `msg-${this.sent.length}`, response_code: `RC-send-${this.sent.length}` }];
    }
    if (u.pathname === '/cgi-bin/message/update_template_card') {
      if (body.agentid !== this.app.agentId || !body.response_code || !body.button?.replace_name) return [200, { errcode: 40058, errmsg: 'invalid update' }];
      this.sent.push({ path: u.pathname, token, body });
      return [200, { errcode: 0, errmsg: 'ok', invaliduser: [] }];
    }
    return [404, { errcode: 404, errmsg: 'not found' }];
  }

  /** What WeCom posts when `userId` taps the button whose key is `key`. */
  async click(userId: string, key: string, opts: { responseCode?: string; timestampS: number; tamper?: boolean }): Promise<Response> {
    const event = `<xml><ToUserName><![CDATA[${this.app.corpId}]]></ToUserName><FromUserName><![CDATA[${userId}]]></FromUserName><CreateTime>${opts.timestampS}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[${key}]]></EventKey><TaskId><![CDATA[task]]></TaskId><CardType><![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[${opts.responseCode ?? 'RC-1'}]]></ResponseCode><AgentID>${this.app.agentId}</AgentID></xml>`;
    const encrypt = encryptForCallback(this.app, event);
    const nonce = randomBytes(6).toString('hex');
    const ts = String(opts.timestampS);
    const signature = sign(this.app.callbackToken, ts, nonce, encrypt);
    const q = new URLSearchParams({ msg_signature: opts.tamper ? signature.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) : signature, timestamp: ts, nonce });
    const envelope = `<xml><ToUserName><![CDATA[${this.app.corpId}]]></ToUserName><AgentID><![CDATA[${this.app.agentId}]]></AgentID><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;
    return fetch(`${this.callbackUrl}?${q}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: envelope });
  }

  async verifyUrl(timestampS: number): Promise<{ status: number; text: string; echo: string }> {
    const echo = `echo-${randomBytes(4).toString('hex')}`;
    const echostr = encryptForCallback(this.app, echo);
    const nonce = 'n1';
    const ts = String(timestampS);
    const q = new URLSearchParams({ msg_signature: sign(this.app.callbackToken, ts, nonce, echostr), timestamp: ts, nonce, echostr });
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

