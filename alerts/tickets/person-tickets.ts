/**
 * Tickets opened by people (service-rules.md, lifecycle step 1 受理/登记): a fault phoned in by a
 * customer (报修) or a complaint (投诉). They run the device tickets' lifecycle, but never take in
 * device alerts: their subject is their own case. Here: the intake schema and rules, the pushes
 * about them, and the reclassification of a badly handled communication complaint (000:702).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Text } from '../catalog/manual.ts';
import { COMPLAINT_CLASS_NAMES, COMPLAINT_KIND_NAMES, CUSTOMER_CLOCK_NAMES, PERSON_TICKET_TEXTS, TICKET_ORIGIN_NAMES } from '../catalog/messages.ts';
import { PRIORITIES, PRIORITY_RANK, type Priority, type SlaSettings } from '../sla/sla-policy.ts';
import type { Db } from '../store/db.ts';
import { TicketInputError } from './errors.ts';
import type { Notice } from './notice.ts';
import { localTime, PRIORITY_NAMES, type NoticeContext } from './notice-text.ts';
import { maxPriority } from './priority.ts';
import { COMPLAINT_CLASSES, COMPLAINT_KINDS, ms, stageDueMs, toTicket, type Row, type Ticket } from './ticket.ts';
import { Q, updateTicketSql } from './ticket-queries.ts';

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

/** The intake form: who, where, what, and for a complaint its class (000:702). */
export const PersonTicketBody = Type.Object(
  {
    origin: Type.Union([Type.Literal('report'), Type.Literal('complaint')], { description: 'report: 报修, a fault phoned in; complaint: 投诉' }),
    contact: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 100 }),
        phone: Type.String({ pattern: '^\\+?[0-9][0-9 ()-]{2,29}$', description: 'digits, spaces, +, -, ( )' }),
      },
      { additionalProperties: false },
    ),
    address: Type.String({ minLength: 1, maxLength: 300 }),
    district: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'routes the ticket as a device ticket; the device’s district when omitted' })),
    deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$', description: 'must be in the device registry' })),
    description: Type.String({ minLength: 1, maxLength: 2000, description: 'what the person said' }),
    complaintClass: Type.Optional(literals(COMPLAINT_CLASSES)),
    complaintKind: Type.Optional(Type.Union(COMPLAINT_KINDS.map((k) => Type.Literal(k)), { description: 'for a communication complaint: help, enquiry or venting' })),
    major: Type.Optional(Type.Boolean({ description: 'a major complaint: goes straight to the supervisor (001:197)' })),
    priority: Type.Optional(Type.Union(PRIORITIES.map((p) => Type.Literal(p)), { description: 'default normal; a justified complaint is at least urgent' })),
    requestId: Type.Optional(Type.String({ minLength: 8, maxLength: 100, pattern: '^[A-Za-z0-9_.:-]+$', description: 'the form’s idempotency key: sent twice, one ticket' })),
  },
  { additionalProperties: false },
);
export type PersonTicketInput = Static<typeof PersonTicketBody>;

export const CustomerContactBody = Type.Object(
  {
    message: Type.String({ minLength: 1, maxLength: 2000, description: 'what the customer was told' }),
    channel: Type.Optional(Type.Union([Type.Literal('phone'), Type.Literal('sms'), Type.Literal('visit'), Type.Literal('other')], { default: 'phone' })),
  },
  { additionalProperties: false },
);
export type CustomerContactInput = Static<typeof CustomerContactBody>;

/** A rule of the form that its schema cannot say; `field` names the field to fix. */
export class PersonTicketInputError extends TicketInputError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), field: this.field };
  }
}

/** What the registry says of the device named on the form, if anything. */
export type DeviceOnForm = { district?: string; address?: string; customer?: string } | undefined;

export interface PersonTicketPlan {
  priority: Priority;
  district: string | null;
  complaintClass: PersonTicketInput['complaintClass'] | null;
  complaintKind: PersonTicketInput['complaintKind'] | null;
  /** "Urgent and major complaints go straight to the supervisor" (001:197). */
  toSupervisor: boolean;
}

/**
 * The form's cross-field rules: a complaint has a class, a communication complaint a kind, a report
 * neither; a named device is known to the registry. Justified complaints are at least urgent.
 */
export function planPersonTicket(input: PersonTicketInput, device: DeviceOnForm): PersonTicketPlan {
  if (input.deviceId !== undefined && device === undefined) throw new PersonTicketInputError('deviceId', `no device ${input.deviceId} in the registry`);
  let complaintClass: PersonTicketPlan['complaintClass'] = null;
  let complaintKind: PersonTicketPlan['complaintKind'] = null;
  if (input.origin === 'complaint') {
    if (!input.complaintClass) throw new PersonTicketInputError('complaintClass', 'a complaint needs its class: justified or communication');
    complaintClass = input.complaintClass;
    if (complaintClass === 'communication') {
      if (!input.complaintKind) throw new PersonTicketInputError('complaintKind', 'a communication complaint needs its kind: help, enquiry or venting');
      complaintKind = input.complaintKind;
    } else if (input.complaintKind) {
      throw new PersonTicketInputError('complaintKind', 'only a communication complaint has a kind');
    }
  } else {
    if (input.complaintClass) throw new PersonTicketInputError('complaintClass', 'only a complaint has a class');
    if (input.complaintKind) throw new PersonTicketInputError('complaintKind', 'only a complaint has a kind');
    if (input.major !== undefined) throw new PersonTicketInputError('major', 'only a complaint is major');
  }
  let priority: Priority = input.priority ?? 'normal';
  if (complaintClass === 'justified') priority = maxPriority(priority, 'urgent');
  const toSupervisor = input.origin === 'complaint' && (input.major === true || PRIORITY_RANK[priority] >= PRIORITY_RANK.urgent);
  return { priority, district: input.district ?? device?.district ?? null, complaintClass, complaintKind, toSupervisor };
}

/** Whether a replayed form is the one first sent under its requestId. */
export function sameForm(t: Ticket, input: PersonTicketInput): boolean {
  return t.origin === input.origin && t.contact?.phone === input.contact.phone && t.description === input.description;
}

/**
 * 有效投诉: a communication complaint whose customer clock was breached or whose follow-up was
 * unsatisfied is justified now (000:702), at least urgent, audited as `reclassify`. Inside the
 * caller's transaction; false when the ticket is no communication complaint (any more).
 */
export async function reclassifyAsJustified(tx: Db, ticketId: string, reason: string, actor: string, nowMs: number, sla: SlaSettings): Promise<boolean> {
  const row = (await tx.query<Row>(Q.ticketByIdForUpdate, [ticketId]))[0];
  if (!row) return false;
  const t = toTicket(row);
  if (t.origin !== 'complaint' || t.complaintClass !== 'communication') return false;
  const now = new Date(nowMs).toISOString();
  const priority = maxPriority(t.priority, 'urgent');
  const due = stageDueMs(sla, t.status, priority, Date.parse(t.slaStartedAt), ms(t.resolvedAt));
  await tx.query(updateTicketSql(['complaint_class', 'priority', 'sla_due_at', 'updated_at']), [ticketId, 'justified', priority, due === null ? null : new Date(due).toISOString(), now]);
  await tx.query(Q.insertEvent, [
    ticketId,
    now,
    actor,
    'reclassify',
    t.status,
    t.status,
    JSON.stringify({ from: 'communication', kind: t.complaintKind, to: 'justified', reason, priority: { from: t.priority, to: priority } }),
  ]);
  return true;
}

// --- pushes ------------------------------------------------------------------------------------

const t2 = (zh: string, en: string): Text => ({ 'zh-CN': zh, en });
const appLink = (ctx: NoticeContext, ticketId: string): { url?: string } =>
  ctx.appUrl ? { url: `${ctx.appUrl.replace(/\/$/, '')}/#/tickets/${encodeURIComponent(ticketId)}` } : {};

/** `报修` / `有效投诉` / `沟通性投诉（发泄）`: what the case is, as the dispatcher names it. */
export function caseName(t: Ticket): Text {
  if (t.origin !== 'complaint' || !t.complaintClass) return TICKET_ORIGIN_NAMES[t.origin];
  const c = COMPLAINT_CLASS_NAMES[t.complaintClass];
  const k = t.complaintKind ? COMPLAINT_KIND_NAMES[t.complaintKind] : undefined;
  return k ? t2(`${c['zh-CN']}（${k['zh-CN']}）`, `${c.en} (${k.en})`) : c;
}

function title(t: Ticket, what: Text): Text {
  const p = PRIORITY_NAMES[t.priority];
  const who = t.contact?.name ?? t.customer ?? '';
  return t2(`【${p['zh-CN']}】${what['zh-CN']} ${t.id} ${who}`.trim(), `[${p.en}] ${what.en} ${t.id} ${who}`.trim());
}

function body(t: Ticket, lead: Text, ctx: NoticeContext): Text {
  const T = PERSON_TICKET_TEXTS;
  const kind = caseName(t);
  const place = `${t.address ?? '—'}${t.district ? `（${t.district}）` : ''}`;
  const zh = [lead['zh-CN'], `${kind['zh-CN']}：${t.description ?? '—'}`, `${T.address['zh-CN']}：${place}`];
  const en = [lead.en, `${kind.en}: ${t.description ?? '—'}`, `${T.address.en}: ${place}`];
  if (t.contact) {
    zh.push(`${T.contact['zh-CN']}：${t.contact.name} ${t.contact.phone}`);
    en.push(`${T.contact.en}: ${t.contact.name} ${t.contact.phone}`);
  }
  if (t.deviceId) {
    zh.push(`${T.device['zh-CN']}：${t.deviceId}`);
    en.push(`${T.device.en}: ${t.deviceId}`);
  }
  if (t.slaDueAt) {
    const due = localTime(t.slaDueAt, ctx.timeZone);
    zh.push(`${T.due['zh-CN']}：${due}`);
    en.push(`${T.due.en}: ${due}`);
  }
  return t2(zh.join('\n'), en.join('\n'));
}

function data(t: Ticket, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ticketId: t.id,
    origin: t.origin,
    subject: t.subject,
    deviceId: t.deviceId,
    priority: t.priority,
    status: t.status,
    district: t.district,
    address: t.address,
    contact: t.contact,
    complaintClass: t.complaintClass,
    complaintKind: t.complaintKind,
    assignee: t.assignee,
    openedAt: t.openedAt,
    slaDueAt: t.slaDueAt,
    ...extra,
  };
}

/** The technician's work order for a person's case: what was said, where, whom to call. */
export function personDispatchedNotice(id: string, t: Ticket, recipient: string, ctx: NoticeContext): Notice {
  return {
    id,
    kind: 'ticket.dispatched',
    ticketId: t.id,
    recipients: [recipient],
    priority: t.priority,
    title: title(t, caseName(t)),
    body: body(t, PERSON_TICKET_TEXTS.dispatched, ctx),
    ...appLink(ctx, t.id),
    data: data(t),
    createdAtMs: ctx.nowMs,
  };
}

/** The case sent back to its technician: the reason, then the case as taken down. */
export function personReopenedNotice(id: string, t: Ticket, recipients: string[], reason: string, ctx: NoticeContext): Notice {
  return {
    id,
    kind: 'ticket.reopened',
    ticketId: t.id,
    recipients,
    priority: t.priority,
    title: title(t, t2(`${caseName(t)['zh-CN']}${PERSON_TICKET_TEXTS.reopened['zh-CN']}`, `${caseName(t).en} ${PERSON_TICKET_TEXTS.reopened.en}`)),
    body: body(t, t2(`${PERSON_TICKET_TEXTS.reopened['zh-CN']}：${reason}`, `${PERSON_TICKET_TEXTS.reopened.en}: ${reason}`), ctx),
    ...appLink(ctx, t.id),
    data: data(t, { reason }),
    createdAtMs: ctx.nowMs,
  };
}

/** An urgent or major complaint, straight to the supervisor (001:197). */
export function complaintToSupervisorNotice(id: string, t: Ticket, supervisor: string, reason: string, ctx: NoticeContext): Notice {
  return {
    id,
    kind: 'ticket.escalated',
    ticketId: t.id,
    recipients: [supervisor],
    priority: t.priority,
    title: title(t, PERSON_TICKET_TEXTS.escalatedTitle),
    body: body(t, PERSON_TICKET_TEXTS.complaintToSupervisor, ctx),
    ...appLink(ctx, t.id),
    data: data(t, { level: 'supervisor', reason }),
    createdAtMs: ctx.nowMs,
  };
}

/** `reply`, `complete#1`, `customer_update#2` → the clock's name. */
export function customerClockName(key: string): Text {
  const base = key.split('#')[0] as keyof typeof CUSTOMER_CLOCK_NAMES;
  return CUSTOMER_CLOCK_NAMES[base] ?? t2(key, key);
}

export function customerBreachNotice(id: string, t: Ticket, recipients: string[], clock: string, dueAtIso: string, ctx: NoticeContext): Notice {
  const c = customerClockName(clock);
  const due = localTime(dueAtIso, ctx.timeZone);
  const passed = PERSON_TICKET_TEXTS.limitPassed;
  return {
    id,
    kind: 'ticket.sla_breached',
    ticketId: t.id,
    recipients,
    priority: t.priority,
    title: title(t, t2(`${PERSON_TICKET_TEXTS.breachedTitle['zh-CN']}：${c['zh-CN']}`, `${PERSON_TICKET_TEXTS.breachedTitle.en}: ${c.en}`)),
    body: body(t, t2(`${c['zh-CN']}${passed['zh-CN']}（${due}）。`, `The ${c.en} ${passed.en} (${due}).`), ctx),
    ...appLink(ctx, t.id),
    data: data(t, { clock, dueAt: dueAtIso }),
    createdAtMs: ctx.nowMs,
  };
}
