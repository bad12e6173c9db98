import { Type, type Static } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { EmbeddedBroker, InProcessDelivery } from './embedded-broker.ts';
import type { IngestStage } from './ingest-stage.ts';
import { UPLINK_TOPICS } from './mqtt-source.ts';
import { UplinkLanes, type UrgentLaneObserver } from './uplink-lanes.ts';
import type { WaitingUplink } from './uplink-queue.ts';

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

/**
 * Ingest's source on the embedded broker: it takes the broker's messages in process, with no MQTT
 * connection in between, and hands them to ingest through `UplinkLanes`: possible gas alarms ahead
 * of other gateways' waiting batches, each gateway's in order, `maxInFlight` at a time (one on the
 * in-process bus) within `turnBudgetMs` slices.
 *
 * A delivery is released to the broker as soon as it is queued here, so a gateway's connection
 * goes on being read (a leak behind its routine batch gets in); past `maxWaiting` deliveries are
 * held until ingest catches up, and the broker stops reading their publishers: back-pressure to
 * the gateways, not an unbounded queue. The broker acknowledges a QoS 1 publish on receipt, as
 * before; a message ingest fails on keeps its place at the front and is tried again; messages
 * waiting here when the source stops are still handed to ingest.
 */
export class EmbeddedSource {
  readonly #lanes: UplinkLanes<WaitingUplink>;
  /** Deliveries past `maxWaiting`, released as the queue shortens. */
  readonly #held: Array<() => void> = [];
  readonly #deliver: InProcessDelivery = (packet, release) => {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    // Released (the broker may deliver the next one, even at once) before ingest is handed anything.
    this.#lanes.offer({ topic: packet.topic, payload }, () => {
      if (this.#lanes.waiting <= this.options.maxWaiting) release();
      else this.#held.push(release);
    });
  };

  constructor(
    private readonly options: EmbeddedSourceOptions,
    private readonly broker: EmbeddedBroker,
    ingest: IngestStage,
    /** The lowest gas-alarm first set point any device uses, %LEL. */
    lowestL1LelPct: () => number,
    observer: UrgentLaneObserver,
    private readonly log: Logger,
  ) {
    this.#lanes = new UplinkLanes(options, ingest, lowestL1LelPct, observer, {
      failed: (message, err) => {
        // Ingest itself never throws for bad input: this is downstream trouble.
        this.log.error({ err, topic: message.topic, retryInMs: options.retryAfterMs }, 'Uplink message failed downstream; trying it again');
        return 'retry';
      },
      taken: () => {
        while (this.#held.length > 0 && this.#lanes.waiting < this.options.maxWaiting) this.#held.shift()!();
      },
    });
  }

  async start(): Promise<void> {
    for (const topic of UPLINK_TOPICS) await this.broker.subscribeInProcess(topic, this.#deliver);
    this.log.info({ topics: UPLINK_TOPICS }, 'Ingest subscribed to the embedded broker in process');
  }

  /** Stops taking messages, then lets ingest finish those already waiting. */
  async stop(): Promise<void> {
    for (const topic of UPLINK_TOPICS) await this.broker.unsubscribeInProcess(topic, this.#deliver);
    await this.#lanes.idle();
  }
}
