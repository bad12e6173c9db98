import { PipelineError } from '../../app/errors.ts';

/** A migration file failed or is malformed: refused at start. */
export class MigrationError extends PipelineError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('GAS_DB_MIGRATION_FAILED', message, options);
  }
}

/** The database could not be opened or reached; retrying (e.g. when PostgreSQL is starting) may help. */
export class DbUnavailableError extends PipelineError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('GAS_DB_UNAVAILABLE', message, { ...options, retryable: true });
  }
}
