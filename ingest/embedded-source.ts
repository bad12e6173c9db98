import { Type, type Static } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { EmbeddedBroker, InProcessDelivery } from './embedded-broker.ts';
import type { IngestStage } from './ingest-stage.ts';
import { TurnBudget, UPLINK_TOPICS } from './mqtt-source.ts';
import { UplinkQueue, type WaitingUplink } from './uplink-queue.ts';
import { mayRaiseGasAlarm } from './urgent-uplink.ts';

export const EmbeddedSourceOptionsSchema = Type.Object({
  turnBudgetMs: Type.Number({
    default: 2,
    minimum: 0,
    // Shorter than MqttSource's 5 ms: a gateway's publish is read and passed on by the broker between
    // slices, so a leak waits up to a slice or two before it can go first (measured: 7-18 ms at 5).
    description: 'how long ingest may work through waiting messages in one turn of the event loop before it lets timers and I/O run and the broker take in new messages (0: yield after every message), ms',
  }),
  maxWaiting: Type.Integer({
    default: 100,
    minimum: 1,
    description: 'messages that may wait for ingest here, where possible gas alarms can go first; beyond it the broker stops reading the publishers whose messages wait',
  }),
  retryAfterMs: Type.Integer({ default: 1000, minimum: 1, description: 'wait before ingest tries again a message it failed on' }),
  maxInFlight: Type.Integer({
    default: 1,
    minimum: 1,
    description: 'messages with ingest at once; more than one pays on Kafka, where a publish waits for the brokers (the bus keeps their order)',
  }),
});
export type EmbeddedSourceOptions = Static<typeof EmbeddedSourceOptionsSchema>;

/** What the runner counts about the urgent lane. */
export interface UrgentLaneObserver {
  /** An uplink that may raise a gas alarm went ahead of `overtaken` waiting messages of other gateways. */
  onUrgent(overtaken: number): void;
}

/**
 * Ingest's source on the embedded broker: it takes the broker's messages in process, with no MQTT
 * connection in between, and decides itself in what order ingest sees them. An uplink that may
 * raise a gas alarm (`urgent-uplink.ts`, judged only while others wait) goes ahead of other
 * gateways' waiting batches (`uplink-queue.ts`), so a leak behind a district's routine readings
 * waits for the batch in hand, not for the backlog.
 *
 * Ingest takes up to `maxInFlight` messages at a time (one on the in-process bus), in each
 * gateway's order, within `turnBudgetMs` slices (`TurnBudget`). A delivery is released to the broker as soon as it is queued here, so a
 * gateway's connection goes on being read (a leak behind its routine batch gets in); past
 * `maxWaiting` deliveries are held until ingest catches up, and the broker stops reading their
 * publishers: back-pressure to the gateways, not an unbounded queue. The broker acknowledges a
 * QoS 1 publish on receipt, as before; messages waiting here when the source stops are still
 * handed to ingest.
 */
export class EmbeddedSource {
  readonly #queue = new UplinkQueue();
  readonly #budget: TurnBudget;
  /** Urgent messages get a budget of their own: they never wait for routine work's next slice. */
  readonly #urgentBudget: TurnBudget;
  /** Deliveries past `maxWaiting`, released as the queue shortens. */
  readonly #held: Array<() => void> = [];
  /** Messages with ingest (or taken for an urgent slice about to start). */
  #inHand = 0;
  /** A routine slice is scheduled on `#budget`. */
  #scheduled = false;
  #stopped = false;
  #drained?: () => void;
  readonly #deliver: InProcessDelivery = (packet, release) => {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const message: WaitingUplink = { topic: packet.topic, payload };
    // Only a message that would wait is looked at: with nothing in hand, waiting or about to start
    // (a routine slice may be a turn away), it is taken at once anyway.
    if ((this.#queue.length > 0 || this.#inHand > 0 || this.#scheduled) && mayRaiseGasAlarm(payload, this.lowestL1LelPct())) {
      this.observer.onUrgent(this.#queue.pushUrgent(message));
    } else {
      this.#queue.push(message);
    }
    if (this.#queue.length <= this.options.maxWaiting) release();
    else this.#held.push(release);
    this.#next();
  };

  constructor(
    private readonly options: EmbeddedSourceOptions,
    private readonly broker: EmbeddedBroker,
    private readonly ingest: IngestStage,
    /** The lowest gas-alarm first set point any device uses, %LEL. */
    private readonly lowestL1LelPct: () => number,
    private readonly observer: UrgentLaneObserver,
    private readonly log: Logger,
  ) {
    this.#budget = new TurnBudget(options.turnBudgetMs);
    this.#urgentBudget = new TurnBudget(options.turnBudgetMs);
  }

  async start(): Promise<void> {
    for (const topic of UPLINK_TOPICS) await this.broker.subscribeInProcess(topic, this.#deliver);
    this.log.info({ topics: UPLINK_TOPICS }, 'Ingest subscribed to the embedded broker in process');
  }

  /** Stops taking messages, then lets ingest finish those already waiting. */
  async stop(): Promise<void> {
    for (const topic of UPLINK_TOPICS) await this.broker.unsubscribeInProcess(topic, this.#deliver);
    this.#stopped = true;
    if (this.#inHand === 0 && this.#queue.length === 0) return;
    await new Promise<void>((resolve) => (this.#drained = resolve));
  }

  /**
   * Hands the next message to ingest when none is in hand: an urgent one on the urgent budget, at
   * once unless urgent work already had `turnBudgetMs` this turn; the rest on the routine budget,
   * whose next slice may be a turn or two away. The message is chosen when its slice starts, so a
   * leak queued meanwhile is taken first.
   */
  #next(): void {
    if (this.#inHand >= this.options.maxInFlight) return;
    if (this.#queue.urgentWaiting) {
      this.#inHand++;
      this.#urgentBudget.run(this.#take);
    } else if (this.#queue.length > 0) {
      if (this.#scheduled) return;
      this.#scheduled = true;
      this.#budget.run(this.#routineSlice);
    } else if (this.#stopped && this.#inHand === 0) {
      this.#drained?.();
    }
  }

  readonly #routineSlice = (): void => {
    this.#scheduled = false;
    // Urgent messages went in hand meanwhile; once one is taken, #next schedules again.
    if (this.#inHand >= this.options.maxInFlight) return;
    // The urgent lane may have taken every waiting message meanwhile (a leak takes its gateway's
    // earlier batches with it).
    if (this.#queue.length === 0) return this.#next();
    this.#inHand++;
    this.#take();
  };

  readonly #take = (): void => {
    const message = this.#queue.shift();
    // Another take of this turn emptied the queue first.
    if (message === undefined) {
      this.#inHand--;
      return this.#next();
    }
    while (this.#held.length > 0 && this.#queue.length < this.options.maxWaiting) this.#held.shift()!();
    this.ingest.handle(message.topic, message.payload).then(
      () => {
        this.#inHand--;
        this.#next();
      },
      (err: unknown) => {
        // Ingest itself never throws for bad input: this is downstream trouble. The message keeps
        // its place at the front.
        this.log.error({ err, topic: message.topic, retryInMs: this.options.retryAfterMs }, 'Uplink message failed downstream; trying it again');
        this.#queue.unshift(message);
        setTimeout(() => {
          this.#inHand--;
          this.#next();
        }, this.options.retryAfterMs);
      },
    );
    // With room for more (Kafka), the next one starts while this one waits for the brokers.
    this.#next();
  };
}
