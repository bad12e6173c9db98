/** Every SQL statement of the ticket service, parameterised; column names only ever come from code. */

export const TICKET_SELECT = `SELECT t.*,
  ARRAY(SELECT ta.condition FROM ticket_alerts ta WHERE ta.ticket_id = t.id AND ta.cleared_at IS NULL ORDER BY ta.raised_at, ta.alert_id) AS active_conditions
  FROM tickets t`;

export const Q = {
  subjectLock: 'SELECT pg_advisory_xact_lock(hashtext($1))',
  ticketById: `${TICKET_SELECT} WHERE t.id = $1`,
  ticketByIdForUpdate: `${TICKET_SELECT} WHERE t.id = $1 FOR UPDATE OF t`,
  // Alert tickets only: a person's 报修/投诉 about the same device never takes in its alerts.
  openTicketForSubject: `${TICKET_SELECT} WHERE t.subject = $1 AND t.subject_id = $2 AND t.origin = 'alert' AND t.status IN ('opened', 'dispatched', 'acknowledged', 'on_site') FOR UPDATE OF t`,
  activeAlertsOfTicket: 'SELECT alert_id, condition, severity, detail FROM ticket_alerts WHERE ticket_id = $1 AND cleared_at IS NULL ORDER BY raised_at, alert_id',
  moveActiveAlerts: 'UPDATE ticket_alerts SET ticket_id = $2 WHERE ticket_id = $1 AND cleared_at IS NULL',
  alertById: 'SELECT alert_id, ticket_id FROM ticket_alerts WHERE alert_id = $1',
  alertsKnown: 'SELECT alert_id FROM ticket_alerts WHERE alert_id = ANY($1::text[])',
  alertIdsOf: 'SELECT alert_id FROM ticket_alerts WHERE ticket_id = $1',
  openDeviceTickets: `SELECT id, subject_id FROM tickets WHERE subject = 'device' AND subject_id = ANY($1::text[]) AND origin = 'alert' AND status IN ('opened', 'dispatched', 'acknowledged', 'on_site')`,
  recentResolvedForSubject: `SELECT id FROM tickets WHERE subject = $1 AND subject_id = $2 AND origin = 'alert'
    AND status IN ('resolved', 'followed_up', 'closed') AND resolved_at >= $3::timestamptz
    ORDER BY resolved_at DESC, id DESC LIMIT 1`,
  insertTicket: `INSERT INTO tickets (subject, subject_id, device_id, gateway_id, kind, vendor, district, address, customer,
      conditions, devices, priority, status, opened_at, sla_started_at, sla_due_at, repeat_of, manual, updated_at, lat, lon)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[], $11::text[], $12, 'opened', $13::timestamptz, $13::timestamptz, $14::timestamptz, $15, $16::jsonb, $13::timestamptz, $17, $18)
    RETURNING id`,
  /** A person's ticket takes its own id as its subject id, so the id is drawn before the insert. */
  nextTicketId: `SELECT 'T' || lpad(nextval('ticket_seq')::text, 6, '0') AS id`,
  insertPersonTicket: `INSERT INTO tickets (id, subject, subject_id, device_id, district, address, customer, priority, status,
      opened_at, sla_started_at, sla_due_at, updated_at, origin, contact_name, contact_phone, description, complaint_class, complaint_kind, request_id)
    VALUES ($1, 'customer', $1, $2, $3, $4, $5, $6, 'opened', $7::timestamptz, $7::timestamptz, $8::timestamptz, $7::timestamptz, $9, $10, $11, $12, $13, $14, $15)`,
  ticketByRequestId: `${TICKET_SELECT} WHERE t.request_id = $1`,
  insertCustomerContact: `INSERT INTO customer_contacts (ticket_id, at, actor, channel, message) VALUES ($1, $2::timestamptz, $3, $4, $5)
    RETURNING id::text AS id`,
  customerContactsOf: 'SELECT id::text AS id, at, actor, channel, message FROM customer_contacts WHERE ticket_id = $1 ORDER BY customer_contacts.id',
  insertTicketAlert: `INSERT INTO ticket_alerts (alert_id, ticket_id, condition, severity, raised_at, detail)
    VALUES ($1, $2, $3, $4, $5::timestamptz, $6::jsonb)`,
  reraiseTicketAlert: 'UPDATE ticket_alerts SET cleared_at = NULL WHERE alert_id = $1 AND cleared_at IS NOT NULL RETURNING ticket_id',
  clearTicketAlert: `UPDATE ticket_alerts SET cleared_at = $2::timestamptz WHERE alert_id = $1 AND cleared_at IS NULL RETURNING ticket_id, condition`,
  activeAlertCount: 'SELECT count(*)::int AS n FROM ticket_alerts WHERE ticket_id = $1 AND cleared_at IS NULL',
  setDeviceNormal: 'UPDATE tickets SET device_normal_at = $2::timestamptz, updated_at = $3::timestamptz WHERE id = $1',
  insertEvent: `INSERT INTO ticket_events (ticket_id, at, actor, action, from_status, to_status, detail)
    VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7::jsonb) RETURNING id::text AS id`,
  insertComment: 'INSERT INTO ticket_comments (ticket_id, at, author, body) VALUES ($1, $2::timestamptz, $3, $4) RETURNING id::text AS id',
  insertEscalation: `INSERT INTO escalations (ticket_id, step, level, target, at, reason, cause_key)
    VALUES ($1, $2, $3, $4, $5::timestamptz, $6, $7) ON CONFLICT (cause_key) DO NOTHING RETURNING id::text AS id`,
  insertNotice: `INSERT INTO ticket_notices (id, ticket_id, kind, recipients, step, created_at, notice)
    VALUES ($1, $2, $3, $4::text[], $5, $6::timestamptz, $7::jsonb) ON CONFLICT (id) DO NOTHING`,
  insertCustomerNotice: `INSERT INTO customer_notices (alert_id, device_id, customer, district, condition, opened_at)
    VALUES ($1, $2, $3, $4, $5, $6::timestamptz) ON CONFLICT (alert_id) DO NOTHING RETURNING id::text AS id`,
  resolveCustomerNotice: 'UPDATE customer_notices SET resolved_at = $2::timestamptz WHERE alert_id = $1 AND resolved_at IS NULL RETURNING id',
  noticesSince: 'SELECT notice FROM ticket_notices WHERE created_at >= $1::timestamptz ORDER BY created_at, id',
  customerNotices: 'SELECT * FROM customer_notices WHERE ($1::text IS NULL OR device_id = $1) ORDER BY id DESC LIMIT $2',
  unroutedOpenTickets: `${TICKET_SELECT} WHERE t.status = 'opened' AND t.routed_at IS NULL ORDER BY t.opened_at`,
  /** Routed while nobody was on call: escalated, but no technician has it yet. */
  waitingForTechnician: `SELECT id, district FROM tickets WHERE status = 'opened' AND assignee IS NULL AND routed_at IS NOT NULL ORDER BY opened_at`,
  eventsOf: 'SELECT id::text AS id, at, actor, action, from_status, to_status, detail FROM ticket_events WHERE ticket_id = $1 ORDER BY ticket_events.id',
  alertsOf: 'SELECT alert_id, condition, severity, raised_at, cleared_at, detail FROM ticket_alerts WHERE ticket_id = $1 ORDER BY raised_at, alert_id',
  commentsOf: 'SELECT id::text AS id, at, author, body FROM ticket_comments WHERE ticket_id = $1 ORDER BY ticket_comments.id',
  breachesOf: 'SELECT clock, priority, due_at, breached_at FROM sla_breaches WHERE ticket_id = $1 ORDER BY breached_at, clock',
  escalationsOf: 'SELECT id::text AS id, step, level, target, at, reason FROM escalations WHERE ticket_id = $1 ORDER BY escalations.id',
} as const;

/** Columns a lifecycle step may set. */
export type TicketColumn =
  | 'status' | 'assignee' | 'priority' | 'conditions' | 'devices' | 'manual' | 'round' | 'sla_started_at' | 'dispatched_at'
  | 'acknowledged_at' | 'on_site_at' | 'resolved_at' | 'followed_up_at' | 'closed_at' | 'cancelled_at' | 'sla_due_at'
  | 'follow_up_due_at' | 'device_normal_at' | 'remedy_done' | 'parts_used' | 'notes' | 'satisfaction' | 'follow_up_notes'
  | 'escalation_step' | 'escalated_at' | 'routed_at' | 'updated_at' | 'complaint_class';

const CASTS: Partial<Record<TicketColumn, string>> = {
  conditions: '::text[]', devices: '::text[]', manual: '::jsonb', parts_used: '::jsonb',
  sla_started_at: '::timestamptz', dispatched_at: '::timestamptz', acknowledged_at: '::timestamptz', on_site_at: '::timestamptz',
  resolved_at: '::timestamptz', followed_up_at: '::timestamptz', closed_at: '::timestamptz', cancelled_at: '::timestamptz',
  sla_due_at: '::timestamptz', follow_up_due_at: '::timestamptz', device_normal_at: '::timestamptz', escalated_at: '::timestamptz',
  routed_at: '::timestamptz', updated_at: '::timestamptz',
};

/** `UPDATE tickets SET a = $2, b = $3 … WHERE id = $1`, for the columns given in order. */
export function updateTicketSql(columns: readonly TicketColumn[]): string {
  return `UPDATE tickets SET ${columns.map((c, i) => `${c} = $${i + 2}${CASTS[c] ?? ''}`).join(', ')} WHERE id = $1`;
}

export interface ListFilter {
  status?: readonly string[];
  deviceId?: string;
  assignee?: string;
  district?: string;
  priority?: readonly string[];
  origin?: readonly string[];
  /** `newest` first (the queue's history), or by `urgency`: priority, then the SLA due time. */
  order?: TicketOrder;
  limit: number;
}

export type TicketOrder = 'newest' | 'urgency';

const ORDER_BY: Readonly<Record<TicketOrder, string>> = {
  newest: 't.opened_at DESC, t.id DESC',
  // An older emergency above nine routine tickets: what a technician must do first comes first.
  urgency: `CASE t.priority WHEN 'emergency' THEN 0 WHEN 'urgent' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, t.sla_due_at ASC NULLS LAST, t.opened_at ASC, t.id ASC`,
};

/** The list query: each filter is a fixed fragment with its own parameter. */
export function listTicketsSql(f: ListFilter): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (fragment: (n: number) => string, value: unknown): void => {
    params.push(value);
    where.push(fragment(params.length));
  };
  if (f.status?.length) add((n) => `t.status = ANY($${n}::text[])`, f.status);
  if (f.priority?.length) add((n) => `t.priority = ANY($${n}::text[])`, f.priority);
  if (f.origin?.length) add((n) => `t.origin = ANY($${n}::text[])`, f.origin);
  if (f.deviceId !== undefined) add((n) => `(t.device_id = $${n} OR $${n} = ANY(t.devices))`, f.deviceId);
  if (f.assignee !== undefined) add((n) => `t.assignee = $${n}`, f.assignee);
  if (f.district !== undefined) add((n) => `t.district = $${n}`, f.district);
  params.push(f.limit);
  const sql = `${TICKET_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${ORDER_BY[f.order ?? 'newest']} LIMIT $${params.length}`;
  return { sql, params };
}
