import type { Alert, AlertChange } from './alert-book.ts';
import { isSafetyAlert } from './tickets/priority.ts';

/**
 * Whether an alert's raise opens (or joins) a ticket: not while it is inhibited by a more specific
 * alert (alerts/inhibition.ts), and not when it is historical (a late reading's, judged in event
 * time) and no safety condition — recorded, never pushed. A historical leak does open one: the site
 * must still be checked.
 */
export function opensTicket(alert: Alert): boolean {
  return !alert.inhibited && (!alert.late || isSafetyAlert(alert));
}

/** The changes the ticket side acts on: raises of alerts that open no ticket are dropped. Clears all pass (one with no ticket changes nothing). */
export function ticketChanges(changes: readonly AlertChange[]): readonly AlertChange[] {
  return changes.some((c) => c.type === 'raised' && !opensTicket(c.alert)) ? changes.filter((c) => !(c.type === 'raised' && !opensTicket(c.alert))) : changes;
}

/** The alerts a reconcile gives the ticket side: none that opens no ticket (nor as "raised and cleared while down"). */
export function ticketAlerts(alerts: Iterable<Alert>): Alert[] {
  const out: Alert[] = [];
  for (const a of alerts) if (opensTicket(a)) out.push(a);
  return out;
}
