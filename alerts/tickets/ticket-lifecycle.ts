/**
 * The ticket state machine: 报修 → 派工 → 维修 → 回访. Every lifecycle action is checked against
 * this table before the ticket service writes it; an action not listed for a status is refused.
 */

export const TICKET_STATUSES = ['opened', 'dispatched', 'acknowledged', 'on_site', 'resolved', 'followed_up', 'closed', 'cancelled'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** Statuses in which the device's ticket is still being worked (the one-open-ticket rule). */
export const OPEN_STATUSES: readonly TicketStatus[] = ['opened', 'dispatched', 'acknowledged', 'on_site'];

export type TicketAction = 'dispatch' | 'acknowledge' | 'arrive_on_site' | 'resolve' | 'follow_up_satisfied' | 'follow_up_unsatisfied' | 'cancel' | 'reopen';

export interface Transition {
  from: readonly TicketStatus[];
  /** `dispatched` when someone is assigned, else `opened`. */
  to: TicketStatus | 'dispatched_or_opened';
}

export const TRANSITIONS: Readonly<Record<TicketAction, Transition>> = {
  // Re-dispatching a dispatched ticket reassigns it.
  dispatch: { from: ['opened', 'dispatched'], to: 'dispatched' },
  acknowledge: { from: ['dispatched'], to: 'acknowledged' },
  arrive_on_site: { from: ['acknowledged'], to: 'on_site' },
  // A fault fixed remotely (e.g. a gateway restarted by phone) may be resolved without a visit.
  resolve: { from: ['acknowledged', 'on_site'], to: 'resolved' },
  // Satisfied: followed_up, then closed in the same step.
  follow_up_satisfied: { from: ['resolved'], to: 'closed' },
  // Unsatisfied: back to the same technician.
  follow_up_unsatisfied: { from: ['resolved'], to: 'dispatched_or_opened' },
  cancel: { from: ['opened', 'dispatched', 'acknowledged', 'on_site'], to: 'cancelled' },
  reopen: { from: ['resolved', 'followed_up', 'closed', 'cancelled'], to: 'dispatched_or_opened' },
};

export function canApply(action: TicketAction, status: TicketStatus): boolean {
  return TRANSITIONS[action].from.includes(status);
}

/** The status after `action`, or undefined when the table refuses it. */
export function nextStatus(action: TicketAction, status: TicketStatus, hasAssignee: boolean): TicketStatus | undefined {
  const t = TRANSITIONS[action];
  if (!t.from.includes(status)) return undefined;
  if (t.to === 'dispatched_or_opened') return hasAssignee ? 'dispatched' : 'opened';
  return t.to;
}
