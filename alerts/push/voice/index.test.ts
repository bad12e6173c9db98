/**
 * The voice channel against local stand-ins for Aliyun Dyvmsapi `SingleCallByTts` and Tencent VMS
 * `SendTtsVoice` that check the signatures (`../sms/provider-stand-ins.ts`). Time is a ManualClock:
 * per-number limits and quiet hours are crossed by moving it, never by sleeping.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import type { Person } from '../../oncall/directory.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import type { DeliveryOutcome } from '../../tickets/notice.ts';
import { createChannels, type StaffChannelInstance } from '../channels.ts';
import { PushDispatcher } from '../delivery-queue.ts';
import { PushRejectedError, PushUnavailableError } from '../errors.ts';
import { ManualScheduler } from '../scheduler.ts';
import { ProviderStandIn } from '../sms/provider-stand-ins.ts';
import { notice, technician } from '../testing.ts';

const ALIYUN = { accessKeyId: 'LTAI5tVoiceKey', accessKeySecret: 'aliyun-voice-secret' };
const TENCENT = { accessKeyId: 'AKIDvoiceSecretId', accessKeySecret: 'tencent-voice-secret' };
const provider = new ProviderStandIn({ aliyunSecret: ALIYUN.accessKeySecret, tencentSecretId: TENCENT.accessKeyId, tencentSecretKey: TENCENT.accessKeySecret });
let aliyunCode: { Code: string; Message: string };

beforeAll(async () => {
  await provider.start();
});
afterAll(() => provider.close());

const MIN = 60_000;
// 2026-11-22 16:00 in Shanghai.
const clock = new ManualClock(Date.parse('2026-11-22T08:00:00Z'));
beforeEach(() => {
  clock.set(Date.parse('2026-11-22T08:00:00Z'));
  provider.aliyunCalls = [];
  provider.tencentCalls = [];
  aliyunCode = { Code: 'OK', Message: 'OK' };
  provider.answerAliyun = ({ params: p }) => {
    if (p.Action !== 'SingleCallByTts' || !p.CalledNumber || !p.TtsCode) return { status: 400, body: { Code: 'MissingParameter', Message: 'SingleCallByTts', RequestId: 'R-a' } };
    return { body: { ...aliyunCode, RequestId: 'R-1', ...(aliyunCode.Code === 'OK' ? { CallId: '116012854210^102814055910' } : {}) } };
  };
  provider.answerTencent = ({ headers, body }) => {
    if (headers['x-tc-action'] !== 'SendTtsVoice' || headers['x-tc-version'] !== '2020-09-02') return { Error: { Code: 'InvalidAction', Message: 'action' } };
    return { SendStatus: { CallId: '12582bce-403c-11eb-96b8-525400476c37', SessionContext: body.SessionContext } };
  };
});

/** The repeat to the technician of an emergency nobody acknowledged, made now. */
const repeat = (overrides: Partial<ReturnType<typeof notice>> = {}) =>
  notice({
    id: `esc-${clock.now()}`,
    kind: 'ticket.escalated',
    createdAtMs: clock.now(),
    data: { ticketId: 'T000001', deviceId: 'M-1', conditions: ['GAS_ALARM_L2'], address: '城东区幸福路12号', status: 'dispatched', level: 'repeat', reason: 'no_ack' },
    ...overrides,
  });
const aliyunConfig = { provider: 'aliyun', ...ALIYUN, ttsCode: 'TTS_287910001', calledShowNumber: '05712000000' };
const tencentConfig = { provider: 'tencent', ...TENCENT, sdkAppId: '1400006666', ttsCode: '4356' };

function voice(config: Record<string, unknown>, dataDir?: string): StaffChannelInstance {
  const channels = createChannels([{ name: 'voice', type: 'voice', config: { ...config, endpoint: provider.base } }], { log: pino({ level: 'silent' }), clock, ...(dataDir ? { dataDir } : {}) });
  return channels.get('voice') as StaffChannelInstance;
}

describe('voice channel, Aliyun SingleCallByTts and Tencent SendTtsVoice against signature-checking stand-ins', () => {
  it('calls the technician about an unacknowledged emergency, reading priority, ticket, condition and address (Aliyun)', async () => {
    await expect(voice(aliyunConfig).channel.send(repeat(), technician)).resolves.toEqual({ delivered: true });
    const [call] = provider.aliyunCalls;
    expect(call!.signatureValid).toBe(true);
    expect(call!.params).toMatchObject({ Action: 'SingleCallByTts', Version: '2017-05-25', CalledNumber: '13900000100', TtsCode: 'TTS_287910001', CalledShowNumber: '05712000000', PlayTimes: '2' });
    expect(JSON.parse(call!.params.TtsParam!)).toEqual({ priority: '紧急', ticket: 'T000001', condition: '二级燃气报警', address: '城东区幸福路12号' });
  });

  it('calls through Tencent VMS with E.164 number, VoiceSdkAppid and the parameters in template order', async () => {
    await expect(voice(tencentConfig).channel.send(repeat(), technician)).resolves.toEqual({ delivered: true });
    const [call] = provider.tencentCalls;
    expect(call!.signatureValid).toBe(true);
    expect(call!.headers.authorization).toMatch(/\/vms\/tc3_request/);
    expect(call!.body).toEqual({ TemplateId: '4356', CalledNumber: '+8613900000100', VoiceSdkAppid: '1400006666', TemplateParamSet: ['紧急', 'T000001', '二级燃气报警', '城东区幸福路12号'], PlayTimes: 2, SessionContext: repeat().id });
  });

  it('by default rings only for emergency escalations: a first dispatch, an urgent escalation or an alarm is not delivered here, not failed', async () => {
    const ch = voice(aliyunConfig);
    await expect(ch.channel.send(repeat({ kind: 'ticket.dispatched' }), technician)).resolves.toEqual({ delivered: false, reason: 'voice calls for no emergency ticket.dispatched' });
    await expect(ch.channel.send(repeat({ priority: 'urgent' }), technician)).resolves.toMatchObject({ delivered: false });
    await expect(ch.channel.send(repeat({ kind: 'alarm.raised', ticketId: '' }), technician)).resolves.toMatchObject({ delivered: false });
    expect(provider.aliyunCalls).toEqual([]);
    await expect(voice({ ...aliyunConfig, kinds: ['alarm.raised', 'ticket.escalated'] }).channel.send(repeat({ kind: 'alarm.raised', ticketId: '' }), technician)).resolves.toEqual({ delivered: true });
  });

  it('keeps one call a minute and five an hour per number, refusing with a message that says so and when it can call again', async () => {
    const ch = voice(aliyunConfig);
    await ch.channel.send(repeat(), technician);
    const again = await ch.channel.send(repeat(), technician).catch((e) => e);
    expect(again).toBeInstanceOf(PushRejectedError);
    expect(again.message).toBe(
      '语音呼叫未拨出：139****0100 一分钟内已呼叫 1 次（上限 1），16:01 起可再呼叫 / Voice call not placed: 139****0100 was called 1 time(s) in the last minute (limit 1); next call possible at 16:01',
    );
    for (let i = 0; i < 4; i++) {
      clock.advance(MIN);
      await expect(ch.channel.send(repeat(), technician)).resolves.toEqual({ delivered: true });
    }
    clock.advance(MIN);
    await expect(ch.channel.send(repeat(), technician)).rejects.toThrow(/一小时内已呼叫 5 次（上限 5），17:00 起可再呼叫 .* in the last hour \(limit 5\)/);
    expect(provider.aliyunCalls).toHaveLength(5);
    // Another number is counted on its own.
    await expect(ch.channel.send(repeat(), { ...technician, id: 'tech-li', phone: '13900000200' })).resolves.toEqual({ delivered: true });
    clock.set(Date.parse('2026-11-22T09:00:00Z'));
    await expect(ch.channel.send(repeat(), technician)).resolves.toEqual({ delivered: true });
  });

  it('keeps the per-day limit (Aliyun: twenty calls to one callee a day), naming date and time of the next possible call', async () => {
    const ch = voice({ ...aliyunConfig, maxPerDay: 2 });
    await ch.channel.send(repeat(), technician);
    clock.advance(61 * MIN);
    await ch.channel.send(repeat(), technician);
    clock.advance(61 * MIN);
    await expect(ch.channel.send(repeat(), technician)).rejects.toThrow('语音呼叫未拨出：139****0100 24 小时内已呼叫 2 次（上限 2），2026-11-23 16:00 起可再呼叫');
    clock.set(Date.parse('2026-11-23T08:00:00Z'));
    await expect(ch.channel.send(repeat(), technician)).resolves.toEqual({ delivered: true });
  });

  it('takes configured limits, and keeps the count in the data folder across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'voice-'));
    await voice({ ...aliyunConfig, maxPerMinute: 2 }, dataDir).channel.send(repeat(), technician);
    const restarted = voice({ ...aliyunConfig, maxPerMinute: 2, maxPerHour: 2 }, dataDir);
    await expect(restarted.channel.send(repeat(), technician)).resolves.toEqual({ delivered: true });
    await expect(restarted.channel.send(repeat(), technician)).rejects.toThrow(/一分钟内已呼叫 2 次（上限 2）/);
    const [file] = readdirSync(join(dataDir, 'push'));
    expect(file).toMatch(/^voice-calls-aliyun-[0-9a-f]{12}\.json$/);
    expect(JSON.parse(readFileSync(join(dataDir, 'push', file!), 'utf8'))).toEqual({ '13900000100': [clock.now(), clock.now()] });
    // Another account has its own count.
    await expect(voice(tencentConfig, dataDir).channel.send(repeat(), technician)).resolves.toEqual({ delivered: true });
  });

  it('refuses calls in the provider’s quiet hours (local time, across midnight) without calling, and calls once they end', async () => {
    const ch = voice({ ...aliyunConfig, quietHours: [{ start: '22:00', end: '08:00' }] });
    clock.set(Date.parse('2026-11-22T15:30:00Z')); // 23:30 in Shanghai
    await expect(ch.channel.send(repeat(), technician)).rejects.toThrow('语音呼叫未拨出：服务商 22:00–08:00 不允许外呼，08:00 后可呼叫 / Voice call not placed: the provider refuses calls 22:00–08:00, next possible at 08:00');
    clock.set(Date.parse('2026-11-22T23:59:00Z')); // 07:59
    await expect(ch.channel.send(repeat(), technician)).rejects.toBeInstanceOf(PushRejectedError);
    expect(provider.aliyunCalls).toEqual([]);
    clock.set(Date.parse('2026-11-23T00:00:00Z')); // 08:00
    await expect(ch.channel.send(repeat(), technician)).resolves.toEqual({ delivered: true });
  });

  it('turns the provider’s refusal, its flow control included, into a final failure saying so; a provider fault retries and frees the slot', async () => {
    const ch = voice(aliyunConfig);
    aliyunCode = { Code: 'isv.BUSINESS_LIMIT_CONTROL', Message: '触发号码天级流控' };
    const limited = await ch.channel.send(repeat(), technician).catch((e) => e);
    expect(limited).toBeInstanceOf(PushRejectedError);
    expect(limited.message).toMatch(/^语音呼叫未拨出：服务商限流 \/ Voice call not placed, the provider's limit: Voice call: Aliyun isv.BUSINESS_LIMIT_CONTROL 触发号码天级流控/);
    aliyunCode = { Code: 'isv.OUT_OF_SERVICE', Message: '业务停机' };
    await expect(ch.channel.send(repeat(), technician)).rejects.toThrow(/服务商拒绝 .* isv.OUT_OF_SERVICE/);
    aliyunCode = { Code: 'isp.SYSTEM_ERROR', Message: 'isp.SYSTEM_ERROR' };
    await expect(ch.channel.send(repeat(), technician)).rejects.toBeInstanceOf(PushUnavailableError);
    aliyunCode = { Code: 'OK', Message: 'OK' };
    // No call was placed by any of those: the minute's one call is still free.
    await expect(ch.channel.send(repeat(), technician)).resolves.toEqual({ delivered: true });
    const forged = await voice({ ...aliyunConfig, accessKeySecret: 'wrong' }).channel.send(repeat(), technician).catch((e) => e);
    expect(forged).toMatchObject({ code: 'GAS_PUSH_REJECTED', message: expect.stringContaining('SignatureDoesNotMatch') });
  });

  it('sorts Tencent VMS errors the same way: its frequency limit and a bad number are final, an internal error retries', async () => {
    const ch = voice(tencentConfig);
    let error = { Code: 'LimitExceeded.CalledNumberFrequencyLimit', Message: '被叫号码频率限制' };
    provider.answerTencent = () => ({ Error: error });
    await expect(ch.channel.send(repeat(), technician)).rejects.toThrow(/服务商限流 .* LimitExceeded.CalledNumberFrequencyLimit/);
    error = { Code: 'InvalidParameterValue.InvalidCalledNumber', Message: '被叫号码错误' };
    await expect(ch.channel.send(repeat(), technician)).rejects.toThrow(/服务商拒绝 .* InvalidParameterValue.InvalidCalledNumber/);
    error = { Code: 'InternalError', Message: 'internal' };
    await expect(ch.channel.send(repeat(), technician)).rejects.toBeInstanceOf(PushUnavailableError);
    expect(provider.tencentCalls.every((c) => c.signatureValid)).toBe(true);
  });

  it('does not call about a notice older than maxNoticeAgeMs (a late retry or a restart)', async () => {
    const old = repeat();
    clock.advance(16 * MIN);
    await expect(voice(aliyunConfig).channel.send(old, technician)).rejects.toThrow(/通知已过时（16 分钟前）.* 16 min old/);
    expect(provider.aliyunCalls).toEqual([]);
  });

  it('refuses at start a Tencent account without VoiceSdkAppid, and a quiet hour that is no time', () => {
    expect(() => voice({ ...tencentConfig, sdkAppId: undefined })).toThrow(/sdkAppId is required for provider tencent/);
    expect(() => voice({ ...aliyunConfig, quietHours: [{ start: '24:00', end: '08:00' }] })).toThrow(/push.channels.voice.config.quietHours/);
  });
});

describe('voice through the push dispatcher', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openDb({});
  });
  afterAll(() => db.close());

  it('a call that cannot be placed ends the delivery failed at the first attempt, with the reason, for the SLA watch to escalate', async () => {
    const onlyVoice: Person = { ...technician, webhooks: [] };
    const channels = createChannels([{ name: 'voice', type: 'voice', config: { ...aliyunConfig, endpoint: provider.base, quietHours: [{ start: '00:00', end: '23:59' }] } }], { log: pino({ level: 'silent' }), clock });
    const dispatcher = new PushDispatcher({ db, people: { person: async (id) => (id === onlyVoice.id ? onlyVoice : undefined) }, channels, log: pino({ level: 'silent' }), clock, scheduler: new ManualScheduler(clock), random: () => 0 });
    const outcomes: DeliveryOutcome[] = [];
    dispatcher.onOutcome((o) => outcomes.push(o));
    await dispatcher.dispatch(repeat());
    await dispatcher.idle();
    expect(outcomes).toEqual([expect.objectContaining({ recipientId: technician.id, channel: 'voice', status: 'failed', attempts: 1, error: expect.stringContaining('不允许外呼') })]);
    expect(provider.aliyunCalls).toEqual([]);
  });
});
