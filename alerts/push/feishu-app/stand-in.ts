import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../../app/clock.ts';
import type { PhoneListener } from '../phone-stand-ins.ts';

/**
 * Test support and `npm run stand-ins`: a stand-in for Feishu's open platform as documented.
 * `POST /open-apis/auth/v3/tenant_access_token/internal` `{app_id, app_secret}` →
 * `{code:0, tenant_access_token, expire:7200}`;
 * `POST /open-apis/im/v1/messages?receive_id_type=open_id` with `Authorization: Bearer …` and
 * `{receive_id, msg_type: "interactive", content: "<card JSON>"}` → `{code:0, data:{message_id}}`,
 * errors as HTTP 400 with a code; `GET /open-apis/im/v1/messages/:message_id/read_users?user_id_type=open_id`
 * → `{code:0, data:{items:[{user_id_type, user_id, timestamp}], has_more, page_token}}`, the readers
 * the test marked with `read()` (only the bot's own messages, as Feishu allows). It also plays a tap on a card it holds: a `card.action.trigger`
 * (schema 2.0) callback, encrypted (AES-256-CBC, key SHA-256 of the Encrypt Key, IV prefixed) and
 * signed (X-Lark-Signature) as Feishu does — built here independently of the channel's code.
 */
export const FEISHU_APP = { appId: 'cli_a1b2c3d4e5', appSecret: 'feishu-app-secret', encryptKey: 'kL9sEncryptKeyFromConsole', verificationToken: 'vT0kenFromConsole' };

export interface FeishuStandIn {
  base: string;
  /** Cards that reached a phone, in order. */
  inbox: Array<{ openId: string; card: any; messageId: string }>;
  /** Tokens the stand-in honours; clear it to expire them all. */
  validTokens: Set<string>;
  tokenCalls: number;
  /** Answers to the next message sends, one each, instead of the normal handling. */
  sendScript: Array<{ status: number; body: unknown; headers?: Record<string, string> }>;
  /** The person `openId` opens message `messageId` at `atMs`. */
  read(messageId: string, openId: string, atMs: number): void;
  /** Told of every card that reached a phone. */
  onPhone?: PhoneListener;
  reset(): void;
  close(): Promise<void>;
}

const reply = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));

export async function startFeishuStandIn(app = FEISHU_APP, options: { port?: number; host?: string } = {}): Promise<FeishuStandIn> {
  const readers = new Map<string, Array<{ openId: string; atMs: number }>>();
  const s = {
    inbox: [],
    validTokens: new Set<string>(),
    tokenCalls: 0,
    sendScript: [],
    read(messageId: string, openId: string, atMs: number) {
      readers.set(messageId, [...(readers.get(messageId) ?? []), { openId, atMs }]);
    },
    reset() {
      s.inbox.length = 0;
      s.validTokens.clear();
      s.tokenCalls = 0;
      s.sendScript.length = 0;
      readers.clear();
    },
  } as unknown as FeishuStandIn;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://feishu');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (url.pathname === '/open-apis/auth/v3/tenant_access_token/internal') {
        s.tokenCalls++;
        if (body.app_id !== app.appId || body.app_secret !== app.appSecret) return reply(res, 400, { code: 10014, msg: 'app secret invalid' });
        const token = `t-${randomBytes(12).toString('hex')}`;
        s.validTokens.add(token);
        return reply(res, 200, { code: 0, msg: 'ok', tenant_access_token: token, expire: 7200 });
      }
      if (url.pathname === '/open-apis/im/v1/messages' && req.method === 'POST') {
        const scripted = s.sendScript.shift();
        if (scripted) return reply(res, scripted.status, scripted.body, scripted.headers);
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (!token || !s.validTokens.has(token)) return reply(res, 400, { code: 99991663, msg: 'Invalid access token for authorization. Please make a request with token attached.' });
        if (url.searchParams.get('receive_id_type') !== 'open_id' || !/^ou_/.test(body.receive_id)) return reply(res, 400, { code: 230001, msg: 'Your request contains an invalid request parameter.' });
        if (body.msg_type !== 'interactive' || typeof body.content !== 'string') return reply(res, 400, { code: 230001, msg: 'invalid content' });
        const card = JSON.parse(body.content);
        if (!card.header?.title?.content || !Array.isArray(card.elements)) return reply(res, 400, { code: 230099, msg: 'Failed to create card content' });
        const messageId = `om_${randomBytes(8).toString('hex')}`;
        s.inbox.push({ openId: body.receive_id, card, messageId });
        s.onPhone?.({ provider: 'feishu', kind: 'app', to: body.receive_id, text: card.header.title.content });
        return reply(res, 200, { code: 0, msg: 'success', data: { message_id: messageId, msg_type: 'interactive' } });
      }
      const readUsers = /^\/open-apis\/im\/v1\/messages\/([^/]+)\/read_users$/.exec(url.pathname);
      if (readUsers && req.method === 'GET') {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (!token || !s.validTokens.has(token)) return reply(res, 400, { code: 99991663, msg: 'Invalid access token for authorization.' });
        const type = url.searchParams.get('user_id_type');
        if (!type) return reply(res, 400, { code: 230001, msg: 'user_id_type is required' });
        const messageId = decodeURIComponent(readUsers[1]!);
        if (!s.inbox.some((m) => m.messageId === messageId)) return reply(res, 400, { code: 230110, msg: 'the message is not sent by the bot' });
        const items = (readers.get(messageId) ?? []).map((r) => ({ user_id_type: type, user_id: r.openId, timestamp: String(r.atMs), tenant_key: '736588c9260f175d' }));
        return reply(res, 200, { code: 0, msg: 'success', data: { items, has_more: false, page_token: '' } });
      }
      reply(res, 404, { code: 404, msg: 'not found' });
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port ?? 0, host, resolve));
  s.base = `http://${host}:${(server.address() as AddressInfo).port}`;
  s.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return s;
}

/** Feishu's side of a callback: encrypt with the Encrypt Key, sign timestamp + nonce + key + body. */
export function feishuCallbackRequest(clock: Clock, event: unknown, options: { encryptKey?: string; tamper?: boolean; timestampS?: number; unsigned?: boolean } = {}) {
  const encryptKey = options.encryptKey ?? FEISHU_APP.encryptKey;
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', createHash('sha256').update(encryptKey).digest(), iv);
  const encrypt = Buffer.concat([iv, cipher.update(JSON.stringify(event), 'utf8'), cipher.final()]).toString('base64');
  const body = JSON.stringify({ encrypt });
  const timestamp = String(options.timestampS ?? Math.floor(clock.now() / 1000));
  const nonce = randomBytes(8).toString('hex');
  const signature = createHash('sha256').update(timestamp + nonce + encryptKey + body).digest('hex');
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (!options.unsigned) Object.assign(headers, { 'x-lark-request-timestamp': timestamp, 'x-lark-request-nonce': nonce, 'x-lark-signature': signature });
  return { headers, body: options.tamper ? body.replace(/"}$/, 'A"}') : body };
}

/** The `card.action.trigger` event of a tap on button `label` of `card` by the user `operatorOpenId`. */
export function cardAction(clock: Clock, card: any, label: string, operatorOpenId: string) {
  const button = card.elements.flatMap((e: any) => e.actions ?? []).find((b: any) => b.text.content === label);
  if (!button) throw new Error(`no button ${label} on the card`);
  return {
    schema: '2.0',
    header: { event_id: randomBytes(8).toString('hex'), token: FEISHU_APP.verificationToken, create_time: String(clock.now() * 1000), event_type: 'card.action.trigger', tenant_key: 'tenant-1', app_id: FEISHU_APP.appId },
    event: {
      operator: { tenant_key: 'tenant-1', user_id: 'u1', open_id: operatorOpenId, union_id: 'on_1' },
      token: `c-${randomBytes(8).toString('hex')}`,
      action: { value: button.value, tag: 'button' },
      host: 'im_message',
      context: { open_message_id: 'om_x', open_chat_id: 'oc_x' },
    },
  };
}
