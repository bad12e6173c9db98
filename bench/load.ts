/**
 * The same load for every benchmark: the simulator fleet's readings, serialised once into v1 uplink
 * payloads before the clock starts, so what is measured is the system under test and not the
 * load generator. `batchSize` readings per message: 1 is a meter that talks on its own, 100 a
 * concentrator. Published at QoS 1 by a pool of MQTT clients with a bounded window in flight.
 */
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceRecord } from '../contracts/device-record.ts';
import { createFleet, type Fleet } from '../simulators/fleet.ts';

export interface LoadOptions {
  devices: number;
  /** Readings per message; the fleet gets `devices / batchSize` gateways, each reporting all its devices in one message. */
  batchSize: number;
  /** Each round every device reports once; rounds go in order so every gateway's seq rises. */
  rounds: number;
  seed?: number;
  /** Device time of the first round, epoch ms; default: `rounds` steps before now, so nothing is stamped in the future. */
  startMs?: number;
  stepMs?: number;
}

export interface LoadMessage {
  topic: string;
  payload: Buffer;
  readings: number;
}

export interface Load {
  fleet: Fleet;
  registry: DeviceRecord[];
  /** `rounds[r]` is every gateway's message of round r. */
  rounds: LoadMessage[][];
  readings: number;
  messages: number;
  bytes: number;
}

export function buildLoad(options: LoadOptions): Load {
  const { devices, batchSize, rounds } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5000) throw new RangeError(`batchSize must be 1…5000, got ${batchSize}`);
  const stepMs = options.stepMs ?? 30_000;
  const gateways = Math.max(1, Math.ceil(devices / batchSize));
  const fleet = createFleet({ gateways, devices: Math.max(devices, gateways), seed: options.seed ?? 1, stepMs });
  const startMs = options.startMs ?? Date.now() - rounds * stepMs;
  const out: LoadMessage[][] = [];
  let bytes = 0;
  let readings = 0;
  for (let r = 0; r < rounds; r++) {
    const at = new Date(startMs + r * stepMs).toISOString();
    const round: LoadMessage[] = [];
    fleet.byGateway.forEach((members, g) => {
      const gatewayId = fleet.gatewayIds[g]!;
      const batch = members.map((device) => {
        fleet.advance(device);
        return fleet.reading(device, at);
      });
      const payload = Buffer.from(JSON.stringify({ gatewayId, seq: r + 1, sentAt: at, readings: batch }));
      bytes += payload.length;
      readings += batch.length;
      round.push({ topic: `gas/v1/${gatewayId}/up`, payload, readings: batch.length });
    });
    out.push(round);
  }
  return { fleet, registry: fleet.registry(), rounds: out, readings, messages: out.length * gateways, bytes };
}

export interface PublisherOptions {
  url: string;
  /** MQTT connections sharing the load. */
  clients?: number;
  /** Messages published and not yet acknowledged, over all clients. */
  window?: number;
  clientIdPrefix?: string;
  username?: string;
  password?: string;
}

/** A pool of MQTT clients that publishes pre-built messages at QoS 1 with a bounded window. */
export class Publisher {
  readonly #clients: MqttClient[];
  readonly #window: number;

  private constructor(clients: MqttClient[], window: number) {
    this.#clients = clients;
    this.#window = window;
  }

  static async connect(options: PublisherOptions): Promise<Publisher> {
    const count = options.clients ?? 8;
    const prefix = options.clientIdPrefix ?? `bench-${process.pid}`;
    const clients = await Promise.all(Array.from({ length: count }, (_, i) =>
      mqtt.connectAsync(options.url, { clientId: `${prefix}-${i}`, username: options.username, password: options.password, reconnectPeriod: 0 })));
    return new Publisher(clients, options.window ?? 256);
  }

  /**
   * Publishes the messages and resolves when all are acknowledged. Messages of one call may
   * overtake each other: publish one round per call so that every gateway's seq still rises.
   */
  async publishAll(messages: readonly LoadMessage[]): Promise<void> {
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const p = this.#clients[i % this.#clients.length]!.publishAsync(m.topic, m.payload, { qos: 1 });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (inFlight.size >= this.#window) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  }

  /** One message on the least loaded path; for probes such as a timed gas alarm. */
  publishOne(topic: string, payload: Buffer | string): Promise<unknown> {
    return this.#clients[0]!.publishAsync(topic, payload, { qos: 1 });
  }

  async close(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.endAsync()));
  }
}

/** The publisher pool the throughput-shaped benchmarks push with. */
export const PUBLISHER = { clients: 8, window: 256 } as const;

export interface LoadArgs {
  devices: number;
  batchSizes: number[];
  /** Rounds to run at a batch size: `--rounds`, else 2 for single readings (a message each) and 5 for batches. */
  roundsFor(batchSize: number): number;
  out: string;
  /** The load and publisher as a result file's `params` records them. */
  params(): Record<string, unknown>;
}

/** The flags of the benchmarks that push this load through something: `--devices`, `--rounds`, `--batch`, `--out`. */
export function parseLoadArgs(defaultOut: string): LoadArgs {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '100000' },
      rounds: { type: 'string' },
      batch: { type: 'string', default: '1,100' },
      out: { type: 'string', default: defaultOut },
    },
  });
  const devices = Number(values.devices);
  const batchSizes = values.batch.split(',').map(Number);
  if (!(devices >= 1) || batchSizes.some((b) => !Number.isInteger(b) || b < 1)) throw new RangeError('--devices and --batch must be positive integers');
  const roundsFor = (batchSize: number): number => (values.rounds ? Number(values.rounds) : batchSize === 1 ? 2 : 5);
  return {
    devices,
    batchSizes,
    roundsFor,
    out: values.out,
    params: () => ({
      devices,
      batchSizes,
      rounds: Object.fromEntries(batchSizes.map((b) => [b, roundsFor(b)])),
      publisher: { ...PUBLISHER, qos: 1 },
    }),
  };
}
