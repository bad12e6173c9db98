import type { AlertSubject, Condition, DeviceKind, Severity } from '../../contracts/messages.ts';
import type { Text } from '../catalog/manual.ts';
import type { TicketDelivery } from '../push/delivery-report.ts';
import { limitMs, type Priority, type SlaClock, type SlaSettings } from '../sla/sla-policy.ts';
import type { TicketStatus } from './ticket-lifecycle.ts';

/** The manual's entry for one condition, as the ticket carries it. */
export interface TicketManualEntry {
  condition: Condition;
  title: Text;
  cause: Text;
  remedy: Text;
  toolCard: Text;
  parts: Text[];
  source: string;
}

/** What a ticket is about: a device, a gateway, a district whose storm it folds, or a customer's own case. */
export type TicketSubject = AlertSubject | 'district' | 'customer';

/** Who opened it: an alert, or a person — 报修 a fault phoned in, 投诉 a complaint. */
export const TICKET_ORIGINS = ['alert', 'report', 'complaint'] as const;
export type TicketOrigin = (typeof TICKET_ORIGINS)[number];
/** 有效投诉 justified, 沟通性投诉 communication (service-rules.md, complaint classes). */
export const COMPLAINT_CLASSES = ['justified', 'communication'] as const;
export type ComplaintClass = (typeof COMPLAINT_CLASSES)[number];
/** A communication complaint's kind: 求助 help, 咨询 enquiry, 发泄 venting. */
export const COMPLAINT_KINDS = ['help', 'enquiry', 'venting'] as const;
export type ComplaintKind = (typeof COMPLAINT_KINDS)[number];

/** A service ticket. Times are ISO-8601 strings, null until they happen. */
export interface Ticket {
  id: string;
  subject: TicketSubject;
  subjectId: string;
  deviceId: string | null;
  gatewayId: string | null;
  kind: DeviceKind | null;
  vendor: string | null;
  district: string | null;
  address: string | null;
  customer: string | null;
  /** Where the device (or gateway) is, WGS-84, from the registry at open; null when it has no point. */
  lat: number | null;
  lon: number | null;
  /** Every condition the ticket gathered, first raised first. */
  conditions: Condition[];
  /** Conditions whose alert has not cleared. */
  activeConditions: Condition[];
  /** Devices behind a gateway ticket. */
  devices: string[];
  priority: Priority;
  status: TicketStatus;
  round: number;
  openedAt: string;
  slaStartedAt: string;
  dispatchedAt: string | null;
  acknowledgedAt: string | null;
  onSiteAt: string | null;
  resolvedAt: string | null;
  followedUpAt: string | null;
  closedAt: string | null;
  cancelledAt: string | null;
  assignee: string | null;
  /** When the current stage's SLA runs out. */
  slaDueAt: string | null;
  followUpDueAt: string | null;
  repeatOf: string | null;
  deviceNormalAt: string | null;
  remedyDone: string | null;
  partsUsed: unknown;
  notes: string | null;
  satisfaction: 'satisfied' | 'unsatisfied' | null;
  followUpNotes: string | null;
  manual: TicketManualEntry[];
  escalationStep: number;
  escalatedAt: string | null;
  updatedAt: string;
  origin: TicketOrigin;
  /** The person who reported or complained; null on alert tickets. */
  contact: { name: string; phone: string } | null;
  /** What the person said, as taken down. */
  description: string | null;
  complaintClass: ComplaintClass | null;
  complaintKind: ComplaintKind | null;
}

export interface TicketEvent {
  id: string;
  at: string;
  actor: string;
  action: string;
  fromStatus: string | null;
  toStatus: string | null;
  detail: Record<string, unknown> | null;
}

export interface TicketAlertLink {
  alertId: string;
  condition: Condition;
  severity: Severity;
  raisedAt: string;
  clearedAt: string | null;
  detail: Record<string, unknown> | null;
}

export interface TicketComment {
  id: string;
  at: string;
  author: string;
  body: string;
}

export interface TicketBreach {
  clock: string;
  priority: Priority;
  dueAt: string;
  breachedAt: string;
}

export interface TicketEscalation {
  id: string;
  step: number;
  level: string;
  target: string | null;
  at: string;
  reason: string;
}

/** What a waiting customer was told, and by whom. */
export interface TicketCustomerContact {
  id: string;
  at: string;
  actor: string;
  channel: 'phone' | 'sms' | 'visit' | 'other';
  message: string;
}

export interface TicketDetail extends Ticket {
  history: TicketEvent[];
  customerContacts: TicketCustomerContact[];
  alerts: TicketAlertLink[];
  comments: TicketComment[];
  breaches: TicketBreach[];
  escalations: TicketEscalation[];
  /** Its pushes per notice, person and channel (alerts/push/delivery-report.ts). */
  deliveries: TicketDelivery[];
}

export type Row = Record<string, unknown>;

/** PostgreSQL and PGlite both return timestamptz as Date; accept strings too. */
export function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  return new Date(String(value)).toISOString();
}

export function ms(value: unknown): number | null {
  const s = iso(value);
  return s === null ? null : Date.parse(s);
}

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function toTicket(r: Row): Ticket {
  return {
    id: String(r.id),
    subject: r.subject as TicketSubject,
    subjectId: String(r.subject_id),
    deviceId: str(r.device_id),
    gatewayId: str(r.gateway_id),
    kind: (r.kind ?? null) as DeviceKind | null,
    vendor: str(r.vendor),
    district: str(r.district),
    address: str(r.address),
    customer: str(r.customer),
    lat: num(r.lat),
    lon: num(r.lon),
    conditions: (r.conditions ?? []) as Condition[],
    activeConditions: (r.active_conditions ?? []) as Condition[],
    devices: (r.devices ?? []) as string[],
    priority: r.priority as Priority,
    status: r.status as TicketStatus,
    round: Number(r.round ?? 0),
    openedAt: iso(r.opened_at)!,
    slaStartedAt: iso(r.sla_started_at)!,
    dispatchedAt: iso(r.dispatched_at),
    acknowledgedAt: iso(r.acknowledged_at),
    onSiteAt: iso(r.on_site_at),
    resolvedAt: iso(r.resolved_at),
    followedUpAt: iso(r.followed_up_at),
    closedAt: iso(r.closed_at),
    cancelledAt: iso(r.cancelled_at),
    assignee: str(r.assignee),
    slaDueAt: iso(r.sla_due_at),
    followUpDueAt: iso(r.follow_up_due_at),
    repeatOf: str(r.repeat_of),
    deviceNormalAt: iso(r.device_normal_at),
    remedyDone: str(r.remedy_done),
    partsUsed: r.parts_used ?? null,
    notes: str(r.notes),
    satisfaction: (r.satisfaction ?? null) as Ticket['satisfaction'],
    followUpNotes: str(r.follow_up_notes),
    manual: (r.manual ?? []) as TicketManualEntry[],
    escalationStep: Number(r.escalation_step ?? 0),
    escalatedAt: iso(r.escalated_at),
    updatedAt: iso(r.updated_at)!,
    origin: (r.origin ?? 'alert') as TicketOrigin,
    contact: r.contact_name === null || r.contact_name === undefined ? null : { name: String(r.contact_name), phone: String(r.contact_phone ?? '') },
    description: str(r.description),
    complaintClass: (r.complaint_class ?? null) as ComplaintClass | null,
    complaintKind: (r.complaint_kind ?? null) as ComplaintKind | null,
  };
}

/** The SLA clock that runs in a status, if any. */
export function clockFor(status: TicketStatus): SlaClock | undefined {
  switch (status) {
    case 'opened':
      return 'dispatch';
    case 'dispatched':
      return 'acknowledge';
    case 'acknowledged':
      return 'on_site';
    case 'on_site':
      return 'resolve';
    case 'resolved':
      return 'follow_up';
    default:
      return undefined;
  }
}

/**
 * When `clock` runs out: counted from the start of the round (opening or last reopen); follow-up
 * from the resolve. Undefined when the clock has not started.
 */
export function clockDueMs(settings: SlaSettings, clock: SlaClock, priority: Priority, slaStartedMs: number, resolvedMs: number | null, conditions?: readonly Condition[]): number | undefined {
  if (clock === 'follow_up') return resolvedMs === null ? undefined : resolvedMs + limitMs(settings, clock, priority);
  return slaStartedMs + limitMs(settings, clock, priority, conditions);
}

/** The due time of the stage a ticket is in, for `sla_due_at`. */
export function stageDueMs(settings: SlaSettings, status: TicketStatus, priority: Priority, slaStartedMs: number, resolvedMs: number | null, conditions?: readonly Condition[]): number | null {
  const clock = clockFor(status);
  return clock === undefined ? null : (clockDueMs(settings, clock, priority, slaStartedMs, resolvedMs, conditions) ?? null);
}

/** Clock name in sla_breaches: a reopened ticket's clocks run again under a new name. */
export function breachKey(clock: SlaClock, round: number): string {
  return round === 0 ? clock : `${clock}#${round}`;
}
