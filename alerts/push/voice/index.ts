import { type Static, Type } from '@sinclair/typebox';
import type { FastifyBaseLogger } from 'fastify';
import type { Notice } from '../../tickets/notice.ts';
import { type Channel, type ChannelDeps, type ChannelPlugin, DELIVERED } from '../channel.ts';
import { quietUntilMs } from '../delivery-queue.ts';
import { PushRejectedError, PushThrottledError, PushTimeoutError } from '../errors.ts';
import { ProviderRefs, type RefTarget } from '../provider-refs.ts';
import { aliyunSignedUrl, callAliyun } from '../sms/aliyun.ts';
import { AliyunReportAnswer, noticeMatches, PARAM_SOURCES, type ParamSource, providerFields, providerNumber, requireField, TencentReportAnswer, templateValues } from '../sms/index.ts';
import { checkReceipts, chinaTimeMs, maskPhone, ReceiptsConfigSchema, recordReport, rememberRef, reportFailed, reportRoute, unixSecondsMs } from '../sms/receipts.ts';
import { callTencent } from '../sms/tencent.ts';
import { callLimitsFor, type CallRefusal } from './call-limits.ts';

// No link in a call, and flow control is a refusal here (see send): appUrl and throttleMs do not apply.
const { appUrl: _appUrl, throttleMs: _throttleMs, kinds, priorities, ...account } = providerFields('Default https://dyvmsapi.aliyuncs.com / https://vms.tencentcloudapi.com');
const HHMM = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

export const VoiceConfigSchema = Type.Object(
  {
    ...account,
    kinds: { ...kinds, default: ['ticket.escalated'], description: 'Notice kinds that ring a phone: by default the escalations (the repeat to the technician, then supervisor and director) of a ticket nobody acknowledged' },
    priorities: { ...priorities, default: ['emergency'], description: 'Priorities that ring a phone (default: emergencies only)' },
    ttsCode: Type.String({ minLength: 1, description: 'Approved text-to-speech template: Aliyun TtsCode (TTS_…) / Tencent TemplateId' }),
    ttsParams: Type.Array(Type.Union(PARAM_SOURCES.map((s) => Type.Literal(s))), {
      default: ['priority', 'ticket', 'condition', 'address'],
      description: 'The template’s variables in order: Aliyun TtsParam JSON by these names, Tencent TemplateParamSet in this order',
    }),
    calledShowNumber: Type.Optional(Type.String({ minLength: 1, description: 'Aliyun CalledShowNumber: the bought number shown to the callee (absent: the public pool)' })),
    sdkAppId: Type.Optional(Type.String({ minLength: 1, description: 'Tencent VoiceSdkAppid (required for tencent)' })),
    playTimes: Type.Integer({ minimum: 1, maximum: 3, default: 2, description: 'How often the text is played in one call' }),
    countryCode: Type.String({ pattern: '^[0-9]{1,4}$', default: '86', description: 'For numbers written without +<country>' }),
    maxPerMinute: Type.Integer({ minimum: 1, default: 1, description: 'Calls to one number per minute (the provider’s per-number limit)' }),
    maxPerHour: Type.Integer({ minimum: 1, default: 5, description: 'Calls to one number per hour (the provider’s per-number limit)' }),
    maxPerDay: Type.Integer({ minimum: 1, default: 20, description: 'Calls to one number per 24 hours (the provider’s per-number limit)' }),
    quietHours: Type.Array(Type.Object({ start: Type.String({ pattern: HHMM }), end: Type.String({ pattern: HHMM }) }, { additionalProperties: false }), {
      default: [],
      description: 'Local hours in which the provider refuses calls (end at or before start crosses midnight); empty: none',
    }),
    timeZone: Type.String({ default: 'Asia/Shanghai', description: 'Zone in which quietHours are read' }),
    maxNoticeAgeMs: Type.Integer({ minimum: 1, default: 15 * 60_000, description: 'A notice older than this is not called about any more (a retry or a restart long after): the next escalation step is due' }),
    receipts: ReceiptsConfigSchema,
  },
  { additionalProperties: false },
);
export type VoiceConfig = Static<typeof VoiceConfigSchema>;

const localClock = (ms: number, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);

const WINDOW_NAMES = { minute: ['一分钟', 'minute'], hour: ['一小时', 'hour'], day: ['24 小时', '24 hours'] } as const;

function limitMessage(number: string, r: CallRefusal, timeZone: string): string {
  const [zh, en] = WINDOW_NAMES[r.window];
  const next = r.window === 'day' ? new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'short' }).format(r.nextAtMs) : localClock(r.nextAtMs, timeZone);
  return (
    `语音呼叫未拨出：${maskPhone(number)} ${zh}内已呼叫 ${r.placed} 次（上限 ${r.limit}），${next} 起可再呼叫` +
    ` / Voice call not placed: ${maskPhone(number)} was called ${r.placed} time(s) in the last ${en} (limit ${r.limit}); next call possible at ${next}`
  );
}

async function placeCall(config: VoiceConfig, number: string, values: Record<ParamSource, string>, notice: Notice, nowMs: number): Promise<string | undefined> {
  const limits = { timeoutMs: config.timeoutMs, throttleMs: 0 };
  if (config.provider === 'aliyun') {
    const url = aliyunSignedUrl(
      config.endpoint ?? 'https://dyvmsapi.aliyuncs.com',
      {
        Action: 'SingleCallByTts',
        Version: '2017-05-25',
        RegionId: config.region ?? 'cn-hangzhou',
        CalledNumber: number,
        TtsCode: config.ttsCode,
        TtsParam: JSON.stringify(Object.fromEntries(config.ttsParams.map((s) => [s, values[s]]))),
        PlayTimes: String(config.playTimes),
        ...(config.calledShowNumber ? { CalledShowNumber: config.calledShowNumber } : {}),
      },
      { accessKeyId: config.accessKeyId, accessKeySecret: config.accessKeySecret },
      nowMs,
    );
    return (await callAliyun(url, 'Voice call', limits)).CallId as string | undefined;
  }
  const response = await callTencent(
    {
      endpoint: config.endpoint ?? 'https://vms.tencentcloudapi.com',
      service: 'vms',
      action: 'SendTtsVoice',
      version: '2020-09-02',
      region: config.region ?? 'ap-guangzhou',
      body: { TemplateId: config.ttsCode, CalledNumber: number, VoiceSdkAppid: config.sdkAppId, TemplateParamSet: config.ttsParams.map((s) => values[s]), PlayTimes: config.playTimes, SessionContext: notice.id },
    },
    { secretId: config.accessKeyId, secretKey: config.accessKeySecret },
    nowMs,
    'Voice call',
    limits,
  );
  return (response.SendStatus as { CallId?: string } | undefined)?.CallId;
}

/**
 * Aliyun call reports, HTTP batch push, JSON arrays: VoiceReport, the record after the call
 * (help.aliyun.com/zh/vms/developer-reference/voicereport-4: status_code, ring_time, start_time …),
 * and VoiceCallReport, its states as they happen (help.aliyun.com/document_detail/214640.htm:
 * status_code, status_time). Either may be subscribed to this URL. Only the fields read are named.
 */
const AliyunVoiceReport = Type.Array(
  Type.Object({
    call_id: Type.Optional(Type.String()),
    status_code: Type.Optional(Type.String()),
    status_msg: Type.Optional(Type.String()),
    status_time: Type.Optional(Type.String()),
    ring_time: Type.Optional(Type.String()),
    b_ring_time: Type.Optional(Type.String()),
    start_time: Type.Optional(Type.String()),
    b_start_time: Type.Optional(Type.String()),
    end_time: Type.Optional(Type.String()),
    callee: Type.Optional(Type.String()),
  }),
  { description: 'Aliyun VoiceReport / VoiceCallReport' },
);

/**
 * What an Aliyun status code says of the person (help.aliyun.com/document_detail/55085.html,
 * 112804.htm): 200000 listened to the end, 200001 hung up before the end, 200102 answered — they
 * heard it; 200003 "received the call but did not answer", 200201 ringing — it reached the phone;
 * 200100 / 200101 / 300000 are progress (call ended, calling, a key pressed); anything else
 * (busy, off, unreachable, no such number …) failed.
 */
const ALIYUN_HEARD = new Set(['200000', '200001', '200102']);
const ALIYUN_RANG = new Set(['200003', '200201']);
const ALIYUN_PROGRESS = new Set(['200100', '200101', '300000']);

/**
 * Tencent VMS callbacks (cloud.tencent.com/document/product/1128/51534 and /51536), one object per
 * push: `voiceprompt_callback` — result 0 answered, 1 not answered, 2 call failed — and
 * `voice_failure_callback` with the reason; a key-press callback may come to the same URL.
 */
const TencentVoiceCallback = Type.Object(
  {
    voiceprompt_callback: Type.Optional(
      Type.Object({ result: Type.Optional(Type.String()), accept_time: Type.Optional(Type.String()), callid: Type.Optional(Type.String()), mobile: Type.Optional(Type.String()) }),
    ),
    voice_failure_callback: Type.Optional(
      Type.Object({ callid: Type.Optional(Type.String()), failure_code: Type.Optional(Type.Number()), failure_reason: Type.Optional(Type.String()), mobile: Type.Optional(Type.String()) }),
    ),
  },
  { description: 'Tencent VMS 语音通知状态通知 / 语音送达失败原因通知' },
);

/** The provider's CallId is all its report names: kept per call to match it. */
const callIds = (config: VoiceConfig, deps: ChannelDeps) => (config.receipts && deps.db ? new ProviderRefs(deps.db, deps.instanceName ?? 'voice') : undefined);

const callFailed = (deps: ChannelDeps, log: FastifyBaseLogger, target: RefTarget | undefined, callId: string | undefined, phone: string | undefined, code: string | number | undefined, text: string | undefined) =>
  reportFailed(deps, log, 'Voice call not answered (provider report)', { ...target, callId, phone: phone && maskPhone(phone), code, text });

/**
 * A phone call reading the notice out (Aliyun SingleCallByTts / Tencent SendTtsVoice), for the
 * emergencies nobody acknowledged after the repeat. A call that cannot be placed — the number's
 * limit, the provider's quiet hours, the provider refusing — fails the delivery for good with a
 * message saying why, so the SLA watch escalates a person no channel reached.
 */
export const VoicePlugin: ChannelPlugin<typeof VoiceConfigSchema> = {
  name: 'voice',
  description: 'Voice call with text-to-speech (Aliyun SingleCallByTts / Tencent SendTtsVoice) for unacknowledged emergencies, within per-number limits and quiet hours',
  configSchema: VoiceConfigSchema,
  serves: (person) => Boolean(person.phone),
  create(config, deps): Channel {
    requireField(config, 'tencent', 'sdkAppId', 'voice');
    checkReceipts(config, deps, true, 'voice');
    const refs = callIds(config, deps);
    const limits = callLimitsFor(config, { maxPerMinute: config.maxPerMinute, maxPerHour: config.maxPerHour, maxPerDay: config.maxPerDay }, deps.dataDir, deps.clock.now(), deps.log);
    return {
      async send(notice, person) {
        if (notice.kind === 'customer.notice') throw new PushRejectedError('A customer notice is not sent to staff');
        if (!noticeMatches(config, notice)) return { delivered: false, reason: `voice calls for no ${notice.priority} ${notice.kind}` };
        const nowMs = deps.clock.now();
        if (nowMs - notice.createdAtMs > config.maxNoticeAgeMs) {
          throw new PushRejectedError(`语音呼叫未拨出：通知已过时（${Math.round((nowMs - notice.createdAtMs) / 60_000)} 分钟前）/ Voice call not placed: the notice is ${Math.round((nowMs - notice.createdAtMs) / 60_000)} min old`);
        }
        for (const quiet of config.quietHours) {
          const until = quietUntilMs(quiet, nowMs, config.timeZone);
          if (until !== undefined) {
            throw new PushRejectedError(
              `语音呼叫未拨出：服务商 ${quiet.start}–${quiet.end} 不允许外呼，${localClock(until, config.timeZone)} 后可呼叫 / Voice call not placed: the provider refuses calls ${quiet.start}–${quiet.end}, next possible at ${localClock(until, config.timeZone)}`,
            );
          }
        }
        const number = person.phone ? providerNumber(config.provider, person.phone, config.countryCode) : undefined;
        if (!number) throw new PushRejectedError(`语音呼叫未拨出：${person.id} 无有效电话号码 / Voice call not placed: no valid phone number for ${person.id}`);
        const refusal = limits.reserve(number, nowMs);
        if (refusal) throw new PushRejectedError(limitMessage(number, refusal, config.timeZone));
        try {
          const callId = await placeCall(config, number, templateValues(notice, undefined, config.maxParamChars), notice, nowMs);
          deps.log.info({ noticeId: notice.id, recipientId: person.id, callId }, 'Voice call placed');
          await rememberRef(refs, callId, { noticeId: notice.id, personId: person.id }, deps);
          return DELIVERED;
        } catch (err) {
          // No answer may still mean a ringing phone: that slot stays taken. Any other failure placed no call.
          if (!(err instanceof PushTimeoutError)) limits.release(number, nowMs);
          // The provider's flow control is its per-number limit: refused now, and the next escalation step is due.
          if (err instanceof PushThrottledError) throw new PushRejectedError(`语音呼叫未拨出：服务商限流 / Voice call not placed, the provider's limit: ${err.message}`, { cause: err });
          if (err instanceof PushRejectedError) throw new PushRejectedError(`语音呼叫未拨出：服务商拒绝 / Voice call not placed, the provider refused: ${err.message}`, { cause: err, ...(err.statusCode ? { statusCode: err.statusCode } : {}) });
          throw err;
        }
      },
      async close() {},
    };
  },
  callbacks(config, _channel, deps) {
    const receipts = config.receipts;
    const refs = callIds(config, deps);
    if (!receipts || !refs) return undefined;
    return async (app) => {
      if (config.provider === 'aliyun') {
        reportRoute(app, receipts, {
          body: AliyunVoiceReport,
          answer: AliyunReportAnswer,
          async handle(reports, log) {
            for (const r of reports) {
              const code = r.status_code ?? '';
              if (ALIYUN_PROGRESS.has(code)) continue;
              const target = r.call_id ? await refs.find(r.call_id) : undefined;
              if (ALIYUN_HEARD.has(code)) await recordReport(deps, log, target, r.call_id, 'read', chinaTimeMs(r.start_time ?? r.b_start_time ?? r.status_time ?? r.end_time));
              else if (ALIYUN_RANG.has(code)) await recordReport(deps, log, target, r.call_id, 'delivered', chinaTimeMs(r.ring_time ?? r.b_ring_time ?? r.status_time ?? r.end_time));
              else callFailed(deps, log, target, r.call_id, r.callee, code, r.status_msg);
            }
            return { code: 0, msg: '接收成功' };
          },
        });
        return;
      }
      reportRoute(app, receipts, {
        body: TencentVoiceCallback,
        answer: TencentReportAnswer,
        async handle(body, log) {
          const prompt = body.voiceprompt_callback;
          if (prompt?.callid) {
            const target = await refs.find(prompt.callid);
            // "1: not answered" does not say the phone rang (that is the failure callback's to tell): nothing recorded.
            if (prompt.result === '0') await recordReport(deps, log, target, prompt.callid, 'read', unixSecondsMs(prompt.accept_time));
            else callFailed(deps, log, target, prompt.callid, prompt.mobile, prompt.result, prompt.result === '1' ? 'not answered' : 'call failed');
          }
          const failure = body.voice_failure_callback;
          if (failure?.callid) callFailed(deps, log, await refs.find(failure.callid), failure.callid, failure.mobile, failure.failure_code, failure.failure_reason);
          return { result: 0, errmsg: 'OK' };
        },
      });
    };
  },
};
