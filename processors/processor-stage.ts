import type { Logger } from 'pino';
import type { Bus, ConsumerHandle, Delivery } from '../contracts/bus.ts';
import type { AlertEvent, Condition, DeviceKind, GatewayStatus, Reading } from '../contracts/messages.ts';
import type { Clock } from '../app/clock.ts';
import type { DeviceEngine, DeviceSnapshot } from './device-engine.ts';
import type { DeviceProfile } from './device-profile.ts';
import { PartitionCheckpoints, type CheckpointObserver, type CheckpointSettings, type CheckpointStore } from './partition-checkpoints.ts';
import type { GatewaySnapshot, SilenceWatch } from './silence/silence-watch.ts';

/**
 * The processor's state: what a restart resumes from. On saving, `devices` yields each device's
 * snapshot as the store writes it, so a large fleet is never copied whole; each device is taken at
 * one moment, the fleet over the few seconds the save lasts.
 */
export interface ProcessorSnapshot {
  version: 1;
  takenAtMs: number;
  devices: Iterable<DeviceSnapshot>;
  gateways: GatewaySnapshot[];
}

/** Where snapshots are kept between runs. */
export interface SnapshotStore {
  load(): Promise<ProcessorSnapshot | undefined>;
  save(snapshot: ProcessorSnapshot): Promise<void>;
}

/** An alert the alert store holds active, for seeding on start. */
export interface ActiveAlertRef {
  subject: 'device' | 'gateway';
  subjectId: string;
  gatewayId: string;
  kind?: DeviceKind;
  condition: Condition;
}

/**
 * Device state kept per bus partition (Kafka): an instance holds the devices of the partitions it
 * owns, restores them when a partition comes to it and replays the readings after the partition's
 * last checkpoint (processors/partition-checkpoints.ts), so a rebalance or a killed instance
 * resumes instead of rebuilding.
 */
export interface PartitionedDeviceState {
  /** Unique per running instance: names its own consumer group for gateway status, which every instance reads. */
  instanceId: string;
  partitionOf(deviceId: string): number;
  store: CheckpointStore;
  checkpoints: CheckpointSettings;
  observer?: CheckpointObserver;
}

export interface ProcessorStageOptions {
  checkIntervalMs: number;
  snapshotIntervalMs: number;
  /** The devices the registry names: expected to report even before their first reading. */
  registered: () => Iterable<DeviceProfile>;
  /** Set on a partitioned bus; the snapshot store is then unused. */
  partitioned?: PartitionedDeviceState;
  /** First wait before refused alert events are published again, doubling up to 5 s. @defaultValue 100 */
  publishRetryMs?: number;
}

/**
 * Alert events handed to the bus per turn of the event loop. On the in-process bus the alert book,
 * its journal, the streams and the ticket folder work through each slice before the publish
 * returns: a storm of thousands of alerts from one batch or one silence check is cut so that a
 * leak in another batch is never behind more than one slice.
 */
const ALERT_SLICE = 200;

/** First wait before alert events the bus refused are published again, and the longest, ms. */
const PUBLISH_RETRY_MS = 100;
const PUBLISH_RETRY_MAX_MS = 5_000;

/** Devices restored per turn of the event loop when a partition comes to this instance. */
const RESTORE_SLICE = 20_000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The processor stage: readings and gateway status in from the bus, raise/clear edges out.
 * Readings are acknowledged only after their alert events are on the bus; on a partitioned bus the
 * group's offset moves only with a checkpoint of the states that cover them.
 */
export class ProcessorStage {
  #timer?: NodeJS.Timeout;
  #snapshotTimer?: NodeJS.Timeout;
  #checking = false;
  /** Batches and silence turns between judging and their alert events being on the bus. */
  #busy = 0;
  #idle: Array<() => void> = [];
  #checkpoints?: PartitionCheckpoints;
  #readings?: ConsumerHandle;

  constructor(
    private readonly bus: Bus,
    private readonly engine: DeviceEngine,
    private readonly silence: SilenceWatch,
    private readonly clock: Clock,
    private readonly snapshots: SnapshotStore | undefined,
    private readonly options: ProcessorStageOptions,
    private readonly log: Logger,
  ) {}

  /** Partitions of the readings this instance owns (partitioned bus only). */
  ownedPartitions(): number[] {
    return this.#checkpoints?.ownedPartitions() ?? [];
  }

  /**
   * Restores the last snapshot, then marks what the alert store holds active and expects the
   * registered devices. On a partitioned bus all of that happens per partition as it is assigned.
   */
  async restore(active: readonly ActiveAlertRef[]): Promise<void> {
    if (this.options.partitioned) return;
    const snapshot = await this.snapshots?.load();
    if (snapshot) {
      let devices = 0;
      for (const d of snapshot.devices) {
        this.engine.restoreDevice(d);
        devices++;
      }
      this.silence.restore(snapshot.gateways);
      this.log.info({ devices, gateways: snapshot.gateways.length, takenAt: new Date(snapshot.takenAtMs).toISOString() }, 'Processor state restored');
    }
    const now = this.clock.now();
    for (const a of active) {
      if (a.subject === 'gateway') this.silence.seedActive(a.subjectId, now);
      else if (a.kind) this.engine.seedActive(a.subjectId, a.kind, a.gatewayId, a.condition);
    }
    for (const profile of this.options.registered()) {
      this.engine.expect(profile, now);
      if (profile.gatewayId) this.silence.expectGateway(profile.gatewayId, now);
    }
  }

  /** Subscribes; resolves once the consumers joined their groups (at once on the in-process bus). */
  async start(): Promise<void> {
    const { partitioned } = this.options;
    if (partitioned) {
      const checkpoints = new PartitionCheckpoints(
        {
          store: partitioned.store,
          snapshotOf: (deviceId) => {
            const state = this.engine.devices.get(deviceId);
            return state && this.engine.snapshotDevice(state);
          },
          partitionOf: (deviceId) => partitioned.partitionOf(deviceId),
          commit: (partition, offset) => this.#readings!.commit(partition, offset),
          whenIdle: () => (this.#busy === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve))),
          now: () => this.clock.now(),
          pause: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
          log: this.log,
          observer: partitioned.observer,
        },
        partitioned.checkpoints,
      );
      this.#checkpoints = checkpoints;
      const readings = this.bus.readings.consume('processors', (batch, delivery) => this.onReadings(batch, delivery), {
        commits: 'checkpointed',
        urgentFirst: true,
        onAssigned: (partitions) => this.#adopt(partitions, partitioned, checkpoints),
        onRevoked: async (partitions) => this.#release(partitions, partitioned, checkpoints),
      });
      if (!readings) throw new Error('A partitioned bus returns a consumer handle');
      this.#readings = readings;
      checkpoints.start();
      // Every instance hears every gateway's status (its own group, from now on) and applies it
      // to the gateways whose devices it holds: a last will concerns all of them.
      const statuses = this.bus.gatewayStatus.consume(`processors.${partitioned.instanceId}`, (batch) => this.onStatuses(batch), { fromBeginning: false });
      await Promise.all([readings.ready, statuses?.ready]);
    } else {
      this.bus.readings.consume('processors', (readings) => this.onReadings(readings));
      this.bus.gatewayStatus.consume('processors', (statuses) => this.onStatuses(statuses));
    }
    this.#timer = setInterval(() => void this.checkSilence(), this.options.checkIntervalMs);
    this.#timer.unref();
    if (this.snapshots && this.options.snapshotIntervalMs > 0) {
      this.#snapshotTimer = setInterval(() => void this.saveSnapshot(), this.options.snapshotIntervalMs);
      this.#snapshotTimer.unref();
    }
  }

  /**
   * Judges a batch; resolves once its alert events are on the bus. On a partitioned bus, what the
   * device states already cover (a replay after a restore, a redelivery) is left out.
   */
  async onReadings(readings: readonly Reading[], delivery?: Delivery): Promise<void> {
    const checkpoints = delivery && this.#checkpoints;
    const judged = checkpoints ? checkpoints.admit(readings, delivery) : readings;
    this.#busy++;
    try {
      const out: AlertEvent[] = [];
      this.silence.onReadings(judged, out);
      this.engine.process(judged, out);
      if (out.length > 0) await this.#publishEdges(out);
      if (checkpoints) checkpoints.handled(judged, delivery);
    } finally {
      this.#settle();
    }
  }

  #settle(): void {
    if (--this.#busy > 0 || this.#idle.length === 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }

  async onStatuses(statuses: readonly GatewayStatus[]): Promise<void> {
    const out: AlertEvent[] = [];
    const tracksAll = !this.options.partitioned;
    for (const s of statuses) if (tracksAll || this.silence.gateways.has(s.gatewayId)) this.silence.onStatus(s, out);
    if (out.length > 0) await this.#publishEdges(out);
  }

  /**
   * Publishes edges until the bus takes them. They are never given up: the state that produced them
   * has moved on, so a redelivered batch or a later check would not raise them again, and a leak's
   * raise would be lost. A publish that failed halfway is repeated whole; the alert book is idempotent.
   */
  async #publishEdges(out: AlertEvent[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#publishAlerts(out);
      } catch (err) {
        const retryInMs = Math.min(PUBLISH_RETRY_MAX_MS, (this.options.publishRetryMs ?? PUBLISH_RETRY_MS) * 2 ** Math.min(attempt - 1, 10));
        this.log.error({ err, attempt, retryInMs, edges: out.length }, 'Publishing alert events failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, retryInMs));
      }
    }
  }

  /**
   * Publishes in slices of about ALERT_SLICE with a turn of the event loop between them, in order.
   * A slice ends only where the subject changes, so the conditions one reading raised on one device
   * (a leak's L1, L2 and VALVE_NOT_CUT) arrive together and go out as one push.
   */
  async #publishAlerts(out: AlertEvent[]): Promise<void> {
    if (out.length <= ALERT_SLICE) return this.bus.alertEvents.publish(out);
    let start = 0;
    while (start < out.length) {
      let end = Math.min(start + ALERT_SLICE, out.length);
      while (end < out.length && out[end]!.subjectId === out[end - 1]!.subjectId) end++;
      if (start > 0) await nextTurn();
      await this.bus.alertEvents.publish(out.slice(start, end));
      start = end;
    }
  }

  /** Partitions came to this instance: their devices' saved state, then the registered devices not in it. */
  async #adopt(partitions: number[], store: PartitionedDeviceState, checkpoints: PartitionCheckpoints): Promise<void> {
    const wanted = new Set(partitions);
    const restored = await checkpoints.restore(partitions);
    // A million devices take seconds: in slices, so /healthz and the metrics still answer meanwhile.
    for (let i = 0; i < restored.length; i++) {
      this.engine.restoreDevice(restored[i]!.state);
      if (i % RESTORE_SLICE === RESTORE_SLICE - 1) await nextTurn();
    }
    const now = this.clock.now();
    const gateways = new Set<string>();
    for (const { state } of restored) if (state.gatewayId) gateways.add(state.gatewayId);
    let expected = 0;
    for (const profile of this.options.registered()) {
      if (!wanted.has(store.partitionOf(profile.deviceId))) continue;
      if (!this.engine.devices.has(profile.deviceId)) expected++;
      this.engine.expect(profile, now);
      if (profile.gatewayId) gateways.add(profile.gatewayId);
    }
    for (const gatewayId of gateways) this.silence.adoptGateway(gatewayId, now);
    this.log.info({ partitions, restored: restored.length, expected, gateways: gateways.size }, 'Partitions assigned: device state restored, replaying from the last checkpoint');
  }

  /** Partitions went to another instance: their devices leave, and gateways with none left here. */
  #release(partitions: number[], store: PartitionedDeviceState, checkpoints: PartitionCheckpoints): void {
    checkpoints.release(partitions);
    const gone = new Set(partitions);
    let released = 0;
    const stillHeld = new Set<string>();
    for (const [id, state] of this.engine.devices) {
      if (gone.has(store.partitionOf(id))) {
        this.engine.forget(id);
        released++;
      } else if (state.gatewayId) {
        stillHeld.add(state.gatewayId);
      }
    }
    for (const gatewayId of [...this.silence.gateways.keys()]) if (!stillHeld.has(gatewayId)) this.silence.forgetGateway(gatewayId);
    this.log.info({ partitions, released }, 'Partitions revoked: device state released');
  }

  /**
   * Judges silence as of the clock's now; the timer calls it, tests may too. A storm is judged in
   * turns of `maxDevicesPerTurn` devices, each published before the event loop gets a turn
   * (`setImmediate`), so readings and leak pushes are never held up behind it.
   */
  async checkSilence(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      for (;;) {
        const out: AlertEvent[] = [];
        this.#busy++;
        let done: boolean;
        try {
          done = this.silence.check(this.clock.now(), out, this.silence.maxDevicesPerTurn);
          if (out.length > 0) await this.#publishEdges(out);
          // NO_SIGNAL is device state too: a restored device must know it is raised, to clear it.
          this.#checkpoints?.changed(out.filter((e) => e.subject === 'device').map((e) => e.subjectId));
        } finally {
          this.#settle();
        }
        if (done) break;
        await nextTurn();
      }
    } catch (err) {
      this.log.error({ err }, 'Silence check failed');
    } finally {
      this.#checking = false;
    }
  }

  snapshot(): ProcessorSnapshot {
    const engine = this.engine;
    return {
      version: 1,
      takenAtMs: this.clock.now(),
      devices: (function* eachDevice() {
        for (const d of engine.devices.values()) yield engine.snapshotDevice(d);
      })(),
      gateways: this.silence.snapshot(),
    };
  }

  #saving: Promise<void> | undefined;

  /** Saves the state; a save still running (a large fleet takes seconds) is waited for, not overlapped. */
  async saveSnapshot(): Promise<void> {
    if (!this.snapshots || this.options.partitioned) return;
    while (this.#saving) await this.#saving;
    const store = this.snapshots;
    this.#saving = (async () => {
      try {
        await store.save(this.snapshot());
      } catch (err) {
        this.log.error({ err }, 'Saving processor state failed');
      } finally {
        this.#saving = undefined;
      }
    })();
    await this.#saving;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#snapshotTimer);
    await this.#checkpoints?.flush();
    await this.saveSnapshot();
  }
}
