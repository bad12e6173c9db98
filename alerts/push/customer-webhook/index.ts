import { createHmac } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { Notice } from '../../tickets/notice.ts';
import { CUSTOMER_PREFIX, type CustomerChannel, type CustomerChannelPlugin, type CustomerRecipient, DELIVERED } from '../channel.ts';
import { httpStatusError, parseRetryAfterMs, PushRejectedError } from '../errors.ts';
import { fetchAnswer } from '../http.ts';

export const CustomerWebhookConfigSchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'Endpoint of the customer system (CRM / billing) that takes customer notices' }),
    secret: Type.String({ minLength: 16, description: 'Shared signing key: X-Gas-Signature = hex HMAC-SHA256(secret, `${X-Gas-Timestamp}.${body}`)' }),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Wait for an answer per attempt; then the attempt is retried' }),
    headers: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Extra headers, e.g. the customer system’s API key' }),
  },
  { additionalProperties: false },
);
export type CustomerWebhookConfig = Static<typeof CustomerWebhookConfigSchema>;

/** The JSON a customer notice becomes: who, which meter, why, and the text to show the customer. */
export function customerNoticeBody(notice: Notice, customer: CustomerRecipient) {
  const data = notice.data as { deviceId?: unknown; customer?: unknown; condition?: unknown };
  return {
    id: notice.id,
    kind: notice.kind,
    customer: {
      id: customer.id.startsWith(CUSTOMER_PREFIX) ? customer.id.slice(CUSTOMER_PREFIX.length) : customer.id,
      // null: the registry names no customer for the meter; the customer system matches by deviceId.
      account: typeof data.customer === 'string' ? data.customer : null,
    },
    deviceId: typeof data.deviceId === 'string' ? data.deviceId : null,
    condition: typeof data.condition === 'string' ? data.condition : null,
    title: notice.title,
    body: notice.body,
    createdAt: new Date(notice.createdAtMs).toISOString(),
  };
}

/** Signature over `${timestampMs}.${body}`, as the generic webhook signs, so one verifier serves both. */
export function customerWebhookSignature(secret: string, timestampMs: number, payload: string): string {
  return createHmac('sha256', secret).update(`${timestampMs}.${payload}`).digest('hex');
}

/** Customer notices (LOW_BALANCE / NO_BALANCE) POSTed to the utility's customer system, signed. */
export const CustomerWebhookPlugin: CustomerChannelPlugin<typeof CustomerWebhookConfigSchema> = {
  name: 'customer-webhook',
  audience: 'customer',
  description: 'HTTP POST of customer notices to the customer system (CRM / billing), HMAC-SHA256 signed',
  configSchema: CustomerWebhookConfigSchema,
  // The customer system knows every customer; it answers 4xx for one it does not.
  serves: () => true,
  create(config, deps): CustomerChannel {
    return {
      async send(notice, customer) {
        // The dispatcher routes only customer notices here; a staff notice must never leave for a customer system.
        if (notice.kind !== 'customer.notice') throw new PushRejectedError(`Not a customer notice: ${notice.kind}`);
        const nowMs = deps.clock.now();
        const payload = JSON.stringify(customerNoticeBody(notice, customer));
        const headers: Record<string, string> = {
          'content-type': 'application/json; charset=utf-8',
          // Lower-cased, so a configured header cannot sit beside the key and signature set below.
          ...Object.fromEntries(Object.entries(config.headers).map(([name, value]) => [name.toLowerCase(), value])),
          // Retries and redeliveries after a restart carry the same key: the customer system keeps one.
          'idempotency-key': notice.id,
          'x-gas-timestamp': String(nowMs),
          'x-gas-signature': customerWebhookSignature(config.secret, nowMs, payload),
        };
        const { res, text } = await fetchAnswer(config.url, { method: 'POST', headers, body: payload }, config.timeoutMs, 'the customer system');
        if (res.status < 200 || res.status >= 300) throw httpStatusError(res.status, text, parseRetryAfterMs(res.headers.get('retry-after'), deps.clock.now()));
        return DELIVERED;
      },
      async close() {},
    };
  },
};
