import type { AlertEvent, DeadLetter, GatewayStatus, Reading } from './messages.ts';

/**
 * The bus between stages. A handler's promise resolving is the acknowledgement: a channel
 * delivers a message again (at-least-once) when its handler failed or the process died before
 * it resolved, so every consumer must be idempotent.
 */
export interface Channel<T> {
  /** Resolves once every consumer has accepted the messages (in-process) or the broker has them. */
  publish(messages: readonly T[]): Promise<void>;
  /** Registers the consumer group's handler; messages with the same key arrive in order. */
  consume(group: string, handler: (messages: readonly T[]) => Promise<void> | void): void;
}

export interface Bus {
  /** Keyed by deviceId so one device's readings stay in order. */
  readonly readings: Channel<Reading>;
  /** Keyed by gatewayId. */
  readonly gatewayStatus: Channel<GatewayStatus>;
  /** Keyed by subjectId. */
  readonly alertEvents: Channel<AlertEvent>;
  readonly deadLetters: Channel<DeadLetter>;
  close(): Promise<void>;
}
