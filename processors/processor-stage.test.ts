import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import type { Bus, Channel, ConsumeOptions, Handler } from '../contracts/bus.ts';
import type { AlertEvent, GatewayStatus, Reading } from '../contracts/messages.ts';
import { DeviceEngine } from './device-engine.ts';
import { resolveProfile, type DeviceProfile } from './device-profile.ts';
import { GasAlarmDetector } from './detectors/gas-alarm/index.ts';
import { reading } from './detectors/testing.ts';
import { CheckpointSettingsSchema, type CheckpointedDevice } from './partition-checkpoints.ts';
import { ProcessorStage, type PartitionedDeviceState } from './processor-stage.ts';
import { parseSettings } from './settings.ts';
import { SilenceSettingsSchema, SilenceWatch } from './silence/silence-watch.ts';
import { Value } from '@sinclair/typebox/value';

/** A channel that keeps what the stage registered, so the test plays the partitioned bus. */
class RecordingChannel<T> implements Channel<T> {
  readonly published: T[] = [];
  readonly consumers: Array<{ group: string; handler: Handler<T>; options?: ConsumeOptions }> = [];
  /** What a checkpointing consumer committed: partition → last offset covered. */
  readonly committed = new Map<number, number>();
  /** Publishes to refuse before taking any, as a bus that is down. */
  refuse = 0;
  async publish(messages: readonly T[]): Promise<void> {
    if (this.refuse > 0) {
      this.refuse--;
      throw new Error('bus down');
    }
    this.published.push(...messages);
  }
  consume(group: string, handler: Handler<T>, options?: ConsumeOptions) {
    this.consumers.push({ group, handler, options });
    return { ready: Promise.resolve(), commit: async (partition: number, offset: number) => void this.committed.set(partition, offset) };
  }
}

/** A bus whose channels keep what was published and who consumes. */
function recordingBus() {
  return {
    readings: new RecordingChannel<Reading>(),
    gatewayStatus: new RecordingChannel<GatewayStatus>(),
    alertEvents: new RecordingChannel<AlertEvent>(),
    deadLetters: new RecordingChannel<never>(),
    close: async () => undefined,
  };
}

function setup() {
  const bus = recordingBus();
  // Two partitions: devices ending in an even digit live in 0, odd in 1.
  const partitionOf = (deviceId: string) => Number(deviceId.at(-1)) % 2;
  const saved = new Map<string, CheckpointedDevice>();
  const judged = { live: 0, late: 0 };
  const loads: number[][] = [];
  const store: PartitionedDeviceState = {
    instanceId: 'test-1',
    partitionOf,
    store: {
      async load(partitions) {
        loads.push([...partitions]);
        return [...saved.values()].filter((s) => partitions.includes(partitionOf(s.state.deviceId)));
      },
      async save(partition, devices) {
        for (const d of devices) {
          expect(partitionOf(d.state.deviceId)).toBe(partition);
          saved.set(d.state.deviceId, structuredClone(d));
        }
      },
    },
    checkpoints: Value.Default(CheckpointSettingsSchema, {}) as never,
  };
  const records = ['HA-0', 'HA-1', 'HA-2'].map((deviceId) => ({ deviceId, kind: 'home_gas_alarm' as const, gatewayId: deviceId === 'HA-2' ? 'GW-B' : 'GW-A', reportIntervalS: 30 }));
  const profiles = new Map<string, DeviceProfile>(records.map((r) => [r.deviceId, resolveProfile(r)]));
  const engine = new DeviceEngine([{ definition: GasAlarmDetector, settings: parseSettings(GasAlarmDetector, {}) }] as never, { profileOf: (id) => profiles.get(id) }, {
    onJudged(n, late) {
      judged.live += n;
      judged.late += late;
    },
  });
  const silence = new SilenceWatch(engine, Value.Default(SilenceSettingsSchema, { lastWillGraceMs: 0 }) as never);
  const clock = new ManualClock(Date.parse('2026-11-22T08:00:00.000Z'));
  const stage = new ProcessorStage(bus as Bus, engine, silence, clock, undefined, {
    checkIntervalMs: 1_000_000,
    snapshotIntervalMs: 0,
    registered: () => profiles.values(),
    partitioned: store,
    publishRetryMs: 1,
  }, pino({ level: 'silent' }));
  const ownership = () => bus.readings.consumers[0]!.options!;
  return { bus, stage, engine, silence, saved, loads, ownership, judged };
}

const alarm = (deviceId: string, atS: number, lelPct: number) => reading({ kind: 'home_gas_alarm', deviceId, gatewayId: deviceId === 'HA-2' ? 'GW-B' : 'GW-A', atS, lelPct });

describe('ProcessorStage on a partitioned bus', () => {
  it('holds only the devices of its partitions: restored from the store, else expected from the registry', async () => {
    const { stage, engine, saved, loads, ownership } = setup();
    await stage.start();
    saved.set('HA-0', { offset: 3, state: { deviceId: 'HA-0', kind: 'home_gas_alarm', gatewayId: 'GW-A', lastAtMs: 5, lastHeardAtMs: 5, active: ['GAS_ALARM_L1'], detectors: {} } });
    await ownership().onAssigned!([0]);
    expect(loads).toEqual([[0]]);
    expect([...engine.devices.keys()].sort()).toEqual(['HA-0', 'HA-2']);
    expect(engine.devices.get('HA-0')!.lastAtMs).toBe(5);
    expect(stage.ownedPartitions()).toEqual([0]);
  });

  it('checkpoints the devices batches touched, each with the offset it covers, and only then commits', async () => {
    const { bus, stage, saved, ownership } = setup();
    await stage.start();
    await ownership().onAssigned!([0, 1]);
    const handler = bus.readings.consumers[0]!.handler;
    await handler([alarm('HA-1', 0, 40), alarm('HA-1', 30, 40)], { partition: 1, offsets: [7, 8] });
    await handler([alarm('HA-2', 0, 1)], { partition: 0, offsets: [4] });
    expect(bus.alertEvents.published.map((e) => `${e.type} ${e.subjectId} ${e.condition}`)).toContain('raise HA-1 GAS_ALARM_L1');
    expect(saved.size).toBe(0);
    expect(bus.readings.committed.size).toBe(0);
    await stage.stop();
    expect(saved.get('HA-1')).toMatchObject({ offset: 8, state: { active: ['GAS_ALARM_L1'] } });
    expect(saved.get('HA-2')).toMatchObject({ offset: 4 });
    expect([...bus.readings.committed]).toEqual(expect.arrayContaining([[1, 8], [0, 4]]));
  });

  it('replays after a restore without judging again what a device’s state covers', async () => {
    const first = setup();
    await first.stage.start();
    await first.ownership().onAssigned!([1]);
    await first.bus.readings.consumers[0]!.handler([alarm('HA-1', 0, 40), alarm('HA-1', 30, 40)], { partition: 1, offsets: [0, 0] });
    await first.stage.stop();
    expect(first.saved.get('HA-1')).toMatchObject({ offset: 0, state: { active: ['GAS_ALARM_L1'] } });

    // A new owner restores offset 0's state and the group replays offsets 0 and 1: only 1 is judged,
    // and nothing is taken for a late reading or raised again.
    const second = setup();
    for (const [id, d] of first.saved) second.saved.set(id, d);
    await second.stage.start();
    await second.ownership().onAssigned!([1]);
    await second.bus.readings.consumers[0]!.handler([alarm('HA-1', 0, 40), alarm('HA-1', 30, 40), alarm('HA-1', 60, 40)], { partition: 1, offsets: [0, 0, 1] });
    expect(second.judged).toEqual({ live: 1, late: 0 });
    expect(second.bus.alertEvents.published.filter((e) => e.subjectId === 'HA-1' && e.type === 'raise')).toEqual([]);
    expect(second.engine.devices.get('HA-1')!.lastAtMs).toBe(alarm('HA-1', 60, 40).atMs);
    // A redelivery of what this owner handled is left out too.
    await second.bus.readings.consumers[0]!.handler([alarm('HA-1', 60, 40)], { partition: 1, offsets: [1] });
    expect(second.judged).toEqual({ live: 1, late: 0 });
  });

  it('publishes a batch’s edges until the bus takes them: the judged state has moved on, so a redelivery would not raise them again', async () => {
    const { bus, stage, ownership } = setup();
    await stage.start();
    await ownership().onAssigned!([1]);
    bus.alertEvents.refuse = 2;
    await bus.readings.consumers[0]!.handler([alarm('HA-1', 0, 40), alarm('HA-1', 30, 40)], { partition: 1, offsets: [0, 1] });
    expect(bus.alertEvents.refuse).toBe(0);
    expect(bus.alertEvents.published.filter((e) => e.subjectId === 'HA-1').map((e) => `${e.type} ${e.condition}`)).toEqual(['raise GAS_ALARM_L1']);
  });

  it('lets a revoked partition go, with the gateways no device here reports through any more', async () => {
    const { stage, engine, silence, ownership } = setup();
    await stage.start();
    await ownership().onAssigned!([0, 1]);
    await ownership().onRevoked!([0]);
    expect([...engine.devices.keys()]).toEqual(['HA-1']);
    expect([...silence.gateways.keys()]).toEqual(['GW-A']);
    expect(stage.ownedPartitions()).toEqual([1]);
  });

  it('clears a taken-over gateway on its first batch, since the previous owner may have raised it', async () => {
    const { bus, stage, ownership } = setup();
    await stage.start();
    await ownership().onAssigned!([1]);
    await bus.readings.consumers[0]!.handler([alarm('HA-1', 0, 0)]);
    await bus.readings.consumers[0]!.handler([alarm('HA-1', 30, 0)]);
    expect(bus.alertEvents.published.filter((e) => e.condition === 'GATEWAY_OFFLINE').map((e) => `${e.type} ${e.subjectId}`)).toEqual(['clear GW-A']);
  });

  it('hears every gateway status in a group of its own and applies it only to gateways it holds', async () => {
    const { bus, stage, ownership } = setup();
    await stage.start();
    expect(bus.gatewayStatus.consumers[0]).toMatchObject({ group: 'processors.test-1', options: { fromBeginning: false } });
    await ownership().onAssigned!([1]);
    const status = (gatewayId: string): GatewayStatus => ({ gatewayId, online: false, receivedAtMs: Date.parse('2026-11-22T08:01:00.000Z') });
    await bus.gatewayStatus.consumers[0]!.handler([status('GW-A'), status('GW-B')]);
    expect(bus.alertEvents.published.map((e) => `${e.type} ${e.subjectId} ${e.condition}`)).toEqual(['raise GW-A GATEWAY_OFFLINE']);
  });
});

describe('ProcessorStage silence check (issue 11)', () => {
  it('judges a silence storm in turns, yielding to the event loop between them, every alert published once', async () => {
    const bus = recordingBus();
    const engine = new DeviceEngine([], { profileOf: (id) => resolveProfile({ deviceId: id, kind: 'home_gas_alarm', reportIntervalS: 30 }) }, { onJudged() {} });
    const silence = new SilenceWatch(engine, Value.Default(SilenceSettingsSchema, { maxDevicesPerTurn: 500 }) as never);
    const clock = new ManualClock(Date.parse('2026-11-22T08:00:00.000Z'));
    const stage = new ProcessorStage(bus as Bus, engine, silence, clock, undefined, { checkIntervalMs: 1_000_000, snapshotIntervalMs: 0, registered: () => [] }, pino({ level: 'silent' }));
    const batch = (gatewayId: string, ids: string[], atS: number) => ids.map((deviceId) => reading({ kind: 'home_gas_alarm', deviceId, gatewayId, atS, lelPct: 0 }));
    const silent = Array.from({ length: 2_000 }, (_, i) => `HA-${i}`);
    await stage.onReadings([...batch('GW-1', ['KEEP-1', ...silent.slice(0, 1_000)], 0), ...batch('GW-2', ['KEEP-2', ...silent.slice(1_000)], 0)]);
    for (let t = 30; t <= 90; t += 30) await stage.onReadings([...batch('GW-1', ['KEEP-1'], t), ...batch('GW-2', ['KEEP-2'], t)]);
    clock.set(Date.parse('2026-11-22T08:01:31.000Z'));
    const publishes: number[] = [];
    const publish = bus.alertEvents.publish.bind(bus.alertEvents);
    bus.alertEvents.publish = async (messages) => {
      publishes.push(messages.length);
      await publish(messages);
    };
    let otherWork = 0;
    const ticker = setImmediate(function tick() {
      otherWork++;
    });
    await stage.checkSilence();
    clearImmediate(ticker);
    // 500 devices judged per turn (a keeper queued again counts too), each turn published on its own.
    expect(publishes.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...publishes)).toBeLessThanOrEqual(500);
    expect(publishes.reduce((a, b) => a + b, 0)).toBe(2_000);
    expect(otherWork).toBe(1);
    const ids = bus.alertEvents.published.map((e) => `${e.type} ${e.condition} ${e.subjectId}`);
    expect(new Set(ids).size).toBe(2_000);
    expect(ids.every((e) => e.startsWith('raise NO_SIGNAL HA-'))).toBe(true);
  });
});

describe('ProcessorStage alert publishing (issue 11)', () => {
  it('hands a storm from one batch to the bus in slices with a turn between, never splitting one device’s conditions', async () => {
    const bus = recordingBus();
    const engine = new DeviceEngine(
      [{ definition: GasAlarmDetector, settings: parseSettings(GasAlarmDetector, {}) }] as never,
      { profileOf: (id) => resolveProfile({ deviceId: id, kind: 'home_gas_alarm', reportIntervalS: 30 }) },
      { onJudged() {} },
    );
    const silence = new SilenceWatch(engine, Value.Default(SilenceSettingsSchema, {}) as never);
    const stage = new ProcessorStage(bus as Bus, engine, silence, new ManualClock(), undefined, { checkIntervalMs: 1_000_000, snapshotIntervalMs: 0, registered: () => [] }, pino({ level: 'silent' }));
    const slices: AlertEvent[][] = [];
    bus.alertEvents.publish = async (messages) => void slices.push([...messages]);
    let turns = 0;
    const tick = () => {
      turns++;
      if (turns < 100) setImmediate(tick);
    };
    setImmediate(tick);
    // 333 alarms at 60 %LEL in one batch: L1 and L2 each, 666 events.
    await stage.onReadings(Array.from({ length: 333 }, (_, i) => reading({ kind: 'home_gas_alarm', deviceId: `HA-${i}`, gatewayId: 'GW-1', atS: 0, lelPct: 60 })));
    expect(slices.flat()).toHaveLength(666);
    expect(slices.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...slices.map((s) => s.length))).toBeLessThanOrEqual(201);
    // Each device's two conditions in one slice.
    const sliceOf = new Map<string, Set<number>>();
    slices.forEach((s, i) => s.forEach((e) => sliceOf.set(e.subjectId, (sliceOf.get(e.subjectId) ?? new Set()).add(i))));
    expect([...sliceOf.values()].every((set) => set.size === 1)).toBe(true);
    // The event loop turned between the slices.
    expect(turns).toBeGreaterThanOrEqual(slices.length - 1);
  });
});
