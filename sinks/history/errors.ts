import { PipelineError } from '../../app/errors.ts';

/**
 * The readings history could not be read (InfluxDB down, refusing or answering nonsense): the
 * API answers 503 with this code. The server's own words go to the log, not to the client.
 */
export class HistoryUnavailableError extends PipelineError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('GAS_HISTORY_UNAVAILABLE', message, { ...options, retryable: true });
  }
}
