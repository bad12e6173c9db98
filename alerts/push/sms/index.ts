import { type Static, Type } from '@sinclair/typebox';
import type { FastifyBaseLogger } from 'fastify';
import { ConfigError } from '../../../app/errors.ts';
import type { Condition } from '../../../contracts/messages.ts';
import { conditionName } from '../../catalog/messages.ts';
import type { Person } from '../../oncall/directory.ts';
import type { Notice } from '../../tickets/notice.ts';
import { PRIORITY_NAMES } from '../../tickets/notice-text.ts';
import { actionLink, actionTicketRef, type PhoneAction } from '../actions.ts';
import { type Channel, type ChannelDeps, type ChannelPlugin, DELIVERED, type SendResult } from '../channel.ts';
import { PushRejectedError } from '../errors.ts';
import { ProviderRefs, type RefTarget } from '../provider-refs.ts';
import { aliyunSignedUrl, callAliyun } from './aliyun.ts';
import { aliyunOutId, checkReceipts, chinaTimeMs, maskPhone, ReceiptsConfigSchema, recordReport, rememberRef, reportFailed, reportRoute, targetOfOutId } from './receipts.ts';
import { callTencent, tencentError } from './tencent.ts';

/** What a template parameter is filled with, from the notice. */
export const PARAM_SOURCES = ['priority', 'ticket', 'condition', 'address', 'device', 'link', 'title'] as const;
export type ParamSource = (typeof PARAM_SOURCES)[number];

const NOTICE_KINDS = ['alarm.raised', 'ticket.opened', 'ticket.dispatched', 'ticket.escalated', 'ticket.priority_raised', 'ticket.sla_breached', 'ticket.reopened', 'ticket.follow_up_due', 'customer.notice'] as const satisfies readonly Notice['kind'][];
const PRIORITIES = ['emergency', 'urgent', 'normal', 'low'] as const satisfies readonly Notice['priority'][];

/** Provider, account and endpoint: shared by the SMS and the voice plugins. */
export const providerFields = (endpointNote: string) => ({
  provider: Type.Union([Type.Literal('aliyun'), Type.Literal('tencent')], { description: 'aliyun: Alibaba Cloud RPC API, signature v1; tencent: Tencent Cloud API 3.0, TC3-HMAC-SHA256' }),
  accessKeyId: Type.String({ minLength: 1, description: 'Aliyun AccessKey ID / Tencent SecretId' }),
  accessKeySecret: Type.String({ minLength: 1, description: 'Aliyun AccessKey secret / Tencent SecretKey' }),
  endpoint: Type.Optional(Type.String({ pattern: '^https?://', description: endpointNote })),
  region: Type.Optional(Type.String({ minLength: 1, description: 'aliyun RegionId (default cn-hangzhou) / tencent X-TC-Region (default ap-guangzhou)' })),
  timeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Wait for an answer per attempt; then the attempt is retried' }),
  throttleMs: Type.Integer({ minimum: 0, default: 60_000, description: 'Wait after the provider’s flow control (Aliyun isv.BUSINESS_LIMIT_CONTROL, Tencent LimitExceeded.*): it gives no Retry-After' }),
  maxParamChars: Type.Integer({ minimum: 4, default: 35, description: 'Text parameters are cut to this many characters (the providers refuse longer variables); the link is never cut' }),
  kinds: Type.Array(Type.Union(NOTICE_KINDS.map((k) => Type.Literal(k))), { default: [], description: 'Only these notice kinds (empty: all)' }),
  priorities: Type.Array(Type.Union(PRIORITIES.map((p) => Type.Literal(p))), { default: [], description: 'Only these priorities (empty: all)' }),
  appUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'Console address for the one-tap link `<appUrl>/#/act/<token>`; absent: the service’s appUrl, else the base of the notice’s ticket link' })),
});

const smsFields = (defaultParams: ParamSource[]) => ({
  ...providerFields('Default https://dysmsapi.aliyuncs.com / https://sms.tencentcloudapi.com'),
  signName: Type.String({ minLength: 1, description: 'Approved SMS signature (SignName), e.g. 城东燃气' }),
  templateCode: Type.String({ minLength: 1, description: 'Approved template: Aliyun TemplateCode (SMS_…) / Tencent TemplateId' }),
  sdkAppId: Type.Optional(Type.String({ minLength: 1, description: 'Tencent SmsSdkAppId (required for tencent)' })),
  templateParams: Type.Array(Type.Union(PARAM_SOURCES.map((s) => Type.Literal(s))), {
    default: defaultParams,
    description: 'The template’s variables in order: Aliyun gets them by these names in TemplateParam (${priority} …), Tencent in this order in TemplateParamSet',
  }),
  countryCode: Type.String({ pattern: '^[0-9]{1,4}$', default: '86', description: 'For numbers written without +<country>' }),
});

export const SmsConfigSchema = Type.Object({ ...smsFields(['priority', 'ticket', 'condition', 'address', 'link']), receipts: ReceiptsConfigSchema }, { additionalProperties: false });
export type SmsConfig = Static<typeof SmsConfigSchema>;
export const CustomerSmsConfigSchema = Type.Object(smsFields(['condition', 'device', 'address']), { additionalProperties: false });
export type CustomerSmsConfig = Static<typeof CustomerSmsConfigSchema>;

/** Refused at start: a Tencent account needs its SdkAppId, which the schema cannot require for one provider only. */
export function requireField(config: { provider: string } & Record<string, unknown>, provider: string, field: string, plugin: string): void {
  if (config.provider === provider && !config[field]) throw new ConfigError(`${plugin}: ${field} is required for provider ${provider}`);
}

/** Whether the instance's kind and priority filters let this notice through. */
export function noticeMatches(config: { kinds: readonly string[]; priorities: readonly string[] }, notice: Notice): boolean {
  return (config.kinds.length === 0 || config.kinds.includes(notice.kind)) && (config.priorities.length === 0 || config.priorities.includes(notice.priority));
}

/**
 * A phone number as each provider wants it: Aliyun mainland numbers bare (others with their
 * country code, no +), Tencent E.164 with +. Undefined when it is no phone number at all.
 */
export function providerNumber(provider: 'aliyun' | 'tencent', raw: string, countryCode: string): string | undefined {
  const compact = raw.replace(/[\s()-]/g, '');
  if (!/^(\+|00)?[0-9]{5,15}$/.test(compact)) return undefined;
  const international = compact.startsWith('+') ? compact.slice(1) : compact.startsWith('00') ? compact.slice(2) : undefined;
  // A domestic number written as dialled at home (a landline's trunk 0 included) stays so for Aliyun.
  if (international === undefined && provider === 'aliyun' && countryCode === '86') return compact;
  const withCountry = international ?? `${countryCode}${compact.replace(/^0/, '')}`;
  if (provider === 'tencent') return `+${withCountry}`;
  return withCountry.startsWith('86') ? withCountry.slice(2) : withCountry;
}

const cut = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);
export const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

/** The action a one-tap link offers for the ticket's state then: acknowledge, then on site. */
function phoneActionFor(notice: Notice): PhoneAction | undefined {
  const status = str(notice.data.status);
  if (status === undefined || status === 'opened' || status === 'dispatched') return 'acknowledge';
  if (status === 'acknowledged') return 'on_site';
  return undefined;
}

/**
 * `<appUrl>/#/act/<token>` for a staff member and the notice's ticket — or, for a leak pushed ahead
 * of its ticket, its alert (actionTicketRef) — when the channel has a token issuer and there is
 * still an action to take; otherwise the ticket link. The console's address: the instance's
 * `appUrl`, the service's, or the base of the notice's ticket link.
 */
export function oneTapLink(notice: Notice, person: Person, deps: ChannelDeps, appUrl: string | undefined): string | undefined {
  const base = appUrl ?? deps.appUrl ?? notice.url?.split('/#/')[0];
  const ticketId = actionTicketRef(notice);
  const action = phoneActionFor(notice);
  if (ticketId && deps.actions && base && action) return actionLink(base, deps.actions.issue({ personId: person.id, ticketId, action }));
  return notice.url;
}

/** Template parameter values, short: the one priority word, the ticket, the worst condition, where. */
export function templateValues(notice: Notice, link: string | undefined, maxChars: number): Record<ParamSource, string> {
  const d = notice.data;
  const conditions = [d.condition, ...(Array.isArray(d.activeConditions) ? d.activeConditions : []), ...(Array.isArray(d.conditions) ? d.conditions : [])];
  const first = conditions.find((c): c is Condition => typeof c === 'string' && conditionName(c as Condition) !== undefined);
  const title = notice.title['zh-CN'].replace(/^【[^】]*】/, '');
  const device = str(d.deviceId) ?? str(d.subjectId) ?? str(d.gatewayId) ?? '—';
  return {
    priority: PRIORITY_NAMES[notice.priority]['zh-CN'],
    ticket: cut(notice.ticketId && !notice.ticketId.startsWith('customer:') ? notice.ticketId : device, maxChars),
    condition: cut(first ? conditionName(first)['zh-CN'] : title, maxChars),
    address: cut(str(d.address) ?? str(d.district) ?? '—', maxChars),
    device: cut(device, maxChars),
    link: link ?? '—',
    title: cut(title, maxChars),
  };
}

/** Whose push an SMS is, so its delivery report can be recorded: Aliyun carries it in OutId, Tencent's SerialNo is kept in `refs`. */
export interface SmsReceiptTarget {
  target: RefTarget;
  refs: ProviderRefs | undefined;
}

/** Sends one templated SMS to one number; resolves when the provider accepted it for that number. */
export async function sendSms(config: SmsConfig | CustomerSmsConfig, number: string, values: Record<ParamSource, string>, deps: ChannelDeps, receipt?: SmsReceiptTarget): Promise<SendResult> {
  const nowMs = deps.clock.now();
  const limits = { timeoutMs: config.timeoutMs, throttleMs: config.throttleMs };
  if (config.provider === 'aliyun') {
    const templateParam = Object.fromEntries(config.templateParams.map((s) => [s, values[s]]));
    const outId = receipt && aliyunOutId(receipt.target);
    const url = aliyunSignedUrl(
      config.endpoint ?? 'https://dysmsapi.aliyuncs.com',
      { Action: 'SendSms', Version: '2017-05-25', RegionId: config.region ?? 'cn-hangzhou', PhoneNumbers: number, SignName: config.signName, TemplateCode: config.templateCode, TemplateParam: JSON.stringify(templateParam), ...(outId ? { OutId: outId } : {}) },
      { accessKeyId: config.accessKeyId, accessKeySecret: config.accessKeySecret },
      nowMs,
    );
    const answer = await callAliyun(url, 'SMS', limits);
    deps.log.debug({ bizId: answer.BizId, requestId: answer.RequestId }, 'SMS accepted by Aliyun');
    return DELIVERED;
  }
  const response = await callTencent(
    {
      endpoint: config.endpoint ?? 'https://sms.tencentcloudapi.com',
      service: 'sms',
      action: 'SendSms',
      version: '2021-01-11',
      region: config.region ?? 'ap-guangzhou',
      body: { PhoneNumberSet: [number], SmsSdkAppId: config.sdkAppId, SignName: config.signName, TemplateId: config.templateCode, TemplateParamSet: config.templateParams.map((s) => values[s]) },
    },
    { secretId: config.accessKeyId, secretKey: config.accessKeySecret },
    nowMs,
    'SMS',
    limits,
  );
  // The request succeeds as a whole; each number has its own status.
  const status = (response.SendStatusSet as Array<{ Code?: string; Message?: string; SerialNo?: string }> | undefined)?.[0];
  if (!status) throw tencentError('MissingSendStatus', 'no SendStatusSet in the answer', 'SMS', config.throttleMs, response.RequestId as string | undefined);
  if (status.Code !== 'Ok') throw tencentError(status.Code ?? 'Unknown', status.Message ?? '', 'SMS', config.throttleMs, response.RequestId as string | undefined);
  deps.log.debug({ serialNo: status.SerialNo, requestId: response.RequestId }, 'SMS accepted by Tencent Cloud');
  if (receipt) await rememberRef(receipt.refs, status.SerialNo, receipt.target, deps);
  return DELIVERED;
}

export const checkConfig = (config: SmsConfig | CustomerSmsConfig, plugin: string) => requireField(config, 'tencent', 'sdkAppId', plugin);

/** Aliyun SmsReport, HTTP batch push (help.aliyun.com/document_detail/101867.html): a JSON array, several reports per push. */
const AliyunSmsReport = Type.Array(
  Type.Object({
    phone_number: Type.Optional(Type.String()),
    send_time: Type.Optional(Type.String()),
    report_time: Type.Optional(Type.String()),
    success: Type.Optional(Type.Boolean()),
    err_code: Type.Optional(Type.String()),
    err_msg: Type.Optional(Type.String()),
    sms_size: Type.Optional(Type.String()),
    biz_id: Type.Optional(Type.String()),
    out_id: Type.Optional(Type.String()),
  }),
  { description: 'Aliyun SmsReport: delivery reports of messages sent with SendSms' },
);
/** Aliyun checks only that `code` is a number (and HTTP 200); anything else is pushed again. */
export const AliyunReportAnswer = Type.Object({ code: Type.Integer(), msg: Type.String() });

/** Tencent Cloud SMS 短信下发状态通知 (cloud.tencent.com/document/product/382/5807): a JSON array. */
const TencentSmsReport = Type.Array(
  Type.Object({
    user_receive_time: Type.Optional(Type.String()),
    nationcode: Type.Optional(Type.String()),
    mobile: Type.Optional(Type.String()),
    report_status: Type.Optional(Type.String({ description: 'SUCCESS or FAIL' })),
    errmsg: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    sid: Type.Optional(Type.String({ description: 'The SerialNo SendSms answered' })),
  }),
  { description: 'Tencent Cloud SMS status callback' },
);
export const TencentReportAnswer = Type.Object({ result: Type.Integer(), errmsg: Type.String() });

/** Tencent's report names the message only by SerialNo: kept per push to match it (Aliyun's OutId needs nothing kept). */
const serialNos = (config: SmsConfig, deps: ChannelDeps) => (config.receipts && config.provider === 'tencent' && deps.db ? new ProviderRefs(deps.db, deps.instanceName ?? 'sms') : undefined);

const smsFailed = (deps: ChannelDeps, log: FastifyBaseLogger, target: RefTarget | undefined, phone: string | undefined, code: string | undefined, text: string | undefined) =>
  reportFailed(deps, log, 'SMS not delivered to the phone (provider report)', { ...target, phone: phone && maskPhone(phone), code, text });

/** Templated SMS to a person's phone (Aliyun Dysmsapi or Tencent Cloud SMS), with a one-tap acknowledge link. */
export const SmsPlugin: ChannelPlugin<typeof SmsConfigSchema> = {
  name: 'sms',
  description: 'SMS to staff phones (Aliyun SendSms / Tencent Cloud SendSms), templated, with a one-tap acknowledge link',
  configSchema: SmsConfigSchema,
  serves: (person) => Boolean(person.phone),
  create(config, deps): Channel {
    checkConfig(config, 'sms');
    checkReceipts(config, deps, config.provider === 'tencent', 'sms');
    const refs = serialNos(config, deps);
    return {
      async send(notice, person) {
        if (notice.kind === 'customer.notice') throw new PushRejectedError('A customer notice is not sent to staff');
        if (!noticeMatches(config, notice)) return { delivered: false, reason: `sms sends no ${notice.priority} ${notice.kind}` };
        const number = person.phone ? providerNumber(config.provider, person.phone, config.countryCode) : undefined;
        if (!number) throw new PushRejectedError(`No valid phone number for ${person.id}: ${person.phone ?? 'none'}`);
        const values = templateValues(notice, oneTapLink(notice, person, deps, config.appUrl), config.maxParamChars);
        return sendSms(config, number, values, deps, config.receipts ? { target: { noticeId: notice.id, personId: person.id }, refs } : undefined);
      },
      async close() {},
    };
  },
  callbacks(config, _channel, deps) {
    const receipts = config.receipts;
    if (!receipts) return undefined;
    const refs = serialNos(config, deps);
    return async (app) => {
      if (config.provider === 'aliyun') {
        reportRoute(app, receipts, {
          body: AliyunSmsReport,
          answer: AliyunReportAnswer,
          async handle(reports, log) {
            for (const r of reports) {
              const target = targetOfOutId(r.out_id);
              if (r.success === true) await recordReport(deps, log, target, r.biz_id, 'delivered', chinaTimeMs(r.report_time));
              else smsFailed(deps, log, target, r.phone_number, r.err_code, r.err_msg);
            }
            return { code: 0, msg: '接收成功' };
          },
        });
        return;
      }
      reportRoute(app, receipts, {
        body: TencentSmsReport,
        answer: TencentReportAnswer,
        async handle(reports, log) {
          for (const r of reports) {
            const target = r.sid ? await refs!.find(r.sid) : undefined;
            if (r.report_status === 'SUCCESS') await recordReport(deps, log, target, r.sid, 'delivered', chinaTimeMs(r.user_receive_time));
            else smsFailed(deps, log, target, r.mobile, r.errmsg, r.description);
          }
          return { result: 0, errmsg: 'OK' };
        },
      });
    };
  },
};
