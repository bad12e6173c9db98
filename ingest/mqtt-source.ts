import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from 'pino';
import { redactUrl } from '../app/logging.ts';
import type { IngestStage } from './ingest-stage.ts';
import { OrderedAcks, type InFlightMessage } from './ordered-acks.ts';
import { UplinkLanes, type UrgentLaneObserver } from './uplink-lanes.ts';
import type { WaitingUplink } from './uplink-queue.ts';

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

/** How long a stop waits for the messages ingest took, ms. */
const STOP_WAIT_MS = 5_000;

/** A message of ingest's connection waiting for ingest, with its place among the PUBACKs. */
interface ConnectionUplink extends WaitingUplink {
  inFlight: InFlightMessage;
}

/**
 * Ingest's source on an external broker (Mosquitto, EMQX), as an MQTT client on a persistent
 * session. Packets are taken off the connection as they come, up to `maxInFlight` not yet
 * acknowledged, and handed to ingest through `UplinkLanes`: possible gas alarms ahead of other
 * gateways' waiting batches, each gateway's in order, within `turnBudgetMs` slices. Each message
 * is acknowledged once its readings are on the bus, in the order received (`OrderedAcks`): a
 * crash or a failure downstream has the broker send again whatever was not.
 */
export class MqttSource {
  #client?: MqttClient;
  #lanes?: UplinkLanes<ConnectionUplink>;
  #stopping = false;
  #stopped?: Promise<void>;

  constructor(
    private readonly options: MqttSourceOptions,
    private readonly ingest: IngestStage,
    /** The lowest gas-alarm first set point any device uses, %LEL. */
    private readonly lowestL1LelPct: () => number,
    private readonly observer: UrgentLaneObserver,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { url, clientId, username, password, reconnectPeriodMs, sharedGroup, caFile } = this.options;
    const opts: IClientOptions = { clientId, clean: false, username, password, reconnectPeriod: reconnectPeriodMs, manualConnect: true };
    if (caFile) opts.ca = readFileSync(caFile);
    const client = mqtt.connect(url, opts);
    const maxInFlight = this.options.maxInFlight ?? 1;
    const acks = new OrderedAcks(maxInFlight);
    const lanes = new UplinkLanes<ConnectionUplink>(
      { turnBudgetMs: this.options.turnBudgetMs ?? DEFAULT_TURN_BUDGET_MS, maxInFlight, retryAfterMs: 0 },
      this.ingest,
      this.lowestL1LelPct,
      this.observer,
      {
        handled: (message) => acks.settle(message.inFlight),
        failed: (message, err) => {
          // Ingest itself never throws for bad input: this is a fault downstream. Nothing from here
          // on is acknowledged; a new connection has the broker send it all again.
          this.log.error({ err, topic: message.topic }, 'Uplink message failed downstream; reconnecting for redelivery');
          acks.fail(message.inFlight);
          client.stream?.destroy();
          return 'drop';
        },
        // What waits from a connection that failed or closed comes again on the next one.
        wanted: (message) => acks.isCurrent(message.inFlight),
      },
    );
    this.#lanes = lanes;
    // mqtt.js asks to send a message's PUBACK in the callback that also lets it parse the next
    // packet, so up to maxInFlight messages are taken at once only if the PUBACK waits apart:
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
    client.handleMessage = (packet, takeNext) => {
      // Stopping: no further packet is taken; the broker sends it again to the next session.
      if (this.#stopping) return;
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const inFlight = acks.begin(packet.qos > 0 ? packet.messageId : undefined, () => takeNext());
      lanes.offer({ topic: packet.topic, payload, inFlight });
    };
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

  /**
   * Takes no further message, lets ingest finish those it took (their PUBACKs go out) for up to
   * STOP_WAIT_MS, then disconnects: with the bus down they would wait for ever, and the broker
   * sends whatever was not acknowledged to the next session anyway.
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping = true;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#lanes?.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)))]);
      clearTimeout(timer);
      await this.#client?.endAsync();
    })();
    return this.#stopped;
  }
}
