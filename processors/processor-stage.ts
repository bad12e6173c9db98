import type { Logger } from 'pino';
import type { Bus } from '../contracts/bus.ts';
import type { AlertEvent, Condition, DeviceKind, GatewayStatus, Reading } from '../contracts/messages.ts';
import type { Clock } from '../app/clock.ts';
import type { DeviceEngine, DeviceSnapshot } from './device-engine.ts';
import type { GatewaySnapshot, SilenceWatch } from './silence/silence-watch.ts';

/** The processor's state as one document: what a restart or a rebalance resumes from. */
export interface ProcessorSnapshot {
  version: 1;
  takenAtMs: number;
  devices: DeviceSnapshot[];
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
 * The processor stage: readings and gateway status in from the bus, raise/clear edges out.
 * Readings are acknowledged only after their alert events are on the bus.
 */
export class ProcessorStage {
  #timer?: NodeJS.Timeout;
  #snapshotTimer?: NodeJS.Timeout;
  #checking = false;

  constructor(
    private readonly bus: Bus,
    private readonly engine: DeviceEngine,
    private readonly silence: SilenceWatch,
    private readonly clock: Clock,
    private readonly snapshots: SnapshotStore | undefined,
    private readonly options: { checkIntervalMs: number; snapshotIntervalMs: number },
    private readonly log: Logger,
  ) {}

  /** Restores the last snapshot, then marks what the alert store holds active. */
  async restore(active: readonly ActiveAlertRef[]): Promise<void> {
    const snapshot = await this.snapshots?.load();
    if (snapshot) {
      for (const d of snapshot.devices) this.engine.restoreDevice(d);
      this.silence.restore(snapshot.gateways);
      this.log.info({ devices: snapshot.devices.length, gateways: snapshot.gateways.length, takenAt: new Date(snapshot.takenAtMs).toISOString() }, 'Processor state restored');
    }
    const now = this.clock.now();
    for (const a of active) {
      if (a.subject === 'gateway') this.silence.seedActive(a.subjectId, now);
      else if (a.kind) this.engine.seedActive(a.subjectId, a.kind, a.gatewayId, a.condition);
    }
  }

  start(): void {
    this.bus.readings.consume('processors', (readings) => this.onReadings(readings));
    this.bus.gatewayStatus.consume('processors', (statuses) => this.onStatuses(statuses));
    this.#timer = setInterval(() => void this.checkSilence(), this.options.checkIntervalMs);
    this.#timer.unref();
    if (this.snapshots && this.options.snapshotIntervalMs > 0) {
      this.#snapshotTimer = setInterval(() => void this.saveSnapshot(), this.options.snapshotIntervalMs);
      this.#snapshotTimer.unref();
    }
  }

  async onReadings(readings: readonly Reading[]): Promise<void> {
    const out: AlertEvent[] = [];
    this.silence.onReadings(readings, out);
    this.engine.process(readings, out);
    if (out.length > 0) await this.bus.alertEvents.publish(out);
  }

  async onStatuses(statuses: readonly GatewayStatus[]): Promise<void> {
    const out: AlertEvent[] = [];
    for (const s of statuses) this.silence.onStatus(s, out);
    if (out.length > 0) await this.bus.alertEvents.publish(out);
  }

  /** Judges silence as of the clock's now; the timer calls it, tests may too. */
  async checkSilence(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const out: AlertEvent[] = [];
      this.silence.check(this.clock.now(), out);
      if (out.length > 0) await this.bus.alertEvents.publish(out);
    } catch (err) {
      this.log.error({ err }, 'Silence check failed');
    } finally {
      this.#checking = false;
    }
  }

  snapshot(): ProcessorSnapshot {
    return {
      version: 1,
      takenAtMs: this.clock.now(),
      devices: [...this.engine.devices.values()].map((d) => this.engine.snapshotDevice(d)),
      gateways: this.silence.snapshot(),
    };
  }

  async saveSnapshot(): Promise<void> {
    if (!this.snapshots) return;
    try {
      await this.snapshots.save(this.snapshot());
    } catch (err) {
      this.log.error({ err }, 'Saving processor state failed');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#snapshotTimer);
    await this.saveSnapshot();
  }
}
