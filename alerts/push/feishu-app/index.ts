import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { PipelineError } from '../../../app/errors.ts';
import { ErrorResponse } from '../../api/schemas.ts';
import type { Text } from '../../catalog/manual.ts';
import { PHONE_ACTION_NAMES } from '../../catalog/messages.ts';
import type { Person } from '../../oncall/directory.ts';
import type { Notice } from '../../tickets/notice.ts';
import { ActionTokenError, actionTicketRef, type PhoneAction, redeemAndApply } from '../actions.ts';
import { type Channel, type ChannelDeps, type ChannelPlugin, DELIVERED } from '../channel.ts';
import { AccessTokenCache } from '../dingtalk-work/access-token.ts';
import { httpStatusError, type PushError, PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';
import { markdownText, subjectLine } from '../format.ts';
import { fetchAnswer } from '../http.ts';
import { ReadChecks } from '../read-checks.ts';

export const FeishuAppConfigSchema = Type.Object(
  {
    appId: Type.String({ minLength: 1, description: 'App ID (cli_…) of the custom app whose bot sends the cards' }),
    appSecret: Type.String({ minLength: 1, description: 'App Secret, for tenant_access_token/internal' }),
    encryptKey: Type.String({
      minLength: 1,
      description: 'Encrypt Key of the app’s events & callbacks: callbacks are AES-256-CBC encrypted and signed with it (X-Lark-Signature)',
    }),
    verificationToken: Type.String({ minLength: 1, description: 'Verification Token: every callback must carry it' }),
    baseUrl: Type.String({ pattern: '^https?://', default: 'https://open.feishu.cn', description: 'Feishu open API (https://open.larksuite.com for Lark; a stand-in in tests)' }),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Wait for an answer per request; then the attempt is retried' }),
    throttleMs: Type.Integer({ minimum: 0, default: 60_000, description: 'Wait after a rate-limit answer that names no reset time' }),
    callbackMaxAgeMs: Type.Integer({ minimum: 1000, default: 300_000, description: 'Refuse a callback whose X-Lark-Request-Timestamp is further from now than this' }),
    actionTtlMs: Type.Optional(Type.Integer({ minimum: 60_000, description: 'Life of the 接单/到场 buttons’ tokens (absent: the action tokens’ default)' })),
    readCheckAfterMs: Type.Integer({ minimum: 0, default: 300_000, description: 'Asks Feishu once, this long after sending, whether the person read the card (read_users), for the ticket’s delivery report; 0: never' }),
  },
  { additionalProperties: false },
);
export type FeishuAppConfig = Static<typeof FeishuAppConfigSchema>;

/** Feishu codes meaning the tenant access token is missing, invalid or expired. */
const TOKEN_CODES = new Set([99991661, 99991663, 99991668, 99991677]);
/** Rate limits: the request frequency limit, and the per-app/per-user message send limits. */
const RATE_LIMIT_CODES = new Set([99991400, 230020]);

const CARD_COLOURS: Record<Notice['priority'], string> = { emergency: 'red', urgent: 'orange', normal: 'blue', low: 'grey' };

/** What the card and its toast say once a button did its work. */
const ACTION_DONE: Readonly<Record<PhoneAction, Text>> = {
  acknowledge: { 'zh-CN': '已接单', en: 'Acknowledged' },
  on_site: { 'zh-CN': '已到场', en: 'On site' },
};

/** What a button carries back: the action token, and whom the card was sent to (a forwarded card is refused). */
interface ButtonValue {
  action_token: string;
  open_id: string;
  /** The card's title, so the updated card still says what it is about. */
  subject: string;
  url?: string;
}

const both = (t: Text) => `${t['zh-CN']} ${t.en}`;
const plain = (content: string) => ({ tag: 'plain_text', content });

function actionButtons(config: FeishuAppConfig, deps: Pick<ChannelDeps, 'actions'>, claim: { personId: string; ticketId: string }, value: Omit<ButtonValue, 'action_token'>, actions: PhoneAction[]) {
  if (!deps.actions) return [];
  return actions.map((action, i) => ({
    tag: 'button',
    type: i === 0 ? 'primary' : 'default',
    text: plain(both(PHONE_ACTION_NAMES[action])),
    value: { ...value, action_token: deps.actions!.issue({ ...claim, action }, config.actionTtlMs) } satisfies ButtonValue,
  }));
}

const openButton = (url: string | undefined) => (url ? [{ tag: 'button', type: 'default', text: plain('打开工单 Open ticket'), url }] : []);

/** The message card a notice becomes: both-language title and text, 接单/到场 buttons when it is about a ticket. */
export function feishuCard(config: FeishuAppConfig, notice: Notice, recipient: Person, deps: Pick<ChannelDeps, 'actions'>) {
  const subject = subjectLine(notice);
  // The header carries the title; the text starts after the markdown heading lines.
  const md = `${markdownText(notice, recipient).split('\n').slice(2).join('\n').trim()}\n\n通知 Notice: ${notice.id}`;
  // A leak's push comes ahead of its ticket: its buttons name the alert, resolved to the ticket when tapped.
  const ticketRef = actionTicketRef(notice);
  const buttons = ticketRef
    ? actionButtons(config, deps, { personId: recipient.id, ticketId: ticketRef }, { open_id: recipient.accounts?.feishu ?? '', subject, ...(notice.url ? { url: notice.url } : {}) }, ['acknowledge', 'on_site'])
    : [];
  const actions = [...buttons, ...openButton(notice.url)];
  return {
    config: { wide_screen_mode: true },
    header: { template: CARD_COLOURS[notice.priority], title: plain(subject) },
    elements: [{ tag: 'div', text: { tag: 'lark_md', content: md } }, ...(actions.length ? [{ tag: 'action', actions }] : [])],
  };
}

/** The card after a button did its work: the done state as a disabled button, and the next step (到场 after 接单). */
function doneCard(config: FeishuAppConfig, deps: Pick<ChannelDeps, 'actions'>, claim: { personId: string; ticketId: string; action: PhoneAction }, value: ButtonValue, status: string) {
  const done = ACTION_DONE[claim.action];
  const next = claim.action === 'acknowledge' ? actionButtons(config, deps, claim, { open_id: value.open_id, subject: value.subject, ...(value.url ? { url: value.url } : {}) }, ['on_site']) : [];
  return {
    config: { wide_screen_mode: true },
    header: { template: 'green', title: plain(value.subject) },
    elements: [
      { tag: 'div', text: { tag: 'lark_md', content: `**${both(done)}**\n工单 Ticket: ${claim.ticketId} · 状态 Status: ${status}` } },
      { tag: 'action', actions: [{ tag: 'button', type: 'default', disabled: true, text: plain(both(done)), value: {} }, ...next, ...openButton(value.url)] },
    ],
  };
}

/** `X-Lark-Signature`: hex SHA-256 of timestamp + nonce + Encrypt Key + the raw body. */
export function feishuCallbackSignature(timestamp: string, nonce: string, encryptKey: string, body: string): string {
  return createHash('sha256').update(timestamp + nonce + encryptKey + body).digest('hex');
}

/** `{"encrypt": …}`: base64 of IV (16 bytes) + AES-256-CBC ciphertext, key SHA-256 of the Encrypt Key. */
export function feishuDecrypt(encrypt: string, encryptKey: string): string {
  const data = Buffer.from(encrypt, 'base64');
  const decipher = createDecipheriv('aes-256-cbc', createHash('sha256').update(encryptKey).digest(), data.subarray(0, 16));
  return Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]).toString('utf8');
}

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

interface FeishuAnswer {
  code?: number;
  msg?: string;
  tenant_access_token?: string;
  expire?: number;
  /** im/v1/messages: the message sent; read_users: who read it, when (ms since the epoch, as a string). */
  data?: { message_id?: string; items?: Array<{ user_id_type?: string; user_id?: string; timestamp?: string }> };
}

const Toast = Type.Object({
  type: Type.Union([Type.Literal('success'), Type.Literal('error'), Type.Literal('info'), Type.Literal('warning')]),
  content: Type.String(),
  i18n: Type.Object({ zh_cn: Type.String(), en_us: Type.String() }),
});
/** Feishu's documented answers: the url_verification challenge, or a card callback's toast and new card. */
const CallbackAnswer = Type.Object({
  challenge: Type.Optional(Type.String()),
  toast: Type.Optional(Toast),
  card: Type.Optional(Type.Object({ type: Type.Literal('raw'), data: Type.Unknown() })),
});

const toast = (type: Static<typeof Toast>['type'], text: Text): Static<typeof Toast> => ({ type, content: both(text), i18n: { zh_cn: text['zh-CN'], en_us: text.en } });

/** Why a tap did nothing, as the technician reads it. */
function refusalText(err: unknown): Text {
  if (err instanceof ActionTokenError) {
    switch (err.reason) {
      case 'expired':
        return { 'zh-CN': '按钮已过期，请在控制台打开工单', en: 'This button has expired: open the ticket in the console' };
      case 'replayed':
        return { 'zh-CN': '此按钮已使用过', en: 'This button has already been used' };
      case 'wrong_person':
        return { 'zh-CN': '此卡片不是发给您的', en: 'This card was not sent to you' };
      default:
        return { 'zh-CN': '按钮无效', en: 'This button is not valid' };
    }
  }
  const code = (err as { code?: string }).code;
  if (code === 'GAS_ACTION_NOT_YET') return { 'zh-CN': '工单尚未生成，请稍后再试', en: 'The ticket is not open yet: try again in a moment' };
  if (code === 'GAS_TICKET_NOT_FOUND') return { 'zh-CN': '工单不存在或未派给您', en: 'No such ticket assigned to you' };
  return { 'zh-CN': '工单当前状态不允许此操作', en: 'The ticket’s state does not allow this now' };
}

/** Feishu custom-app bot cards to a person's open_id, with 接单/到场 buttons answered by a verified card callback. */
export const FeishuAppPlugin: ChannelPlugin<typeof FeishuAppConfigSchema> = {
  name: 'feishu-app',
  description: 'Feishu (Lark) app bot message cards to a person’s open_id, with 接单/到场 buttons and a verified card callback',
  configSchema: FeishuAppConfigSchema,
  serves: (person) => Boolean(person.accounts?.feishu),
  create(config, deps): Channel {
    const base = config.baseUrl.replace(/\/+$/, '');

    async function call(what: string, url: string, init: RequestInit): Promise<{ status: number; headers: Headers; answer: FeishuAnswer; text: string }> {
      const { res, text } = await fetchAnswer(url, init, config.timeoutMs, `Feishu ${what}`);
      let answer: FeishuAnswer = {};
      try {
        answer = JSON.parse(text) as FeishuAnswer;
      } catch {
        // A gateway's HTML error page: sorted by its HTTP status below.
      }
      return { status: res.status, headers: res.headers, answer, text };
    }

    /** Feishu answers most errors as HTTP 400 with a code: the code decides, then the status. */
    function feishuError(what: string, r: Awaited<ReturnType<typeof call>>): PushError {
      const code = r.answer.code;
      const message = `Feishu ${what}: HTTP ${r.status}${code !== undefined ? ` code ${code}: ${r.answer.msg ?? ''}` : ''}`;
      if (r.status === 429 || (code !== undefined && RATE_LIMIT_CODES.has(code))) {
        // x-ogw-ratelimit-reset: seconds until the limit window resets.
        const reset = Number(r.headers.get('x-ogw-ratelimit-reset'));
        return new PushThrottledError(message, { statusCode: r.status, retryAfterMs: Number.isFinite(reset) && reset > 0 ? reset * 1000 : config.throttleMs });
      }
      if (r.status >= 500 || r.status === 408) return new PushUnavailableError(message, { statusCode: r.status });
      if (code === undefined || code === 0) return httpStatusError(r.status, r.text);
      return new PushRejectedError(message, { statusCode: r.status });
    }

    const json = (body: unknown, token?: string): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

    const tokens = new AccessTokenCache(async () => {
      const r = await call('tenant_access_token', `${base}/open-apis/auth/v3/tenant_access_token/internal`, json({ app_id: config.appId, app_secret: config.appSecret }));
      if (r.status !== 200 || r.answer.code !== 0 || !r.answer.tenant_access_token) throw feishuError('tenant_access_token', r);
      return { token: r.answer.tenant_access_token, expiresInMs: (r.answer.expire ?? 7200) * 1000 };
    }, deps.clock);

    /** Calls with the tenant token; a token Feishu calls invalid or expired is replaced once. */
    async function withToken(what: string, url: string, init: (token: string) => RequestInit) {
      const token = await tokens.get();
      const r = await call(what, url, init(token));
      if (r.answer.code === undefined || !TOKEN_CODES.has(r.answer.code)) return r;
      tokens.invalidate(token);
      return call(what, url, init(await tokens.get()));
    }

    const readChecks = new ReadChecks(deps, config.readCheckAfterMs);

    return {
      async send(notice, recipient) {
        const openId = recipient.accounts?.feishu;
        if (!openId) throw new PushRejectedError(`${recipient.id} has no Feishu open_id (accounts.feishu)`);
        const body = {
          receive_id: openId,
          msg_type: 'interactive',
          content: JSON.stringify(feishuCard(config, notice, recipient, deps)),
          // Feishu sends a uuid once per hour: a retry after a lost answer is not a second card.
          uuid: createHash('sha256').update(`${notice.id}\u0000${recipient.id}`).digest('hex').slice(0, 50),
        };
        const r = await withToken('im/v1/messages', `${base}/open-apis/im/v1/messages?receive_id_type=open_id`, (token) => json(body, token));
        if (r.status !== 200 || r.answer.code !== 0) throw feishuError('im/v1/messages', r);
        const messageId = r.answer.data?.message_id;
        deps.log.debug({ noticeId: notice.id, recipientId: recipient.id, messageId }, 'Feishu card sent');
        if (messageId) {
          readChecks.schedule({ noticeId: notice.id, personId: recipient.id }, async () => {
            const url = `${base}/open-apis/im/v1/messages/${encodeURIComponent(messageId)}/read_users?user_id_type=open_id`;
            const read = await withToken('read_users', url, (token) => ({ method: 'GET', headers: { authorization: `Bearer ${token}` } }));
            if (read.status !== 200 || read.answer.code !== 0) throw feishuError('read_users', read);
            const reader = read.answer.data?.items?.find((i) => i.user_id === openId);
            if (!reader) return undefined;
            const atMs = Number(reader.timestamp);
            return Number.isFinite(atMs) && atMs > 0 ? atMs : deps.clock.now();
          });
        }
        return DELIVERED;
      },
      async close() {
        readChecks.close();
      },
    };
  },

  callbacks(config, _channel, deps): FastifyPluginAsync {
    return async (app) => {
      // Where the action came from, in the audit trail and the ticket's delivery report.
      const via = deps.instanceName ?? 'feishu-app';
      // The signature covers the body byte for byte: keep it as received.
      app.removeContentTypeParser(['application/json']);
      app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));

      app.post<{ Body: string }>('/card', {
        schema: {
          body: Type.String({ description: 'Feishu callback, raw JSON: {"encrypt": …} or plain (url_verification, card.action.trigger schema 2.0)' }),
          response: { 200: CallbackAnswer, 401: ErrorResponse },
        },
      }, async (request, reply) => {
        const raw = request.body;
        const refuse = (why: string) => {
          request.log.warn({ remoteAddress: request.ip, reason: why }, 'Feishu callback refused');
          return reply.code(401).send({ error: 'GAS_PUSH_CALLBACK_INVALID', message: 'Callback not verified', requestId: request.id });
        };
        const timestamp = request.headers['x-lark-request-timestamp'];
        const nonce = request.headers['x-lark-request-nonce'];
        const signature = request.headers['x-lark-signature'];
        const signed = typeof timestamp === 'string' && typeof nonce === 'string' && typeof signature === 'string';
        if (signed) {
          if (!sameText(signature, feishuCallbackSignature(timestamp, nonce, config.encryptKey, raw))) return refuse('signature mismatch');
          if (!(Math.abs(deps.clock.now() - Number(timestamp) * 1000) <= config.callbackMaxAgeMs)) return refuse('timestamp out of range');
        }

        let event: any;
        try {
          const outer = JSON.parse(raw) as { encrypt?: unknown };
          event = typeof outer.encrypt === 'string' ? JSON.parse(feishuDecrypt(outer.encrypt, config.encryptKey)) : outer;
        } catch {
          return refuse('undecryptable body');
        }

        // The URL check when the callback address is saved: only proof is decrypting it and the verification token.
        if (event?.type === 'url_verification') {
          if (typeof event.token !== 'string' || !sameText(event.token, config.verificationToken)) return refuse('verification token');
          return { challenge: String(event.challenge ?? '') };
        }
        // Every other callback must be signed: an unsigned one could be replayed by whoever saw it.
        if (!signed) return refuse('unsigned callback');
        if (typeof event?.header?.token !== 'string' || !sameText(event.header.token, config.verificationToken)) return refuse('verification token');
        if (event.header.event_type !== 'card.action.trigger') return {};

        const operator: string | undefined = event.event?.operator?.open_id;
        const value = event.event?.action?.value as Partial<ButtonValue> | undefined;
        if (typeof value?.action_token !== 'string') return {}; // a button of ours with nothing to do (the disabled "done" one)
        if (!deps.redeemAction || !deps.applyAction) {
          return { toast: toast('error', { 'zh-CN': '暂不支持在飞书中操作，请在控制台处理', en: 'Acting from Feishu is not enabled: use the console' }) };
        }
        try {
          // Redeemed and applied in one: a tap before the leak's ticket is open leaves the token usable.
          const { claim, done } = await redeemAndApply(deps.redeemAction, deps.applyAction, value.action_token, {
            via,
            path: request.url,
            clientIp: request.ip,
            requestId: request.id,
            check: async (issued) => {
              // Only the token's person may act with it: a forwarded card tapped by someone else is refused. The
              // directory says who that is; without one, the open_id the card was sent to.
              const expected = deps.people ? (await deps.people.person(issued.personId))?.accounts?.feishu : value.open_id;
              if (!operator || operator !== expected) throw new ActionTokenError('wrong_person', 'This card was sent to someone else');
            },
          });
          request.log.info({ ticketId: done.ticketId, action: claim.action, personId: claim.personId, via }, 'Ticket action from a Feishu card');
          const card = doneCard(config, deps, { ...claim, ticketId: done.ticketId }, { open_id: value.open_id ?? '', subject: String(value.subject ?? ''), action_token: '', ...(typeof value.url === 'string' ? { url: value.url } : {}) }, done.status);
          return { toast: toast('success', ACTION_DONE[claim.action]), card: { type: 'raw' as const, data: card } };
        } catch (err) {
          if (!(err instanceof PipelineError)) throw err;
          request.log.info({ err, via }, 'Feishu card action refused');
          return { toast: toast('error', refusalText(err)) };
        }
      });
    };
  },
};
