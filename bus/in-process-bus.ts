import type { Bus, Channel } from '../contracts/bus.ts';
import type { AlertEvent, DeadLetter, GatewayStatus, Reading } from '../contracts/messages.ts';

/**
 * The embedded default: publish hands the messages to every consumer group in turn and
 * resolves when all of them have, so back-pressure and acknowledgement reach the source.
 */
export class InProcessChannel<T> implements Channel<T> {
  readonly #handlers: Array<(messages: readonly T[]) => Promise<void> | void> = [];

  async publish(messages: readonly T[]): Promise<void> {
    if (messages.length === 0) return;
    for (const handler of this.#handlers) await handler(messages);
  }

  consume(_group: string, handler: (messages: readonly T[]) => Promise<void> | void): void {
    this.#handlers.push(handler);
  }
}

export class InProcessBus implements Bus {
  readonly readings = new InProcessChannel<Reading>();
  readonly gatewayStatus = new InProcessChannel<GatewayStatus>();
  readonly alertEvents = new InProcessChannel<AlertEvent>();
  readonly deadLetters = new InProcessChannel<DeadLetter>();

  async close(): Promise<void> {}
}
