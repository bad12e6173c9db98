import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import pino, { type Logger } from 'pino';
import type { RejectReason } from '../contracts/messages.ts';
import type { Fleet, WireReading } from './fleet.ts';
import {
  buildScenario,
  MALFORMED_REJECTS,
  OVERSIZE_BYTES,
  type ExpectedAlert,
  type FaultEffect,
  type FaultEpisode,
  type MalformedKind,
  type Scenario,
  type ScenarioName,
  type TrafficAction,
} from './scenarios.ts';

/** Most readings one batch may hold (v1 contract); a gateway with more devices sends several batches a round. */
export const MAX_BATCH_READINGS = 5000;

export const ONLINE_PAYLOAD = '{"online":true}';
export const OFFLINE_PAYLOAD = '{"online":false}';
export const upTopic = (gatewayId: string): string => `gas/v1/${gatewayId}/up`;
export const statusTopic = (gatewayId: string): string => `gas/v1/${gatewayId}/status`;

/** One gateway's connection to the broker. The default is MQTT; tests may capture instead. */
export interface GatewayLink {
  /** Connects with `{"online":false}` as retained last will, then publishes `{"online":true}` retained. */
  connect(): Promise<void>;
  /** Publishes at QoS 1; resolves on the broker's acknowledgement. */
  publish(topic: string, payload: string | Buffer): Promise<void>;
  /** Drops the connection without DISCONNECT, so the broker publishes the last will. */
  drop(): Promise<void>;
  /** Disconnects cleanly (no last will). */
  close(): Promise<void>;
  /** `{"online":true}` publishes so far, reconnects included. */
  readonly statusPublishes: number;
}

export interface LinkOptions {
  url: string;
  log: Logger;
  connectTimeoutMs: number;
  /** The gateway's MQTT password for a broker with per-gateway credentials (user name = gateway id). */
  password?: string;
}

export type LinkFactory = (gatewayId: string, options: LinkOptions) => GatewayLink;

/** A gateway as an MQTT.js client: clientId = gatewayId, persistent session, QoS 1. */
export class MqttGatewayLink implements GatewayLink {
  #client?: MqttClient;
  #statusPublishes = 0;

  constructor(
    readonly gatewayId: string,
    private readonly options: LinkOptions,
  ) {}

  get statusPublishes(): number {
    return this.#statusPublishes;
  }

  async connect(): Promise<void> {
    const { url, connectTimeoutMs, log, password } = this.options;
    const gatewayId = this.gatewayId;
    const topic = statusTopic(gatewayId);
    const client = mqtt.connect(url, {
      clientId: gatewayId,
      ...(password === undefined ? {} : { username: gatewayId, password }),
      clean: false,
      reconnectPeriod: 1000,
      connectTimeout: connectTimeoutMs,
      will: { topic, payload: Buffer.from(OFFLINE_PAYLOAD), qos: 1, retain: true },
    });
    this.#client = client;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`gateway ${gatewayId}: no connection to ${url} within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      const ok = (): void => {
        clearTimeout(timer);
        client.removeListener('error', fail);
        resolve();
      };
      const fail = (err: Error): void => {
        clearTimeout(timer);
        client.removeListener('connect', ok);
        client.end(true);
        reject(new Error(`gateway ${gatewayId}: cannot connect to ${url}: ${err.message}`, { cause: err }));
      };
      client.once('connect', ok);
      client.once('error', fail);
    });
    client.on('error', (err) => log.warn({ err, gatewayId }, 'Gateway MQTT client error'));
    // A real gateway announces itself again after every reconnect.
    client.on('connect', () => {
      this.#announce(client).catch((err: unknown) => log.warn({ err, gatewayId }, 'Gateway could not publish its online status'));
    });
    await this.#announce(client);
  }

  async #announce(client: MqttClient): Promise<void> {
    this.#statusPublishes++;
    await client.publishAsync(statusTopic(this.gatewayId), ONLINE_PAYLOAD, { qos: 1, retain: true });
  }

  async publish(topic: string, payload: string | Buffer): Promise<void> {
    const client = this.#client;
    if (!client) throw new Error(`gateway ${this.gatewayId} is not connected`);
    await client.publishAsync(topic, payload, { qos: 1 });
  }

  async drop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    // force: the socket is destroyed without DISCONNECT, as when power or the line fails.
    await client?.endAsync(true);
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.endAsync();
  }
}

export const mqttLink: LinkFactory = (gatewayId, options) => new MqttGatewayLink(gatewayId, options);

/** What a link received, for tests and dry runs without a broker. */
export interface CapturedMessage {
  gatewayId: string;
  topic: string;
  payload: string | Buffer;
  /** `will` when the connection was dropped: what a broker would publish for it. */
  kind: 'publish' | 'status' | 'will';
}

/** Links that keep every message in memory instead of talking to a broker. */
export class MemoryLinks {
  readonly messages: CapturedMessage[] = [];
  readonly factory: LinkFactory = (gatewayId) => {
    const messages = this.messages;
    let statusPublishes = 0;
    return {
      get statusPublishes() {
        return statusPublishes;
      },
      async connect() {
        statusPublishes++;
        messages.push({ gatewayId, topic: statusTopic(gatewayId), payload: ONLINE_PAYLOAD, kind: 'status' });
      },
      async publish(topic, payload) {
        messages.push({ gatewayId, topic, payload, kind: 'publish' });
      },
      async drop() {
        messages.push({ gatewayId, topic: statusTopic(gatewayId), payload: OFFLINE_PAYLOAD, kind: 'will' });
      },
      async close() {},
    };
  };
}

/** What one publish on an uplink topic was meant to be. */
export type PublishKind = 'batch' | 'mixed' | 'duplicate' | 'late' | 'malformed';

export interface PublishedMessage {
  gatewayId: string;
  topic: string;
  payload: string | Buffer;
  kind: PublishKind;
  /** For `malformed` and `mixed`: which bad traffic it is. */
  malformed?: MalformedKind;
  round: number;
}

export interface SimulationOptions {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** The fleet; a Simulation advances its devices, so give each Simulation its own. */
  fleet: Fleet;
  /** A scenario name (planned on the fleet) or a scenario already built with `buildScenario`. */
  scenario: ScenarioName | Scenario;
  /**
   * Time stamped on readings (`at`) and batches (`sentAt`), epoch ms; must move forward between rounds.
   * @defaultValue sim time: Date.now() at construction, plus stepMs after every round
   */
  clock?: () => number;
  log?: Logger;
  /** @defaultValue 1 — the seq of each gateway's first batch */
  seqStart?: number;
  /** @defaultValue 5000 */
  maxBatchReadings?: number;
  /** Publishes awaiting acknowledgement at once, across gateways. @defaultValue 256 */
  maxInFlight?: number;
  /** @defaultValue 10000 */
  connectTimeoutMs?: number;
  /** @defaultValue MQTT */
  link?: LinkFactory;
  /** Per-gateway MQTT passwords (user name = gateway id), for a broker without anonymous access. */
  gatewayPasswords?: ReadonlyMap<string, string>;
  /** Called for every uplink publish, before it is sent (tests, tracing). */
  onPublish?: (message: PublishedMessage) => void;
}

export interface RunOptions {
  /** @defaultValue the scenario's `rounds` */
  rounds?: number;
  /** Readings per second to publish at; unpaced when absent. */
  rate?: number;
  /** Called with stepMs before every round but the simulation's first, to move a shared (fake) clock. */
  advance?: (stepMs: number) => void | Promise<void>;
  /** Make each round last at least stepMs of wall time, so silence is real silence to a pipeline on the wall clock. */
  realtime?: boolean;
}

export interface RoundResult {
  round: number;
  at: string;
  batches: number;
  readings: number;
}

/** What a run sent, to check the pipeline against: nothing should be lost. */
export interface SimulationReport {
  scenario: ScenarioName;
  gateways: number;
  devices: number;
  stepMs: number;
  /** Rounds run. */
  rounds: number;
  /** Regular batches, one or more per gateway per round (the mixed batch among them). */
  batches: number;
  /** Good readings in the regular batches. */
  readings: number;
  /** Batches published again with their seq: ingest drops them. */
  duplicateBatches: number;
  /** Batches with a new seq but readings older than ones already sent. */
  lateBatches: number;
  lateReadings: number;
  /** Messages sent to be refused whole. */
  malformedMessages: number;
  /** Deliberately bad messages and readings sent, by the reject reason they should get. */
  malformed: Partial<Record<RejectReason, number>>;
  /** Everything published on `gas/v1/+/up`: batches + duplicateBatches + lateBatches + malformedMessages. */
  upMessages: number;
  /** `{"online":true}` publishes on the status topics, reconnects included. */
  statusMessages: number;
  /** Connections dropped so the broker published a last will. */
  outages: number;
  /** Fault episodes that began. */
  faultsInjected: number;
  /** Readings not sent: device silent or gateway down. */
  unsentReadings: number;
  /** Uplink payload bytes. */
  bytes: number;
}

/** Bounds the publishes awaiting acknowledgement and remembers the first failure. */
class PublishWindow {
  #inFlight = 0;
  #error: unknown;
  readonly #slots: Array<() => void> = [];
  readonly #idle: Array<() => void> = [];

  constructor(private readonly max: number) {}

  async run(publish: () => Promise<void>): Promise<void> {
    while (this.#inFlight >= this.max) await new Promise<void>((resolve) => this.#slots.push(resolve));
    this.#inFlight++;
    publish().then(
      () => this.#done(),
      (err: unknown) => {
        this.#error ??= err;
        this.#done();
      },
    );
  }

  #done(): void {
    this.#inFlight--;
    this.#slots.shift()?.();
    if (this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves once everything sent is acknowledged; rejects with the first failure. */
  async drain(): Promise<void> {
    if (this.#inFlight > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    if (this.#error !== undefined) {
      const err = this.#error;
      this.#error = undefined;
      throw err;
    }
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Applies a fault to a reading; `k` is the round within the fault. */
function applyEffect(r: WireReading, e: FaultEffect, k: number): void {
  // A cycling fault is off (the device normal) for the rest of each cycle.
  if (e.cycle && k % (e.cycle.onRounds + e.cycle.offRounds) >= e.cycle.onRounds) return;
  if (e.valveClosed && (r.kind === 'household_meter' || r.kind === 'industrial_controller' || r.kind === 'home_gas_alarm')) r.valve = 'closed';
  if (e.batteryRamp) r.batteryV = Math.round(Math.max(e.batteryRamp.minV, e.batteryRamp.fromV - e.batteryRamp.stepV * k) * 100) / 100;
  if (e.countDriftPct !== undefined && r.volumeM3 !== undefined) r.flowMeterVolumeM3 = round3(r.volumeM3 + Math.max(5, (r.volumeM3 * e.countDriftPct) / 100));
  if (e.flowMeterLagM3PerRound !== undefined && r.volumeM3 !== undefined) r.flowMeterVolumeM3 = round3(r.volumeM3 - e.flowMeterLagM3PerRound * (k + 1));
  if (e.channel && r.detectors) {
    const c = e.channel;
    r.detectors = r.detectors.map((x) => (x.channel === c.channel ? { ...c } : x));
  }
  if (e.fields) Object.assign(r, e.fields);
  if (e.status) r.status = e.status;
}

/** Readings that must each be refused alone while the good ones of their batch go on (see MALFORMED_REJECTS.mixed). */
function badReadings(at: string): unknown[] {
  return [
    { deviceId: 'SIM-BAD-0001', kind: 'household_meter', at, volumeM3: 12.5, batteryV: 'flat', valve: 'open' },
    { deviceId: 'SIM-BAD-0002', kind: 'home_gas_alarm', at, lelPct: 'high', lamps: { power: true, fault: false, alarm: false } },
    { deviceId: 'SIM-BAD-0003', kind: 'water_meter', at, volumeM3: 3.2 },
    { deviceId: 'SIM-BAD-0004', kind: 'household_meter', at: '2099-01-01T00:00:00.000Z', volumeM3: 1, batteryV: 3.6, valve: 'open' },
  ];
}

function syntheticReading(n: number, at: string): WireReading {
  return { deviceId: `SIM-BAD-${String(n).padStart(6, '0')}`, kind: 'household_meter', at, volumeM3: 1, batteryV: 3.6, valve: 'open' };
}

/**
 * Drives a simulated fleet against an MQTT broker: one client per gateway, one round of readings per
 * call, the scenario's faults, outages and bad traffic applied on their rounds. Everything sent is
 * counted in `report()` so a run can be checked for loss.
 */
export class Simulation {
  readonly fleet: Fleet;
  readonly scenario: Scenario;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #ownClock: boolean;
  #simNowMs: number;
  readonly #maxBatch: number;
  readonly #window: PublishWindow;
  readonly #links: GatewayLink[];
  readonly #down: boolean[];
  /** Readings a gateway down with `buffer` kept, oldest first, until its backfill. */
  readonly #buffered: Array<WireReading[] | undefined>;
  readonly #seq: number[];
  readonly #upTopics: string[];
  readonly #gatewayIndex: Map<string, number>;
  /** Fault episodes per device index. */
  readonly #episodes: Array<FaultEpisode[] | undefined>;
  readonly #actions = new Map<number, TrafficAction[]>();
  /** First-batch payloads kept for the duplicate actions, by `gateway:round`. */
  readonly #kept = new Map<string, string | undefined>();
  readonly #onPublish?: (message: PublishedMessage) => void;
  readonly #roundAtMs: number[] = [];
  #round = 0;
  #connected = false;
  #closed = false;
  #stopping = false;
  #pace?: { rate: number; startMs: number; sent: number };
  #sentAtMs = Number.NaN;
  #sentAtIso = '';
  readonly #report: Omit<SimulationReport, 'statusMessages'>;

  constructor(private readonly options: SimulationOptions) {
    const { fleet } = options;
    this.fleet = fleet;
    const scenario = typeof options.scenario === 'string' ? buildScenario(options.scenario, fleet) : options.scenario;
    if (scenario.stepMs !== fleet.options.stepMs) throw new RangeError(`scenario ${scenario.name} was planned for stepMs ${scenario.stepMs}, the fleet steps ${fleet.options.stepMs}`);
    this.scenario = scenario;
    this.#log = options.log ?? pino({ level: 'silent' });
    this.#simNowMs = Date.now();
    this.#ownClock = options.clock === undefined;
    this.#clock = options.clock ?? (() => this.#simNowMs);
    this.#maxBatch = options.maxBatchReadings ?? MAX_BATCH_READINGS;
    if (!Number.isInteger(this.#maxBatch) || this.#maxBatch < 1 || this.#maxBatch > MAX_BATCH_READINGS) throw new RangeError(`maxBatchReadings must be an integer from 1 to ${MAX_BATCH_READINGS}`);
    this.#window = new PublishWindow(options.maxInFlight ?? 256);
    this.#onPublish = options.onPublish;

    const link = options.link ?? mqttLink;
    const linkOptions: LinkOptions = { url: options.url, log: this.#log, connectTimeoutMs: options.connectTimeoutMs ?? 10_000 };
    const passwords = options.gatewayPasswords;
    const gatewayIds = fleet.gatewayIds;
    this.#links = gatewayIds.map((id) => link(id, passwords?.has(id) ? { ...linkOptions, password: passwords.get(id) } : linkOptions));
    this.#down = gatewayIds.map(() => false);
    this.#buffered = gatewayIds.map(() => undefined);
    this.#seq = gatewayIds.map(() => (options.seqStart ?? 1) - 1);
    this.#upTopics = gatewayIds.map(upTopic);
    this.#gatewayIndex = new Map(gatewayIds.map((id, g) => [id, g]));

    this.#episodes = new Array(fleet.devices.length);
    for (const e of scenario.faults) {
      const d = fleet.device(e.deviceId);
      if (!d) throw new RangeError(`scenario ${scenario.name} names device ${e.deviceId}, which is not in the fleet`);
      (this.#episodes[d.index] ??= []).push(e);
    }
    for (const a of scenario.actions) {
      if (!this.#gatewayIndex.has(a.gatewayId)) throw new RangeError(`scenario ${scenario.name} names gateway ${a.gatewayId}, which is not in the fleet`);
      let list = this.#actions.get(a.round);
      if (!list) this.#actions.set(a.round, (list = []));
      list.push(a);
      if (a.type === 'duplicate') this.#kept.set(`${this.#gatewayIndex.get(a.gatewayId)}:${a.ofRound}`, undefined);
    }

    this.#report = {
      scenario: scenario.name,
      gateways: fleet.gatewayIds.length,
      devices: fleet.devices.length,
      stepMs: fleet.options.stepMs,
      rounds: 0,
      batches: 0,
      readings: 0,
      duplicateBatches: 0,
      lateBatches: 0,
      lateReadings: 0,
      malformedMessages: 0,
      malformed: {},
      upMessages: 0,
      outages: 0,
      faultsInjected: 0,
      unsentReadings: 0,
      bytes: 0,
    };
  }

  /** Every alert the scenario should raise and clear (assuming the pipeline loaded `fleet.registry()`). */
  get expected(): readonly ExpectedAlert[] {
    return this.scenario.expected;
  }

  /** Ingest rejects the scenario provokes, by reason. */
  get expectedRejects(): Readonly<Partial<Record<RejectReason, number>>> {
    return this.scenario.expectedRejects;
  }

  /** Rounds run so far; the next round's number. */
  get round(): number {
    return this.#round;
  }

  /** Connects every gateway (a bounded number at a time); each announces `{"online":true}`. */
  async connect(): Promise<void> {
    if (this.#closed) throw new Error('Simulation is closed');
    if (this.#connected) return;
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < this.#links.length) {
        const g = next++;
        await this.#links[g]!.connect();
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(64, this.#links.length) }, worker));
    } catch (err) {
      failed = true;
      await Promise.allSettled(this.#links.map((l) => l.close()));
      throw err;
    }
    this.#connected = true;
    this.#log.info({ url: this.options.url, gateways: this.#links.length }, 'Gateways connected');
  }

  /**
   * One round: the scenario's outages, every device advanced one step, every reporting device's reading
   * stamped `clock()`, each gateway's readings in batches (seq + 1 each), then the scenario's extra
   * traffic. Resolves when the broker has acknowledged every publish.
   */
  async runRound(): Promise<RoundResult> {
    if (!this.#connected || this.#closed) throw new Error('Simulation is not connected: call connect() first');
    const round = this.#round;
    const now = this.#clock();
    const previous = this.#roundAtMs[round - 1];
    if (previous !== undefined && !(now > previous)) {
      throw new Error(`clock did not move forward since round ${round - 1} (${new Date(previous).toISOString()}): readings would be judged late; move it between rounds (run({ advance }))`);
    }
    this.#roundAtMs.push(now);
    const at = new Date(now).toISOString();
    const before = { batches: this.#report.batches, readings: this.#report.readings };
    const actions = this.#actions.get(round);

    if (actions) {
      for (const a of actions) {
        if (a.type === 'gateway-down') await this.#gatewayDown(a.gatewayId, a.buffer === true);
        else if (a.type === 'gateway-up') await this.#gatewayUp(a.gatewayId);
      }
    }

    const { fleet } = this;
    const report = this.#report;
    for (let g = 0; g < this.#links.length; g++) {
      const devices = fleet.byGateway[g]!;
      const up = !this.#down[g];
      const buffer = this.#buffered[g];
      const readings: WireReading[] = [];
      for (let i = 0; i < devices.length; i++) {
        const d = devices[i]!;
        const episodes = this.#episodes[d.index];
        let episode: FaultEpisode | undefined;
        if (episodes) {
          for (const e of episodes) {
            if (round >= e.fromRound && round < e.toRound) {
              episode = e;
              break;
            }
          }
          if (episode?.fromRound === round) report.faultsInjected++;
        }
        // Physics advance for every device, reporting or not, so values never depend on connectivity.
        fleet.advance(d, episode?.effect);
        if (!up && buffer && !episode?.effect.silent) {
          const r = fleet.reading(d, at);
          if (episode) applyEffect(r, episode.effect, round - episode.fromRound);
          buffer.push(r);
          continue;
        }
        if (!up || episode?.effect.silent) {
          report.unsentReadings++;
          continue;
        }
        const r = fleet.reading(d, at);
        if (episode) applyEffect(r, episode.effect, round - episode.fromRound);
        readings.push(r);
      }
      if (!up) continue;
      const mixed = actions?.some((a) => a.type === 'malformed' && a.what === 'mixed' && this.#gatewayIndex.get(a.gatewayId) === g);
      await this.#publishReadings(g, readings, mixed ? badReadings(at) : undefined, round);
    }

    if (actions) {
      for (const a of actions) {
        if (a.type === 'duplicate') await this.#duplicate(a, round);
        else if (a.type === 'late-batch') await this.#late(a, round);
        else if (a.type === 'backfill') await this.#backfill(a, round);
        else if (a.type === 'malformed' && a.what !== 'mixed') await this.#malformed(a, at, round);
      }
    }

    await this.#window.drain();
    this.#round++;
    report.rounds = this.#round;
    if (this.#ownClock) this.#simNowMs += fleet.options.stepMs;
    return { round, at, batches: report.batches - before.batches, readings: report.readings - before.readings };
  }

  /**
   * Runs rounds, paced to `rate` readings/s when given, calling `advance(stepMs)` between rounds.
   * Resolves with the report once every publish is acknowledged (or after `stop()`).
   */
  async run(options: RunOptions = {}): Promise<SimulationReport> {
    const rounds = options.rounds ?? this.scenario.rounds;
    if (!Number.isInteger(rounds) || rounds < 0) throw new RangeError(`rounds must be a non-negative integer, got ${rounds}`);
    const { rate, advance, realtime = false } = options;
    if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) throw new RangeError(`rate must be a positive number of readings per second, got ${rate}`);
    if (rounds < this.scenario.rounds && this.scenario.expected.length > 0) {
      this.#log.warn({ rounds, needed: this.scenario.rounds, scenario: this.scenario.name }, 'Fewer rounds than the scenario needs: not every fault will be raised and cleared');
    }
    const stepMs = this.fleet.options.stepMs;
    this.#stopping = false;
    this.#pace = rate === undefined ? undefined : { rate, startMs: performance.now(), sent: 0 };
    let lastLogMs = performance.now();
    try {
      for (let i = 0; i < rounds && !this.#stopping; i++) {
        const startedMs = performance.now();
        if (this.#round > 0 && advance) await advance(stepMs);
        const result = await this.runRound();
        const nowMs = performance.now();
        if (nowMs - lastLogMs >= 1000 || i === rounds - 1) {
          lastLogMs = nowMs;
          this.#log.info({ round: result.round + 1, rounds, at: result.at, readings: this.#report.readings, upMessages: this.#report.upMessages }, 'Simulation progress');
        }
        if (realtime && i < rounds - 1) {
          const waitMs = startedMs + stepMs - performance.now();
          if (waitMs > 0) await sleep(waitMs);
        }
      }
    } finally {
      this.#pace = undefined;
    }
    return this.report();
  }

  /** Makes `run()` finish after the round in progress. */
  stop(): void {
    this.#stopping = true;
  }

  report(): SimulationReport {
    let statusMessages = 0;
    for (const l of this.#links) statusMessages += l.statusPublishes;
    return { ...this.#report, malformed: { ...this.#report.malformed }, statusMessages };
  }

  /** Waits for outstanding acknowledgements, then disconnects every gateway cleanly (no last will). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#window.drain();
    } finally {
      await Promise.all(this.#links.map((l) => l.close()));
    }
  }

  #sentAt(): string {
    const now = this.#clock();
    if (now !== this.#sentAtMs) {
      this.#sentAtMs = now;
      this.#sentAtIso = new Date(now).toISOString();
    }
    return this.#sentAtIso;
  }

  async #send(g: number, payload: string | Buffer, readings: number, kind: PublishKind, round: number, malformed?: MalformedKind): Promise<void> {
    const pace = this.#pace;
    if (pace) {
      // Due when the readings sent before it have had their share of time at `rate`.
      const waitMs = pace.startMs + (pace.sent / pace.rate) * 1000 - performance.now();
      pace.sent += readings;
      if (waitMs >= 1) await sleep(waitMs);
    }
    const topic = this.#upTopics[g]!;
    const report = this.#report;
    report.upMessages++;
    report.bytes += typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    this.#onPublish?.({ gatewayId: this.fleet.gatewayIds[g]!, topic, payload, kind, round, ...(malformed ? { malformed } : {}) });
    const link = this.#links[g]!;
    await this.#window.run(() => link.publish(topic, payload));
  }

  #nextBatch(g: number, readings: unknown[]): string {
    return JSON.stringify({ gatewayId: this.fleet.gatewayIds[g], seq: ++this.#seq[g], sentAt: this.#sentAt(), readings });
  }

  async #publishReadings(g: number, readings: WireReading[], bad: unknown[] | undefined, round: number): Promise<void> {
    const all: unknown[] = bad ? [...readings, ...bad] : readings;
    const max = this.#maxBatch;
    const good = readings.length;
    for (let i = 0; i < all.length; i += max) {
      const chunk = i === 0 && all.length <= max ? all : all.slice(i, i + max);
      const payload = this.#nextBatch(g, chunk);
      if (i === 0 && this.#kept.size > 0) {
        const key = `${g}:${round}`;
        if (this.#kept.has(key)) this.#kept.set(key, payload);
      }
      const goodInChunk = Math.max(0, Math.min(good, i + chunk.length) - i);
      const isMixed = goodInChunk < chunk.length;
      this.#report.batches++;
      this.#report.readings += goodInChunk;
      if (isMixed) this.#count('mixed');
      await this.#send(g, payload, chunk.length, isMixed ? 'mixed' : 'batch', round, isMixed ? 'mixed' : undefined);
    }
  }

  #count(what: MalformedKind): void {
    const counts = this.#report.malformed;
    for (const [reason, n] of Object.entries(MALFORMED_REJECTS[what]) as Array<[RejectReason, number]>) counts[reason] = (counts[reason] ?? 0) + n;
    if (what !== 'mixed') this.#report.malformedMessages++;
  }

  async #gatewayDown(gatewayId: string, buffer: boolean): Promise<void> {
    const g = this.#gatewayIndex.get(gatewayId)!;
    if (this.#down[g]) return;
    this.#down[g] = true;
    if (buffer) this.#buffered[g] = [];
    await this.#links[g]!.drop();
    this.#report.outages++;
    this.#log.info({ gatewayId, round: this.#round }, 'Gateway connection dropped (last will)');
  }

  async #gatewayUp(gatewayId: string): Promise<void> {
    const g = this.#gatewayIndex.get(gatewayId)!;
    if (!this.#down[g]) return;
    await this.#links[g]!.connect();
    this.#down[g] = false;
    this.#log.info({ gatewayId, round: this.#round }, 'Gateway reconnected');
  }

  async #duplicate(a: Extract<TrafficAction, { type: 'duplicate' }>, round: number): Promise<void> {
    const g = this.#gatewayIndex.get(a.gatewayId)!;
    const payload = this.#kept.get(`${g}:${a.ofRound}`);
    if (payload === undefined || this.#down[g]) return;
    this.#report.duplicateBatches++;
    await this.#send(g, payload, 0, 'duplicate', round);
  }

  async #late(a: Extract<TrafficAction, { type: 'late-batch' }>, round: number): Promise<void> {
    const g = this.#gatewayIndex.get(a.gatewayId)!;
    const atMs = this.#roundAtMs[a.ofRound];
    if (atMs === undefined || this.#down[g]) return;
    const at = new Date(atMs).toISOString();
    const readings: WireReading[] = [];
    for (const { deviceId, effect } of a.readings) {
      const d = this.fleet.device(deviceId);
      if (!d) continue;
      const r = this.fleet.reading(d, at);
      applyEffect(r, effect, 0);
      readings.push(r);
    }
    if (readings.length === 0) return;
    this.#report.lateBatches++;
    this.#report.lateReadings += readings.length;
    await this.#send(g, this.#nextBatch(g, readings), readings.length, 'late', round);
  }

  /** The readings buffered while down, in batches of at most `maxReadingsPerBatch`, each with a new seq. */
  async #backfill(a: Extract<TrafficAction, { type: 'backfill' }>, round: number): Promise<void> {
    const g = this.#gatewayIndex.get(a.gatewayId)!;
    const buffered = this.#buffered[g];
    if (!buffered || buffered.length === 0 || this.#down[g]) return;
    const max = this.#maxBatch;
    for (let delivery = 0; delivery < a.deliveries; delivery++) {
      for (let i = 0; i < buffered.length; i += max) {
        const chunk = buffered.slice(i, i + max);
        this.#report.lateBatches++;
        this.#report.lateReadings += chunk.length;
        await this.#send(g, this.#nextBatch(g, chunk), chunk.length, 'late', round);
      }
    }
    this.#buffered[g] = undefined;
  }

  async #malformed(a: Extract<TrafficAction, { type: 'malformed' }>, at: string, round: number): Promise<void> {
    const g = this.#gatewayIndex.get(a.gatewayId)!;
    if (this.#down[g]) return;
    const gatewayId = a.gatewayId;
    // Refused before the seq check, so they reuse the current seq and leave no gap.
    const seq = this.#seq[g]!;
    const sentAt = this.#sentAt();
    let payload: string | Buffer;
    let readings = 0;
    switch (a.what) {
      case 'not_json':
        payload = `{"gatewayId":"${gatewayId}","seq":${seq},"sentAt":"${sentAt}","readings":[{"deviceId":`;
        break;
      case 'bad_shape':
        payload = JSON.stringify({ gatewayId, seq: 'next', sentAt: 'yesterday', readings: 'none' });
        break;
      case 'gateway_mismatch': {
        const other = this.fleet.gatewayIds.find((id) => id !== gatewayId) ?? 'GW-999999';
        payload = JSON.stringify({ gatewayId: other, seq, sentAt, readings: [syntheticReading(1, at)] });
        readings = 1;
        break;
      }
      case 'oversize': {
        const head = JSON.stringify({ gatewayId, seq, sentAt, readings: [{ ...syntheticReading(2, at), padding: '' }] });
        const cut = head.lastIndexOf('""') + 1;
        payload = Buffer.from(head.slice(0, cut) + 'x'.repeat(OVERSIZE_BYTES - head.length) + head.slice(cut));
        readings = 1;
        break;
      }
      case 'too_many_readings': {
        const list = Array.from({ length: MAX_BATCH_READINGS + 1 }, (_, i) => syntheticReading(10 + i, at));
        payload = JSON.stringify({ gatewayId, seq, sentAt, readings: list });
        readings = list.length;
        break;
      }
      case 'mixed':
        return;
    }
    this.#count(a.what);
    await this.#send(g, payload, readings, 'malformed', round, a.what);
  }
}
