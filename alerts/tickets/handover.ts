import type { OnCallAnswer, OnCallDirectory } from '../oncall/directory.ts';
import { PRIORITY_RANK } from '../sla/sla-policy.ts';
import type { Ticket } from './ticket.ts';
import type { TicketListQuery } from './ticket-service.ts';

/** One ticket in a hand-over, with why it is there. */
export interface HandOverItem {
  ticket: Ticket;
  /** Opened before this shift began: passed on by the shift before. */
  passedOn: boolean;
  /** Opened while nobody was on duty and dispatched when this shift began (or still waiting for a technician). */
  waitedForShift: boolean;
  /** Its SLA stage limit has already passed. */
  overdue: boolean;
}

/** 交接班记录 (001:104): what is passed on to a district's shift and what must be done first. */
export interface HandOverNote {
  district: string;
  at: string;
  /** The shift on duty at `at`; null while nobody of the team is. */
  shift: { technicianId: string | null; name: string; kind: 'on_site' | 'home'; startsAt: string; endsAt: string } | null;
  /** Who was on duty just before this shift began (null when nobody was). */
  previousTechnicianId: string | null;
  /** Open tickets of the district, most urgent first (priority, then SLA due time). */
  open: HandOverItem[];
  /** Resolved tickets whose 回访 follow-up falls due before the shift ends. */
  followUpsDue: Ticket[];
}

const OPEN = ['opened', 'dispatched', 'acknowledged', 'on_site'] as const;

/**
 * The hand-over note of a district at an instant, from the rota and the tickets. Read-only: the
 * tickets that waited for a technician are dispatched by `TicketService.dispatchWaiting` at the
 * shift's start, and show here as waited-for-shift.
 */
export async function handOverNote(
  tickets: { list(q: TicketListQuery): Promise<Ticket[]> },
  directory: Pick<OnCallDirectory, 'whoIsOnCall'>,
  district: string,
  atMs: number,
): Promise<HandOverNote> {
  const answer: OnCallAnswer = await directory.whoIsOnCall(district, atMs);
  const startMs = answer.shift ? Date.parse(answer.shift.startsAt) : atMs;
  const endMs = answer.shift ? Date.parse(answer.shift.endsAt) : atMs;
  const [previous, open, resolved] = await Promise.all([
    answer.shift ? directory.whoIsOnCall(district, startMs - 1) : Promise.resolve(undefined),
    tickets.list({ district, status: OPEN, order: 'urgency', limit: 1000 }),
    tickets.list({ district, status: 'resolved', order: 'urgency', limit: 1000 }),
  ]);
  const items = open.map((t): HandOverItem => {
    const openedMs = Date.parse(t.openedAt);
    const dispatchedMs = t.dispatchedAt ? Date.parse(t.dispatchedAt) : null;
    const passedOn = openedMs < startMs;
    return {
      ticket: t,
      passedOn,
      waitedForShift: passedOn && (t.assignee === null || (dispatchedMs !== null && dispatchedMs >= startMs && t.status === 'dispatched')),
      overdue: t.slaDueAt !== null && Date.parse(t.slaDueAt) < atMs,
    };
  });
  // Overdue first within a priority: the list is what to do first, not a log.
  items.sort((a, b) => PRIORITY_RANK[b.ticket.priority] - PRIORITY_RANK[a.ticket.priority] || Number(b.overdue) - Number(a.overdue));
  return {
    district,
    at: new Date(atMs).toISOString(),
    shift: answer.shift ? { technicianId: answer.technician?.id ?? null, ...answer.shift } : null,
    previousTechnicianId: previous?.technician?.id ?? null,
    open: items,
    followUpsDue: resolved.filter((t) => t.followUpDueAt !== null && Date.parse(t.followUpDueAt) <= Math.max(endMs, atMs)),
  };
}
