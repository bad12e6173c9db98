import { PipelineError } from '../app/errors.ts';

/** Errors of the Kafka bus, codes prefixed `GAS_KAFKA_`; `retryable` says whether trying again can help. */
export class KafkaBusError extends PipelineError {
  constructor(
    code: 'GAS_KAFKA_CONNECT' | 'GAS_KAFKA_TOPICS' | 'GAS_KAFKA_PUBLISH' | 'GAS_KAFKA_STATE_LOAD' | 'GAS_KAFKA_CLOSED' | 'GAS_KAFKA_CONSUMER_CRASHED'
  | 'GAS_KAFKA_COMMIT',
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(code, message, options);
  }
}

/**
 * Runs a broker call again while it fails with an error kafkajs marks retriable (NOT_LEADER and
 * the like right after topics are created or leaders move, until metadata settles).
 */
export async function retryRetriable<T>(call: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= attempts || !(err as { retriable?: boolean }).retriable) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
}
