/**
 * The sms channel against local stand-ins for Aliyun Dysmsapi `SendSms` (RPC GET, signature v1,
 * HMAC-SHA1) and Tencent Cloud SMS `SendSms` (API 3.0 POST, TC3-HMAC-SHA256). Each stand-in checks
 * the signature the way the provider documents it, written here independently of the channel's
 * signer, and answers in the provider's shapes (success, business error codes, signature errors).
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { ActionTokens } from '../actions.ts';
import { createChannels, type StaffChannelInstance } from '../channels.ts';
import { PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';
import { notice, technician } from '../testing.ts';
import { providerNumber } from './index.ts';
import { ProviderStandIn } from './provider-stand-ins.ts';

const ALIYUN = { accessKeyId: 'LTAI5tTestKeyId', accessKeySecret: 'aliyun-test-secret' };
const TENCENT = { accessKeyId: 'AKIDtestSecretId000', accessKeySecret: 'tencent-test-secret-key' };

const provider = new ProviderStandIn({ aliyunSecret: ALIYUN.accessKeySecret, tencentSecretId: TENCENT.accessKeyId, tencentSecretKey: TENCENT.accessKeySecret });
/** What the stand-ins answer for a correctly signed request (per number for Tencent). */
let aliyunBusiness: { Code: string; Message: string };
let tencentStatus: { Code: string; Message: string };
let tencentError: { Code: string; Message: string } | undefined;

beforeAll(async () => {
  await provider.start();
});
afterAll(() => provider.close());
beforeEach(() => {
  provider.aliyunCalls = [];
  provider.tencentCalls = [];
  aliyunBusiness = { Code: 'OK', Message: 'OK' };
  tencentStatus = { Code: 'Ok', Message: 'send success' };
  tencentError = undefined;
  // Aliyun Dysmsapi: request errors come as 4xx with a Code (the stand-in's), business results as 200.
  provider.answerAliyun = ({ params: p }) => {
    if (p.Action !== 'SendSms' || !p.SignName || !p.TemplateCode) return { status: 400, body: { Code: 'MissingParameter', Message: 'SendSms', RequestId: 'R-a' } };
    if (!/^1\d{10}$/.test(p.PhoneNumbers ?? '')) return { body: { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: '非法手机号', RequestId: 'R-m' } };
    JSON.parse(p.TemplateParam!);
    return { body: { ...aliyunBusiness, RequestId: 'R-ok', ...(aliyunBusiness.Code === 'OK' ? { BizId: '900619746936498440^0' } : {}) } };
  };
  // Tencent Cloud API 3.0: errors of the request in Response.Error, per-number results in SendStatusSet.
  provider.answerTencent = ({ headers, body }) => {
    if (headers['x-tc-action'] !== 'SendSms' || headers['x-tc-version'] !== '2021-01-11') return { Error: { Code: 'InvalidAction', Message: 'action' } };
    if (tencentError) return { Error: tencentError };
    const [number] = body.PhoneNumberSet as string[];
    return { SendStatusSet: [{ SerialNo: '5000:1045710669157053657849499619', PhoneNumber: number, Fee: 1, SessionContext: '', ...tencentStatus, IsoCode: 'CN' }] };
  };
});

const clock = new ManualClock(Date.parse('2026-11-22T08:00:00Z'));
const leak = notice({
  data: { ticketId: 'T000001', deviceId: 'M-1', conditions: ['GAS_ALARM_L2'], activeConditions: ['GAS_ALARM_L2'], address: '城东区幸福路12号3单元401室', district: '城东区', status: 'dispatched' },
  url: 'https://ops.example.com/#/tickets/T000001',
});
const aliyunConfig = { provider: 'aliyun', ...ALIYUN, signName: '城东燃气', templateCode: 'SMS_465320001' };
const tencentConfig = { provider: 'tencent', ...TENCENT, sdkAppId: '1400787878', signName: '城东燃气', templateCode: '1928374' };

function sms(config: Record<string, unknown>, actions?: ActionTokens): StaffChannelInstance {
  const channels = createChannels([{ name: 'sms', type: 'sms', config: { ...config, endpoint: provider.base } }], { log: pino({ level: 'silent' }), clock, ...(actions ? { actions } : {}) });
  return channels.get('sms') as StaffChannelInstance;
}

let db: Db;
let tokens: ActionTokens;
beforeAll(async () => {
  db = await openDb({});
  tokens = new ActionTokens({ db, clock, secret: randomBytes(32), defaultTtlMs: 30 * 60_000 });
});
afterAll(async () => db.close());

describe('sms channel, Aliyun SendSms against a stand-in that checks signature v1', () => {
  it('sends the template with priority word, ticket, condition, address and a one-tap acknowledge link that redeems once as that person', async () => {
    await expect(sms(aliyunConfig, tokens).channel.send(leak, technician)).resolves.toEqual({ delivered: true });
    const [call] = provider.aliyunCalls;
    expect(call!.signatureValid).toBe(true);
    expect(call!.params).toMatchObject({ Action: 'SendSms', PhoneNumbers: '13900000100', SignName: '城东燃气', TemplateCode: 'SMS_465320001', AccessKeyId: ALIYUN.accessKeyId, Timestamp: '2026-11-22T08:00:00Z', RegionId: 'cn-hangzhou' });
    const param = JSON.parse(call!.params.TemplateParam!);
    expect(param).toMatchObject({ priority: '紧急', ticket: 'T000001', condition: '二级燃气报警', address: '城东区幸福路12号3单元401室' });
    expect(param.link).toMatch(/^https:\/\/ops\.example\.com\/#\/act\/[^/]+$/);
    const token = param.link.split('/#/act/')[1];
    await expect(tokens.redeem(token, { via: 'sms' })).resolves.toEqual({ personId: technician.id, ticketId: 'T000001', action: 'acknowledge' });
    await expect(tokens.redeem(token, { via: 'sms' })).rejects.toMatchObject({ reason: 'replayed' });
  });

  it('offers 到场 (on site) once the ticket is acknowledged, and the ticket link when no token issuer is configured', async () => {
    await sms(aliyunConfig, tokens).channel.send({ ...leak, data: { ...leak.data, status: 'acknowledged' } }, technician);
    const onSite = JSON.parse(provider.aliyunCalls[0]!.params.TemplateParam!).link.split('/#/act/')[1];
    await expect(tokens.redeem(onSite, { via: 'sms' })).resolves.toMatchObject({ action: 'on_site' });
    await sms(aliyunConfig).channel.send(leak, technician);
    expect(JSON.parse(provider.aliyunCalls[1]!.params.TemplateParam!).link).toBe('https://ops.example.com/#/tickets/T000001');
  });

  it('sends a fresh nonce with every attempt, and cuts long text parameters but never the link', async () => {
    const ch = sms({ ...aliyunConfig, maxParamChars: 8 }, tokens);
    await ch.channel.send(leak, technician);
    await ch.channel.send(leak, technician);
    expect(provider.aliyunCalls.map((c) => c.signatureValid)).toEqual([true, true]);
    expect(provider.aliyunCalls[0]!.params.SignatureNonce).not.toBe(provider.aliyunCalls[1]!.params.SignatureNonce);
    const param = JSON.parse(provider.aliyunCalls[0]!.params.TemplateParam!);
    expect(param.address).toBe('城东区幸福路1…');
    expect(param.link.length).toBeGreaterThan(40);
  });

  it('names the worst condition and the device for a leak pushed ahead of its ticket, its link acting on the alert (alert:<id>)', async () => {
    const alarm = notice({ kind: 'alarm.raised', ticketId: '', url: undefined, data: { alertIds: ['A-1'], deviceId: 'M-9', conditions: ['GAS_ALARM_L2', 'LOW_BATTERY'], address: null, district: '城东区' } });
    await sms({ ...aliyunConfig, appUrl: 'https://ops.example.com/' }, tokens).channel.send(alarm, technician);
    const param = JSON.parse(provider.aliyunCalls[0]!.params.TemplateParam!);
    expect(param).toMatchObject({ priority: '紧急', ticket: 'M-9', condition: '二级燃气报警', address: '城东区' });
    await expect(tokens.redeem(param.link.split('/#/act/')[1], { via: 'sms' })).resolves.toEqual({ personId: technician.id, ticketId: 'alert:A-1', action: 'acknowledge' });
    // Without a console address there is nothing to link to.
    await sms(aliyunConfig, tokens).channel.send(alarm, technician);
    expect(JSON.parse(provider.aliyunCalls[1]!.params.TemplateParam!).link).toBe('—');
  });

  it('sorts Aliyun codes: flow control waits, an illegal number or template is final, a provider fault retries, a bad signature is final', async () => {
    const ch = sms(aliyunConfig);
    aliyunBusiness = { Code: 'isv.BUSINESS_LIMIT_CONTROL', Message: '触发小时级流控Permits:5' };
    const limited = await ch.channel.send(leak, technician).catch((e) => e);
    expect(limited).toBeInstanceOf(PushThrottledError);
    expect(limited).toMatchObject({ retryAfterMs: 60_000, message: expect.stringContaining('isv.BUSINESS_LIMIT_CONTROL') });
    aliyunBusiness = { Code: 'isv.SMS_TEMPLATE_ILLEGAL', Message: '模板不合法' };
    await expect(ch.channel.send(leak, technician)).rejects.toBeInstanceOf(PushRejectedError);
    aliyunBusiness = { Code: 'isv.DAY_LIMIT_CONTROL', Message: '触发日发送限额' };
    await expect(ch.channel.send(leak, technician)).rejects.toBeInstanceOf(PushRejectedError);
    aliyunBusiness = { Code: 'isp.SYSTEM_ERROR', Message: 'isp.SYSTEM_ERROR' };
    await expect(ch.channel.send(leak, technician)).rejects.toBeInstanceOf(PushUnavailableError);
    await expect(ch.channel.send(leak, { ...technician, phone: '1390000' })).rejects.toMatchObject({ code: 'GAS_PUSH_REJECTED', message: expect.stringContaining('isv.MOBILE_NUMBER_ILLEGAL') });
    const forged = await sms({ ...aliyunConfig, accessKeySecret: 'not-the-secret' }).channel.send(leak, technician).catch((e) => e);
    expect(forged).toBeInstanceOf(PushRejectedError);
    expect(forged).toMatchObject({ statusCode: 400, message: expect.stringContaining('SignatureDoesNotMatch') });
  });

  it('writes +86 and spaced numbers as Aliyun wants them and refuses what is no number without calling', async () => {
    await sms(aliyunConfig).channel.send(leak, { ...technician, phone: '+86 139-0000-0100' });
    expect(provider.aliyunCalls[0]!.params.PhoneNumbers).toBe('13900000100');
    await expect(sms(aliyunConfig).channel.send(leak, { ...technician, phone: '请联系班长' })).rejects.toBeInstanceOf(PushRejectedError);
    expect(provider.aliyunCalls).toHaveLength(1);
  });
});

describe('sms channel, Tencent Cloud SendSms against a stand-in that checks TC3-HMAC-SHA256', () => {
  it('posts PhoneNumberSet in E.164, SmsSdkAppId, SignName, TemplateId and TemplateParamSet in template order', async () => {
    await expect(sms(tencentConfig, tokens).channel.send(leak, technician)).resolves.toEqual({ delivered: true });
    const [call] = provider.tencentCalls;
    expect(call!.signatureValid).toBe(true);
    expect(call!.headers).toMatchObject({ 'x-tc-action': 'SendSms', 'x-tc-version': '2021-01-11', 'x-tc-region': 'ap-guangzhou', 'x-tc-timestamp': String(clock.now() / 1000) });
    expect(call!.body).toMatchObject({ PhoneNumberSet: ['+8613900000100'], SmsSdkAppId: '1400787878', SignName: '城东燃气', TemplateId: '1928374' });
    const [priority, ticket, condition, address, link] = call!.body.TemplateParamSet;
    expect([priority, ticket, condition, address]).toEqual(['紧急', 'T000001', '二级燃气报警', '城东区幸福路12号3单元401室']);
    expect(link).toMatch(/#\/act\//);
  });

  it('sorts Tencent codes: per-number minute/hour limits wait, the daily limit and a wrong number are final, a bad signature is final', async () => {
    const ch = sms(tencentConfig);
    tencentStatus = { Code: 'LimitExceeded.PhoneNumberThirtySecondLimit', Message: '单个手机号30秒内下发短信条数超过设定的上限' };
    await expect(ch.channel.send(leak, technician)).rejects.toBeInstanceOf(PushThrottledError);
    tencentStatus = { Code: 'LimitExceeded.PhoneNumberOneHourLimit', Message: '1小时内下发短信条数超过设定的上限' };
    await expect(ch.channel.send(leak, technician)).rejects.toBeInstanceOf(PushThrottledError);
    tencentStatus = { Code: 'LimitExceeded.PhoneNumberDailyLimit', Message: '日下发条数超过设定的上限' };
    await expect(ch.channel.send(leak, technician)).rejects.toBeInstanceOf(PushRejectedError);
    tencentStatus = { Code: 'InvalidParameterValue.IncorrectPhoneNumber', Message: '手机号格式错误' };
    await expect(ch.channel.send(leak, technician)).rejects.toMatchObject({ code: 'GAS_PUSH_REJECTED', message: expect.stringContaining('IncorrectPhoneNumber') });
    tencentError = { Code: 'InternalError.Timeout', Message: 'timeout' };
    await expect(ch.channel.send(leak, technician)).rejects.toBeInstanceOf(PushUnavailableError);
    tencentError = undefined;
    const forged = await sms({ ...tencentConfig, accessKeySecret: 'wrong' }).channel.send(leak, technician).catch((e) => e);
    expect(provider.tencentCalls.at(-1)!.signatureValid).toBe(false);
    expect(forged).toMatchObject({ code: 'GAS_PUSH_REJECTED', message: expect.stringContaining('AuthFailure.SignatureFailure') });
  });
});

describe('sms channel configuration and filters', () => {
  it('serves people with a phone, sends only the kinds and priorities configured, and never a customer notice', async () => {
    const ch = sms({ ...aliyunConfig, priorities: ['emergency', 'urgent'] });
    expect(ch.serves(technician)).toBe(true);
    expect(ch.serves({ ...technician, phone: undefined })).toBe(false);
    await expect(ch.channel.send({ ...leak, priority: 'low' }, technician)).resolves.toEqual({ delivered: false, reason: 'sms sends no low ticket.dispatched' });
    await expect(ch.channel.send({ ...leak, kind: 'customer.notice' }, technician)).rejects.toBeInstanceOf(PushRejectedError);
    expect(provider.aliyunCalls).toEqual([]);
  });

  it('refuses at start a Tencent account without SdkAppId, an unknown provider or a template parameter it cannot fill', () => {
    expect(() => sms({ ...tencentConfig, sdkAppId: undefined })).toThrow(/sdkAppId is required for provider tencent/);
    expect(() => sms({ ...aliyunConfig, provider: 'twilio' })).toThrow(/push.channels.sms.config.provider/);
    expect(() => sms({ ...aliyunConfig, templateParams: ['balance'] })).toThrow(/push.channels.sms.config.templateParams/);
  });
});

describe('phone numbers as each provider wants them', () => {
  it.each([
    ['13900000100', '13900000100', '+8613900000100'],
    ['+86 139-0000-0100', '13900000100', '+8613900000100'],
    ['0086 13900000100', '13900000100', '+8613900000100'],
    ['0571-8888 8888', '057188888888', '+8657188888888'],
    ['+852 6123 4567', '85261234567', '+85261234567'],
  ])('%s: Aliyun %s, Tencent %s', (raw, aliyun, tencent) => {
    expect(providerNumber('aliyun', raw, '86')).toBe(aliyun);
    expect(providerNumber('tencent', raw, '86')).toBe(tencent);
  });

  it.each(['', '请联系班长', '123', '+86 139 0000 0100 ext 5'])('%j is no number', (raw) => {
    expect(providerNumber('aliyun', raw, '86')).toBeUndefined();
  });
});
