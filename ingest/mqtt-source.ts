import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import mqtt, { MqttClient, type IClientOptions } from 'mqtt';
import type { Logger } from 'pino';
import { redactUrl } from '../app/logging.ts';
import type { IngestStage } from './ingest-stage.ts';

export const MqttSourceOptionsSchema = Type.Object({
  url: Type.String({ description: 'broker URL, e.g. mqtt://127.0.0.1:1883' }),
  clientId: Type.String({ default: 'gas-ingest', description: 'stable id so the broker keeps the session (and QoS 1 messages) across reconnects' }),
  sharedGroup: Type.Optional(Type.String({ description: 'MQTT shared-subscription group, so several ingest instances split the gateways' })),
  username: Type.Optional(Type.String()),
  password: Type.Optional(Type.String()),
  reconnectPeriodMs: Type.Integer({ default: 1000, minimum: 100 }),
  caFile: Type.Optional(Type.String({ description: 'PEM CA bundle that signed an mqtts:// broker\'s certificate (MQTT_CA); the system CAs when omitted' })),
});
export type MqttSourceOptions = Static<typeof MqttSourceOptionsSchema>;

export const UPLINK_TOPICS = ['gas/v1/+/up', 'gas/v1/+/status'] as const;

/**
 * The MQTT input: subscribes to the v1 uplink topics at QoS 1 on a persistent session and
 * acknowledges each message only after ingest has handed it to the bus, so a crash before that
 * makes the broker deliver it again.
 */
export class MqttSource {
  #client?: MqttClient;

  constructor(
    private readonly options: MqttSourceOptions,
    private readonly ingest: IngestStage,
    private readonly log: Logger,
    /** Opens a stream to a broker in this process (the embedded one) instead of dialling `url`. */
    private readonly inProcess?: () => Duplex,
  ) {}

  async start(): Promise<void> {
    const { url, clientId, username, password, reconnectPeriodMs, sharedGroup, caFile } = this.options;
    const opts: IClientOptions = { clientId, clean: false, username, password, reconnectPeriod: reconnectPeriodMs, manualConnect: true };
    if (caFile) opts.ca = readFileSync(caFile);
    const connect = this.inProcess;
    const client = connect ? new MqttClient(() => connect(), opts) : mqtt.connect(url, opts);
    client.handleMessage = (packet, done) => {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      this.ingest.handle(packet.topic, payload).then(
        () => done(),
        (err: unknown) => {
          // Not acknowledged: the broker redelivers. Ingest itself never throws for bad input.
          this.log.error({ err, topic: packet.topic }, 'Uplink message failed downstream');
          done(err as Error);
        },
      );
    };
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
