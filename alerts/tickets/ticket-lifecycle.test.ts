import { describe, expect, it } from 'vitest';
import { TICKET_STATUSES, TRANSITIONS, nextStatus, type TicketAction, type TicketStatus } from './ticket-lifecycle.ts';

describe('ticket transition table', () => {
  const legal: Array<[TicketAction, TicketStatus, boolean, TicketStatus]> = [
    ['dispatch', 'opened', true, 'dispatched'],
    ['dispatch', 'dispatched', true, 'dispatched'],
    ['acknowledge', 'dispatched', true, 'acknowledged'],
    ['arrive_on_site', 'acknowledged', true, 'on_site'],
    ['resolve', 'on_site', true, 'resolved'],
    ['resolve', 'acknowledged', true, 'resolved'],
    ['follow_up_satisfied', 'resolved', true, 'closed'],
    ['follow_up_unsatisfied', 'resolved', true, 'dispatched'],
    ['follow_up_unsatisfied', 'resolved', false, 'opened'],
    ['cancel', 'opened', false, 'cancelled'],
    ['cancel', 'on_site', true, 'cancelled'],
    ['reopen', 'closed', true, 'dispatched'],
    ['reopen', 'cancelled', false, 'opened'],
  ];
  it.each(legal)('%s from %s (assigned %s) → %s', (action, from, assigned, to) => {
    expect(nextStatus(action, from, assigned)).toBe(to);
  });

  it('refuses every pair not in the table', () => {
    let refused = 0;
    for (const action of Object.keys(TRANSITIONS) as TicketAction[]) {
      for (const status of TICKET_STATUSES) {
        const allowed = TRANSITIONS[action].from.includes(status);
        expect(nextStatus(action, status, true) !== undefined).toBe(allowed);
        if (!allowed) refused++;
      }
    }
    expect(refused).toBeGreaterThan(40);
    expect(nextStatus('acknowledge', 'opened', true)).toBeUndefined();
    expect(nextStatus('resolve', 'dispatched', true)).toBeUndefined();
    expect(nextStatus('cancel', 'closed', true)).toBeUndefined();
  });
});
