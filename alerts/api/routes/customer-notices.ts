import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { CONDITIONS } from '../../../contracts/messages.ts';
import { type CustomerNoticeDelivery, type CustomerNoticeEntry, DELIVERY_STATUSES } from '../../push/customer-notice-log.ts';
import { BadRequestError } from '../errors.ts';
import { requireRole, STAFF } from '../roles.ts';
import { GuardedErrors, LimitQuery, parseLimit } from '../schemas.ts';

const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const Text = Type.Object({ 'zh-CN': Type.String(), en: Type.String() });
const StatusSchema = Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)), {
  description: 'pending: being sent or waiting for a retry; delivered; failed: refused or retries exhausted; not_delivered: no customer channel reaches it',
});

const CustomerNoticeQuery = Type.Object({
  deviceId: Type.Optional(Type.String({ maxLength: 100 })),
  status: Type.Optional(StatusSchema),
  since: Type.Optional(Type.String({ maxLength: 40, description: 'ISO-8601 instant: only notices created at or after it' })),
  limit: Type.Optional(LimitQuery),
}, { additionalProperties: false });

const Delivery = Type.Object({
  channel: Type.String({ description: 'the customer channel, or none when no customer channel reached it' }),
  status: StatusSchema,
  reason: Type.Union([Type.String(), Type.Null()], { description: 'why it failed or was not delivered; while pending, the last attempt’s error' }),
  attempts: Type.Integer(),
  lastAttemptAt: NullableDateTime,
  nextAttemptAt: NullableDateTime,
});

const CustomerNotice = Type.Object({
  id: Type.String({ description: 'the notice id, also the idempotency key sent to the customer system' }),
  alertId: Type.String(),
  deviceId: Type.String(),
  customer: NullableString,
  district: NullableString,
  condition: Type.Union(CONDITIONS.map((c) => Type.Literal(c))),
  title: Type.Union([Text, Type.Null()]),
  body: Type.Union([Text, Type.Null()]),
  createdAt: DateTime,
  resolvedAt: Type.Union([DateTime, Type.Null()], { description: 'when the balance condition cleared' }),
  delivery: Type.Object(
    { ...Delivery.properties, channel: NullableString },
    { description: 'where the notice stands: delivered on any channel, else pending, else failed, else not delivered; channel null before the first claim' },
  ),
  deliveries: Type.Array(Delivery, { description: 'one per channel' }),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function deliveryView(d: CustomerNoticeDelivery) {
  return { channel: d.channel, status: d.status, reason: d.reason, attempts: d.attempts, lastAttemptAt: iso(d.lastAttemptAtMs), nextAttemptAt: iso(d.nextAttemptAtMs) };
}

function noticeView(n: CustomerNoticeEntry): Static<typeof CustomerNotice> {
  const deciding = n.deliveries.find((d) => d.status === n.status);
  return {
    id: n.id,
    alertId: n.alertId,
    deviceId: n.deviceId,
    customer: n.customer,
    district: n.district,
    condition: n.condition as Static<typeof CustomerNotice>['condition'],
    title: n.title,
    body: n.body,
    createdAt: iso(n.createdAtMs)!,
    resolvedAt: iso(n.resolvedAtMs),
    delivery: deciding ? deliveryView(deciding) : { channel: null, status: n.status, reason: null, attempts: 0, lastAttemptAt: null, nextAttemptAt: null },
    deliveries: n.deliveries.map(deliveryView),
  };
}

/** GET /customer-notices: LOW_BALANCE / NO_BALANCE notices and whether they reached the customer; staff only. */
export const customerNoticeRoutes: FastifyPluginAsync = async (app) => {
  const notices = app.services.customerNotices!;
  app.get<{ Querystring: Static<typeof CustomerNoticeQuery> }>('/customer-notices', {
    preHandler: requireRole(...STAFF),
    schema: { querystring: CustomerNoticeQuery, response: { 200: Type.Object({ items: Type.Array(CustomerNotice) }), ...GuardedErrors } },
  }, async (request) => {
    const q = request.query;
    const sinceMs = q.since === undefined ? undefined : Date.parse(q.since);
    if (Number.isNaN(sinceMs)) throw new BadRequestError(`since must be an ISO-8601 instant, got ${q.since}`);
    const items = await notices.list({ deviceId: q.deviceId, status: q.status, sinceMs, limit: Math.min(parseLimit(q.limit), 1000) });
    return { items: items.map(noticeView) };
  });
};
