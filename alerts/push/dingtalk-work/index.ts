import { type Static, Type } from '@sinclair/typebox';
import { PHONE_ACTION_NAMES } from '../../catalog/messages.ts';
import type { Person } from '../../oncall/directory.ts';
import type { Notice } from '../../tickets/notice.ts';
import { actionLink, actionTicketRef } from '../actions.ts';
import { type Channel, type ChannelDeps, type ChannelPlugin, DELIVERED } from '../channel.ts';
import { httpStatusError, parseRetryAfterMs, type PushError, PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';
import { markdownText, subjectLine } from '../format.ts';
import { AccessTokenCache } from './access-token.ts';
import { fetchAnswer } from '../http.ts';
import { ReadChecks } from '../read-checks.ts';

export const DingtalkWorkConfigSchema = Type.Object(
  {
    appKey: Type.String({ minLength: 1, description: 'AppKey of the internal app (企业内部应用) that sends work notices' }),
    appSecret: Type.String({ minLength: 1, description: 'AppSecret of that app, for gettoken' }),
    agentId: Type.Integer({ minimum: 1, description: 'AgentId of the app: work notices come from it' }),
    appUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'The console’s public URL for the one-tap links `<appUrl>/#/act/<token>` (absent: the service’s appUrl; neither: no 接单/到场 links)' })),
    baseUrl: Type.String({ pattern: '^https?://', default: 'https://oapi.dingtalk.com', description: 'DingTalk open API (a stand-in in tests)' }),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Wait for an answer per request; then the attempt is retried' }),
    throttleMs: Type.Integer({ minimum: 0, default: 60_000, description: 'DingTalk’s flow-control errcodes carry no delay: wait this long' }),
    actionTtlMs: Type.Optional(Type.Integer({ minimum: 60_000, description: 'Life of the 接单/到场 links (absent: the action tokens’ default)' })),
    readCheckAfterMs: Type.Integer({ minimum: 0, default: 300_000, description: 'Asks DingTalk once, this long after sending, whether the person read the notice (getsendresult), for the ticket’s delivery report; 0: never' }),
  },
  { additionalProperties: false },
);
export type DingtalkWorkConfig = Static<typeof DingtalkWorkConfigSchema>;

/** errcodes (top level, or `sub_code` under errcode 88) meaning the access token is invalid or expired. */
const TOKEN_ERRCODES = new Set([40014, 42001]);
/** Flow control: this server / corp / API temporarily barred for calling too often (retried after throttleMs). */
const FLOW_CONTROL_ERRCODES = new Set([90002, 90005, 90006, 90018]);
/** System busy: DingTalk asks for a retry. */
const BUSY_ERRCODE = -1;

interface DingtalkAnswer {
  errcode?: number;
  errmsg?: string;
  sub_code?: string;
  sub_msg?: string;
  access_token?: string;
  expires_in?: number;
  task_id?: number;
  /** getsendresult: who of the task's recipients read it, who not yet (also invalid / forbidden / failed lists). */
  send_result?: { read_user_id_list?: string[]; unread_user_id_list?: string[] };
}

/**
 * The text of a notice as a work notice. DingTalk silently drops a work notice whose content is the
 * same as one the person got from the app that day, so the text names the notice: a repeat push
 * about the same ticket (SLA breach, escalation) still arrives.
 */
export function workNoticeMarkdown(notice: Notice, recipient: Person): string {
  return `${markdownText(notice, recipient)}\n\n通知 Notice: ${notice.id}`;
}

/** The `msg` of asyncsend_v2: an action card with 接单/到场 links when the notice is about a ticket or alert, else markdown. */
export function workNoticeMessage(config: DingtalkWorkConfig, notice: Notice, recipient: Person, deps: Pick<ChannelDeps, 'actions' | 'appUrl'>): unknown {
  const title = subjectLine(notice);
  const markdown = workNoticeMarkdown(notice, recipient);
  const buttons: Array<{ title: string; action_url: string }> = [];
  const appUrl = config.appUrl ?? deps.appUrl;
  // A leak's push comes ahead of its ticket: its links name the alert, resolved to the ticket when tapped.
  const ticketRef = actionTicketRef(notice);
  if (ticketRef && deps.actions && appUrl) {
    for (const action of ['acknowledge', 'on_site'] as const) {
      const token = deps.actions.issue({ personId: recipient.id, ticketId: ticketRef, action }, config.actionTtlMs);
      const label = PHONE_ACTION_NAMES[action];
      buttons.push({ title: `${label['zh-CN']} ${label.en}`, action_url: actionLink(appUrl, token) });
    }
  }
  if (notice.url) buttons.push({ title: '打开工单 Open ticket', action_url: notice.url });
  if (buttons.length === 0) return { msgtype: 'markdown', markdown: { title, text: markdown } };
  // Side by side: two or three short buttons fit one row on a phone.
  return { msgtype: 'action_card', action_card: { title, markdown, btn_orientation: '1', btn_json_list: buttons } };
}

/** Sorts a DingTalk errcode the way the delivery queue acts on it. */
function dingtalkError(what: string, answer: DingtalkAnswer, throttleMs: number): PushError {
  const code = answer.errcode ?? 0;
  const sub = answer.sub_code ? ` (sub_code ${answer.sub_code}: ${answer.sub_msg ?? ''})` : '';
  const message = `DingTalk ${what} errcode ${code}: ${answer.errmsg ?? ''}${sub}`;
  if (FLOW_CONTROL_ERRCODES.has(code)) return new PushThrottledError(message, { retryAfterMs: throttleMs });
  if (code === BUSY_ERRCODE) return new PushUnavailableError(message);
  return new PushRejectedError(message);
}

const isTokenError = (a: DingtalkAnswer) => TOKEN_ERRCODES.has(a.errcode ?? 0) || (a.errcode === 88 && TOKEN_ERRCODES.has(Number(a.sub_code)));

/** DingTalk work notices (工作通知) from an internal app to each person's DingTalk userid. */
export const DingtalkWorkPlugin: ChannelPlugin<typeof DingtalkWorkConfigSchema> = {
  name: 'dingtalk-work',
  description: 'DingTalk work notices (asyncsend_v2) to a person’s DingTalk userid, with one-tap 接单/到场 links',
  configSchema: DingtalkWorkConfigSchema,
  serves: (person) => Boolean(person.accounts?.dingtalk),
  create(config, deps): Channel {
    const base = config.baseUrl.replace(/\/+$/, '');

    async function call(what: string, url: string, init: RequestInit): Promise<DingtalkAnswer> {
      const { res, text } = await fetchAnswer(url, init, config.timeoutMs, `DingTalk ${what}`);
      if (res.status < 200 || res.status >= 300) throw httpStatusError(res.status, text, parseRetryAfterMs(res.headers.get('retry-after'), deps.clock.now()));
      try {
        return JSON.parse(text) as DingtalkAnswer;
      } catch (err) {
        throw new PushUnavailableError(`DingTalk ${what} answered no JSON: ${text.slice(0, 200)}`, { cause: err });
      }
    }

    const tokens = new AccessTokenCache(async () => {
      const q = new URLSearchParams({ appkey: config.appKey, appsecret: config.appSecret });
      const answer = await call('gettoken', `${base}/gettoken?${q}`, { method: 'GET' });
      if (answer.errcode !== 0 || !answer.access_token) throw dingtalkError('gettoken', answer, config.throttleMs);
      return { token: answer.access_token, expiresInMs: (answer.expires_in ?? 7200) * 1000 };
    }, deps.clock);

    /** POSTs to a corpconversation API with the app's token; a token DingTalk calls expired is replaced once. */
    async function post(what: 'asyncsend_v2' | 'getsendresult', body: string): Promise<DingtalkAnswer> {
      const once = (token: string) =>
        call(what, `${base}/topapi/message/corpconversation/${what}?access_token=${encodeURIComponent(token)}`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body });
      const token = await tokens.get();
      const answer = await once(token);
      if (!isTokenError(answer)) return answer;
      // Expired before its time (another process fetched a new one, or the secret changed): once more with a fresh token.
      tokens.invalidate(token);
      return once(await tokens.get());
    }

    const readChecks = new ReadChecks(deps, config.readCheckAfterMs);

    return {
      async send(notice, recipient) {
        const userid = recipient.accounts?.dingtalk;
        if (!userid) throw new PushRejectedError(`${recipient.id} has no DingTalk userid (accounts.dingtalk)`);
        const answer = await post('asyncsend_v2', JSON.stringify({ agent_id: config.agentId, userid_list: userid, msg: workNoticeMessage(config, notice, recipient, deps) }));
        if (answer.errcode !== 0) throw dingtalkError('asyncsend_v2', answer, config.throttleMs);
        deps.log.debug({ noticeId: notice.id, recipientId: recipient.id, taskId: answer.task_id }, 'DingTalk work notice accepted');
        const taskId = answer.task_id;
        if (taskId !== undefined) {
          // DingTalk gives no read time: read by the time it was asked.
          readChecks.schedule({ noticeId: notice.id, personId: recipient.id }, async () => {
            const result = await post('getsendresult', JSON.stringify({ agent_id: config.agentId, task_id: taskId }));
            if (result.errcode !== 0) throw dingtalkError('getsendresult', result, config.throttleMs);
            return result.send_result?.read_user_id_list?.includes(userid) ? deps.clock.now() : undefined;
          });
        }
        return DELIVERED;
      },
      async close() {
        readChecks.close();
      },
    };
  },
};
