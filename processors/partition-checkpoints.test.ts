import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/messages.ts';
import type { DeviceSnapshot } from './device-engine.ts';
import { PartitionCheckpoints, type CheckpointedDevice, type CheckpointSettings } from './partition-checkpoints.ts';

const snapshot = (deviceId: string, lastAtMs = 1): DeviceSnapshot => ({ deviceId, kind: 'household_meter', gatewayId: 'GW-1', lastAtMs, lastHeardAtMs: lastAtMs, active: [], detectors: {} });
const reading = (deviceId: string): Reading => ({ deviceId, kind: 'household_meter', at: '', atMs: 1, gatewayId: 'GW-1', receivedAtMs: 1 });

/** Every device in partition 0 unless its id ends in "@1". */
function harness(settings: Partial<CheckpointSettings> = {}, stored: CheckpointedDevice[] = []) {
  const saves: Array<{ partition: number; devices: CheckpointedDevice[] }> = [];
  const commits: Array<[number, number]> = [];
  const pauses: number[] = [];
  const states = new Map<string, DeviceSnapshot>();
  let failSaves = 0;
  let busy: (() => void) | undefined;
  let busyUntil: Promise<void> | undefined;
  const checkpoints = new PartitionCheckpoints(
    {
      store: {
        load: async (partitions) => stored.filter((d) => partitions.includes(d.state.deviceId.endsWith('@1') ? 1 : 0)),
        save: async (partition, devices) => {
          if (failSaves > 0) {
            failSaves--;
            throw new Error('broker away');
          }
          saves.push({ partition, devices: structuredClone([...devices]) });
        },
      },
      snapshotOf: (id) => states.get(id),
      partitionOf: (id) => (id.endsWith('@1') ? 1 : 0),
      commit: async (partition, offset) => void commits.push([partition, offset]),
      whenIdle: () => busyUntil ?? Promise.resolve(),
      now: () => 0,
      // Recorded, and a turn of the event loop instead of the wait.
      pause: (ms) => {
        pauses.push(ms);
        return new Promise((resolve) => setImmediate(resolve));
      },
      log: pino({ level: 'silent' }),
    },
    { intervalMs: 10_000, everyReadings: 1_000_000, devicesPerSlice: 2, ...settings },
  );
  /** Judges readings of partition 0 at these offsets, changing their devices' state. */
  const handle = (ids: string[], offsets: number[], partition = 0) => {
    const delivery = { partition, offsets };
    const judged = checkpoints.admit(ids.map(reading), delivery);
    for (const r of judged) states.set(r.deviceId, snapshot(r.deviceId, (states.get(r.deviceId)?.lastAtMs ?? 0) + 1));
    checkpoints.handled(judged, delivery);
    return judged.map((r) => r.deviceId);
  };
  return {
    checkpoints,
    saves,
    commits,
    pauses,
    states,
    handle,
    failNextSaves: (n: number) => (failSaves = n),
    /** A batch in flight: between judging and its alert events on the bus. */
    startBatch: () => (busyUntil = new Promise<void>((resolve) => (busy = resolve))),
    endBatch: () => {
      busyUntil = undefined;
      busy?.();
    },
  };
}

describe('PartitionCheckpoints', () => {
  it('saves the changed devices in slices, each with the offset it covers, then commits the partition', async () => {
    const h = harness();
    await h.checkpoints.restore([0]);
    h.handle(['A', 'B', 'C'], [3, 3, 4]);
    h.handle(['D', 'E'], [5, 6]);
    await h.checkpoints.checkpoint(0);
    expect(h.saves.map((s) => s.devices.map((d) => `${d.state.deviceId}@${d.offset}`))).toEqual([['A@6', 'B@6'], ['C@6', 'D@6'], ['E@6']]);
    expect(h.commits).toEqual([[0, 6]]);
    // Nothing new: nothing written, nothing committed again.
    await h.checkpoints.checkpoint(0);
    expect(h.saves).toHaveLength(3);
    expect(h.commits).toHaveLength(1);
  });

  it('takes no state while a batch is between judging and publishing, and commits only what was handled when it began', async () => {
    const h = harness({ devicesPerSlice: 1 });
    await h.checkpoints.restore([0]);
    h.handle(['A', 'B'], [0, 1]);
    const running = h.checkpoints.checkpoint(0);
    while (h.saves.length === 0) await new Promise((resolve) => setImmediate(resolve));
    h.startBatch();
    // Judged but not yet published: the checkpoint waits for it before its next slice.
    const judged = h.checkpoints.admit([reading('B')], { partition: 0, offsets: [2] });
    h.states.set('B', snapshot('B', 99));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(h.saves.flatMap((s) => s.devices).find((d) => d.state.deviceId === 'B')).toBeUndefined();
    h.checkpoints.handled(judged, { partition: 0, offsets: [2] });
    h.endBatch();
    await running;
    expect(h.saves.flatMap((s) => s.devices).map((d) => `${d.state.deviceId}@${d.offset}:${d.state.lastAtMs}`)).toEqual(['A@1:1', 'B@2:99']);
    expect(h.commits).toEqual([[0, 1]]);
    // B changed during the checkpoint: it goes again with the next, which commits offset 2.
    await h.checkpoints.checkpoint(0);
    expect(h.commits).toEqual([[0, 1], [0, 2]]);
  });

  it('takes every device of a checkpoint with a failed save again with the next, and commits nothing until then', async () => {
    const h = harness();
    await h.checkpoints.restore([0]);
    h.handle(['A', 'B', 'C'], [0, 1, 2]);
    h.failNextSaves(1);
    await h.checkpoints.checkpoint(0);
    expect(h.commits).toEqual([]);
    const before = h.saves.length;
    await h.checkpoints.checkpoint(0);
    expect(h.saves.slice(before).flatMap((s) => s.devices.map((d) => d.state.deviceId)).sort()).toEqual(['A', 'B', 'C']);
    expect(h.commits).toEqual([[0, 2]]);
  });

  it('after a restore, leaves out per device what its saved state covers until the replay passed them all', async () => {
    const stored: CheckpointedDevice[] = [
      { offset: 10, state: snapshot('A') },
      { offset: 14, state: snapshot('B') },
      { offset: 3, state: snapshot('X@1') },
    ];
    const h = harness({}, stored);
    const restored = await h.checkpoints.restore([0]);
    expect(restored.map((d) => d.state.deviceId)).toEqual(['A', 'B']);
    // The group committed 9: the replay starts at 10.
    expect(h.handle(['A', 'B', 'C'], [10, 10, 10])).toEqual(['C']);
    expect(h.handle(['A', 'B'], [11, 12])).toEqual(['A']);
    expect(h.handle(['B', 'A'], [14, 15])).toEqual(['A']);
    // Past the highest restored offset: nothing is looked up any more, and a redelivery is left out.
    expect(h.handle(['B'], [16])).toEqual(['B']);
    expect(h.handle(['B', 'A'], [16, 17])).toEqual(['A']);
  });

  it('paces a checkpoint over half the interval shared by the partitions, and goes flat out when stopping', async () => {
    const h = harness({ intervalMs: 1_000, devicesPerSlice: 1 });
    await h.checkpoints.restore([0, 1]);
    h.handle(['A', 'B', 'C', 'D'], [0, 1, 2, 3]);
    await h.checkpoints.checkpoint(0);
    // 4 slices in 1000 / 2 / 2 partitions = 250 ms: 62.5 ms apart, at most 50.
    expect(h.pauses).toEqual([50, 50, 50, 50]);
    h.handle(['A', 'B'], [4, 5]);
    await h.checkpoints.flush();
    expect(h.pauses).toHaveLength(4);
    expect(h.commits).toEqual([[0, 3], [0, 5]]);
  });

  it('runs one checkpoint at a time, the partitions in turn', async () => {
    const h = harness();
    await h.checkpoints.restore([0, 1]);
    h.handle(['A', 'B', 'C', 'D'], [0, 1, 2, 3]);
    h.handle(['A@1', 'B@1', 'C@1'], [0, 1, 2], 1);
    await Promise.all([h.checkpoints.checkpoint(0), h.checkpoints.checkpoint(1)]);
    expect(h.saves.map((s) => s.partition)).toEqual([0, 0, 1, 1]);
    expect(h.commits).toEqual([[0, 3], [1, 2]]);
  });

  it('saves a restored device that changed before the replay reached it with the offset its state covers', async () => {
    const h = harness({}, [{ offset: 40, state: snapshot('A') }]);
    await h.checkpoints.restore([0]);
    h.states.set('A', snapshot('A', 7));
    h.checkpoints.changed(['A']);
    await h.checkpoints.checkpoint(0);
    expect(h.saves.flatMap((s) => s.devices)).toEqual([{ offset: 40, state: snapshot('A', 7) }]);
    expect(h.commits).toEqual([]);
  });

  it('checkpoints a partition after everyReadings readings, and writes nothing more for a released one', async () => {
    const h = harness({ everyReadings: 3 });
    await h.checkpoints.restore([0, 1]);
    h.handle(['A@1', 'B@1'], [0, 1], 1);
    expect(h.saves).toHaveLength(0);
    h.handle(['C@1'], [2], 1);
    await h.checkpoints.checkpoint(1);
    expect(h.commits).toEqual([[1, 2]]);
    h.handle(['A@1'], [3], 1);
    h.checkpoints.release([1]);
    await h.checkpoints.flush();
    expect(h.commits).toEqual([[1, 2]]);
    expect(h.checkpoints.ownedPartitions()).toEqual([0]);
  });
});
