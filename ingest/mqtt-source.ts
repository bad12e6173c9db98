import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Type, type Static } from '@sinclair/typebox';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
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
    // mqtt.js sends the PUBACK when `done` is called without an error, and only then parses on to the
    // next packet: a message is acknowledged once the bus took it, and the next waits its turn.
    client.handleMessage = (packet, done) => budget.run(() => {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      this.ingest.handle(packet.topic, payload).then(
        () => done(),
        (err: unknown) => {
          // Not acknowledged: the broker redelivers. Ingest itself never throws for bad input.
          this.log.error({ err, topic: packet.topic }, 'Uplink message failed downstream');
          done(err as Error);
        },
      );
    });
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
