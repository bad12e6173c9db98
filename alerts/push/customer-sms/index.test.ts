/**
 * Customer SMS against the same local provider stand-ins as the staff SMS (signatures checked),
 * fed customer notices the ticket service builds from the registry: the phone travels from the
 * meter's registry record (`customerPhone`) in the notice to the provider.
 */
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import type { Notice } from '../../tickets/notice.ts';
import { devices, FakeDirectory, newBook, raise, T0 } from '../../tickets/test-support.ts';
import { TicketService, type DeviceInfo } from '../../tickets/ticket-service.ts';
import { type CustomerChannelInstance, createChannels } from '../channels.ts';
import { PushDispatcher } from '../delivery-queue.ts';
import { PushRejectedError } from '../errors.ts';
import { ProviderStandIn } from '../sms/provider-stand-ins.ts';
import { notice } from '../testing.ts';

const ALIYUN = { accessKeyId: 'LTAI5tTestKeyId', accessKeySecret: 'aliyun-test-secret' };
const TENCENT = { accessKeyId: 'AKIDtestSecretId000', accessKeySecret: 'tencent-test-secret-key' };
const provider = new ProviderStandIn({ aliyunSecret: ALIYUN.accessKeySecret, tencentSecretId: TENCENT.accessKeyId, tencentSecretKey: TENCENT.accessKeySecret });

const clock = new ManualClock(T0);
let db: Db;
let notices: Notice[];
let svc: TicketService;

beforeAll(async () => {
  await provider.start();
  db = await openDb({});
  const registry: Record<string, DeviceInfo> = { ...devices, 'HM-1': { ...devices['HM-1']!, customerPhone: '+86 138 0013 8000' } };
  svc = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice: (id) => registry[id] });
  svc.onNotice((n) => notices.push(n));
});
afterAll(async () => {
  await provider.close();
  await db.close();
});
beforeEach(() => {
  notices = [];
  provider.aliyunCalls = [];
  provider.tencentCalls = [];
  provider.answerAliyun = () => ({ body: { Code: 'OK', Message: 'OK', RequestId: 'R-ok', BizId: '1^0' } });
  provider.answerTencent = ({ body }) => ({ SendStatusSet: [{ SerialNo: 's-1', PhoneNumber: body.PhoneNumberSet[0], Fee: 1, Code: 'Ok', Message: 'send success', IsoCode: 'CN' }] });
});

function customerSms(config: Record<string, unknown>): CustomerChannelInstance {
  const channels = createChannels([{ name: 'sms-customers', type: 'customer-sms', config: { ...config, endpoint: provider.base } }], { log: pino({ level: 'silent' }), clock });
  return channels.get('sms-customers') as CustomerChannelInstance;
}

describe('customer-sms channel', () => {
  it('is a customer channel and sends a low-balance notice to the phone in the meter’s registry record (Aliyun, signed)', async () => {
    await svc.onAlertChanges(raise(newBook(), 'HM-1', 'LOW_BALANCE', T0, { severity: 'info' }));
    const [n] = notices;
    expect(n).toMatchObject({ kind: 'customer.notice', recipients: ['customer:张三'], data: { phone: '+86 138 0013 8000' } });
    const ch = customerSms({ provider: 'aliyun', ...ALIYUN, signName: '城东燃气', templateCode: 'SMS_465320777' });
    expect(ch.audience).toBe('customer');
    await expect(ch.channel.send(n!, { id: 'customer:张三' })).resolves.toEqual({ delivered: true });
    const [call] = provider.aliyunCalls;
    expect(call!.signatureValid).toBe(true);
    expect(call!.params).toMatchObject({ Action: 'SendSms', PhoneNumbers: '13800138000', TemplateCode: 'SMS_465320777' });
    expect(JSON.parse(call!.params.TemplateParam!)).toEqual({ condition: '欠量', device: 'HM-1', address: '东区幸福路 1 号 101' });
  });

  it('sends the same through Tencent Cloud with +86 and the parameters in template order', async () => {
    await svc.onAlertChanges(raise(newBook(), 'HM-1', 'NO_BALANCE', T0, { severity: 'info' }));
    await customerSms({ provider: 'tencent', ...TENCENT, sdkAppId: '1400787878', signName: '城东燃气', templateCode: '2001' }).channel.send(notices[0]!, { id: 'customer:张三' });
    expect(provider.tencentCalls[0]!.signatureValid).toBe(true);
    expect(provider.tencentCalls[0]!.body).toMatchObject({ PhoneNumberSet: ['+8613800138000'], TemplateId: '2001', TemplateParamSet: ['请速购气（气量为零）', 'HM-1', '东区幸福路 1 号 101'] });
  });

  it('logs a meter whose record holds no phone as not delivered, with the reason, and calls no provider', async () => {
    await svc.onAlertChanges(raise(newBook(), 'HM-2', 'LOW_BALANCE', T0, { severity: 'info' }));
    expect(notices[0]!.data.phone).toBeUndefined();
    const ch = customerSms({ provider: 'aliyun', ...ALIYUN, signName: '城东燃气', templateCode: 'SMS_1' });
    await expect(ch.channel.send(notices[0]!, { id: 'customer:李四' })).resolves.toEqual({ delivered: false, reason: 'the registry holds no phone number (customerPhone) for this meter' });
    expect(provider.aliyunCalls).toEqual([]);
  });

  it('never sends a staff notice to a customer', async () => {
    const ch = customerSms({ provider: 'aliyun', ...ALIYUN, signName: '城东燃气', templateCode: 'SMS_1' });
    await expect(ch.channel.send(notice({ data: { phone: '13800138000' } }), { id: 'customer:x' })).rejects.toBeInstanceOf(PushRejectedError);
    expect(provider.aliyunCalls).toEqual([]);
  });

  it('gets customer notices from the dispatcher: delivered to the customer with a phone, logged not delivered with the reason for one without', async () => {
    // A store of its own: the notices above were made once per alert in the shared one.
    const store = await openDb({});
    const tickets = new TicketService({ db: store, clock, directory: new FakeDirectory(), lookupDevice: (id) => (id === 'HM-1' ? { ...devices[id]!, customerPhone: '13800138000' } : devices[id]) });
    tickets.onNotice((n) => notices.push(n));
    await tickets.onAlertChanges(raise(newBook(), 'HM-1', 'LOW_BALANCE', T0, { severity: 'info' }));
    await tickets.onAlertChanges(raise(newBook(), 'HM-2', 'LOW_BALANCE', T0, { severity: 'info' }));
    const channels = createChannels([{ name: 'sms-customers', type: 'customer-sms', config: { provider: 'aliyun', ...ALIYUN, signName: '城东燃气', templateCode: 'SMS_1', endpoint: provider.base } }], { log: pino({ level: 'silent' }), clock });
    const push = new PushDispatcher({ db: store, people: new FakeDirectory(), channels, log: pino({ level: 'silent' }), clock });
    for (const n of notices) await push.dispatch(n);
    await push.idle();
    const [withPhone, without] = await Promise.all(notices.map((n) => push.log(n.id)));
    expect(withPhone).toEqual([expect.objectContaining({ recipientId: 'customer:张三', channel: 'sms-customers', status: 'delivered' })]);
    expect(without).toEqual([expect.objectContaining({ recipientId: 'customer:李四', channel: 'sms-customers', status: 'not_delivered', error: 'the registry holds no phone number (customerPhone) for this meter' })]);
    expect(provider.aliyunCalls.map((c) => [c.signatureValid, c.params.PhoneNumbers])).toEqual([[true, '13800138000']]);
    await push.close();
    await store.close();
  });
});
