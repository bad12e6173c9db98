/**
 * Provider delivery reports into the delivery store (issue 14 #6), in one process: the push
 * dispatcher sends SMS and voice calls through the sms and voice channels to the signature-checking
 * provider stand-ins, which then push the reports the providers document (Aliyun SmsReport,
 * VoiceReport / VoiceCallReport; Tencent SMS status, VMS voiceprompt / voice_failure callbacks) to
 * the channels' report routes, mounted by the real HTTP API at /hooks/v1/push/<instance>/report.
 * PGlite with every migration; time is a ManualClock.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { bareServices } from '../../api/testing.ts';
import { buildHttpApi } from '../../api/server.ts';
import type { Person } from '../../oncall/directory.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { createChannels, pushCallbacksOf } from '../channels.ts';
import { PushDispatcher } from '../delivery-queue.ts';
import { notice, technician } from '../testing.ts';
import {
  aliyunSmsReport,
  aliyunVoiceCallReport,
  aliyunVoiceReport,
  ProviderStandIn,
  pushReport,
  tencentSmsReport,
  tencentVoiceCallback,
  tencentVoiceFailure,
} from './provider-stand-ins.ts';

const ALIYUN = { accessKeyId: 'LTAI5tReportKey', accessKeySecret: 'aliyun-report-secret' };
const TENCENT = { accessKeyId: 'AKIDreportSecretId', accessKeySecret: 'tencent-report-secret' };
const SECRET = 'rcpt_4f9c2a7e1b8d6035aa91c7e2';
const receipts = { secret: SECRET };

const provider = new ProviderStandIn({ aliyunSecret: ALIYUN.accessKeySecret, tencentSecretId: TENCENT.accessKeyId, tencentSecretKey: TENCENT.accessKeySecret });
const T0 = Date.parse('2026-11-22T08:00:00Z'); // 16:00 in Beijing
const clock = new ManualClock(T0);
const logLines: string[] = [];
const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });

let db: Db;
let dispatcher: PushDispatcher;
let app: FastifyInstance;
let hooks: string;
let serial = 0;
/** What the reports said, per instance, as the service stage counts them for /metrics. */
const outcomes: string[] = [];

/** 陈工 has a phone: every SMS and voice instance serves him, all at once for an emergency. */
const people: Record<string, Person> = { [technician.id]: technician };
const unlimited = { maxPerMinute: 100, maxPerHour: 100, maxPerDay: 100 };

beforeAll(async () => {
  await provider.start();
  db = await openDb({});
  const endpoint = provider.base;
  const channels = createChannels(
    [
      { name: 'sms-ali', type: 'sms', config: { provider: 'aliyun', ...ALIYUN, signName: '城东燃气', templateCode: 'SMS_465320001', endpoint, receipts } },
      { name: 'sms-tc', type: 'sms', config: { provider: 'tencent', ...TENCENT, sdkAppId: '1400787878', signName: '城东燃气', templateCode: '1928374', endpoint, receipts } },
      { name: 'voice-ali', type: 'voice', config: { provider: 'aliyun', ...ALIYUN, ttsCode: 'TTS_287910001', endpoint, receipts, ...unlimited } },
      { name: 'voice-tc', type: 'voice', config: { provider: 'tencent', ...TENCENT, sdkAppId: '1400006666', ttsCode: '4356', endpoint, receipts, ...unlimited } },
    ],
    { log, clock, db, receipts: { recordReceipt: (...r) => dispatcher.recordReceipt(...r) }, reports: (channel, outcome) => void outcomes.push(`${channel} ${outcome}`) },
  );
  dispatcher = new PushDispatcher({ db, people: { person: async (id) => people[id] }, channels, log, clock, random: () => 1 });
  app = await buildHttpApi(
    {
      ...bareServices(),
      clock,
      pushCallbacks: pushCallbacksOf(channels),
    },
    log,
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  hooks = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/hooks/v1/push`;
});
afterAll(async () => {
  await app.close();
  await dispatcher.close();
  await db.close();
  await provider.close();
});

beforeEach(() => {
  clock.set(T0);
  outcomes.length = 0;
  provider.aliyunCalls = [];
  provider.tencentCalls = [];
  let call = 0;
  provider.answerAliyun = ({ params: p }) => {
    call++;
    if (p.Action === 'SendSms') return { body: { Code: 'OK', Message: 'OK', RequestId: 'R-sms', BizId: `90061974693649844${call}^0` } };
    return { body: { Code: 'OK', Message: 'OK', RequestId: 'R-call', CallId: `11601285421${call}^10281405591${call}` } };
  };
  provider.answerTencent = ({ headers, body }) => {
    call++;
    if (headers['x-tc-action'] === 'SendSms') return { SendStatusSet: [{ SerialNo: `5000:10457106691570536578494996${call}`, PhoneNumber: body.PhoneNumberSet[0], Fee: 1, Code: 'Ok', Message: 'send success', IsoCode: 'CN' }] };
    return { SendStatus: { CallId: `12582bce-403c-11eb-96b8-52540047${String(call).padStart(4, '0')}`, SessionContext: body.SessionContext } };
  };
});

/**
 * Sends an emergency escalation to 陈工 (the voice channels ring for it): one SMS and one call per
 * provider. Resolves with its notice id and what each provider was asked.
 */
async function send() {
  const id = `N-rcpt-${++serial}`;
  const [aliyunFrom, tencentFrom] = [provider.aliyunCalls.length, provider.tencentCalls.length];
  await dispatcher.dispatch(notice({ id, kind: 'ticket.escalated', createdAtMs: clock.now(), data: { ticketId: 'T000001', deviceId: 'M-1', status: 'dispatched' } }));
  await dispatcher.idle();
  const aliyun = provider.aliyunCalls.slice(aliyunFrom);
  const tencent = provider.tencentCalls.slice(tencentFrom);
  return {
    id,
    aliyunSms: aliyun.find((c) => c.params.Action === 'SendSms')!,
    aliyunCall: aliyun.find((c) => c.params.Action === 'SingleCallByTts')!,
    tencentSms: tencent.find((c) => c.headers['x-tc-action'] === 'SendSms')!,
    tencentCall: tencent.find((c) => c.headers['x-tc-action'] === 'SendTtsVoice')!,
  };
}

/** What the delivery store holds for one notice on one channel (the ticket's delivery report reads the same columns). */
async function stateOf(noticeId: string, channel: string) {
  const [row] = await db.query<{ status: string; delivered_ms: number | null; read_ms: number | null }>(
    `SELECT status, (extract(epoch from delivered_at) * 1000)::float8 AS delivered_ms, (extract(epoch from read_at) * 1000)::float8 AS read_ms
     FROM delivery_state WHERE notice_id = $1 AND recipient_id = $2 AND channel = $3`,
    [noticeId, technician.id, channel],
  );
  return row && { status: row.status, deliveredAtMs: row.delivered_ms === null ? null : Math.round(row.delivered_ms), readAtMs: row.read_ms === null ? null : Math.round(row.read_ms) };
}

const report = (instance: string, body: unknown, token: string | null = SECRET) => pushReport(`${hooks}/${instance}/report${token === null ? '' : `?token=${token}`}`, body);
const ALIYUN_OK = { code: 0, msg: '接收成功' };
const TENCENT_OK = { result: 0, errmsg: 'OK' };

const SENT = { status: 'delivered', deliveredAtMs: null, readAtMs: null };

describe('SMS delivery reports', () => {
  it('Aliyun: SendSms carries the notice and person in OutId; SmsReport success records delivered at the report time, once', async () => {
    const { id, aliyunSms } = await send();
    expect(aliyunSms.signatureValid).toBe(true);
    expect(aliyunSms.params.OutId).toMatch(/^r1\.[A-Za-z0-9_-]+$/);
    expect(await stateOf(id, 'sms-ali')).toEqual(SENT);

    await expect(report('sms-ali', [aliyunSmsReport(aliyunSms, { success: true, atMs: T0 + 7000 })])).resolves.toEqual({ status: 200, body: ALIYUN_OK });
    expect(await stateOf(id, 'sms-ali')).toEqual({ status: 'delivered', deliveredAtMs: T0 + 7000, readAtMs: null });
    // Aliyun may push the same report again: the first time stays. No other channel's row is touched.
    await report('sms-ali', [aliyunSmsReport(aliyunSms, { success: true, atMs: T0 + 60_000 })]);
    expect((await stateOf(id, 'sms-ali'))!.deliveredAtMs).toBe(T0 + 7000);
    expect(await stateOf(id, 'sms-tc')).toEqual(SENT);
  });

  it('Aliyun: a failed report records nothing and is logged; a batch mixing it with a report on a message sent elsewhere is still acknowledged', async () => {
    const { id, aliyunSms } = await send();
    const failed = aliyunSmsReport(aliyunSms, { success: false, atMs: T0 + 5000, err_code: 'MK:0001', err_msg: '用户关机' });
    const elsewhere = { ...failed, success: true, out_id: 'ORDER-20261122-17', biz_id: '123456^0' };
    logLines.length = 0;
    await expect(report('sms-ali', [failed, elsewhere])).resolves.toEqual({ status: 200, body: ALIYUN_OK });
    expect(await stateOf(id, 'sms-ali')).toEqual(SENT);
    const logged = logLines.map((l) => JSON.parse(l));
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'SMS not delivered to the phone (provider report)', noticeId: id, personId: technician.id, phone: '139****0100', code: 'MK:0001' }));
    expect(logged).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(/^Delivery report for a message not sent from here/), ref: '123456^0' }));
    expect(outcomes).toEqual(['sms-ali failed', 'sms-ali unknown']);
  });

  it('Tencent: the SerialNo SendSms answered is kept; the status callback SUCCESS records delivered at user_receive_time, FAIL and unknown sids nothing', async () => {
    const { id, tencentSms } = await send();
    expect(tencentSms.signatureValid).toBe(true);
    const fail = tencentSmsReport(tencentSms, { status: 'FAIL', atMs: T0 + 3000, errmsg: 'MI:0013' });
    await expect(report('sms-tc', [fail, { ...fail, report_status: 'SUCCESS', sid: '5000:999' }])).resolves.toEqual({ status: 200, body: TENCENT_OK });
    expect(await stateOf(id, 'sms-tc')).toEqual(SENT);
    await expect(report('sms-tc', [tencentSmsReport(tencentSms, { status: 'SUCCESS', atMs: T0 + 9000 })])).resolves.toEqual({ status: 200, body: TENCENT_OK });
    expect(await stateOf(id, 'sms-tc')).toEqual({ status: 'delivered', deliveredAtMs: T0 + 9000, readAtMs: null });
  });
});

describe('voice call reports', () => {
  it('Aliyun: VoiceCallReport ringing records delivered, VoiceReport 200000 (listened to the end) records read at the answer time', async () => {
    const { id, aliyunCall } = await send();
    await expect(report('voice-ali', [aliyunVoiceCallReport(aliyunCall, '200101', T0 + 1000), aliyunVoiceCallReport(aliyunCall, '200201', T0 + 4000)])).resolves.toEqual({
      status: 200,
      body: ALIYUN_OK,
    });
    expect(await stateOf(id, 'voice-ali')).toEqual({ status: 'delivered', deliveredAtMs: T0 + 4000, readAtMs: null });
    await report('voice-ali', [aliyunVoiceReport(aliyunCall, { status_code: '200000', ringMs: T0 + 4000, answerMs: T0 + 9000, endMs: T0 + 40_000 })]);
    expect(await stateOf(id, 'voice-ali')).toEqual({ status: 'delivered', deliveredAtMs: T0 + 4000, readAtMs: T0 + 9000 });
  });

  it('Aliyun: a call that rang unanswered (200003) is delivered, not read; a busy line (200002) records nothing', async () => {
    const rang = await send();
    clock.advance(60_000);
    const busy = await send();
    await report('voice-ali', [
      aliyunVoiceReport(rang.aliyunCall, { status_code: '200003', status_msg: '用户收到呼叫但未接听', ringMs: T0 + 3000, endMs: T0 + 50_000 }),
      aliyunVoiceReport(busy.aliyunCall, { status_code: '200002', status_msg: '用户占线', endMs: T0 + 62_000 }),
    ]);
    expect(await stateOf(rang.id, 'voice-ali')).toEqual({ status: 'delivered', deliveredAtMs: T0 + 3000, readAtMs: null });
    expect(await stateOf(busy.id, 'voice-ali')).toEqual(SENT);
  });

  it('Tencent: voiceprompt_callback result 0 records read at accept_time; not answered (1) and the failure callback record nothing', async () => {
    const answered = await send();
    const missed = await send();
    await expect(report('voice-tc', tencentVoiceCallback(answered.tencentCall, { result: '0', startMs: T0, acceptMs: T0 + 8000, endMs: T0 + 30_000 }))).resolves.toEqual({
      status: 200,
      body: TENCENT_OK,
    });
    await expect(report('voice-tc', tencentVoiceCallback(missed.tencentCall, { result: '1', startMs: T0, endMs: T0 + 45_000 }))).resolves.toEqual({ status: 200, body: TENCENT_OK });
    await expect(report('voice-tc', tencentVoiceFailure(missed.tencentCall, 5, '无人接听'))).resolves.toEqual({ status: 200, body: TENCENT_OK });
    expect(await stateOf(answered.id, 'voice-tc')).toEqual({ status: 'delivered', deliveredAtMs: T0 + 8000, readAtMs: T0 + 8000 });
    expect(await stateOf(missed.id, 'voice-tc')).toEqual(SENT);
    expect(outcomes).toEqual(['voice-tc read', 'voice-tc failed', 'voice-tc failed']);
  });
});

describe('report routes are protected', () => {
  it('refuses a report without the secret or with a wrong one (401), records nothing, and never logs the secret', async () => {
    const { id, aliyunSms } = await send();
    const body = [aliyunSmsReport(aliyunSms, { success: true, atMs: T0 + 1000 })];
    logLines.length = 0;
    await expect(report('sms-ali', body, null)).resolves.toMatchObject({ status: 401, body: { error: 'GAS_PUSH_CALLBACK_INVALID' } });
    await expect(report('sms-ali', body, `${SECRET.slice(0, -1)}x`)).resolves.toMatchObject({ status: 401 });
    await expect(report('voice-tc', {}, 'guess')).resolves.toMatchObject({ status: 401 });
    expect((await stateOf(id, 'sms-ali'))!.deliveredAtMs).toBeNull();
    await report('sms-ali', body);
    expect((await stateOf(id, 'sms-ali'))!.deliveredAtMs).toBe(T0 + 1000);
    expect(logLines.join('\n')).toContain('/hooks/v1/push/sms-ali/report?token=[redacted]');
    expect(logLines.join('\n')).not.toContain(SECRET);
  });

  it('refuses a body over the limit (413) and one that is not the provider’s shape (400)', async () => {
    const huge = Array.from({ length: 2000 }, () => ({ phone_number: '13900000100', success: true, out_id: 'x'.repeat(200) }));
    await expect(report('sms-ali', huge)).resolves.toMatchObject({ status: 413 });
    await expect(report('sms-tc', { sid: 'not-an-array' })).resolves.toMatchObject({ status: 400 });
  });

  it('takes no reports unless configured, and refuses at start reports with nowhere to be recorded', () => {
    const aliyunSms = { provider: 'aliyun', ...ALIYUN, signName: '城东燃气', templateCode: 'SMS_1' };
    expect(pushCallbacksOf(createChannels([{ name: 'sms', type: 'sms', config: aliyunSms }], { log, clock }))).toEqual([]);
    expect(() => createChannels([{ name: 'sms', type: 'sms', config: { ...aliyunSms, receipts } }], { log, clock })).toThrow(/sms: receipts need the service's ticket store/);
    const voice = { provider: 'aliyun', ...ALIYUN, ttsCode: 'TTS_1', receipts };
    expect(() => createChannels([{ name: 'v', type: 'voice', config: voice }], { log, clock, receipts: { recordReceipt: async () => true } })).toThrow(/voice: receipts need/);
    expect(() => createChannels([{ name: 'sms', type: 'sms', config: { ...aliyunSms, receipts: { secret: 'short' } } }], { log, clock })).toThrow(/push.channels.sms.config.receipts.secret/);
  });
});
