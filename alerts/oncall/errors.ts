import { PipelineError } from '../../app/errors.ts';

/** An on-call record (person, team, rotation, override, config file) failed its schema or a rule. */
export class OnCallInvalidError extends PipelineError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('GAS_ONCALL_INVALID', message, options);
  }
}

/** A referenced person, team or override does not exist. */
export class OnCallNotFoundError extends PipelineError {
  constructor(readonly what: string, readonly id: string) {
    super('GAS_ONCALL_NOT_FOUND', `No ${what} ${id}`);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), what: this.what, id: this.id };
  }
}
