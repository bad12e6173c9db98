import type { Text } from '../catalog/manual.ts';
import type { Db } from '../store/db.ts';
import type { Notice } from '../tickets/notice.ts';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'not_delivered'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Where one customer notice stands on one channel (`none`: no customer channel reached it). */
export interface CustomerNoticeDelivery {
  channel: string;
  status: DeliveryStatus;
  /** Why it failed or was not delivered; while pending, the error of the last failed attempt. */
  reason: string | null;
  attempts: number;
  lastAttemptAtMs: number | null;
  /** While pending with a retry scheduled. */
  nextAttemptAtMs: number | null;
}

export interface CustomerNoticeEntry {
  /** The notice id (`customer:<alert id>`), also the customer system's idempotency key. */
  id: string;
  alertId: string;
  deviceId: string;
  customer: string | null;
  district: string | null;
  condition: string;
  title: Text | null;
  body: Text | null;
  createdAtMs: number;
  /** When the balance condition cleared. */
  resolvedAtMs: number | null;
  /** Delivered on any channel wins, then pending, then failed; pending too before the first claim. */
  status: DeliveryStatus;
  /** One per channel, by channel name. */
  deliveries: CustomerNoticeDelivery[];
}

export interface CustomerNoticeQuery {
  deviceId?: string;
  status?: DeliveryStatus;
  /** Only notices created at or after this instant. */
  sinceMs?: number;
  limit: number;
}

// The ticket service names a customer notice `customer:<alert id>` (ticket-service #customerNoticeIn).
const NOTICE_ID = `'customer:' || c.alert_id`;

const LIST = `
  SELECT c.alert_id, c.device_id, c.customer, c.district, c.condition, n.notice,
         (extract(epoch from c.opened_at) * 1000)::float8 AS created_ms,
         (extract(epoch from c.resolved_at) * 1000)::float8 AS resolved_ms,
         d.status
  FROM customer_notices c
  LEFT JOIN ticket_notices n ON n.id = ${NOTICE_ID}
  CROSS JOIN LATERAL (
    SELECT CASE
      WHEN bool_or(s.status = 'delivered') THEN 'delivered'
      WHEN count(*) = 0 OR bool_or(s.status = 'pending') THEN 'pending'
      WHEN bool_or(s.status = 'failed') THEN 'failed'
      ELSE 'not_delivered' END AS status
    FROM delivery_state s WHERE s.notice_id = ${NOTICE_ID}
  ) d
  WHERE ($1::text IS NULL OR c.device_id = $1)
    AND ($2::text IS NULL OR d.status = $2)
    AND ($3::float8 IS NULL OR c.opened_at >= to_timestamp($3::float8 / 1000.0))
  ORDER BY c.id DESC
  LIMIT $4`;

const DELIVERIES = `
  SELECT notice_id, channel, status, attempts, last_error,
         (extract(epoch from updated_at) * 1000)::float8 AS updated_ms,
         (extract(epoch from next_attempt_at) * 1000)::float8 AS next_ms
  FROM delivery_state WHERE notice_id = ANY($1::text[]) ORDER BY notice_id, channel`;

/**
 * Customer notices (LOW_BALANCE / NO_BALANCE) with where their delivery stands: the notices the
 * ticket service recorded, joined to the push dispatcher's delivery state.
 */
export class CustomerNoticeLog {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Newest first. */
  async list(q: CustomerNoticeQuery): Promise<CustomerNoticeEntry[]> {
    const rows = await this.#db.query<{
      alert_id: string;
      device_id: string;
      customer: string | null;
      district: string | null;
      condition: string;
      notice: Notice | string | null;
      created_ms: number;
      resolved_ms: number | null;
      status: DeliveryStatus;
    }>(LIST, [q.deviceId ?? null, q.status ?? null, q.sinceMs ?? null, q.limit]);
    if (rows.length === 0) return [];
    const ids = rows.map((r) => `customer:${r.alert_id}`);
    const states = await this.#db.query<{ notice_id: string; channel: string; status: DeliveryStatus; attempts: number; last_error: string | null; updated_ms: number; next_ms: number | null }>(
      DELIVERIES,
      [ids],
    );
    const byNotice = new Map<string, CustomerNoticeDelivery[]>();
    for (const s of states) {
      const list = byNotice.get(s.notice_id) ?? [];
      list.push({
        channel: s.channel,
        status: s.status,
        reason: s.last_error,
        attempts: s.attempts,
        // The state row's time is the claim's until an attempt ran.
        lastAttemptAtMs: s.attempts > 0 ? Math.round(s.updated_ms) : null,
        nextAttemptAtMs: s.next_ms === null ? null : Math.round(s.next_ms),
      });
      byNotice.set(s.notice_id, list);
    }
    return rows.map((r, i) => {
      const notice = typeof r.notice === 'string' ? (JSON.parse(r.notice) as Notice) : r.notice;
      return {
        id: ids[i]!,
        alertId: r.alert_id,
        deviceId: r.device_id,
        customer: r.customer,
        district: r.district,
        condition: r.condition,
        title: notice?.title ?? null,
        body: notice?.body ?? null,
        createdAtMs: Math.round(r.created_ms),
        resolvedAtMs: r.resolved_ms === null ? null : Math.round(r.resolved_ms),
        status: r.status,
        deliveries: byNotice.get(ids[i]!) ?? [],
      };
    });
  }
}
