import type { Bus } from '../contracts/bus.ts';
import type { DeadLetter } from '../contracts/messages.ts';
import type { Clock } from '../app/clock.ts';
import { BatchSequence, type SeqOutcome } from './batch-sequence.ts';
import type { UplinkDecoder } from './uplink-decoder.ts';

/** What the runner counts about ingest; the stage itself holds no metrics code. */
export interface IngestObserver {
  onMessage(kind: 'up' | 'status' | 'other'): void;
  onReadings(count: number): void;
  onRejects(letters: readonly DeadLetter[]): void;
  onSequence(outcome: SeqOutcome, gatewayId: string): void;
  /** The bus refused a publish (Kafka down or restarting); it is tried again after `retryInMs`. */
  onBusRetry(err: unknown, attempt: number, retryInMs: number): void;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * MQTT message → validated readings on the bus. The returned promise resolves once the bus has
 * accepted everything, and only then may the source acknowledge the MQTT message. A publish the
 * bus refuses is tried again until it is accepted: the batch's seq is already recorded, so a
 * redelivery of the message would be dropped as a duplicate, and meanwhile the unacknowledged
 * message holds the gateway's later ones back at the broker.
 */
export class IngestStage {
  readonly #sequence: BatchSequence;

  constructor(
    private readonly decoder: UplinkDecoder,
    private readonly bus: Bus,
    private readonly clock: Clock,
    private readonly observer: IngestObserver,
    options: { maxSeqJump?: number } = {},
  ) {
    this.#sequence = new BatchSequence(options.maxSeqJump !== undefined ? { maxJump: options.maxSeqJump } : {});
  }

  async handle(topic: string, payload: Buffer): Promise<void> {
    const result = this.decoder.decode(topic, payload, this.clock.now());
    this.observer.onMessage(result.batch ? 'up' : result.status ? 'status' : 'other');
    const pending: Array<Promise<void>> = [];
    const { rejects, status, batch } = result;
    if (rejects.length > 0) {
      this.observer.onRejects(rejects);
      pending.push(this.#untilAccepted(() => this.bus.deadLetters.publish(rejects)));
    }
    if (status) pending.push(this.#untilAccepted(() => this.bus.gatewayStatus.publish([status])));
    if (batch) {
      const outcome = this.#sequence.observe(batch.gatewayId, batch.seq, batch.sentAtMs);
      this.observer.onSequence(outcome, batch.gatewayId);
      if (outcome.verdict === 'new' && batch.readings.length > 0) {
        this.observer.onReadings(batch.readings.length);
        pending.push(this.#untilAccepted(() => this.bus.readings.publish(batch.readings)));
      }
    }
    await Promise.all(pending);
  }

  async #untilAccepted(publish: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await publish();
      } catch (err) {
        const base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(attempt - 1, 10));
        const retryInMs = base / 2 + Math.random() * (base / 2);
        this.observer.onBusRetry(err, attempt, retryInMs);
        await new Promise((resolve) => setTimeout(resolve, retryInMs));
      }
    }
  }
}
