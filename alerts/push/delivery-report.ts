import type { Db } from '../store/db.ts';

/**
 * Where one push of a ticket stands for one person on one channel:
 * - `pending`: not finished (trying, retrying, held by quiet hours, or queued behind another channel);
 * - `sent`: the channel accepted it; `delivered`: the provider said it reached the device;
 * - `failed`: given up (the person escalates if no other channel reached them);
 * - `not_delivered`: nothing to do there (no open console, or not needed: another channel reached them).
 */
export type TicketDeliveryStatus = 'pending' | 'sent' | 'delivered' | 'failed' | 'not_delivered';

export interface TicketDelivery {
  noticeId: string;
  /** The notice's kind (alarm.raised, ticket.dispatched, ticket.escalated, …). */
  kind: string;
  recipientId: string;
  /** Channel instance name; `none` when nobody could be reached. */
  channel: string;
  status: TicketDeliveryStatus;
  attempts: number;
  /** Why it failed or was not delivered; while pending, the last failed attempt's error. */
  lastError: string | null;
  queuedAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  /** A provider's read receipt, where the channel reports one. */
  readAt: string | null;
  /** While pending: when it is next tried (a retry, or the end of quiet hours). */
  nextAttemptAt: string | null;
  /** While pending behind another channel of the person's order: that channel. */
  waitsFor: string | null;
  /** Where this person acknowledged the ticket: a channel's button, `link`, or `console`; null when they did not. */
  acknowledgedVia: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Math.round(ms)).toISOString());
const msOf = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;

// The ticket's own notices (ticket_notices), and the alarm pushes sent before it existed, named
// `alarm:<alert id>` by the safety lane, through the ticket's alerts.
const DELIVERIES = `
  SELECT s.notice_id, n.notice->>'kind' AS kind, s.recipient_id, s.channel, s.status, s.attempts, s.last_error, s.waits_for,
         ${msOf('n.received_at')} AS queued_ms, ${msOf('s.sent_at')} AS sent_ms, ${msOf('s.delivered_at')} AS delivered_ms,
         ${msOf('s.read_at')} AS read_ms, ${msOf('s.next_attempt_at')} AS next_ms
  FROM delivery_state s JOIN push_notices n ON n.id = s.notice_id
  WHERE s.notice_id IN (SELECT id FROM ticket_notices WHERE ticket_id = $1 UNION SELECT 'alarm:' || alert_id FROM ticket_alerts WHERE ticket_id = $1)
  ORDER BY n.received_at, s.notice_id, s.recipient_id, s.channel`;

// The action route audits where a phone acknowledged from (alerts/push/actions.ts ticketActionApplier);
// any other acknowledge is the console's (or the API's).
const PHONE_ACKS = `SELECT actor, detail->>'via' AS via FROM audit_log WHERE target_type = 'tickets' AND target_id = $1 AND action = 'tickets.acknowledge.phone' ORDER BY id`;

/**
 * The delivery report of a ticket: each of its pushes per person and channel, with receipts and
 * where each person acknowledged from. `acknowledgedBy`: the actors of the ticket's acknowledge events.
 */
export async function ticketDeliveries(db: Db, ticketId: string, acknowledgedBy: readonly string[]): Promise<TicketDelivery[]> {
  const [rows, phoneAcks] = await Promise.all([
    db.query<{
      notice_id: string;
      kind: string | null;
      recipient_id: string;
      channel: string;
      status: 'pending' | 'delivered' | 'failed' | 'not_delivered';
      attempts: number;
      last_error: string | null;
      waits_for: string | null;
      queued_ms: number;
      sent_ms: number | null;
      delivered_ms: number | null;
      read_ms: number | null;
      next_ms: number | null;
    }>(DELIVERIES, [ticketId]),
    db.query<{ actor: string; via: string | null }>(PHONE_ACKS, [ticketId]),
  ]);
  const via = new Map<string, string>();
  for (const a of phoneAcks) if (a.via && !via.has(a.actor)) via.set(a.actor, a.via);
  for (const actor of acknowledgedBy) if (!via.has(actor)) via.set(actor, 'console');
  return rows.map((r) => ({
    noticeId: r.notice_id,
    kind: r.kind ?? 'unknown',
    recipientId: r.recipient_id,
    channel: r.channel,
    status: r.status === 'delivered' ? (r.delivered_ms === null ? 'sent' : 'delivered') : r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    queuedAt: iso(r.queued_ms)!,
    sentAt: iso(r.sent_ms),
    deliveredAt: iso(r.delivered_ms),
    readAt: iso(r.read_ms),
    nextAttemptAt: r.status === 'pending' ? iso(r.next_ms) : null,
    waitsFor: r.status === 'pending' ? r.waits_for : null,
    acknowledgedVia: via.get(r.recipient_id) ?? null,
  }));
}
