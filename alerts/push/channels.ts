import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync } from 'fastify';
import { ConfigError } from '../../app/errors.ts';
import type { Person } from '../oncall/directory.ts';
import type { Channel, ChannelDeps, ChannelPlugin, CustomerChannel, CustomerChannelPlugin, CustomerRecipient, ReceiptStore, ReportOutcome } from './channel.ts';
import { CustomerSmsPlugin } from './customer-sms/index.ts';
import { CustomerWebhookPlugin } from './customer-webhook/index.ts';
import { DingtalkWorkPlugin } from './dingtalk-work/index.ts';
import { EmailPlugin } from './email/index.ts';
import { FeishuAppPlugin } from './feishu-app/index.ts';
import type { SseHub } from './sse/hub.ts';
import { type SseChannel, SsePlugin } from './sse/index.ts';
import { SmsPlugin } from './sms/index.ts';
import { VoicePlugin } from './voice/index.ts';
import { WebhookPlugin } from './webhook/index.ts';
import { WecomAppPlugin } from './wecom-app/index.ts';
import { WebPushPlugin } from './web-push/index.ts';

/** Every push channel by name. Adding one means a folder beside this file and one line here. */
export const CHANNELS = {
  sse: SsePlugin,
  webhook: WebhookPlugin,
  'wecom-app': WecomAppPlugin,
  email: EmailPlugin,
  'customer-webhook': CustomerWebhookPlugin,
  'dingtalk-work': DingtalkWorkPlugin,
  'feishu-app': FeishuAppPlugin,
  'web-push': WebPushPlugin,
  sms: SmsPlugin,
  'customer-sms': CustomerSmsPlugin,
  voice: VoicePlugin,
} as const satisfies Record<string, ChannelPlugin<any, any> | CustomerChannelPlugin<any, any>>;

export type ChannelType = keyof typeof CHANNELS;

/** One configured channel: `name` is what a person's `webhooks` list refers to. */
export const ChannelInstanceSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.:-]+$' }),
    type: Type.Union(Object.keys(CHANNELS).map((k) => Type.Literal(k))),
    config: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
  },
  { additionalProperties: false },
);
export type ChannelInstanceConfig = Static<typeof ChannelInstanceSchema>;

/** An instance reaching staff: people of the on-call directory. */
export interface StaffChannelInstance {
  name: string;
  type: ChannelType;
  audience?: 'staff';
  channel: Channel;
  /** Whether this instance pushes to that person. */
  serves(person: Person): boolean;
  /** The provider's callback routes (button clicks), for /hooks/v1/push/<name>/. */
  callbacks?: FastifyPluginAsync;
}

/** An instance reaching customers: sent customer notices only. */
export interface CustomerChannelInstance {
  name: string;
  type: ChannelType;
  audience: 'customer';
  channel: CustomerChannel;
  serves(customer: CustomerRecipient): boolean;
}

export type ChannelInstance = StaffChannelInstance | CustomerChannelInstance;

/** What createChannels gives every instance; `receipts` and `reports` become each instance's own `recordReceipt` and `onReport`. */
export type ChannelsDeps = Omit<ChannelDeps, 'instanceName' | 'recordReceipt' | 'onReport'> & {
  receipts?: ReceiptStore;
  reports?: (channel: string, outcome: ReportOutcome) => void;
};

/** Parses every instance's config against its plugin schema (refused at start) and creates them. */
export function createChannels(instances: readonly unknown[], deps: ChannelsDeps): Map<string, ChannelInstance> {
  const out = new Map<string, ChannelInstance>();
  instances.forEach((raw, i) => {
    const inst = Value.Default(ChannelInstanceSchema, Value.Clone(raw ?? {})) as ChannelInstanceConfig;
    const bad = Value.Errors(ChannelInstanceSchema, inst).First();
    if (bad) throw new ConfigError(`push.channels[${i}]${bad.path.replaceAll('/', '.')}: ${bad.message}`);
    if (out.has(inst.name)) throw new ConfigError(`push.channels: two channels named ${inst.name}`);
    const plugin = CHANNELS[inst.type as ChannelType] as ChannelPlugin | CustomerChannelPlugin;
    const config = Value.Default(plugin.configSchema, Value.Clone(inst.config));
    const err = Value.Errors(plugin.configSchema, config).First();
    if (err) throw new ConfigError(`push.channels.${inst.name}.config${err.path.replaceAll('/', '.')}: ${err.message}`);
    const { receipts, reports, ...shared } = deps;
    const channelDeps: ChannelDeps = {
      ...shared,
      instanceName: inst.name,
      log: deps.log.child({ channel: inst.name }),
      ...(receipts ? { recordReceipt: (noticeId, personId, receipt, atMs) => receipts.recordReceipt(noticeId, personId, inst.name, receipt, atMs) } : {}),
      ...(reports ? { onReport: (outcome) => reports(inst.name, outcome) } : {}),
    };
    const type = inst.type as ChannelType;
    if (plugin.audience === 'customer') {
      out.set(inst.name, { name: inst.name, type, audience: 'customer', channel: plugin.create(config, channelDeps), serves: (customer) => plugin.serves(customer, inst.name, config) });
    } else {
      const channel = plugin.create(config, channelDeps);
      const callbacks = plugin.callbacks?.(config, channel, channelDeps);
      out.set(inst.name, { name: inst.name, type, channel, serves: (person) => plugin.serves(person, inst.name, config), ...(callbacks ? { callbacks } : {}) });
    }
  });
  return out;
}

/** Every instance's provider callback routes, mounted by the HTTP API under /hooks/v1/push/<name>/. */
export function pushCallbacksOf(channels: ReadonlyMap<string, ChannelInstance>): Array<{ name: string; routes: FastifyPluginAsync }> {
  return [...channels.values()].flatMap((c) => (c.audience !== 'customer' && c.callbacks ? [{ name: c.name, routes: c.callbacks }] : []));
}

/** The live-stream hub of the first `sse` channel, for the fastify SSE route. */
export function sseHubOf(channels: ReadonlyMap<string, ChannelInstance>): SseHub | undefined {
  for (const c of channels.values()) if (c.type === 'sse') return (c.channel as SseChannel).hub;
  return undefined;
}

export async function closeChannels(channels: ReadonlyMap<string, ChannelInstance>): Promise<void> {
  await Promise.allSettled([...channels.values()].map((c) => c.channel.close()));
}

/** The push section of the settings: channel instances and the retry policy. */
export const PushConfigSchema = Type.Object(
  {
    channels: Type.Array(ChannelInstanceSchema, { default: [{ name: 'sse', type: 'sse', config: {} }] }),
    retry: Type.Object(
      {
        maxAttempts: Type.Integer({ minimum: 1, default: 5 }),
        baseDelayMs: Type.Integer({ minimum: 0, default: 1000 }),
        maxDelayMs: Type.Integer({ minimum: 0, default: 60_000 }),
        jitter: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
        maxRetryAfterMs: Type.Integer({ minimum: 0, default: 600_000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Action tokens in buttons and one-tap links (alerts/push/actions.ts). */
    actions: Type.Object(
      {
        ttlMs: Type.Integer({ minimum: 60_000, default: 1_800_000, description: 'How long a button or link acts' }),
        secret: Type.Optional(Type.String({ minLength: 32, description: 'HMAC key shared by replicas; absent: a random one kept in DATA_DIR/action-token-secret' })),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type PushConfig = Static<typeof PushConfigSchema>;

/** Parses the push settings (defaults filled); refused at start on any error. */
export function parsePushConfig(raw: unknown): PushConfig {
  const value = Value.Default(PushConfigSchema, Value.Clone(raw ?? {}));
  const bad = Value.Errors(PushConfigSchema, value).First();
  if (bad) throw new ConfigError(`push${bad.path.replaceAll('/', '.')}: ${bad.message}`);
  return value as PushConfig;
}
