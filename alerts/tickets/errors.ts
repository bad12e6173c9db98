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

/**
 * 确认故障已消除: a ticket whose leak is still active cannot be resolved, or the alarm would be left
 * with no open ticket. A supervisor may override with a reason, which is recorded.
 */
export class SafetyConditionsActiveError extends PipelineError {
  constructor(
    readonly ticketId: string,
    readonly conditions: readonly string[],
  ) {
    super('GAS_TICKET_SAFETY_ACTIVE', `Ticket ${ticketId} cannot be resolved while ${conditions.join(', ')} ${conditions.length > 1 ? 'are' : 'is'} still active: confirm the fault is gone (the device must report normal), or a supervisor resolves it with overrideReason`);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), ticketId: this.ticketId, conditions: this.conditions };
  }
}

/**
 * A device ticket is not cancelled while its device still reports a fault: the condition would be
 * left with no live ticket. It is resolved once the work is done, or cancelled after the fault cleared.
 */
export class ConditionsActiveError extends PipelineError {
  constructor(
    readonly ticketId: string,
    readonly conditions: readonly string[],
  ) {
    super('GAS_TICKET_CONDITIONS_ACTIVE', `Ticket ${ticketId} cannot be cancelled while ${conditions.join(', ')} ${conditions.length > 1 ? 'are' : 'is'} still active: resolve it when the work is done, or cancel once the device reports normal`);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), ticketId: this.ticketId, conditions: this.conditions };
  }
}
