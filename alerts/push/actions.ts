/**
 * Acting on a ticket from a phone notification (issue 14): a channel puts a signed, single-use,
 * expiring token into its button or link; whoever redeems it acts as the person it was issued to.
 * The token is the only credential such a request carries, so it names person, ticket and action.
 */

/** What a button on a phone may do to a ticket. */
export type PhoneAction = 'acknowledge' | 'on_site';

export interface ActionClaim {
  personId: string;
  ticketId: string;
  action: PhoneAction;
}

/** Issues action tokens (HMAC-SHA256 signed, expiring, single-use). */
export interface ActionTokenIssuer {
  /** `ttlMs` absent: the configured default. */
  issue(claim: ActionClaim, ttlMs?: number): string;
}

/** Performs a redeemed action as that person; throws the ticket service's typed errors. */
export interface ActionApplier {
  /** `via`: where the action came from (channel instance name, or `link`), kept in the audit trail. */
  apply(a: ActionClaim & { via: string }): Promise<{ ticketId: string; status: string }>;
}
