import { createHmac } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { Person } from '../../oncall/directory.ts';
import type { Notice } from '../../tickets/notice.ts';
import { type Channel, type ChannelPlugin, DELIVERED } from '../channel.ts';
import { httpStatusError, parseRetryAfterMs, PushRejectedError, PushThrottledError } from '../errors.ts';
import { markdownText, plainText, subjectLine } from '../format.ts';
import { fetchAnswer } from '../http.ts';

export const WebhookConfigSchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'Receiver URL (robot URLs carry their key/access_token)' }),
    format: Type.Union([Type.Literal('generic'), Type.Literal('wecom'), Type.Literal('dingtalk'), Type.Literal('feishu')], { default: 'generic' }),
    secret: Type.Optional(Type.String({ minLength: 1, description: 'DingTalk/Feishu signing secret; generic: HMAC-SHA256 of the body in X-Gas-Signature' })),
    feishuMessage: Type.Union([Type.Literal('interactive'), Type.Literal('text')], { default: 'interactive' }),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000 }),
    headers: Type.Record(Type.String(), Type.String(), { default: {} }),
    /** Robot rate limits carry no Retry-After: wait this long. */
    robotThrottleMs: Type.Integer({ minimum: 0, default: 60_000 }),
  },
  { additionalProperties: false },
);
export type WebhookConfig = Static<typeof WebhookConfigSchema>;

/** Robot error codes that mean "too many messages", retried after robotThrottleMs. */
const ROBOT_RATE_LIMIT_CODES = new Set([45009, 130101, 9499, 11232]);

const CARD_COLOURS: Record<Notice['priority'], string> = { emergency: 'red', urgent: 'orange', normal: 'blue', low: 'grey' };

/** DingTalk: base64(HMAC-SHA256(key = secret, "timestamp\nsecret")), timestamp in ms, both in the query. */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64');
}

/** Feishu: base64(HMAC-SHA256(key = "timestamp\nsecret", empty message)), timestamp in s, both in the body. */
export function feishuSign(secret: string, timestampS: number): string {
  return createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64');
}

/** The request a notice becomes for one format: URL (signed when needed) and JSON body. */
export function buildWebhookRequest(config: WebhookConfig, notice: Notice, recipient: Person, nowMs: number): { url: string; body: unknown } {
  switch (config.format) {
    case 'generic':
      return {
        url: config.url,
        body: {
          id: notice.id,
          kind: notice.kind,
          ticketId: notice.ticketId,
          priority: notice.priority,
          title: notice.title,
          body: notice.body,
          url: notice.url,
          data: notice.data,
          createdAt: new Date(notice.createdAtMs).toISOString(),
          recipient: { id: recipient.id, name: recipient.name, role: recipient.role },
        },
      };
    case 'wecom':
      return { url: config.url, body: { msgtype: 'markdown', markdown: { content: markdownText(notice, recipient) } } };
    case 'dingtalk': {
      const at = recipient.phone ? { atMobiles: [recipient.phone], isAtAll: false } : undefined;
      // DingTalk only notifies an @mobile that also appears in the text.
      const text = markdownText(notice, recipient) + (recipient.phone ? `\n\n@${recipient.phone}` : '');
      let url = config.url;
      if (config.secret) {
        const sep = url.includes('?') ? '&' : '?';
        url = `${url}${sep}timestamp=${nowMs}&sign=${encodeURIComponent(dingtalkSign(config.secret, nowMs))}`;
      }
      return { url, body: { msgtype: 'markdown', markdown: { title: subjectLine(notice), text }, ...(at ? { at } : {}) } };
    }
    case 'feishu': {
      const signed = config.secret ? (() => {
        const ts = Math.floor(nowMs / 1000);
        return { timestamp: String(ts), sign: feishuSign(config.secret!, ts) };
      })() : {};
      if (config.feishuMessage === 'text') {
        return { url: config.url, body: { ...signed, msg_type: 'text', content: { text: plainText(notice, recipient) } } };
      }
      const md = markdownText(notice, recipient).split('\n').slice(2).join('\n').trim();
      return {
        url: config.url,
        body: {
          ...signed,
          msg_type: 'interactive',
          card: {
            config: { wide_screen_mode: true },
            header: { template: CARD_COLOURS[notice.priority], title: { tag: 'plain_text', content: subjectLine(notice) } },
            elements: [
              { tag: 'div', text: { tag: 'lark_md', content: md } },
              ...(notice.url ? [{ tag: 'action', actions: [{ tag: 'button', type: 'primary', text: { tag: 'plain_text', content: '打开工单 Open ticket' }, url: notice.url }] }] : []),
            ],
          },
        },
      };
    }
  }
}

/** A 2xx from a robot still fails when its JSON says so: errcode (WeCom, DingTalk) or code/StatusCode (Feishu). */
function robotError(format: WebhookConfig['format'], text: string): { code: number; msg: string } | undefined {
  if (format === 'generic') return undefined;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const code = json.errcode ?? json.code ?? json.StatusCode;
  if (typeof code !== 'number' || code === 0) return undefined;
  return { code, msg: String(json.errmsg ?? json.msg ?? json.StatusMessage ?? '') };
}

/** Outgoing webhook: generic JSON or the WeCom, DingTalk and Feishu group-robot formats. */
export const WebhookPlugin: ChannelPlugin<typeof WebhookConfigSchema> = {
  name: 'webhook',
  description: 'HTTP POST: generic JSON, or WeCom / DingTalk / Feishu group robots',
  configSchema: WebhookConfigSchema,
  // A robot serves the people who list its instance name in `webhooks`.
  serves: (person, instanceName) => (person.webhooks ?? []).includes(instanceName),
  create(config, deps): Channel {
    return {
      async send(notice, recipient) {
        const nowMs = deps.clock.now();
        const { url, body } = buildWebhookRequest(config, notice, recipient, nowMs);
        const payload = JSON.stringify(body);
        const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', ...config.headers };
        if (config.format === 'generic' && config.secret) {
          headers['x-gas-timestamp'] = String(nowMs);
          headers['x-gas-signature'] = createHmac('sha256', config.secret).update(`${nowMs}.${payload}`).digest('hex');
        }
        const { res, text } = await fetchAnswer(url, { method: 'POST', headers, body: payload }, config.timeoutMs, 'webhook');
        if (res.status < 200 || res.status >= 300) {
          throw httpStatusError(res.status, text, parseRetryAfterMs(res.headers.get('retry-after'), deps.clock.now()));
        }
        const robot = robotError(config.format, text);
        if (robot) {
          const message = `${config.format} robot error ${robot.code}: ${robot.msg}`;
          if (ROBOT_RATE_LIMIT_CODES.has(robot.code)) throw new PushThrottledError(message, { retryAfterMs: config.robotThrottleMs });
          throw new PushRejectedError(message);
        }
        return DELIVERED;
      },
      async close() {},
    };
  },
};
