import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Type, type Static } from '@sinclair/typebox';
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from 'pino';
import { redactUrl } from '../app/logging.ts';
import type { IngestStage } from './ingest-stage.ts';
import { OrderedAcks } from './ordered-acks.ts';

export const MqttSourceOptionsSchema = Type.Object({
  url: Type.String({ description: 'broker URL, e.g. mqtt://127.0.0.1:1883' }),
  clientId: Type.String({ default: 'gas-ingest', description: 'stable id so the broker keeps the session (and QoS 1 messages) across reconnects' }),
  sharedGroup: Type.Optional(Type.String({ description: 'MQTT shared-subscription group, so several ingest instances split the gateways' })),
  username: Type.Optional(Type.String()),
  password: Type.Optional(Type.String()),
  reconnectPeriodMs: Type.Integer({ default: 1000, minimum: 100 }),
  caFile: Type.Optional(Type.String({ description: 'PEM CA bundle that signed an mqtts:// broker\'s certificate (MQTT_CA); the system CAs when omitted' })),
  maxInFlight: Type.Integer({
    default: 1,
    minimum: 1,
    description: 'MQTT messages ingest works on at once; each is acknowledged, in the order received, once its readings are on the bus. More than one pays on Kafka, where a publish waits for the brokers; the broker\'s own in-flight limit for this client (Mosquitto: max_inflight_messages) bounds it too',
  }),
  turnBudgetMs: Type.Optional(Type.Number({
    default: 5,
    minimum: 0,
    description: 'how long ingest may work through buffered messages in one turn of the event loop before it lets timers and I/O run (0: yield after every message), ms',
  })),
});
export type MqttSourceOptions = Static<typeof MqttSourceOptionsSchema>;

export const UPLINK_TOPICS = ['gas/v1/+/up', 'gas/v1/+/status'] as const;

const DEFAULT_TURN_BUDGET_MS = 5;

/**
 * Bounds the work done in one turn of the event loop. mqtt.js hands over the packets buffered on
 * its connection one after another on `process.nextTick`, and the in-process bus runs processors and
 * alert book inside each hand-over, so a backlog of a hundred batches used to be worked through in
 * one macrotask (40–110 ms at 80k readings/s) while every timer and socket, an alarm's push among
 * them, waited behind it. `run` starts work at once while the current slice has lasted less than
 * `budgetMs`, else on a later turn, after the loop's timers and I/O. Calls made one after another
 * run in the order they were made (mqtt.js asks for the next message only once the previous one is
 * done).
 */
export class TurnBudget {
  /** When the current slice of work began (`now()`), or -1 when none is open. */
  #sliceStartedAt = -1;
  /** The open slice began in the loop's check phase (a `setImmediate` of ours). */
  #sliceInCheck = false;
  readonly #endSlice = (): void => {
    this.#sliceStartedAt = -1;
  };

  constructor(
    private readonly budgetMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  run(work: () => void): void {
    this.#run(work, false);
  }

  #run(work: () => void, inCheck: boolean): void {
    const now = this.now();
    if (this.#sliceStartedAt < 0) {
      // Ends in this turn's check phase whatever happens: work after that starts a fresh slice.
      this.#sliceStartedAt = now;
      this.#sliceInCheck = inCheck;
      setImmediate(this.#endSlice);
    } else if (now - this.#sliceStartedAt >= this.budgetMs) {
      // Queued after #endSlice, so it opens the next slice. A slice that began in the poll phase
      // (socket data) is followed by this turn's check phase before any timer: go one turn further,
      // or a timer would wait behind two slices.
      const resume = () => this.#run(work, true);
      setImmediate(this.#sliceInCheck ? resume : () => setImmediate(resume));
      return;
    }
    work();
  }
}

export class MqttSource {
  #client?: MqttClient;

  constructor(
    private readonly options: MqttSourceOptions,
    private readonly ingest: IngestStage,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { url, clientId, username, password, reconnectPeriodMs, sharedGroup, caFile } = this.options;
    const opts: IClientOptions = { clientId, clean: false, username, password, reconnectPeriod: reconnectPeriodMs, manualConnect: true };
    if (caFile) opts.ca = readFileSync(caFile);
    const client = mqtt.connect(url, opts);
    const budget = new TurnBudget(this.options.turnBudgetMs ?? DEFAULT_TURN_BUDGET_MS);
    const acks = new OrderedAcks(this.options.maxInFlight ?? 1);
    // mqtt.js asks to send a message's PUBACK in the callback that also lets it parse the next
    // packet, so up to maxInFlight messages are worked on at once only if the PUBACK waits apart:
    // held here until the message and every earlier one are on the bus.
    const internals = client as unknown as { _sendPacket(packet: Packet, ...rest: unknown[]): void };
    const sendPacket = internals._sendPacket.bind(client);
    internals._sendPacket = (packet, ...rest) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined) {
        const callback = rest[0] as ((err?: Error) => void) | undefined;
        if (acks.holdAck(packet.messageId, () => sendPacket(packet))) return callback?.();
      }
      sendPacket(packet, ...rest);
    };
    client.handleMessage = (packet, takeNext) => budget.run(() => {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const message = acks.begin(packet.qos > 0 ? packet.messageId : undefined, () => takeNext());
      this.ingest.handle(packet.topic, payload).then(
        () => acks.settle(message),
        (err: unknown) => {
          // Ingest itself never throws for bad input: this is a fault downstream. Nothing from here
          // on is acknowledged; a new connection has the broker send it all again.
          this.log.error({ err, topic: packet.topic }, 'Uplink message failed downstream; reconnecting for redelivery');
          acks.fail(message);
          client.stream?.destroy();
        },
      );
    });
    client.on('close', () => acks.reset());
    client.on('error', (err) => this.log.warn({ err }, 'MQTT client error'));
    client.on('reconnect', () => this.log.info({ url: redactUrl(url) }, 'Reconnecting to MQTT broker'));
    this.#client = client;
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.connect();
    });
    const topics = UPLINK_TOPICS.map((t) => (sharedGroup ? `$share/${sharedGroup}/${t}` : t));
    await client.subscribeAsync(topics, { qos: 1 });
    this.log.info({ url: redactUrl(url), topics }, 'Ingest subscribed');
  }

  async stop(): Promise<void> {
    await this.#client?.endAsync();
  }
}
