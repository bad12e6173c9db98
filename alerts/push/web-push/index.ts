import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import webpush from 'web-push';
import { ConfigError } from '../../../app/errors.ts';
import { PHONE_ACTION_NAMES } from '../../catalog/messages.ts';
import type { Notice } from '../../tickets/notice.ts';
import { type ActionTokenIssuer, actionTicketRef, type PhoneAction } from '../actions.ts';
import type { Channel, ChannelPlugin } from '../channel.ts';
import type { ChannelInstance } from '../channels.ts';
import { asPushError, httpStatusError, parseRetryAfterMs, type PushError } from '../errors.ts';
import { PushSubscriptions } from './subscriptions.ts';
import { fetchAnswer } from '../http.ts';

const VapidKeysSchema = Type.Object(
  {
    publicKey: Type.String({ pattern: '^[A-Za-z0-9_-]{87}$', description: 'uncompressed P-256 point, base64url' }),
    privateKey: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'P-256 private scalar, base64url' }),
  },
  { additionalProperties: false },
);

export const WebPushConfigSchema = Type.Object(
  {
    /** RFC 8292: a contact the push service can reach about our traffic. */
    subject: Type.String({ pattern: '^(mailto:|https://)', description: 'VAPID subject: mailto: address or https: URL of the operator' }),
    /** Absent: generated once and kept in DATA_DIR/web-push-vapid.json (memory only without DATA_DIR). */
    vapid: Type.Optional(VapidKeysSchema),
    /** How long the push service keeps an emergency or urgent notice for an offline phone: stale alarms are worse than none. */
    urgentTtlS: Type.Integer({ minimum: 0, maximum: 2_419_200, default: 300 }),
    ttlS: Type.Integer({ minimum: 0, maximum: 2_419_200, default: 3600 }),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000 }),
  },
  { additionalProperties: false },
);
export type WebPushConfig = Static<typeof WebPushConfigSchema>;
export type VapidKeys = Static<typeof VapidKeysSchema>;

/** What the console's service worker receives (decrypted) and shows as a notification. */
export interface WebPushPayload {
  noticeId: string;
  kind: Notice['kind'];
  ticketId: string;
  priority: Notice['priority'];
  /** zh-CN first; the English sits in the body. */
  title: string;
  body: string;
  /** The notification tag: a newer notice on the same ticket replaces the older on the phone too. */
  tag: string;
  /** Alarms stay on screen until the technician does something. */
  requireInteraction: boolean;
  /** Buttons, each with its single-use token: POSTed to /hooks/v1/actions by the service worker or the one-tap screen. */
  actions: Array<{ action: PhoneAction; title: string; token: string }>;
}

/** A Web Push channel: the VAPID public key browsers subscribe with, and where subscriptions are kept. */
export interface WebPushChannel extends Channel {
  readonly publicKey: string;
  readonly subscriptions: PushSubscriptions;
}

const VAPID_FILE = 'web-push-vapid.json';
/** Push services accept about 4 KB of encrypted record; the text is cut well before that. */
const MAX_BODY_CHARS = 600;
const URGENCY: Record<Notice['priority'], webpush.Urgency> = { emergency: 'high', urgent: 'high', normal: 'normal', low: 'low' };
const ACTIONS: readonly PhoneAction[] = ['acknowledge', 'on_site'];

/** The configured keys, else the ones kept in DATA_DIR, else new ones (kept there when there is a DATA_DIR). */
export function loadVapidKeys(config: WebPushConfig, dataDir: string | undefined): { keys: VapidKeys; generated: boolean; file?: string } {
  if (config.vapid) return { keys: config.vapid, generated: false };
  if (!dataDir) return { keys: webpush.generateVAPIDKeys(), generated: true };
  const file = join(dataDir, VAPID_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`Cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (text !== undefined) {
    let keys: unknown;
    try {
      keys = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`${file} is not JSON; remove it to generate new VAPID keys (every browser must then subscribe again)`, { cause: err });
    }
    if (!Value.Check(VapidKeysSchema, keys)) throw new ConfigError(`${file} does not hold VAPID keys { publicKey, privateKey }`);
    return { keys, generated: false, file };
  }
  const keys = webpush.generateVAPIDKeys();
  mkdirSync(dataDir, { recursive: true });
  // `wx`: two processes starting at once must not each write their own pair; the loser reads the winner's.
  try {
    writeFileSync(file, JSON.stringify(keys), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadVapidKeys(config, dataDir);
    throw new ConfigError(`Cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { keys, generated: true, file };
}

/** RFC 8030 Topic: at most 32 base64url characters, so the ticket id is hashed into it. */
export function topicOf(notice: Notice): string {
  return createHash('sha256').update(notice.ticketId || notice.id).digest('base64url').slice(0, 32);
}

/**
 * The notification a notice becomes, with a fresh token per button when it is about a ticket — or
 * about a leak pushed ahead of its ticket, whose buttons then act on the ticket opened for it.
 */
export function buildPayload(notice: Notice, personId: string, actions: ActionTokenIssuer | undefined): WebPushPayload {
  const ticketRef = actionTicketRef(notice);
  const body = `${notice.body['zh-CN']}\n${notice.title.en}\n${notice.body.en}`;
  return {
    noticeId: notice.id,
    kind: notice.kind,
    ticketId: notice.ticketId,
    priority: notice.priority,
    title: notice.title['zh-CN'],
    body: body.length > MAX_BODY_CHARS ? `${body.slice(0, MAX_BODY_CHARS - 1)}…` : body,
    tag: notice.ticketId || notice.id,
    requireInteraction: notice.priority === 'emergency' || notice.priority === 'urgent',
    actions: actions && ticketRef
      ? ACTIONS.map((action) => ({ action, title: `${PHONE_ACTION_NAMES[action]['zh-CN']} ${PHONE_ACTION_NAMES[action].en}`, token: actions.issue({ personId, ticketId: ticketRef, action }) }))
      : [],
  };
}

/** The push service no longer knows this subscription (404/410): it is removed, not retried. */
class SubscriptionGone extends Error {}

/** Retryable before permanent: one phone refusing must not stop a retry that may reach another. */
const worse = (a: PushError | undefined, b: PushError): PushError => (a && a.retryable ? a : b);

/** RFC 8030 push with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291), to every browser the person subscribed. */
export const WebPushPlugin: ChannelPlugin<typeof WebPushConfigSchema, WebPushChannel> = {
  name: 'web-push',
  description: 'Web Push (VAPID) to the console installed on a technician’s phone, with 接单/到场 buttons',
  configSchema: WebPushConfigSchema,
  // Whoever subscribed in the console; a person without a subscription is answered "not delivered".
  serves: () => true,
  create(config, deps): WebPushChannel {
    if (!deps.db) throw new ConfigError('The web-push channel keeps subscriptions in the ticket store: it runs only in the service stage');
    const subscriptions = new PushSubscriptions(deps.db, {
      now: () => deps.clock.now(),
      onReloadError: (err) => deps.log.warn({ err }, 'Web Push subscriptions not reloaded: sending with the copy in memory'),
    });
    const { keys, generated, file } = loadVapidKeys(config, deps.dataDir);
    if (generated) deps.log.info({ file: file ?? null }, file ? 'VAPID keys generated and kept' : 'VAPID keys generated in memory: browsers must subscribe again after a restart');

    const post = async (sub: webpush.PushSubscription, payload: string, notice: Notice): Promise<void> => {
      const req = webpush.generateRequestDetails(sub, payload, {
        vapidDetails: { subject: config.subject, publicKey: keys.publicKey, privateKey: keys.privateKey },
        contentEncoding: 'aes128gcm',
        TTL: notice.priority === 'emergency' || notice.priority === 'urgent' ? config.urgentTtlS : config.ttlS,
        urgency: URGENCY[notice.priority],
        topic: topicOf(notice),
      });
      const { res, text } = await fetchAnswer(req.endpoint, { method: req.method, headers: req.headers as Record<string, string>, body: req.body ? new Uint8Array(req.body) : null }, config.timeoutMs, 'the push service');
      if (res.status === 404 || res.status === 410) throw new SubscriptionGone(`HTTP ${res.status}`);
      if (res.status < 200 || res.status >= 300) throw httpStatusError(res.status, text, parseRetryAfterMs(res.headers.get('retry-after'), deps.clock.now()));
    };

    return {
      publicKey: keys.publicKey,
      subscriptions,
      async send(notice, recipient) {
        const subs = await subscriptions.forPerson(recipient.id);
        if (subs.length === 0) return { delivered: false, reason: 'no Web Push subscription' };
        // One set of tokens for all the person's browsers: the first tap anywhere uses it up.
        const payload = JSON.stringify(buildPayload(notice, recipient.id, deps.actions));
        let delivered = 0;
        let gone = 0;
        let failure: PushError | undefined;
        for (const sub of subs) {
          try {
            await post(sub, payload, notice);
            delivered++;
            // Bookkeeping, not on the way to the next browser.
            subscriptions.markSent(sub.endpoint, deps.clock.now()).catch((err: unknown) => deps.log.warn({ err }, 'Web Push last-sent time not recorded'));
          } catch (err) {
            if (err instanceof SubscriptionGone) {
              gone++;
              await subscriptions.expire(sub.endpoint);
              deps.log.info({ personId: recipient.id, endpointHost: new URL(sub.endpoint).host, status: err.message }, 'Push service dropped a subscription: removed');
            } else {
              failure = worse(failure, asPushError(err));
            }
          }
        }
        if (delivered > 0) return { delivered: true };
        if (failure) throw failure;
        return { delivered: false, reason: `all ${gone} Web Push subscription(s) expired (404/410) and were removed` };
      },
      async close() {},
    };
  },
};

/** The first web-push channel, for the subscription routes. */
export function webPushOf(channels: ReadonlyMap<string, ChannelInstance>): WebPushChannel | undefined {
  for (const c of channels.values()) if (c.type === 'web-push') return c.channel as WebPushChannel;
  return undefined;
}
