import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Kafka, logLevel, ConfigResourceTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/messages.ts';
import type { DeviceSnapshot } from '../processors/device-engine.ts';
import type { CheckpointedDevice } from '../processors/partition-checkpoints.ts';
import { Registry } from 'prom-client';
import { KafkaBus, type KafkaSubscription } from './kafka-bus.ts';
import { registerKafkaLagGauge } from './kafka-metrics.ts';

// Runs against the real Kafka of `bash scripts/services.sh start kafka` (KAFKA_BROKERS=…).
// In CI a missing broker is a failure, never a silent skip.
const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
const missing = brokers.length === 0;
const skip = missing && !process.env.CI;
const title = skip
  ? 'KafkaBus (SKIPPED: KAFKA_BROKERS is not set; run `bash scripts/services.sh start kafka` and export its KAFKA_BROKERS)'
  : 'KafkaBus against a real Kafka';

const runPrefix = `test-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function reading(deviceId: string, seq: number): Reading {
  return {
    deviceId,
    kind: 'household_meter',
    at: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
    atMs: 1_700_000_000_000 + seq * 1000,
    gatewayId: 'gw-1',
    receivedAtMs: 1_700_000_000_000,
    volumeM3: seq,
  };
}

const seqOf = (r: Reading) => r.volumeM3 ?? -1;
const idOf = (r: Reading) => `${r.deviceId}#${seqOf(r)}`;

describe.skipIf(skip)(title, () => {
  const buses: KafkaBus[] = [];

  /** A bus on topics of its own, with short sessions so rebalances are quick. */
  async function newBus(name: string): Promise<KafkaBus> {
    const bus = await KafkaBus.start({
      brokers,
      clientId: `${runPrefix}-${name}`,
      topicPrefix: `${runPrefix}.${name}.`,
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
      retryBackoffMaxMs: 500,
    });
    buses.push(bus);
    return bus;
  }

  /** A second bus instance on the same topics: another process of the same deployment. */
  async function peerBus(of: KafkaBus, name: string): Promise<KafkaBus> {
    const bus = await KafkaBus.start({ ...of.options, clientId: `${of.options.clientId}-${name}` });
    buses.push(bus);
    return bus;
  }

  beforeAll(() => {
    if (missing) throw new Error('KAFKA_BROKERS is not set (CI): start Kafka with `bash scripts/services.sh start kafka` and export KAFKA_BROKERS');
  });

  afterAll(async () => {
    await Promise.allSettled(buses.map((b) => b.close()));
  });

  it('keeps one device’s readings in order on the partition of its key', async () => {
    const bus = await newBus('order');
    const devices = Array.from({ length: 12 }, (_, i) => `dev-order-${i}`);
    // Many concurrent publishes, interleaving devices: the publisher coalesces them.
    const sends: Promise<void>[] = [];
    for (let seq = 0; seq < 50; seq++) sends.push(bus.readings.publish(devices.map((d) => reading(d, seq))));
    await Promise.all(sends);

    const seen = new Map<string, number[]>();
    const sub = bus.readings.consume('order', (rs) => {
      for (const r of rs) seen.set(r.deviceId, [...(seen.get(r.deviceId) ?? []), seqOf(r)]);
    });
    await sub.ready;
    await waitFor('all 600 readings', () => [...seen.values()].reduce((n, s) => n + s.length, 0) >= 600);
    for (const d of devices) expect(seen.get(d)).toEqual(Array.from({ length: 50 }, (_, i) => i));

    // The 50 publishes of one tick go in one produce request: one record per partition their devices map to.
    const expected = new Array<number>(6).fill(0);
    for (const p of new Set(devices.map((d) => bus.partitionOf(d)))) expected[p] = 1;
    const lag = await bus.lag([{ group: 'nobody-' + randomUUID(), topic: bus.topics.readings }]);
    expect(lag.map((l) => l.highWatermark)).toEqual(expected);
  });

  it('hands the handler every reading with the offset of the record that carried it', async () => {
    const bus = await newBus('delivery');
    const devices = Array.from({ length: 30 }, (_, i) => `dev-d-${i}`);
    await bus.readings.publish(devices.map((d) => reading(d, 1)));
    await bus.readings.publish(devices.map((d) => reading(d, 2)));
    const seen: Array<{ partition: number; offset: number; reading: Reading }> = [];
    const sub = bus.readings.consume('delivery', (rs, delivery) => {
      rs.forEach((reading, i) => seen.push({ partition: delivery!.partition, offset: delivery!.offsets[i]!, reading }));
    });
    await sub.ready;
    await waitFor('60 readings', () => seen.length >= 60);
    // Whole readings back, fields written once per record included.
    expect(seen.find((s) => s.reading.deviceId === 'dev-d-3' && seqOf(s.reading) === 2)?.reading).toEqual(reading('dev-d-3', 2));
    for (const s of seen) {
      expect(s.partition).toBe(bus.partitionOfDevice(s.reading.deviceId));
      // Each partition got one record per publish: offsets 0 and 1.
      expect(s.offset).toBe(seqOf(s.reading) - 1);
    }
  });

  it('hands a handler up to maxHandlerBatch readings at once, counted in readings, not records', async () => {
    const bus = await KafkaBus.start({ ...(await newBus('handler-batch')).options, clientId: `${runPrefix}-handler-batch-20`, maxHandlerBatch: 20 });
    buses.push(bus);
    for (let p = 0; p < 5; p++) await bus.readings.publish(Array.from({ length: 10 }, (_, i) => reading('dev-hb-1', p * 10 + i)));
    const calls: number[] = [];
    const sub = bus.readings.consume('handler-batch', (rs) => void calls.push(rs.length));
    await sub.ready;
    await waitFor('50 readings', () => calls.reduce((n, c) => n + c, 0) >= 50);
    expect(calls).toEqual([20, 20, 10]);
  });

  it('remembers a device’s partition until its placement changes', async () => {
    const base = await newBus('placement');
    const valveOf = new Map<string, string>();
    const bus = await KafkaBus.start({ ...base.options, clientId: `${runPrefix}-placement-2` }, undefined, (id) => valveOf.get(id) ?? id);
    buses.push(bus);
    // An alarm whose own id and whose valve's id land on different partitions.
    const valve = Array.from({ length: 50 }, (_, i) => `valve-${i}`).find((v) => bus.partitionOf(v) !== bus.partitionOf('alarm-1'))!;
    expect(bus.partitionOfDevice('alarm-1')).toBe(bus.partitionOf('alarm-1'));
    valveOf.set('alarm-1', valve);
    expect(bus.partitionOfDevice('alarm-1')).toBe(bus.partitionOf('alarm-1'));
    bus.placementChanged('alarm-1');
    expect(bus.partitionOfDevice('alarm-1')).toBe(bus.partitionOf(valve));
  });

  it('a checkpointing consumer moves the group only as far as it commits', async () => {
    const bus = await newBus('checkpointed');
    const device = 'dev-c-1';
    const partition = bus.partitionOfDevice(device);
    for (let seq = 0; seq < 10; seq++) await bus.readings.publish([reading(device, seq)]);
    const target = [{ group: 'ckpt', topic: bus.topics.readings }];
    const handled: number[] = [];
    const first = bus.readings.consume('ckpt', (rs) => void handled.push(...rs.map(seqOf)), { commits: 'checkpointed' });
    await first.ready;
    await waitFor('all 10 handled', () => handled.length === 10);
    expect((await bus.lag(target)).find((l) => l.partition === partition)?.lag).toBe(10);
    await first.commit(partition, 5);
    expect((await bus.lag(target)).find((l) => l.partition === partition)).toMatchObject({ committedOffset: 6, lag: 4 });
    await first.close();

    // The next member of the group resumes after the commit: it replays 6…9.
    const replayed: number[] = [];
    const second = bus.readings.consume('ckpt', (rs, delivery) => void replayed.push(...delivery!.offsets), { commits: 'checkpointed' });
    await second.ready;
    await waitFor('the replay', () => replayed.length === 4);
    expect(replayed).toEqual([6, 7, 8, 9]);
    await expect(second.commit(partition, 9)).resolves.toBeUndefined();
  });

  it('redelivers the messages of a handler that threw: nothing is lost', async () => {
    const bus = await newBus('redeliver');
    const published = Array.from({ length: 200 }, (_, i) => reading(`dev-r-${i % 7}`, i));
    await bus.readings.publish(published);

    const received = new Set<string>();
    const failed: string[] = [];
    let calls = 0;
    const sub = bus.readings.consume('redeliver', (rs) => {
      calls++;
      if (calls === 1 || calls === 3) {
        failed.push(...rs.map(idOf));
        throw new Error('downstream unavailable');
      }
      for (const r of rs) received.add(idOf(r));
    });
    await sub.ready;
    await waitFor('every reading handled', () => received.size === published.length);
    expect(failed.length).toBeGreaterThan(0);
    for (const id of failed) expect(received.has(id)).toBe(true);
    // Committed only after success: the group has no backlog and nothing was skipped.
    await waitFor('lag zero', async () => (await bus.lag()).every((l) => l.lag === 0));
  });

  it('splits partitions between two members; a closed and a killed member’s partitions move to the survivor', async () => {
    const busA = await newBus('group');
    const busB = await peerBus(busA, 'b');
    const busC = await peerBus(busA, 'c');
    const received = new Map<string, Set<string>>([['A', new Set()], ['B', new Set()], ['C', new Set()]]);
    const assignedA: number[][] = [];
    const revokedA: number[][] = [];
    const revokedB: number[][] = [];
    const record = (who: string) => (rs: readonly Reading[]) => {
      for (const r of rs) received.get(who)!.add(idOf(r));
    };
    const all = () => new Set([...received.values()].flatMap((s) => [...s]));

    const subA = busA.readings.consume('processors', record('A'), {
      onAssigned: async (p) => void assignedA.push(p),
      onRevoked: async (p) => void revokedA.push(p),
    });
    await subA.ready;
    expect(subA.assigned()).toEqual([0, 1, 2, 3, 4, 5]);

    const subB: KafkaSubscription = busB.readings.consume('processors', record('B'), { onRevoked: async (p) => void revokedB.push(p) });
    await subB.ready;
    await waitFor('A and B to split the partitions', () => subA.assigned().length + subB.assigned().length === 6 && subA.assigned().length > 0);
    expect(subB.assigned().length).toBeGreaterThan(0);
    expect([...subA.assigned(), ...subB.assigned()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // A learned on its rejoin that B's partitions were taken from it.
    await waitFor('A told of its revoked partitions', () => revokedA.flat().length === subB.assigned().length);
    expect(revokedA.flat().sort()).toEqual(subB.assigned());

    const first = Array.from({ length: 300 }, (_, i) => reading(`dev-g-${i % 30}`, i));
    await busA.readings.publish(first);
    await waitFor('both members to get readings', () => all().size === 300);
    expect(received.get('A')!.size).toBeGreaterThan(0);
    expect(received.get('B')!.size).toBeGreaterThan(0);

    // Graceful close: B commits and leaves, A is assigned B's partitions.
    const ofB = subB.assigned();
    await subB.close();
    expect(revokedB.flat().sort()).toEqual(ofB);
    await waitFor('A to own every partition after B closed', () => subA.assigned().length === 6);
    expect(assignedA.at(-1)).toEqual(ofB);

    // A crash: C holds a batch in hand when it dies, unacknowledged; A gets it again.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inHandC = new Set<string>();
    const subC = busC.readings.consume('processors', async (rs) => {
      for (const r of rs) inHandC.add(idOf(r));
      await gate;
    });
    await subC.ready;
    await waitFor('A and C to split the partitions', () => subA.assigned().length + subC.assigned().length === 6 && subC.assigned().length > 0);
    const ofC = subC.assigned();
    const second = Array.from({ length: 300 }, (_, i) => reading(`dev-g-${i % 30}`, 1000 + i));
    await busA.readings.publish(second);
    await waitFor('C to hold readings', () => inHandC.size > 0);
    const killing = subC.kill();
    release();
    await killing;
    await waitFor('A to own every partition after C died', () => subA.assigned().length === 6);
    expect(assignedA.at(-1)).toEqual(ofC);
    await waitFor('every reading of the second round at A or handled', () => second.every((r) => received.get('A')!.has(idOf(r))));
    for (const id of inHandC) expect(received.get('A')!.has(id)).toBe(true);
  });

  it('a member killed with SIGKILL loses its partitions after the session timeout; its unacknowledged readings reach the survivor', async () => {
    const bus = await newBus('sigkill');
    const received = new Set<string>();
    const assigned: number[][] = [];
    const sub = bus.readings.consume('processors', (rs) => void rs.forEach((r) => received.add(idOf(r))), {
      onAssigned: async (p) => void assigned.push(p),
    });
    await sub.ready;

    const child = spawn(process.execPath, ['--import', 'tsx', new URL('./kafka-test-member.ts', import.meta.url).pathname], {
      env: { ...process.env, KAFKA_BROKERS: brokers.join(','), KAFKA_TOPIC_PREFIX: bus.options.topicPrefix, KAFKA_CLIENT_ID: `${runPrefix}-member`, GROUP: 'processors' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      let childPartitions: number[] = [];
      const inHand = new Set<string>();
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as { assigned?: number[]; revoked?: number[]; inHand?: string[] };
        if (msg.assigned) childPartitions = [...childPartitions, ...msg.assigned];
        if (msg.revoked) childPartitions = childPartitions.filter((p) => !msg.revoked!.includes(p));
        for (const id of msg.inHand ?? []) inHand.add(id);
      });
      await waitFor('the child to take partitions', () => childPartitions.length > 0 && sub.assigned().length + childPartitions.length === 6, 45_000);
      const batch = Array.from({ length: 240 }, (_, i) => reading(`dev-k-${i % 24}`, i));
      await bus.readings.publish(batch);
      await waitFor('the child to hold readings', () => inHand.size > 0);
      child.kill('SIGKILL');
      await exited;
      // No LeaveGroup was sent: the partitions move when the 6 s session expires.
      await waitFor('the survivor to own every partition', () => sub.assigned().length === 6, 30_000);
      expect(assigned.at(-1)?.sort()).toEqual([...childPartitions].sort());
      await waitFor('every reading at the survivor', () => batch.every((r) => received.has(idOf(r))), 30_000);
      for (const id of inHand) expect(received.has(id)).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 90_000);

  it('one group name on two topics: each topic’s member owns all of that topic’s partitions (regression: kafkajs assigners ignore subscriptions)', async () => {
    const bus = await newBus('twotopics');
    const readings = bus.readings.consume('processors', () => {});
    const statuses = bus.gatewayStatus.consume('processors', () => {});
    await Promise.all([readings.ready, statuses.ready]);
    await waitFor('both members to own 6 partitions', () => readings.assigned().length === 6 && statuses.assigned().length === 6);
    await bus.gatewayStatus.publish([{ gatewayId: 'gw-1', online: true, receivedAtMs: 1 }]);
    await waitFor('status lag zero', async () => (await bus.lag()).every((l) => l.lag === 0));
  });

  it('KafkaStateStore: compacted topic, the last value per device wins, tombstones delete', async () => {
    const bus = await newBus('state');
    const snap = (deviceId: string, lastAtMs: number): DeviceSnapshot => ({
      deviceId,
      kind: 'household_meter',
      gatewayId: 'gw-1',
      lastAtMs,
      lastHeardAtMs: lastAtMs,
      active: lastAtMs > 1 ? ['LOW_BATTERY'] : [],
      detectors: { battery: { below: lastAtMs } },
    });
    const devices = Array.from({ length: 20 }, (_, i) => `dev-s-${i}`);
    // As a checkpoint writes them: per partition, each state with the readings offset it covers.
    const checkpoint = async (ids: string[], lastAtMs: number, offset: number) => {
      for (let p = 0; p < 6; p++) {
        const mine = ids.filter((d) => bus.partitionOfDevice(d) === p);
        if (mine.length > 0) await bus.state.save(p, mine.map((d) => ({ offset, state: snap(d, lastAtMs) })));
      }
    };
    await checkpoint(devices, 1, 10);
    await checkpoint(devices.slice(0, 10), 2, 20);
    await bus.state.remove([devices[19]]);

    const byId = (a: CheckpointedDevice, b: CheckpointedDevice) => a.state.deviceId.localeCompare(b.state.deviceId);
    const target = bus.partitionOf(devices[0]);
    const loaded = await bus.state.load([target]);
    const expected = devices
      .filter((d) => bus.partitionOf(d) === target && d !== devices[19])
      .map((d) => (devices.indexOf(d) < 10 ? { offset: 20, state: snap(d, 2) } : { offset: 10, state: snap(d, 1) }));
    expect(loaded.sort(byId)).toEqual(expected.sort(byId));

    const everything = await bus.state.load([0, 1, 2, 3, 4, 5]);
    expect(everything.map((s) => s.state.deviceId).sort()).toEqual(devices.slice(0, 19).sort());
    expect(everything.find((s) => s.state.deviceId === devices[0])).toMatchObject({ offset: 20, state: { lastAtMs: 2 } });
    expect(everything.find((s) => s.state.deviceId === devices[15])).toMatchObject({ offset: 10, state: { lastAtMs: 1 } });

    const admin = new Kafka({ brokers, clientId: `${runPrefix}-admin`, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const config = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: bus.topics.processorState, configNames: ['cleanup.policy'] }], includeSynonyms: false });
      expect(config.resources[0].configEntries[0].configValue).toBe('compact');
      const meta = await admin.fetchTopicMetadata({ topics: [bus.topics.processorState, bus.topics.readings] });
      expect(meta.topics.map((t) => t.partitions.length)).toEqual([6, 6]);
    } finally {
      await admin.disconnect();
    }
  });

  it('splits a save larger than the broker takes in one batch (regression: 2 MB to one partition was refused forever)', async () => {
    const bus = await newBus('large');
    const ids: string[] = [];
    for (let i = 0; ids.length < 2500; i++) if (bus.partitionOf(`dev-l-${i}`) === 0) ids.push(`dev-l-${i}`);
    const padding = 'x'.repeat(800);
    const snapshots = ids.map((deviceId): CheckpointedDevice => ({ offset: 0, state: { deviceId, kind: 'household_meter', gatewayId: padding, lastAtMs: 1, lastHeardAtMs: 1, active: [], detectors: {} } }));
    await bus.state.save(0, snapshots);
    expect((await bus.state.load([0])).length).toBe(ids.length);
  });

  it('urgentFirst: the partition holding a marked record is worked on before the fetch’s other partitions finish', async () => {
    const base = await newBus('urgent');
    const bus = await KafkaBus.start({ ...base.options, clientId: `${runPrefix}-urgent-2`, maxHandlerBatch: 10 }, undefined, undefined, (readings) => readings.some((r) => r.lelPct === 60));
    buses.push(bus);
    // kafkajs works through a fetch's partitions in partition order: the leak goes in the last one.
    const devices = Array.from({ length: 400 }, (_, i) => `dev-u-${i}`);
    const last = bus.options.partitions - 1;
    const leakDevice = devices.find((d) => bus.partitionOfDevice(d) === last)!;
    const routine = devices.filter((d) => bus.partitionOfDevice(d) !== last);
    for (let round = 0; round < 20; round++) await bus.readings.publish(routine.map((d) => reading(d, round)));
    await bus.readings.publish([{ ...reading(leakDevice, 0), kind: 'home_gas_alarm', lelPct: 60 }]);
    const calls: Array<{ partition: number; readings: Reading[] }> = [];
    const sub = bus.readings.consume('urgent', (rs, delivery) => void calls.push({ partition: delivery!.partition, readings: [...rs] }), { urgentFirst: true });
    await sub.ready;
    await waitFor('every reading', () => calls.reduce((n, c) => n + c.readings.length, 0) >= routine.length * 20 + 1);
    const leakCall = calls.findIndex((c) => c.readings.some((r) => r.deviceId === leakDevice));
    // Every other partition has dozens of handler calls to make; each made at most its first before the leak's.
    const before = calls.slice(0, leakCall);
    expect(before.length).toBeLessThan(bus.options.partitions);
    expect(new Set(before.map((c) => c.partition)).size).toBe(before.length);
    // Order within each partition is untouched.
    for (const d of routine.slice(0, 20)) {
      const seqs = calls.flatMap((c) => c.readings.filter((r) => r.deviceId === d).map(seqOf));
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i));
    }
  });

  it('a possible gas alarm goes to Kafka on a producer of its own, past the routine requests in flight; every gateway keeps its order', async () => {
    const base = await newBus('lanes');
    // Every device on one partition: the order of the records there is the order they arrived in.
    const bus = await KafkaBus.start({ ...base.options, clientId: `${runPrefix}-lanes-2` }, undefined, () => 'one-key', (readings) => readings.some((r) => r.lelPct === 60));
    buses.push(bus);
    const via = (r: Reading, gatewayId: string): Reading => ({ ...r, gatewayId });
    await bus.readings.publish([via(reading('dev-l-warm', 0), 'GW-A')]);
    await waitFor('the urgent producer', () => bus.urgentLaneReady);
    // Gateway A's 20,000 routine readings in 20 batches go as several produce requests, one after another.
    const sends: Array<Promise<void>> = [];
    for (let b = 0; b < 20; b++) sends.push(bus.readings.publish(Array.from({ length: 1000 }, (_, i) => via(reading(`dev-l-${i % 500}`, b * 1000 + i + 1), 'GW-A'))));
    sends.push(bus.readings.publish([{ ...via(reading('dev-l-leak', 1), 'GW-B'), kind: 'home_gas_alarm', lelPct: 60 }]));
    // Each gateway's next batch: B's routine one follows its leak, A's its big one.
    sends.push(bus.readings.publish([via(reading('dev-l-leak', 2), 'GW-B')]));
    sends.push(bus.readings.publish([via(reading('dev-l-0', 20_001), 'GW-A')]));
    await Promise.all(sends);
    const order: string[] = [];
    const sub = bus.readings.consume('lanes', (rs) => void order.push(...rs.map((r) => `${r.gatewayId} ${idOf(r)}`)));
    await sub.ready;
    await waitFor('every reading', () => order.length >= 20_004);
    expect(order.indexOf('GW-B dev-l-leak#1')).toBeLessThan(order.indexOf('GW-A dev-l-499#20000'));
    expect(order.indexOf('GW-B dev-l-leak#2')).toBeGreaterThan(order.indexOf('GW-B dev-l-leak#1'));
    const gatewayA = order.filter((o) => o.startsWith('GW-A dev-l-') && !o.includes('warm')).map((o) => Number(o.split('#')[1]));
    expect(gatewayA).toEqual(Array.from({ length: 20_001 }, (_, i) => i + 1));
  });

  it('commits what it handled when it closes: the next member starts after it', async () => {
    const bus = await newBus('close-commit');
    for (let i = 0; i < 30; i++) await bus.readings.publish([reading(`dev-cc-${i % 5}`, i)]);
    const target = [{ group: 'closing', topic: bus.topics.readings }];
    let handled = 0;
    const sub = bus.readings.consume('closing', (rs) => void (handled += rs.length));
    await sub.ready;
    await waitFor('30 handled', () => handled === 30);
    await sub.close();
    // No waiting for the once-a-second commit: close() committed.
    expect((await bus.lag(target)).reduce((n, l) => n + l.lag, 0)).toBe(0);
    let again = 0;
    const next = bus.readings.consume('closing', (rs) => void (again += rs.length));
    await next.ready;
    await bus.readings.publish([reading('dev-cc-0', 100)]);
    await waitFor('the new reading', () => again >= 1);
    expect(again).toBe(1);
  });

  it('commits the batch in hand when close() is called before the member leaves (kafkajs skips commits once stopping)', async () => {
    const bus = await newBus('close-in-hand');
    for (let i = 0; i < 10; i++) await bus.readings.publish([reading('dev-ch-1', i)]);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inHand = new Promise<void>((resolve) => (entered = resolve));
    let handled = 0;
    const sub = bus.readings.consume('in-hand', async (rs) => {
      entered();
      await gate;
      handled += rs.length;
    });
    await sub.ready;
    await inHand;
    const closing = sub.close();
    release();
    await closing;
    // Everything the handler finished is committed (kafkajs may have fetched fewer than all ten at first).
    expect(handled).toBeGreaterThan(0);
    expect((await bus.lag([{ group: 'in-hand', topic: bus.topics.readings }])).reduce((n, l) => n + l.lag, 0)).toBe(10 - handled);
  });

  it('lag() reports the backlog, then zero once handled', async () => {
    const bus = await newBus('lag');
    // One record per publish of one reading.
    for (let i = 0; i < 120; i++) await bus.readings.publish([reading(`dev-l-${i % 10}`, i)]);
    const target = [{ group: 'lagging', topic: bus.topics.readings }];
    const before = await bus.lag(target);
    expect(before).toHaveLength(6);
    expect(before.reduce((n, l) => n + l.lag, 0)).toBe(120);
    expect(before.every((l) => l.committedOffset === -1)).toBe(true);
    const registry = new Registry();
    registerKafkaLagGauge(registry, bus, target);
    const scraped = await registry.getSingleMetric('gas_kafka_consumer_lag')!.get();
    expect(scraped.values.reduce((n, v) => n + v.value, 0)).toBe(120);

    let handled = 0;
    const sub = bus.readings.consume('lagging', (rs) => void (handled += rs.length));
    await sub.ready;
    await waitFor('lag zero', async () => (await bus.lag(target)).every((l) => l.lag === 0));
    expect(handled).toBeGreaterThanOrEqual(120);
    const after = await bus.lag();
    expect(after.every((l) => l.group === 'lagging' && l.lag === 0)).toBe(true);
  });
});
