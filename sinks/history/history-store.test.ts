import { describe, expect, it } from 'vitest';
import type { DeviceKind, Reading } from '../../contracts/messages.ts';
import { DEVICE_OVERHEAD_BYTES, HistoryStore } from './history-store.ts';
import { parseHistorySettings } from './options.ts';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
// Device time far from the wall clock: the store must go by the readings' own times.
const T0 = Date.parse('2031-03-01T00:00:00.000Z');

function reading(deviceId: string, kind: DeviceKind, atMs: number, fields: Partial<Reading> = {}): Reading {
  return { deviceId, kind, at: new Date(atMs).toISOString(), atMs, gatewayId: 'GW-1', receivedAtMs: atMs, ...fields };
}

const alarm = (id: string, atMs: number, lelPct: number, status?: string[]) => reading(id, 'home_gas_alarm', atMs, { lelPct, status });
const meter = (id: string, atMs: number, volumeM3: number, batteryV = 3.6, balanceM3 = 40) => reading(id, 'household_meter', atMs, { volumeM3, batteryV, balanceM3 });

function store(settings: Record<string, unknown> = {}): HistoryStore {
  return new HistoryStore(parseHistorySettings(settings));
}

const all = (s: HistoryStore, id: string, limit = 10_000) => s.query(id, 0, 8.64e15, limit)!;

describe('HistoryStore', () => {
  it('keeps each reading as a point at its own device time, with the fields of its kind and its status', () => {
    const s = store();
    s.append([meter('HM-1', T0, 100.5), meter('HM-1', T0 + HOUR, 100.75, 3.5)]);
    s.add(reading('HM-1', 'household_meter', T0 + 2 * HOUR, { volumeM3: 101, status: ['故障', 'ERR-4'], valve: 'closed' }));
    expect(all(s, 'HM-1')).toEqual({
      source: 'local',
      bucketMs: null,
      points: [
        { atMs: T0, values: { volumeM3: 100.5, balanceM3: 40, batteryV: 3.6 } },
        { atMs: T0 + HOUR, values: { volumeM3: 100.75, balanceM3: 40, batteryV: 3.5 } },
        { atMs: T0 + 2 * HOUR, values: { volumeM3: 101 }, status: ['ERR-4', '故障'] },
      ],
    });
    expect(s.kindOf('HM-1')).toBe('household_meter');
    expect(s.query('HM-2', 0, T0, 10)).toBeUndefined();
  });

  it('charts the highest channel of an alarm controller and marks channels showing --F', () => {
    const s = store();
    s.add(reading('AC-1', 'alarm_controller', T0, { mainPowerV: 220, mainLoadPct: 40, backupV: 12.1, detectors: [{ channel: 1, lelPct: 3 }, { channel: 2, lelPct: null, status: ['--F'] }, { channel: 3, lelPct: 61 }] }));
    expect(all(s, 'AC-1').points).toEqual([{ atMs: T0, values: { lelPct: 61, mainLoadPct: 40, mainPowerV: 220, backupV: 12.1 }, status: ['ch2 --F'] }]);
  });

  it('merges readings within the first resolution: peaks and dips kept, registers take the newest, statuses joined', () => {
    const s = store();
    s.append([
      meter('HM-1', T0 + 5 * SEC, 10, 3.6, 30),
      meter('HM-1', T0 + 20 * SEC, 10.25, 3.1, 29),
      alarm('HA-1', T0 + 1 * SEC, 4),
      alarm('HA-1', T0 + 31 * SEC, 62, ['报警']),
      alarm('HA-1', T0 + 59 * SEC, 12, ['故障']),
      alarm('HA-1', T0 + 60 * SEC, 0),
    ]);
    expect(all(s, 'HM-1').points).toEqual([{ atMs: T0 + 20 * SEC, values: { volumeM3: 10.25, batteryV: 3.1, balanceM3: 29 } }]);
    expect(all(s, 'HA-1').points).toEqual([
      { atMs: T0 + 59 * SEC, values: { lelPct: 62 }, status: ['报警', '故障'] },
      { atMs: T0 + 60 * SEC, values: { lelPct: 0 } },
    ]);
  });

  it('puts a late reading in its place, and a reading delivered again changes nothing', () => {
    const s = store();
    const readings = [meter('HM-1', T0, 1), meter('HM-1', T0 + 2 * HOUR, 3), meter('HM-1', T0 + HOUR, 2)];
    s.append(readings);
    const once = all(s, 'HM-1');
    expect(once.points.map((p) => p.values.volumeM3)).toEqual([1, 2, 3]);
    s.append(readings);
    expect(all(s, 'HM-1')).toEqual(once);
    expect(s.stats().points).toBe(3);
  });

  it('drops readings older than maxAgeMs behind the newest reading it has seen, whatever the wall clock says', () => {
    const s = store({ maxAgeMs: DAY, tiers: [{ upToAgeMs: DAY, resolutionMs: MIN }] });
    s.add(meter('HM-1', T0, 1));
    s.add(meter('HM-2', T0 + 2 * DAY, 2));
    s.add(meter('HM-1', T0 + 1000, 1.5));
    expect(s.stats()).toMatchObject({ readings: 3, tooOld: 1 });
  });

  it('downsamples a 30-second device by age: 1 min for the last hour, 15 min for the day, 2 h for the week, the peak kept', async () => {
    const s = store();
    const end = T0 + 8 * DAY;
    const spikeAt = end - 3 * DAY + 17 * MIN + 30 * SEC;
    for (let t = T0; t <= end; t += 30 * SEC) s.add(alarm('HA-1', t, t === spikeAt ? 60 : 1));
    const { points } = all(s, 'HA-1');
    expect(points.length).toBeLessThanOrEqual(256);
    // Nothing older than 7 days behind the newest reading.
    expect(points[0]!.atMs).toBeGreaterThanOrEqual(end - 7 * DAY);
    const spacing = (fromAge: number, toAge: number) => {
      const inside = points.filter((p) => end - p.atMs >= fromAge && end - p.atMs < toAge).map((p) => p.atMs);
      return Math.min(...inside.slice(1).map((t, i) => t - inside[i]!));
    };
    // A point merged from the readings of one minute carries the time of its newest: one per minute.
    const lastHour = points.filter((p) => end - p.atMs >= MIN && end - p.atMs < 50 * MIN).map((p) => Math.floor(p.atMs / MIN));
    expect(lastHour.slice(1).map((m, i) => m - lastHour[i]!)).toEqual(lastHour.slice(1).map(() => 1));
    expect(spacing(2 * HOUR, 20 * HOUR)).toBeGreaterThanOrEqual(15 * MIN);
    expect(spacing(2 * DAY, 6 * DAY)).toBeGreaterThanOrEqual(2 * HOUR);
    // The one reading at 60 %LEL three days ago survives in the 2-hour point that holds it.
    const spike = points.filter((p) => p.values.lelPct === 60);
    expect(spike).toHaveLength(1);
    expect(spike[0]!.atMs - spikeAt).toBeGreaterThanOrEqual(0);
    expect(spike[0]!.atMs - spikeAt).toBeLessThan(2 * HOUR);
    // The newest reading is the last point, to the second.
    expect(points.at(-1)).toEqual({ atMs: end, values: { lelPct: 1 } });
    await s.sweep();
    expect(all(s, 'HA-1').points).toEqual(points);
  });

  it('holds at most maxPointsPerDevice, merging the oldest pairwise and keeping the newest as they came', () => {
    const s = store({ maxPointsPerDevice: 16, tiers: [{ upToAgeMs: 7 * DAY, resolutionMs: MIN }] });
    for (let i = 0; i < 200; i++) s.add(meter('FM-1', T0 + i * 10 * MIN, i));
    const { points } = all(s, 'FM-1');
    expect(points.length).toBeLessThanOrEqual(16);
    expect(points.slice(-4).map((p) => p.values.volumeM3)).toEqual([196, 197, 198, 199]);
    // Merged points keep the register's newest value and the newest time: still ordered and increasing.
    for (let i = 1; i < points.length; i++) {
      expect(points[i]!.atMs).toBeGreaterThan(points[i - 1]!.atMs);
      expect(points[i]!.values.volumeM3).toBeGreaterThan(points[i - 1]!.values.volumeM3!);
    }
    expect(s.stats().points).toBe(points.length);
  });

  it('stays within maxBytes by giving each device an equal share once the total is reached', async () => {
    const maxBytes = 1 << 20;
    const s = store({ maxBytes, tiers: [{ upToAgeMs: 7 * DAY, resolutionMs: MIN }] });
    const devices = 400;
    for (let i = 0; i < 300; i++) for (let d = 0; d < devices; d++) s.add(alarm(`HA-${d}`, T0 + i * MIN, i % 7));
    const before = s.stats();
    // Each array grows only while the total allows it.
    expect(before.bytes).toBeLessThanOrEqual(maxBytes);
    expect(before.pointsPerDeviceLimit).toBeLessThan(256);
    // A share for everyone: 1 MiB over 400 alarms (3 numbers a point) is about 100 points each.
    await s.sweep();
    const after = s.stats();
    expect(after.bytes).toBeLessThanOrEqual(maxBytes);
    expect(after.devices).toBe(devices);
    const counts = Array.from({ length: devices }, (_, d) => all(s, `HA-${d}`).points.length);
    // Nobody starved: a device caught below the share when the total was reached (its growth is
    // staggered by slot) keeps at least a third of it, and grows again when it next fills up.
    expect(Math.min(...counts)).toBeGreaterThan(after.pointsPerDeviceLimit / 3);
    expect(Math.max(...counts)).toBeLessThanOrEqual(after.pointsPerDeviceLimit);
    expect(after.points).toBe(counts.reduce((a, b) => a + b, 0));
    expect(after.bytes).toBeGreaterThan(devices * DEVICE_OVERHEAD_BYTES);
    // Readings go on: the devices below the share grow into the room the sweep made.
    for (let i = 300; i < 400; i++) for (let d = 0; d < devices; d++) s.add(alarm(`HA-${d}`, T0 + i * MIN, i % 7));
    const later = Array.from({ length: devices }, (_, d) => all(s, `HA-${d}`).points.length);
    expect(Math.min(...later)).toBeGreaterThanOrEqual(Math.floor((s.stats().pointsPerDeviceLimit * 3) / 4));
    expect(s.stats().bytes).toBeLessThanOrEqual(maxBytes);
  });

  it('forgets a device silent for longer than maxAgeMs at the next sweep, by device time', async () => {
    const s = store({ maxAgeMs: DAY, tiers: [{ upToAgeMs: DAY, resolutionMs: MIN }] });
    s.add(meter('HM-old', T0, 1));
    s.add(meter('HM-new', T0 + DAY - MIN, 1));
    await s.sweep();
    expect(s.stats().devices).toBe(2);
    s.add(meter('HM-new', T0 + DAY + MIN, 2));
    await s.sweep();
    expect(s.stats()).toMatchObject({ devices: 1, evictedDevices: 1, points: 2 });
    expect(s.kindOf('HM-old')).toBeUndefined();
  });

  it('answers a long range in at most `limit` epoch-aligned buckets, merged by the same rules', () => {
    const s = store();
    for (let i = 0; i < 120; i++) s.add(meter('HM-1', T0 + i * MIN, 100 + i, 3.6 - i / 1000));
    const answer = s.query('HM-1', T0, T0 + 119 * MIN, 10)!;
    // 119 min in at most 10 buckets: 119/9 min, rounded up to whole seconds.
    expect(answer.bucketMs).toBe(794_000);
    expect(answer.points.length).toBeLessThanOrEqual(10);
    expect(answer.points[0]!.atMs % answer.bucketMs!).toBe(0);
    const last = answer.points.at(-1)!;
    expect(last.values.volumeM3).toBe(219);
    expect(last.values.batteryV).toBeCloseTo(3.6 - 0.119);
    expect(s.query('HM-1', T0 + 10 * MIN, T0 + 12 * MIN, 10)!.points.map((p) => p.values.volumeM3)).toEqual([110, 111, 112]);
  });

  it('starts a device over when its kind changes', () => {
    const s = store();
    s.add(meter('X-1', T0, 1));
    s.add(alarm('X-1', T0 + HOUR, 5));
    expect(all(s, 'X-1').points).toEqual([{ atMs: T0 + HOUR, values: { lelPct: 5 } }]);
    expect(s.stats()).toMatchObject({ devices: 1, points: 1 });
  });

  it('keeps a bounded set of status combinations; later new ones read as …', () => {
    const s = store({ statusSetLimit: 16 });
    for (let i = 0; i < 40; i++) s.add(alarm('HA-1', T0 + i * MIN, 0, [`ERR-${i}`]));
    const statuses = all(s, 'HA-1').points.map((p) => p.status![0]);
    expect(statuses.slice(0, 14)).toEqual(Array.from({ length: 14 }, (_, i) => `ERR-${i}`));
    expect(new Set(statuses.slice(14))).toEqual(new Set(['…']));
  });

  it('finds each device of a gateway batch whatever its position, after devices are forgotten and their slots reused', async () => {
    const s = store({ maxAgeMs: DAY, tiers: [{ upToAgeMs: DAY, resolutionMs: MIN }] });
    const onGateway = (gatewayId: string, r: Reading) => ({ ...r, gatewayId });
    // GW-A learns positions 0..2 = A0, A1, A2.
    s.append(['A0', 'A1', 'A2'].map((id, i) => onGateway('GW-A', alarm(id, T0, i))));
    // Same gateway, same batch size, another order and one new device: each reading goes to its own device.
    s.append(['A2', 'A0', 'A9'].map((id, i) => onGateway('GW-A', alarm(id, T0 + 2 * MIN, 10 + i))));
    expect(all(s, 'A0').points.map((p) => p.values.lelPct)).toEqual([0, 11]);
    expect(all(s, 'A2').points.map((p) => p.values.lelPct)).toEqual([2, 10]);
    expect(all(s, 'A9').points.map((p) => p.values.lelPct)).toEqual([12]);
    // A1 falls silent past maxAgeMs and is forgotten; a device of another gateway takes its slot.
    s.append(['A2', 'A0', 'A9'].map((id, i) => onGateway('GW-A', alarm(id, T0 + DAY + HOUR, 20 + i))));
    await s.sweep();
    expect(s.kindOf('A1')).toBeUndefined();
    s.append([onGateway('GW-B', meter('B0', T0 + DAY + HOUR, 5))]);
    // GW-A sends its first batch again: A1 is a new device, nothing lands on B0.
    s.append(['A0', 'A1', 'A2'].map((id, i) => onGateway('GW-A', alarm(id, T0 + DAY + 2 * HOUR, 30 + i))));
    expect(all(s, 'A1').points).toEqual([{ atMs: T0 + DAY + 2 * HOUR, values: { lelPct: 31 } }]);
    expect(all(s, 'B0').points).toEqual([{ atMs: T0 + DAY + HOUR, values: { volumeM3: 5, balanceM3: 40, batteryV: 3.6 } }]);
    // Its points of the first day are past maxAgeMs and were swept.
    expect(all(s, 'A2').points.map((p) => p.values.lelPct)).toEqual([20, 32]);
    expect(s.stats()).toMatchObject({ devices: 5, evictedDevices: 1 });
  });

  it('grows a device reporting every minute or faster fourfold, and one reporting daily twofold', () => {
    const s = store();
    const perPoint = (kind: 'home_gas_alarm' | 'household_meter') => (kind === 'home_gas_alarm' ? 3 : 5) * 8;
    const bytesSinceNow = () => {
      const before = s.stats().bytes;
      return () => s.stats().bytes - before;
    };
    for (let i = 0; i < 4; i++) s.add(alarm('HA-fast', T0 + i * 30 * SEC * 2, 1));
    const fast = bytesSinceNow();
    s.add(alarm('HA-fast', T0 + 5 * MIN, 1));
    expect(fast()).toBe((16 - 4) * perPoint('home_gas_alarm'));
    for (let i = 0; i < 4; i++) s.add(meter('HM-daily', T0 + i * DAY, i));
    const daily = bytesSinceNow();
    s.add(meter('HM-daily', T0 + 4 * DAY, 4));
    expect(daily()).toBe((8 - 4) * perPoint('household_meter'));
  });

  it('staggers the growth of devices filling up in step, so a fleet does not grow all at once', () => {
    const s = store();
    const capacities = () => [...s.devices()].map(([, data]) => (data.length - 2) / 3);
    const fleet = Array.from({ length: 64 }, (_, d) => `HA-${d}`);
    for (let i = 0; i < 5; i++) for (const id of fleet) s.add(alarm(id, T0 + i * MIN, 1));
    // Each grew once, to at most fourfold and at least three quarters of it, by its slot.
    const first = capacities();
    expect(Math.min(...first)).toBeGreaterThanOrEqual(12);
    expect(Math.max(...first)).toBe(16);
    expect(new Set(first).size).toBeGreaterThanOrEqual(4);
    // Their next growth comes at as many different counts: never more than a quarter of the fleet at one.
    const grownAt = new Map<number, number>();
    for (let i = 5; i < 17; i++) {
      const before = capacities();
      for (const id of fleet) s.add(alarm(id, T0 + i * MIN, 1));
      const grew = capacities().filter((c, d) => c > before[d]!).length;
      if (grew > 0) grownAt.set(i, grew);
    }
    expect([...grownAt.values()].reduce((a, b) => a + b, 0)).toBe(fleet.length);
    expect(Math.max(...grownAt.values())).toBeLessThanOrEqual(fleet.length / 4);
    expect(Math.max(...capacities())).toBeLessThanOrEqual(256);
  });
});
