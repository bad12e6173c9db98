import type { Priority, SlaSettings } from '../sla/sla-policy.ts';
import type { Db } from '../store/db.ts';
import type { Notice } from './notice.ts';
import { escalatedNotice, type NoticeContext } from './notice-text.ts';
import type { Ticket } from './ticket.ts';
import { Q } from './ticket-queries.ts';

export type EscalationLevel = 'technician' | 'repeat' | 'supervisor' | 'director';

/** The shape of one priority's chain, from the SLA settings. */
export interface EscalationChain {
  repeats: number;
  top: 'supervisor' | 'director';
  topRepeats: number;
}

export function chainFor(settings: SlaSettings, priority: Priority): EscalationChain {
  const e = settings.escalation;
  return { repeats: e.repeats, top: e.topLevel[priority], topRepeats: e.topRepeats };
}

/**
 * Steps of the chain while nobody acknowledges: 0 the technician's dispatch notice, 1…repeats the
 * repeats, then the supervisor, then the director (when the chain goes that high), then the top
 * level again `topRepeats` times; undefined past the end.
 */
export function levelOfStep(step: number, chain: EscalationChain): EscalationLevel | undefined {
  if (step === 0) return 'technician';
  if (step <= chain.repeats) return 'repeat';
  const topStep = stepOfLevel(chain.top, chain.repeats);
  if (step > topStep + chain.topRepeats) return undefined;
  if (step >= topStep) return chain.top;
  return 'supervisor';
}

export function stepOfLevel(level: 'supervisor' | 'director', repeats: number): number {
  return level === 'supervisor' ? repeats + 1 : repeats + 2;
}

export interface EscalationRecord {
  ticketId: string;
  step: number;
  level: EscalationLevel;
  target: string | null;
  reason: string;
  atMs: number;
}

/** Saves a notice in the outbox table so a failed delivery can be traced to its ticket. */
export async function saveNotice(tx: Db, notice: Notice, step: number | null): Promise<void> {
  await tx.query(Q.insertNotice, [notice.id, notice.ticketId, notice.kind, notice.recipients, step, new Date(notice.createdAtMs).toISOString(), JSON.stringify(notice)]);
}

/**
 * Records one escalation with its audit event and notice, inside the caller's transaction.
 * Returns undefined when `causeKey` was already escalated.
 */
export async function recordEscalation(
  tx: Db,
  ticket: Ticket,
  e: EscalationRecord & { causeKey?: string; actor?: string; notify?: boolean },
  ctx: NoticeContext,
): Promise<{ record: EscalationRecord; notice?: Notice } | undefined> {
  const at = new Date(e.atMs).toISOString();
  const rows = await tx.query<{ id: string }>(Q.insertEscalation, [ticket.id, e.step, e.level, e.target, at, e.reason, e.causeKey ?? null]);
  if (rows.length === 0) return undefined;
  await tx.query(Q.insertEvent, [ticket.id, at, e.actor ?? 'system', 'escalate', ticket.status, ticket.status, JSON.stringify({ step: e.step, level: e.level, target: e.target, reason: e.reason })]);
  const record: EscalationRecord = { ticketId: ticket.id, step: e.step, level: e.level, target: e.target, reason: e.reason, atMs: e.atMs };
  if (e.target === null || e.notify === false) return { record };
  const notice = escalatedNotice(`${ticket.id}:escalation:${rows[0]!.id}`, ticket, e.target, e.level, e.reason, ctx);
  await saveNotice(tx, notice, e.step);
  return { record, notice };
}
