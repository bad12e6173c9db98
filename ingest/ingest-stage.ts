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
}

/**
 * MQTT message → validated readings on the bus. The returned promise resolves once the bus has
 * accepted everything, and only then may the source acknowledge the MQTT message.
 */
export class IngestStage {
  readonly #sequence = new BatchSequence();

  constructor(
    private readonly decoder: UplinkDecoder,
    private readonly bus: Bus,
    private readonly clock: Clock,
    private readonly observer: IngestObserver,
  ) {}

  async handle(topic: string, payload: Buffer): Promise<void> {
    const result = this.decoder.decode(topic, payload, this.clock.now());
    this.observer.onMessage(result.batch ? 'up' : result.status ? 'status' : 'other');
    const pending: Array<Promise<void>> = [];
    if (result.rejects.length > 0) {
      this.observer.onRejects(result.rejects);
      pending.push(this.bus.deadLetters.publish(result.rejects));
    }
    if (result.status) pending.push(this.bus.gatewayStatus.publish([result.status]));
    if (result.batch) {
      const outcome = this.#sequence.observe(result.batch.gatewayId, result.batch.seq, result.batch.sentAtMs);
      this.observer.onSequence(outcome, result.batch.gatewayId);
      if (outcome.verdict === 'new' && result.batch.readings.length > 0) {
        this.observer.onReadings(result.batch.readings.length);
        pending.push(this.bus.readings.publish(result.batch.readings));
      }
    }
    await Promise.all(pending);
  }
}
