import { PipelineError } from '../app/errors.ts';

/** Errors of the Kafka bus, codes prefixed `GAS_KAFKA_`; `retryable` says whether trying again can help. */
export class KafkaBusError extends PipelineError {
  constructor(
    code: 'GAS_KAFKA_CONNECT' | 'GAS_KAFKA_TOPICS' | 'GAS_KAFKA_PUBLISH' | 'GAS_KAFKA_STATE_LOAD' | 'GAS_KAFKA_CLOSED' | 'GAS_KAFKA_CONSUMER_CRASHED',
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(code, message, options);
  }
}
