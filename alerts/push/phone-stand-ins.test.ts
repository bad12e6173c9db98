/**
 * The stand-ins `npm run stand-ins` runs, with the channels of alerts/push/phone-channels.example.json:
 * the example is what the stand-ins' ports call for, and each stand-in hears what its channel sends
 * a person who has every account, a phone and a Web Push subscription.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import { parseSettings } from '../../app/config.ts';
import type { Person } from '../oncall/directory.ts';
import type { Db } from '../store/db.ts';
import { openDb } from '../store/open-db.ts';
import { ActionTokens } from './actions.ts';
import { type ChannelInstance, createChannels, type CustomerChannelInstance, parsePushConfig, type StaffChannelInstance } from './channels.ts';
import { type PhoneMessage, phoneChannelSettings, STAND_IN_PHONE, STAND_IN_PORTS, standInUrls, startPhoneStandIns, type PhoneStandIns } from './phone-stand-ins.ts';
import { notice, technician } from './testing.ts';
import { webPushOf } from './web-push/index.ts';

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), 'phone-channels.example.json');
const clock = new ManualClock(Date.parse('2026-11-22T08:00:00Z'));
const log = pino({ level: 'silent' });
const wang: Person = { ...technician, id: 'tech-wang', accounts: { wecom: 'WangGong', dingtalk: 'wang0815', feishu: 'ou_7d8a6e6df7621556ce0d21922b676706' } };

let db: Db;
let actions: ActionTokens;
beforeAll(async () => {
  db = await openDb({ inThread: true });
  actions = new ActionTokens({ db, clock, secret: randomBytes(32), defaultTtlMs: 1_800_000 });
});
afterAll(async () => db.close());

const channelsOf = (settings: { push: unknown }) => createChannels(parsePushConfig(settings.push).channels, { log, clock, db, actions, appUrl: 'http://127.0.0.1:8080/console/' });

describe('alerts/push/phone-channels.example.json', () => {
  it('is the settings for the stand-ins’ default ports, passes the settings schema, and names every phone channel', () => {
    const example = JSON.parse(readFileSync(EXAMPLE, 'utf8'));
    expect(example).toEqual(phoneChannelSettings(standInUrls(STAND_IN_PORTS)));
    expect(() => parseSettings(example, 'example')).not.toThrow();
    const channels = channelsOf(example);
    expect([...channels.values()].map((c) => c.type).sort()).toEqual(['customer-sms', 'dingtalk-work', 'feishu-app', 'sms', 'sse', 'voice', 'web-push', 'wecom-app']);
  });
});

describe('the phone stand-ins with those channels', () => {
  let standIns: PhoneStandIns;
  const heard: PhoneMessage[] = [];
  let channels: Map<string, ChannelInstance>;

  beforeAll(async () => {
    standIns = await startPhoneStandIns({ ports: { wecom: 0, dingtalk: 0, feishu: 0, cloud: 0, webPush: 0 }, onPhone: (m) => heard.push(m) });
    channels = channelsOf(phoneChannelSettings(standIns.urls));
    await webPushOf(channels)!.subscriptions.save(wang.id, standIns.phoneSubscription, 'test', clock.now());
  });
  afterAll(async () => {
    for (const c of channels.values()) await c.channel.close();
    await standIns.close();
  });

  it('reaches the phone through each: app messages to the person’s accounts, Web Push to the stand-in phone, SMS and the call to their number, the customer SMS to the meter’s', async () => {
    const staff = (name: string) => channels.get(name) as StaffChannelInstance;
    for (const name of ['wecom', 'dingtalk', 'feishu', 'web-push', 'sms']) {
      expect(staff(name).serves(wang), name).toBe(true);
      await expect(staff(name).channel.send(notice(), wang), name).resolves.toEqual({ delivered: true });
    }
    await expect(staff('voice').channel.send(notice({ id: 'N-2', kind: 'ticket.escalated', createdAtMs: clock.now() }), wang)).resolves.toEqual({ delivered: true });
    const customer = notice({ id: 'N-3', kind: 'customer.notice', ticketId: '', recipients: ['customer:张三'], priority: 'normal', data: { deviceId: 'HM-1', condition: 'LOW_BALANCE', address: '东区幸福路 1 号 101', phone: '+86 138 0013 8000' } });
    const customerSms = channels.get('customer-sms') as CustomerChannelInstance;
    expect(customerSms.audience).toBe('customer');
    await expect(customerSms.channel.send(customer, { id: 'customer:张三' })).resolves.toEqual({ delivered: true });

    const title = notice().title['zh-CN'];
    expect(heard.map(({ provider, kind, to }) => `${provider} ${kind} ${to}`)).toEqual([
      'wecom app WangGong',
      'dingtalk app wang0815',
      'feishu app ou_7d8a6e6df7621556ce0d21922b676706',
      `web-push push ${STAND_IN_PHONE.id}`,
      'aliyun sms 13900000100',
      'aliyun call 13900000100',
      'tencent sms +8613800138000',
    ]);
    for (const m of heard.slice(0, 4)) expect(m.text, m.provider).toContain(title.replace(/^【[^】]*】/, ''));
    expect(heard[4]!.text).toMatch(/^【城东燃气】SMS_465320001 \{"priority":"紧急","ticket":"T000001",.*"link":"http:\/\/127\.0\.0\.1:8080\/console\/#\/act\/a1\./);
    expect(heard[5]!.text).toMatch(/^TTS_287910001 \{"priority":"紧急","ticket":"T000001"/);
    expect(heard[6]!.text).toBe('【城东燃气】1928374 欠量 / HM-1 / 东区幸福路 1 号 101');
    // Both signatures were checked and held.
    expect(standIns.cloud.aliyunCalls.map((c) => c.signatureValid)).toEqual([true, true]);
    expect(standIns.cloud.tencentCalls.map((c) => c.signatureValid)).toEqual([true]);
  });

  it('hears nothing of a message the provider refuses: a badly signed SMS', async () => {
    heard.length = 0;
    const forged = createChannels([{ name: 'sms', type: 'sms', config: { ...phoneChannelSettings(standIns.urls).push.channels.find((c) => c.name === 'sms')!.config, accessKeySecret: 'not-the-secret' } }], { log, clock });
    await expect((forged.get('sms') as StaffChannelInstance).channel.send(notice(), wang)).rejects.toMatchObject({ code: 'GAS_PUSH_REJECTED', message: expect.stringContaining('SignatureDoesNotMatch') });
    expect(heard).toEqual([]);
  });

  it('refuses to start on a port already taken, naming it', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(startPhoneStandIns({ ports: { wecom: 0, dingtalk: 0, feishu: port, cloud: 0, webPush: 0 } })).rejects.toMatchObject({ code: 'EADDRINUSE', port });
    } finally {
      taken.close();
    }
  });
});
