/** SQL of the SLA watch, parameterised. */
import { TICKET_SELECT } from '../tickets/ticket-queries.ts';

export const SQ = {
  /** Tickets whose clocks may still run: open ones and resolved ones awaiting follow-up. */
  watched: `${TICKET_SELECT} WHERE t.status IN ('opened', 'dispatched', 'acknowledged', 'on_site', 'resolved') ORDER BY t.opened_at`,
  breachKeysOf: 'SELECT ticket_id, clock FROM sla_breaches WHERE ticket_id = ANY($1::text[])',
  insertBreach: `INSERT INTO sla_breaches (ticket_id, clock, priority, due_at, breached_at) VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz)
    ON CONFLICT (ticket_id, clock) DO NOTHING RETURNING ticket_id`,
  ticketById: `${TICKET_SELECT} WHERE t.id = $1`,
  ticketForUpdate: `${TICKET_SELECT} WHERE t.id = $1 FOR UPDATE OF t`,
  /** Moves the chain one step only if nobody else did and the ticket is still unacknowledged. */
  advanceStep: `UPDATE tickets SET escalation_step = $3, escalated_at = $4::timestamptz, updated_at = $4::timestamptz
    WHERE id = $1 AND escalation_step = $2 AND status IN ('opened', 'dispatched') RETURNING id`,
  raiseStep: `UPDATE tickets SET escalation_step = GREATEST(escalation_step, $2), escalated_at = $3::timestamptz, updated_at = $3::timestamptz
    WHERE id = $1 AND status IN ('opened', 'dispatched')`,
  /** Where one notice stands with one person, per channel. */
  deliveryStatesOf: 'SELECT channel, status FROM delivery_state WHERE notice_id = $1 AND recipient_id = $2',
  noticeById: 'SELECT id, ticket_id, kind, step FROM ticket_notices WHERE id = $1',
} as const;
