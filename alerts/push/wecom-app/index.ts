import { createHash, randomBytes } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import { XMLParser } from 'fast-xml-parser';
import type { FastifyPluginAsync } from 'fastify';
import { ErrorResponse } from '../../api/schemas.ts';
import type { Person } from '../../oncall/directory.ts';
import { IllegalTransitionError, TicketNotFoundError } from '../../tickets/errors.ts';
import type { Notice } from '../../tickets/notice.ts';
import { ActionNotYetError, ActionTokenError, actionTicketRef, type PhoneAction, redeemAndApply } from '../actions.ts';
import { type Channel, type ChannelDeps, type ChannelPlugin, DELIVERED } from '../channel.ts';
import { httpStatusError, parseRetryAfterMs, PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';
import { plainText } from '../format.ts';
import { verifyWecomSignature, WecomCallbackError, wecomAesKey, wecomDecrypt } from './crypto.ts';
import { fetchAnswer } from '../http.ts';

export const WecomAppConfigSchema = Type.Object(
  {
    corpId: Type.String({ minLength: 1, description: '企业ID: the corp id (also the receiveid of callbacks)' }),
    corpSecret: Type.String({ minLength: 1, description: "The application's Secret" }),
    agentId: Type.Integer({ minimum: 0, description: "The application's AgentId" }),
    apiBase: Type.String({ pattern: '^https?://', default: 'https://qyapi.weixin.qq.com' }),
    /** Callback (接收消息) settings: without both, cards carry no buttons' callback route. */
    callbackToken: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'Callback Token' })),
    encodingAesKey: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}$', description: 'Callback EncodingAESKey (43 characters)' })),
    /** A callback whose timestamp is further from now than this is refused (a replayed capture). */
    callbackMaxSkewMs: Type.Integer({ minimum: 1000, default: 300_000 }),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000 }),
    /** The access token is fetched again this long before WeCom's `expires_in` runs out. */
    tokenMarginMs: Type.Integer({ minimum: 0, default: 300_000 }),
    /** WeCom's rate-limit errors carry no Retry-After: wait this long. */
    throttleMs: Type.Integer({ minimum: 0, default: 60_000 }),
  },
  { additionalProperties: false },
);
export type WecomAppConfig = Static<typeof WecomAppConfigSchema>;

/** invalid / expired / missing access_token: fetched again and the call repeated once. */
const TOKEN_ERRORS = new Set([40014, 42001, 41001]);
/** API call frequency and concurrency limits. */
const RATE_ERRORS = new Set([45009, 45033, 45011]);
/** 系统繁忙 */
const BUSY = -1;

const BUTTONS: ReadonlyArray<{ action: PhoneAction; text: string; style: number }> = [
  { action: 'acknowledge', text: '接单 Acknowledge', style: 1 },
  { action: 'on_site', text: '到场 On site', style: 2 },
];
const DONE_TEXT: Record<PhoneAction, string> = { acknowledge: '已接单 Acknowledged', on_site: '已到场 On site' };
/** desc_color: 0 grey, 1 black, 2 red, 3 green. */
const SOURCE_COLOUR: Record<Notice['priority'], number> = { emergency: 2, urgent: 2, normal: 1, low: 0 };

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

interface WecomAnswer {
  errcode?: number;
  errmsg?: string;
  [k: string]: unknown;
}

export interface WecomAppChannel extends Channel {
  /** Replaces the card's buttons with `replaceName` for that user (message/update_template_card). */
  updateCard(userId: string, responseCode: string, replaceName: string): Promise<void>;
}

/**
 * task_id: WeCom refuses one it has seen before in the app, so each attempt gets its own — a retry
 * after an answer lost on the way would otherwise be refused for good and escalate a person who
 * was reached. The hash names the notice and user in WeCom's logs. [A-Za-z0-9_-@], ≤ 128 bytes.
 */
export function wecomTaskId(noticeId: string, userId: string): string {
  return `gas-${createHash('sha256').update(`${noticeId}\n${userId}`).digest('hex').slice(0, 24)}-${randomBytes(6).toString('hex')}`;
}

/**
 * message/send for one person: a `button_interaction` template card whose 接单 / 到场 buttons carry
 * action tokens when the notice names a ticket or, for a leak pushed ahead of its ticket, an alert
 * (see actionTicketRef), and tokens are issued; plain text otherwise.
 */
export function buildWecomMessage(config: WecomAppConfig, notice: Notice, person: Person, userId: string, deps: Pick<ChannelDeps, 'actions'>): Record<string, unknown> {
  const ref = actionTicketRef(notice);
  if (!ref || !deps.actions) {
    return { touser: userId, msgtype: 'text', agentid: config.agentId, text: { content: plainText(notice, person) } };
  }
  const issue = deps.actions;
  return {
    touser: userId,
    msgtype: 'template_card',
    agentid: config.agentId,
    template_card: {
      card_type: 'button_interaction',
      source: { desc: '燃气告警 Gas alerts', desc_color: SOURCE_COLOUR[notice.priority] },
      // WeCom's limits: title 36, desc 44, sub title 112 characters.
      main_title: { title: clip(notice.title['zh-CN'], 36), desc: clip(notice.title.en, 44) },
      sub_title_text: clip(`${notice.body['zh-CN']}\n${notice.body.en}`, 112),
      horizontal_content_list: [notice.ticketId ? { keyname: '工单 Ticket', value: notice.ticketId } : { keyname: '告警 Alert', value: clip(([] as unknown[]).concat(notice.data.alertIds ?? []).join(', '), 30) }],
      ...(notice.url ? { card_action: { type: 1, url: notice.url } } : {}),
      task_id: wecomTaskId(notice.id, userId),
      button_list: BUTTONS.map((b) => ({ text: b.text, style: b.style, key: issue.issue({ personId: person.id, ticketId: ref, action: b.action }) })),
    },
  };
}

/** The push error an errcode means (after a token refresh has been tried). */
function errcodeError(what: string, a: WecomAnswer, throttleMs: number): Error {
  const message = `WeCom ${what} errcode ${a.errcode}: ${a.errmsg ?? ''}`;
  if (RATE_ERRORS.has(a.errcode!)) return new PushThrottledError(message, { retryAfterMs: throttleMs });
  if (a.errcode === BUSY || TOKEN_ERRORS.has(a.errcode!)) return new PushUnavailableError(message);
  return new PushRejectedError(message);
}

class WecomApp implements WecomAppChannel {
  #token: { value: string; expiresAtMs: number } | undefined;
  #fetching: Promise<string> | undefined;

  constructor(
    private readonly config: WecomAppConfig,
    private readonly deps: ChannelDeps,
  ) {}

  async send(notice: Notice, person: Person) {
    const userId = person.accounts?.wecom;
    if (!userId) return { delivered: false as const, reason: 'no WeCom userid (accounts.wecom)' };
    const answer = await this.#call('message/send', buildWecomMessage(this.config, notice, person, userId, this.deps));
    // A 0 errcode still lists the users it could not reach.
    if (typeof answer.invaliduser === 'string' && answer.invaliduser !== '') throw new PushRejectedError(`WeCom userid ${answer.invaliduser} is unknown or outside the application's visible range`);
    return DELIVERED;
  }

  async updateCard(userId: string, responseCode: string, replaceName: string): Promise<void> {
    await this.#call('message/update_template_card', { userids: [userId], agentid: this.config.agentId, response_code: responseCode, button: { replace_name: replaceName } });
  }

  async close(): Promise<void> {}

  /** POST /cgi-bin/<path>?access_token=…; a token WeCom calls invalid or expired is fetched again once. */
  async #call(path: string, body: unknown): Promise<WecomAnswer> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.#accessToken();
      const answer = await this.#request(`${this.config.apiBase}/cgi-bin/${path}?access_token=${encodeURIComponent(token)}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json; charset=utf-8' } });
      if (answer.errcode && TOKEN_ERRORS.has(answer.errcode) && attempt === 0) {
        this.deps.log.info({ errcode: answer.errcode }, 'WeCom access token refused: fetching a new one');
        if (this.#token?.value === token) this.#token = undefined;
        continue;
      }
      if (answer.errcode) throw errcodeError(path, answer, this.config.throttleMs);
      return answer;
    }
  }

  /** Cached until `expires_in` minus the margin; concurrent sends share one gettoken. */
  #accessToken(): Promise<string> {
    if (this.#token && this.#token.expiresAtMs > this.deps.clock.now()) return Promise.resolve(this.#token.value);
    this.#fetching ??= (async () => {
      try {
        const q = new URLSearchParams({ corpid: this.config.corpId, corpsecret: this.config.corpSecret });
        const a = await this.#request(`${this.config.apiBase}/cgi-bin/gettoken?${q}`, { method: 'GET' });
        if (a.errcode || typeof a.access_token !== 'string') throw errcodeError('gettoken', a, this.config.throttleMs);
        const expiresInMs = (typeof a.expires_in === 'number' ? a.expires_in : 7200) * 1000;
        this.#token = { value: a.access_token, expiresAtMs: this.deps.clock.now() + Math.max(0, expiresInMs - this.config.tokenMarginMs) };
        return a.access_token;
      } finally {
        this.#fetching = undefined;
      }
    })();
    return this.#fetching;
  }

  async #request(url: string, init: RequestInit): Promise<WecomAnswer> {
    const { res, text } = await fetchAnswer(url, init, this.config.timeoutMs, 'WeCom');
    if (res.status < 200 || res.status >= 300) throw httpStatusError(res.status, text, parseRetryAfterMs(res.headers.get('retry-after'), this.deps.clock.now()));
    try {
      return JSON.parse(text) as WecomAnswer;
    } catch (err) {
      throw new PushUnavailableError(`WeCom answered something other than JSON: ${text.slice(0, 200)}`, { cause: err });
    }
  }
}

const SignedQuery = {
  msg_signature: Type.String({ pattern: '^[0-9a-fA-F]{40}$' }),
  timestamp: Type.String({ pattern: '^[0-9]{1,12}$' }),
  nonce: Type.String({ minLength: 1, maxLength: 64 }),
};
const VerifyQuery = Type.Object({ ...SignedQuery, echostr: Type.String({ minLength: 1, maxLength: 4096 }) });
const EventQuery = Type.Object(SignedQuery);
/** The outer XML of a callback: only Encrypt is trusted, after its signature verifies. */
const Envelope = Type.Object({ xml: Type.Object({ Encrypt: Type.String({ minLength: 1, maxLength: 65_536 }) }) });
const CallbackAnswers = { 200: Type.String(), 400: ErrorResponse, 401: ErrorResponse };

/** The decrypted template_card_event, as WeCom documents it (other fields ignored). */
interface CardEvent {
  MsgType?: string;
  Event?: string;
  FromUserName?: string;
  EventKey?: string;
  TaskId?: string;
  ResponseCode?: string;
}

/** What the card's buttons become when the click did not act. */
function refusalText(err: unknown): string {
  if (err instanceof ActionTokenError) {
    if (err.reason === 'replayed') return '已处理 Already done';
    if (err.reason === 'expired') return '已过期，请在控制台处理 Expired: use the console';
    return '无效 Not valid';
  }
  if (err instanceof IllegalTransitionError) return '工单状态已变 Ticket has moved on';
  if (err instanceof TicketNotFoundError) return '无此工单 No such ticket';
  return '未能处理，请在控制台处理 Failed: use the console';
}

const xml = new XMLParser({ parseTagValue: false, processEntities: false, ignoreDeclaration: true });

/**
 * The callback URL to give WeCom (接收消息 → URL): `<API base>/hooks/v1/push/<instance>/callback`.
 * GET verifies the URL (decrypted echostr echoed back); POST takes events: a card button click
 * redeems the button's action token as the clicking user, acts on the ticket, then replaces the
 * card's buttons with what happened. WeCom retries a callback not answered within 5 s, so every
 * verified event is answered 200 with an empty body (no passive reply), whatever came of it.
 */
function wecomCallbacks(config: WecomAppConfig, channel: WecomAppChannel, deps: ChannelDeps): FastifyPluginAsync {
  return async (app) => {
    if (!config.callbackToken || !config.encodingAesKey) return;
    const token = config.callbackToken;
    const key = wecomAesKey(config.encodingAesKey);
    const via = deps.instanceName ?? 'wecom-app';
    const log = deps.log;

    app.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, xml.parse(body as string));
      } catch (err) {
        done(new WecomCallbackError('WeCom callback body is not XML', { cause: err }), undefined);
      }
    });

    const verified = (q: Static<typeof EventQuery>, encrypt: string): string => {
      verifyWecomSignature(token, q, encrypt);
      if (Math.abs(deps.clock.now() - Number(q.timestamp) * 1000) > config.callbackMaxSkewMs) throw new WecomCallbackError('WeCom callback timestamp too far from now');
      return wecomDecrypt(key, encrypt, config.corpId);
    };

    app.get<{ Querystring: Static<typeof VerifyQuery> }>('/callback', { schema: { querystring: VerifyQuery, response: CallbackAnswers } }, async (request, reply) => {
      const echo = verified(request.query, request.query.echostr);
      log.info('WeCom callback URL verified');
      return reply.type('text/plain; charset=utf-8').send(echo);
    });

    app.post<{ Querystring: Static<typeof EventQuery>; Body: Static<typeof Envelope> }>('/callback', { schema: { querystring: EventQuery, body: Envelope, response: CallbackAnswers } }, async (request, reply) => {
      const event = ((xml.parse(verified(request.query, request.body.xml.Encrypt)) as { xml?: CardEvent }).xml ?? {}) as CardEvent;
      const empty = () => reply.type('text/plain; charset=utf-8').send('');
      if (event.MsgType !== 'event' || event.Event !== 'template_card_event' || !event.EventKey || !event.FromUserName) return empty();
      const userId = event.FromUserName;
      let replaceName: string;
      if (!deps.redeemAction || !deps.applyAction) {
        replaceName = refusalText(undefined);
        log.error({ userId }, 'WeCom card click with no action tokens configured');
      } else {
        try {
          const { claim, done } = await redeemAndApply(deps.redeemAction, deps.applyAction, event.EventKey, {
            via,
            clientIp: request.ip,
            requestId: request.id,
            check: async (c) => {
              const person = await deps.people?.person(c.personId);
              if (person?.accounts?.wecom !== userId) throw new ActionTokenError('wrong_person', '按钮不属于点击者 This button was sent to someone else');
            },
          });
          replaceName = DONE_TEXT[claim.action];
          log.info({ ticketId: done.ticketId, action: claim.action, personId: claim.personId, userId, status: done.status }, 'Ticket action from a WeCom card');
        } catch (err) {
          if (err instanceof ActionNotYetError) {
            // The card keeps its buttons (the ResponseCode is not spent): the same tap works in a moment.
            log.info({ userId, ref: err.ref }, 'WeCom card click before the ticket was opened: buttons left as they are');
            return empty();
          }
          replaceName = refusalText(err);
          if (err instanceof ActionTokenError || err instanceof IllegalTransitionError || err instanceof TicketNotFoundError) log.info({ err, userId }, 'WeCom card click refused');
          else log.error({ err, userId }, 'WeCom card click failed');
        }
      }
      if (event.ResponseCode) {
        await channel.updateCard(userId, event.ResponseCode, replaceName).catch((err: unknown) => log.warn({ err, userId }, 'WeCom card update failed'));
      }
      return empty();
    });
  };
}

/** WeCom application messages to named users (issue 14 #1), with 接单 / 到场 card buttons. */
export const WecomAppPlugin: ChannelPlugin<typeof WecomAppConfigSchema, WecomAppChannel> = {
  name: 'wecom-app',
  description: 'WeCom (企业微信) application message to the person’s userid: template card with 接单 / 到场 buttons',
  configSchema: WecomAppConfigSchema,
  serves: (person) => Boolean(person.accounts?.wecom),
  create: (config, deps) => new WecomApp(config, deps),
  callbacks: wecomCallbacks,
};
