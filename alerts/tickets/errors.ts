import { PipelineError } from '../../app/errors.ts';
import type { TicketAction, TicketStatus } from './ticket-lifecycle.ts';

export class TicketNotFoundError extends PipelineError {
  constructor(readonly ticketId: string) {
    super('GAS_TICKET_NOT_FOUND', `No ticket ${ticketId}`);
  }
}

/** The action is not allowed from the ticket's status (see TRANSITIONS). */
export class IllegalTransitionError extends PipelineError {
  constructor(
    readonly ticketId: string,
    readonly action: TicketAction,
    readonly status: TicketStatus,
  ) {
    super('GAS_TICKET_ILLEGAL_TRANSITION', `Ticket ${ticketId}: cannot ${action} when ${status}`);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), ticketId: this.ticketId, action: this.action, status: this.status };
  }
}

/** Reopening would give the device a second open ticket: a newer one is already open. */
export class TicketConflictError extends PipelineError {
  constructor(message: string) {
    super('GAS_TICKET_CONFLICT', message);
  }
}

export class TicketInputError extends PipelineError {
  constructor(message: string) {
    super('GAS_TICKET_INVALID_INPUT', message);
  }
}
