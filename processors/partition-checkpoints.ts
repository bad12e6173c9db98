import { Type, type Static } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { Delivery } from '../contracts/bus.ts';
import type { Reading } from '../contracts/messages.ts';
import type { DeviceSnapshot } from './device-engine.ts';

export const CheckpointSettingsSchema = Type.Object(
  {
    intervalMs: Type.Integer({ minimum: 100, default: 10_000, description: 'a partition with new readings is checkpointed at least this often, ms' }),
    everyReadings: Type.Integer({ minimum: 1, default: 200_000, description: 'and after this many readings of one partition, whichever comes first' }),
    devicesPerSlice: Type.Integer({
      minimum: 1,
      default: 25,
      description: 'device states taken and encoded per turn of the event loop while checkpointing, so readings and leaks are never held up behind a whole partition',
    }),
  },
  { additionalProperties: false },
);
export type CheckpointSettings = Static<typeof CheckpointSettingsSchema>;

/** A device's saved state and what it covers: every reading of its partition up to `offset`. */
export interface CheckpointedDevice {
  offset: number;
  state: DeviceSnapshot;
}

/** Where checkpoints are kept: per partition of the readings, newest state per device. */
export interface CheckpointStore {
  /** The newest saved state of every device of these partitions. */
  load(partitions: readonly number[]): Promise<CheckpointedDevice[]>;
  /** Saves states of devices of one partition; encodes them before it returns, then resolves once they are durable. */
  save(partition: number, devices: readonly CheckpointedDevice[]): Promise<void>;
}

/** What the runner counts about checkpoints; the checkpoints hold no metrics code. */
export interface CheckpointObserver {
  /** A checkpoint of one partition ended: device states written, how long it took (the clock's ms). */
  onCheckpoint(outcome: 'committed' | 'failed', devices: number, durationMs: number): void;
  /** Readings of a replay or redelivery left out because the device's state already covered them. */
  onCovered(readings: number): void;
}

/** What the checkpoints need of the processor around them. */
export interface CheckpointHost {
  store: CheckpointStore;
  /** The device's state now, or undefined when it is no longer held. */
  snapshotOf(deviceId: string): DeviceSnapshot | undefined;
  partitionOf(deviceId: string): number;
  /** The group resumes `partition` after `offset` (the readings consumer's commit). */
  commit(partition: number, offset: number): Promise<void>;
  /**
   * Resolves when no batch is between being judged and its alert events being on the bus: a state
   * taken then covers exactly the handled readings, and a replay never skips an unpublished alert.
   */
  whenIdle(): Promise<void>;
  now(): number;
  /** Waits `ms` between slices of a paced checkpoint (a timer; tests pass their own). */
  pause(ms: number): Promise<void>;
  log: Logger;
  observer?: CheckpointObserver;
}

interface PartitionProgress {
  /** Last offset whose readings are judged and whose alert events are on the bus; -1 before the first. */
  handled: number;
  /** Last offset committed to the group after a checkpoint covering it. */
  committed: number;
  /** Devices changed since their state was last taken. */
  dirty: Set<string>;
  readingsSinceCheckpoint: number;
  lastCheckpointAtMs: number;
  /**
   * After a restore, the offset each restored state covers: a replayed reading at or below it is
   * already in the state. Dropped once the partition is handled past the highest.
   */
  restoredTo?: Map<string, number>;
  restoredUntil: number;
  /** Its checkpoint, while it waits for its turn. */
  queued?: Promise<void>;
}

/** Slices of one checkpoint being saved at once. */
const MAX_SAVES_IN_FLIGHT = 16;

/** Longest pause between two slices of a checkpoint, ms. */
const MAX_SLICE_GAP_MS = 50;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Device state by checkpoint and replay, as Flink and Kafka Streams keep it: the devices a
 * partition's readings changed are saved every `intervalMs` (or `everyReadings`), each with the
 * offset it covers, and only then is the partition's offset committed. A new owner restores the
 * newest states and replays the readings after the committed offset, skipping per device what its
 * state already covers, so a replay judges every reading exactly once; detectors are pure and the
 * alert book idempotent, so re-sent edges change nothing. A checkpoint is taken in slices between
 * batches and needs no pause: a device changed during it is taken again by the next.
 */
export class PartitionCheckpoints {
  readonly #partitions = new Map<number, PartitionProgress>();
  #timer?: NodeJS.Timeout;
  /** Checkpoints run one at a time per instance, so their work never piles up in front of a leak. */
  #chain: Promise<void> = Promise.resolve();
  /** Stopping: checkpoints go as fast as they can. */
  #unpaced = false;

  constructor(
    private readonly host: CheckpointHost,
    private readonly settings: CheckpointSettings,
  ) {}

  /** Restores `partitions`: their devices' newest states, which the caller puts in the engine. */
  async restore(partitions: readonly number[]): Promise<CheckpointedDevice[]> {
    const wanted = new Set(partitions);
    // A state left in another partition (the device's placement changed) is not this instance's.
    const restored = (await this.host.store.load(partitions)).filter((d) => wanted.has(this.host.partitionOf(d.state.deviceId)));
    const now = this.host.now();
    for (const p of partitions) this.#partitions.set(p, { handled: -1, committed: -1, dirty: new Set(), readingsSinceCheckpoint: 0, lastCheckpointAtMs: now, restoredUntil: -1 });
    for (const d of restored) {
      const progress = this.#partitions.get(this.host.partitionOf(d.state.deviceId))!;
      (progress.restoredTo ??= new Map()).set(d.state.deviceId, d.offset);
      if (d.offset > progress.restoredUntil) progress.restoredUntil = d.offset;
    }
    return restored;
  }

  /** The partitions went to another instance: no checkpoint of theirs is written from here any more. */
  release(partitions: readonly number[]): void {
    for (const p of partitions) this.#partitions.delete(p);
  }

  /**
   * The readings of a delivery that are not judged yet: a redelivery of what this instance handled
   * (the group rejoined) and, while replaying after a restore, what a device's state already covers
   * are left out. The same array when nothing is.
   */
  admit(readings: readonly Reading[], delivery: Delivery): readonly Reading[] {
    const progress = this.#partitions.get(delivery.partition);
    if (progress === undefined) return readings;
    const { offsets } = delivery;
    const restoredTo = progress.restoredTo;
    if (offsets[0]! > progress.handled && restoredTo === undefined) return readings;
    const out: Reading[] = [];
    for (let i = 0; i < readings.length; i++) {
      const offset = offsets[i]!;
      if (offset <= progress.handled) continue;
      if (restoredTo !== undefined && offset <= (restoredTo.get(readings[i]!.deviceId) ?? -1)) continue;
      out.push(readings[i]!);
    }
    this.host.observer?.onCovered(readings.length - out.length);
    return out;
  }

  /** The admitted readings of a delivery are judged and their alert events are on the bus. */
  handled(judged: readonly Reading[], delivery: Delivery): void {
    const progress = this.#partitions.get(delivery.partition);
    if (progress === undefined) return;
    for (const r of judged) progress.dirty.add(r.deviceId);
    const last = delivery.offsets[delivery.offsets.length - 1]!;
    if (last > progress.handled) progress.handled = last;
    if (progress.restoredTo !== undefined && progress.handled >= progress.restoredUntil) progress.restoredTo = undefined;
    progress.readingsSinceCheckpoint += judged.length;
    if (progress.readingsSinceCheckpoint >= this.settings.everyReadings) void this.checkpoint(delivery.partition);
  }

  /** State changed outside readings (a device fell silent): saved with the next checkpoint. */
  changed(deviceIds: Iterable<string>): void {
    for (const id of deviceIds) this.#partitions.get(this.host.partitionOf(id))?.dirty.add(id);
  }

  /** Checkpoints every partition due, every second or so; `flush` before a clean stop. */
  start(): void {
    const tick = Math.min(1_000, this.settings.intervalMs);
    this.#timer = setInterval(() => {
      const now = this.host.now();
      for (const [p, progress] of this.#partitions) {
        if (now - progress.lastCheckpointAtMs >= this.settings.intervalMs) void this.checkpoint(p);
      }
    }, tick);
    this.#timer.unref();
  }

  /** Checkpoints every owned partition and waits for it: a clean stop hands over with nothing to replay. */
  async flush(): Promise<void> {
    clearInterval(this.#timer);
    this.#unpaced = true;
    await Promise.all([...this.#partitions.keys()].map((p) => this.checkpoint(p)));
  }

  ownedPartitions(): number[] {
    return [...this.#partitions.keys()].sort((a, b) => a - b);
  }

  /** Checkpoints one partition after any running before it; resolves when done (or failed, logged: the next one tries again). */
  checkpoint(partition: number): Promise<void> {
    const progress = this.#partitions.get(partition);
    if (progress === undefined) return Promise.resolve();
    if (progress.queued === undefined) {
      progress.queued = this.#chain = this.#chain.then(() => {
        progress.queued = undefined;
        return this.#checkpoint(partition, progress);
      });
    }
    return progress.queued;
  }

  async #checkpoint(partition: number, progress: PartitionProgress): Promise<void> {
    const startedAt = (progress.lastCheckpointAtMs = this.host.now());
    await this.host.whenIdle();
    if (this.#partitions.get(partition) !== progress) return;
    // Everything up to `covered` is in the states saved so far or in those taken below.
    const covered = progress.handled;
    if (covered <= progress.committed && progress.dirty.size === 0) return;
    const taking = progress.dirty;
    progress.dirty = new Set();
    progress.readingsSinceCheckpoint = 0;
    const left = taking.values();
    // Paced over up to half the interval shared by the partitions: on a small machine a burst of
    // encoding and broker writes slows every stage (a leak's push p99 at 50 % of peak: 60-200 ms
    // unpaced), a steady trickle does not.
    const slices = Math.ceil(taking.size / this.settings.devicesPerSlice);
    const gapMs = this.#unpaced || slices === 0 ? 0 : Math.min(MAX_SLICE_GAP_MS, this.settings.intervalMs / 2 / Math.max(1, this.#partitions.size) / slices);
    // Slices are small and their saves overlap (the producer packs them into requests): a slice is
    // a few milliseconds of the event loop, the broker's round trip is not waited out per slice.
    const saving: Array<Promise<void>> = [];
    let written = 0;
    try {
      for (let i = 0; i < slices; i++) {
        // A turn of the event loop between slices at least: sockets and timers, a leak's among them, go first.
        await (gapMs >= 1 && !this.#unpaced ? this.host.pause(gapMs) : nextTurn());
        await this.host.whenIdle();
        if (this.#partitions.get(partition) !== progress) {
          // Revoked: what is being written is no longer this instance's business.
          void Promise.allSettled(saving);
          return;
        }
        const slice: CheckpointedDevice[] = [];
        for (let n = 0; n < this.settings.devicesPerSlice; n++) {
          const next = left.next();
          if (next.done) break;
          const state = this.host.snapshotOf(next.value);
          // A restored device changed before the replay reached its offset (it fell silent) still
          // covers what its restored state covered.
          if (state !== undefined) slice.push({ offset: Math.max(progress.handled, progress.restoredTo?.get(next.value) ?? -1), state });
        }
        if (slice.length === 0) continue;
        const saved = this.host.store.save(partition, slice);
        // Seen by Promise.all below; until then a failure must not count as unhandled.
        saved.catch(() => undefined);
        saving.push(saved);
        written += slice.length;
        if (saving.length >= MAX_SAVES_IN_FLIGHT) await saving.shift();
      }
      await Promise.all(saving);
      if (covered > progress.committed) {
        await this.host.commit(partition, covered);
        progress.committed = covered;
      }
      this.host.observer?.onCheckpoint('committed', written, this.host.now() - startedAt);
    } catch (err) {
      // Taken again next time, whatever of it was saved; the commit waits for it.
      await Promise.allSettled(saving);
      for (const id of taking) progress.dirty.add(id);
      this.host.observer?.onCheckpoint('failed', written, this.host.now() - startedAt);
      this.host.log.error({ err, partition }, 'Checkpoint failed; trying again with the next');
    }
  }
}
