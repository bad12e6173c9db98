/**
 * Every phone provider's stand-in at once, on fixed loopback ports: what `npm run stand-ins`
 * (scripts/phone-stand-ins.ts) runs to try the phone channels by hand, and what
 * bench/phone-latency.ts times. Each is the stand-in the channel's own tests use, checking
 * tokens and signatures as they do; `onPhone` hears of every message a phone would have received.
 */
import { DINGTALK_APP, type DingtalkStandIn, startDingtalkStandIn } from './dingtalk-work/stand-in.ts';
import { FEISHU_APP, type FeishuStandIn, startFeishuStandIn } from './feishu-app/stand-in.ts';
import { ProviderStandIn } from './sms/provider-stand-ins.ts';
import { fixedBrowser, type PushServiceStandIn, startPushServiceStandIn, type subscriptionOf } from './web-push/push-service-testing.ts';
import { type WecomApp, WecomStandIn } from './wecom-app/wecom-stand-in.ts';

export type PhoneProvider = 'wecom' | 'dingtalk' | 'feishu' | 'aliyun' | 'tencent' | 'web-push';

/** One message that reached a (stand-in) phone. */
export interface PhoneMessage {
  provider: PhoneProvider;
  /** An app message (WeCom, DingTalk, Feishu), an SMS, a voice call, or a Web Push notification. */
  kind: 'app' | 'sms' | 'call' | 'push';
  /** Whom the provider reached: userid, open_id, phone number, or the browser's id. */
  to: string;
  /** What the phone shows (or reads out) first: the title, or the template and its variables. */
  text: string;
}
export type PhoneListener = (message: PhoneMessage) => void;

/** Where `npm run stand-ins` listens unless told otherwise; `cloud` is Aliyun and Tencent Cloud, SMS and voice. */
export const STAND_IN_PORTS = { wecom: 18401, dingtalk: 18402, feishu: 18403, cloud: 18404, webPush: 18405 } as const;
export type StandInPorts = Record<keyof typeof STAND_IN_PORTS, number>;
export type StandInUrls = Record<keyof typeof STAND_IN_PORTS, string>;

/** The accounts the stand-ins accept, as the example settings carry them: made-up values, no real keys. */
export const STAND_IN_ACCOUNTS = {
  wecom: { corpId: 'ww5tandin0000001', secret: 'wecom-stand-in-secret', agentId: 1000002, callbackToken: 'StandInToken', aesKeyText: '9BfuGuRDMgIvna91vDMfAjw0VgT9daZGPlFRxD5jf1Q' } satisfies WecomApp,
  dingtalk: DINGTALK_APP,
  feishu: FEISHU_APP,
  aliyun: { accessKeyId: 'LTAI5tStandIn', accessKeySecret: 'aliyun-stand-in-secret' },
  tencent: { accessKeyId: 'AKIDstandIn', accessKeySecret: 'tencent-stand-in-secret' },
};

/** The phone whose Web Push subscription the stand-in push service holds: the same keys every run. */
export const STAND_IN_PHONE = fixedBrowser('stand-in-phone', 'gas-telemetry phone stand-in');

export const standInUrls = (ports: StandInPorts, host = '127.0.0.1'): StandInUrls => ({
  wecom: `http://${host}:${ports.wecom}`,
  dingtalk: `http://${host}:${ports.dingtalk}`,
  feishu: `http://${host}:${ports.feishu}`,
  cloud: `http://${host}:${ports.cloud}/`,
  webPush: `https://${host}:${ports.webPush}`,
});

const { wecom, dingtalk, feishu, aliyun, tencent } = STAND_IN_ACCOUNTS;
/** SMS and voice at Aliyun or Tencent Cloud, at the stand-in, with example templates. */
export const smsChannelConfig = (provider: 'aliyun' | 'tencent', urls: StandInUrls) => ({
  provider,
  ...(provider === 'aliyun' ? aliyun : tencent),
  endpoint: urls.cloud,
  signName: '城东燃气',
  templateCode: provider === 'aliyun' ? 'SMS_465320001' : '1928374',
  ...(provider === 'tencent' ? { sdkAppId: '1400787878' } : {}),
});
export const voiceChannelConfig = (provider: 'aliyun' | 'tencent', urls: StandInUrls) => ({
  provider,
  ...(provider === 'aliyun' ? aliyun : tencent),
  endpoint: urls.cloud,
  ttsCode: provider === 'aliyun' ? 'TTS_287910001' : '4356',
  ...(provider === 'tencent' ? { sdkAppId: '1400006666' } : {}),
});

/**
 * The settings file (`CONFIG`) pointing every phone channel at the stand-ins: `push.channels` and
 * the console's address the one-tap links open (`tickets.appUrl`). alerts/push/phone-channels.example.json
 * is this for the default ports.
 */
export function phoneChannelSettings(urls: StandInUrls, appUrl = 'http://127.0.0.1:8080/console/') {
  return {
    tickets: { appUrl },
    push: {
      channels: [
        { name: 'sse', type: 'sse' },
        { name: 'wecom', type: 'wecom-app', config: { corpId: wecom.corpId, corpSecret: wecom.secret, agentId: wecom.agentId, apiBase: urls.wecom, callbackToken: wecom.callbackToken, encodingAesKey: wecom.aesKeyText } },
        { name: 'dingtalk', type: 'dingtalk-work', config: { ...dingtalk, baseUrl: urls.dingtalk } },
        { name: 'feishu', type: 'feishu-app', config: { ...feishu, baseUrl: urls.feishu } },
        { name: 'web-push', type: 'web-push', config: { subject: 'mailto:ops@example.com' } },
        { name: 'sms', type: 'sms', config: smsChannelConfig('aliyun', urls) },
        { name: 'voice', type: 'voice', config: voiceChannelConfig('aliyun', urls) },
        { name: 'customer-sms', type: 'customer-sms', config: smsChannelConfig('tencent', urls) },
      ],
    },
  };
}

export interface PhoneStandIns {
  wecom: WecomStandIn;
  dingtalk: DingtalkStandIn;
  feishu: FeishuStandIn;
  /** Aliyun and Tencent Cloud: SMS, customer SMS and voice calls, both signatures checked. */
  cloud: ProviderStandIn;
  pushService: PushServiceStandIn;
  urls: StandInUrls;
  /** The stand-in phone's PushSubscription.toJSON(), for `POST /api/v1/push/subscriptions`. */
  phoneSubscription: ReturnType<typeof subscriptionOf>;
  close(): Promise<void>;
}

/**
 * Starts every stand-in (ports 0: any free one), the stand-in phone subscribed at the push
 * service. A port already taken rejects, with the stand-ins started so far closed again.
 * `pushServiceTls`: the push service serves https with it, as the subscription API requires of
 * an endpoint (the pipeline must trust the certificate: NODE_EXTRA_CA_CERTS); without, http.
 */
export async function startPhoneStandIns(options: { host?: string; ports?: Partial<StandInPorts>; onPhone?: PhoneListener; pushServiceTls?: { cert: Buffer; key: Buffer } } = {}): Promise<PhoneStandIns> {
  const host = options.host ?? '127.0.0.1';
  const ports = { ...STAND_IN_PORTS, ...options.ports };
  const started: Array<{ close(): Promise<unknown> }> = [];
  const closeAll = () => Promise.allSettled(started.map((s) => s.close()));
  try {
    const wecomStandIn = new WecomStandIn(wecom);
    await wecomStandIn.start({ port: ports.wecom, host });
    started.push(wecomStandIn);
    const dingtalkStandIn = await startDingtalkStandIn(dingtalk, { port: ports.dingtalk, host });
    started.push(dingtalkStandIn);
    const feishuStandIn = await startFeishuStandIn(feishu, { port: ports.feishu, host });
    started.push(feishuStandIn);
    const cloud = await new ProviderStandIn({ aliyunSecret: aliyun.accessKeySecret, tencentSecretId: tencent.accessKeyId, tencentSecretKey: tencent.accessKeySecret }).start({ port: ports.cloud, host });
    started.push(cloud);
    const pushService = await startPushServiceStandIn({ port: ports.webPush, host, ...(options.pushServiceTls ? { tls: options.pushServiceTls } : {}) });
    started.push(pushService);
    const phoneSubscription = pushService.subscribe(STAND_IN_PHONE);
    for (const s of [wecomStandIn, dingtalkStandIn, feishuStandIn, cloud, pushService]) s.onPhone = options.onPhone;
    return {
      wecom: wecomStandIn,
      dingtalk: dingtalkStandIn,
      feishu: feishuStandIn,
      cloud,
      pushService,
      urls: { wecom: wecomStandIn.url, dingtalk: dingtalkStandIn.base, feishu: feishuStandIn.base, cloud: cloud.base, webPush: pushService.base },
      phoneSubscription,
      close: async () => {
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
