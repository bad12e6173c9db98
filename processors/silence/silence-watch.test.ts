import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import type { AlertEvent, DeviceKind, Reading } from '../../contracts/messages.ts';
import { DeviceEngine } from '../device-engine.ts';
import { resolveProfile } from '../device-profile.ts';
import { type SilenceSettings, SilenceSettingsSchema, SilenceWatch } from './silence-watch.ts';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');
const S = 1000;

/** Report interval by device id: ids ending in `@<seconds>` report that often, the rest every 30 s. */
const intervalOf = (deviceId: string) => Number(deviceId.split('@')[1] ?? 30);

function setup(settings: Partial<SilenceSettings> = {}, intervals: (deviceId: string) => number = intervalOf) {
  const engine = new DeviceEngine([], { profileOf: (id) => resolveProfile({ deviceId: id, kind: 'home_gas_alarm', reportIntervalS: intervals(id) }) }, { onJudged() {} });
  const watch = new SilenceWatch(engine, Value.Default(SilenceSettingsSchema, settings) as never);
  const feed = (atMs: number, gatewayId: string, ...deviceIds: string[]): AlertEvent[] => {
    const readings: Reading[] = deviceIds.map((deviceId) => ({ deviceId, kind: 'home_gas_alarm', gatewayId, at: new Date(atMs).toISOString(), atMs, receivedAtMs: atMs, lelPct: 0 }));
    const out: AlertEvent[] = [];
    watch.onReadings(readings, out);
    engine.process(readings, out);
    return out;
  };
  const check = (atMs: number): AlertEvent[] => {
    const out: AlertEvent[] = [];
    watch.check(atMs, out);
    return out;
  };
  return { engine, watch, feed, check };
}

const edges = (events: AlertEvent[]) => events.map((e) => `${e.type} ${e.condition} ${e.subjectId}`);

describe('SilenceWatch', () => {
  it('raises NO_SIGNAL once a device misses three expected reports, and clears it when it speaks', () => {
    const { feed, check } = setup();
    for (let t = 0; t <= 300; t += 30) feed(T0 + t * S, 'GW-1', 'HA-1', ...(t <= 60 ? ['HA-2'] : []));
    check(T0 + 100 * S); // first check learns the gateway's interval
    expect(edges(check(T0 + 151 * S))).toEqual(['raise NO_SIGNAL HA-2']);
    expect(check(T0 + 300 * S)).toEqual([]);
    expect(edges(feed(T0 + 310 * S, 'GW-1', 'HA-2'))).toEqual(['clear NO_SIGNAL HA-2']);
  });

  it("folds a gateway's silent devices into one GATEWAY_OFFLINE when its last will fires and it stays away", () => {
    const { feed, check, watch } = setup();
    feed(T0, 'GW-1', 'HA-1', 'HA-2', 'HA-3');
    check(T0 + 10 * S);
    const out: AlertEvent[] = [];
    watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + 20 * S }, out);
    expect(out).toEqual([]);
    expect(check(T0 + 79 * S)).toEqual([]);
    const raised = check(T0 + 80 * S);
    expect(edges(raised)).toEqual(['raise GATEWAY_OFFLINE GW-1']);
    expect(raised[0]!.atMs).toBe(T0 + 20 * S);
    expect(raised[0]!.detail).toMatchObject({ reason: 'last_will', deviceCount: 3, devices: ['HA-1', 'HA-2', 'HA-3'] });
    expect(check(T0 + 600 * S)).toEqual([]);
    const back: AlertEvent[] = [];
    watch.onStatus({ gatewayId: 'GW-1', online: true, receivedAtMs: T0 + 610 * S }, back);
    expect(edges(back)).toEqual(['clear GATEWAY_OFFLINE GW-1']);
    // Devices get a full silence window from the gateway's return before NO_SIGNAL.
    expect(check(T0 + 690 * S)).toEqual([]);
    expect(edges(feed(T0 + 640 * S, 'GW-1', 'HA-1', 'HA-2', 'HA-3'))).toEqual([]);
  });

  it('pages nobody for a gateway back within the last-will grace (a cellular blip, a broker restart)', () => {
    const { feed, check, watch } = setup();
    feed(T0, 'GW-1', 'HA-1');
    const out: AlertEvent[] = [];
    watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + 10 * S }, out);
    watch.onStatus({ gatewayId: 'GW-1', online: true, receivedAtMs: T0 + 12 * S }, out);
    expect(out).toEqual([]);
    expect(check(T0 + 75 * S)).toEqual([]);
  });

  it('raises a last will at once with a grace of 0', () => {
    const { feed, watch } = setup({ lastWillGraceMs: 0 });
    feed(T0, 'GW-1', 'HA-1');
    const out: AlertEvent[] = [];
    watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + S }, out);
    expect(edges(out)).toEqual(['raise GATEWAY_OFFLINE GW-1']);
  });

  it('raises GATEWAY_OFFLINE for a gateway gone silent without a last will, and clears on its next batch', () => {
    const { feed, check } = setup();
    for (let t = 0; t <= 60; t += 30) feed(T0 + t * S, 'GW-1', 'HA-1');
    check(T0 + 61 * S);
    expect(check(T0 + 150 * S)).toEqual([]);
    const raised = check(T0 + 161 * S);
    expect(edges(raised)).toEqual(['raise GATEWAY_OFFLINE GW-1']);
    expect(raised[0]!.detail).toMatchObject({ reason: 'silent' });
    expect(edges(feed(T0 + 200 * S, 'GW-1', 'HA-1'))).toEqual(['clear GATEWAY_OFFLINE GW-1']);
  });

  it('repeats nothing for a last will delivered twice (retained message on reconnect)', () => {
    const { feed, check, watch } = setup();
    feed(T0, 'GW-1', 'HA-1');
    const out: AlertEvent[] = [];
    watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + S }, out);
    watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + 2 * S }, out);
    expect(edges([...out, ...check(T0 + 61 * S), ...check(T0 + 62 * S)])).toEqual(['raise GATEWAY_OFFLINE GW-1']);
  });

  describe('issue 11: a gateway gone quiet raises one GATEWAY_OFFLINE, not a NO_SIGNAL per device', () => {
    const ids = (n: number, prefix = 'HA', intervalS = 15) => Array.from({ length: n }, (_, i) => `${prefix}-${i}@${intervalS}`);
    /** Checks every 5 s over [fromS, toS], all events in order. */
    const checks = (check: (atMs: number) => AlertEvent[], fromS: number, toS: number) => {
      const all: AlertEvent[] = [];
      for (let t = fromS; t <= toS; t += 5) all.push(...check(T0 + t * S));
      return all;
    };

    it('folds 200 devices reporting every 15 s behind a gateway that goes quiet into exactly one GATEWAY_OFFLINE', () => {
      const { feed, check } = setup();
      const devices = ids(200);
      // Each device reports in its own batch, at its own phase within the 15 s.
      for (let t = 0; t < 120; t += 15) {
        devices.forEach((id, i) => feed(T0 + (t + (i % 15)) * S, 'GW-1', id));
        feed(T0 + t * S, 'GW-2', 'OTHER-1@15');
        check(T0 + (t + 14) * S);
      }
      // GW-1 went quiet after 120 + 14 s; GW-2 reports on.
      const events: AlertEvent[] = [];
      for (let t = 135; t <= 400; t += 5) {
        if (t % 15 === 0) feed(T0 + t * S, 'GW-2', 'OTHER-1@15');
        events.push(...check(T0 + t * S));
      }
      expect(edges(events)).toEqual(['raise GATEWAY_OFFLINE GW-1']);
      expect(events[0]!.detail).toMatchObject({ reason: 'silent', deviceCount: 200 });
      expect((events[0]!.detail as { devices: string[] }).devices).toHaveLength(200);
      // Back: one clear, and the devices get a full silence window again.
      const back = feed(T0 + 405 * S, 'GW-1', devices[0]!);
      expect(edges(back)).toEqual(['clear GATEWAY_OFFLINE GW-1']);
      for (let t = 405; t < 500; t += 15) {
        devices.forEach((id) => feed(T0 + t * S, 'GW-1', id));
        feed(T0 + t * S, 'GW-2', 'OTHER-1@15');
      }
      expect(checks(check, 410, 500)).toEqual([]);
    });

    it('raises NO_SIGNAL for a single silent device behind a live gateway at the first check after its deadline, as before', () => {
      for (const intervalS of [15, 30, 300]) {
        const { feed, check } = setup();
        const live = ids(3, 'HA', intervalS);
        const silent = `SILENT-1@${intervalS}`;
        const lastS = 2 * intervalS;
        const events: AlertEvent[] = [];
        for (let t = 0; t <= 10 * intervalS; t += 5) {
          if (t % intervalS === 0) feed(T0 + t * S, 'GW-1', ...live, ...(t <= lastS ? [silent] : []));
          const out = check(T0 + t * S + 1);
          if (out.length > 0) events.push(...out.map((e) => ({ ...e, atMs: e.atMs - T0 })));
        }
        // Silent once 3 reports are missing: the first check strictly after lastS + 3 × interval.
        const dueS = lastS + 3 * intervalS;
        expect(edges(events)).toEqual([`raise NO_SIGNAL ${silent}`]);
        expect(events[0]!.atMs).toBe(dueS * S + 1);
      }
    });

    it('raises GATEWAY_OFFLINE listing the one device of a single-device gateway, never a NO_SIGNAL (nothing tells the two apart)', () => {
      const { feed, check } = setup();
      for (let t = 0; t <= 60; t += 15) feed(T0 + t * S, 'GW-1', 'HA-1@15');
      // The device is overdue at 60 + 45 s, the gateway at 60 + max(60 s, 3 × 15 s): its NO_SIGNAL waits for that verdict.
      const events = checks(check, 65, 300);
      expect(edges(events)).toEqual(['raise GATEWAY_OFFLINE GW-1']);
      expect(events[0]!.atMs).toBe(T0 + 125 * S);
      expect(events[0]!.detail).toMatchObject({ deviceCount: 1, devices: ['HA-1@15'] });
    });

    it('raises a deferred NO_SIGNAL once the gateway turns out alive (another device reports before its verdict)', () => {
      const { feed, check } = setup({ gatewayMinSilenceMs: 600_000 });
      feed(T0, 'GW-1', 'HA-1', 'HA-2');
      // Both overdue at 90 s; the gateway is quiet, so both wait.
      expect(checks(check, 5, 120)).toEqual([]);
      feed(T0 + 121 * S, 'GW-1', 'HA-1');
      const raised = check(T0 + 125 * S);
      expect(edges(raised)).toEqual(['raise NO_SIGNAL HA-2']);
      expect(checks(check, 130, 200)).toEqual([]);
    });

    it('keeps a devices-without-gateway NO_SIGNAL as it was', () => {
      const { engine, check } = setup();
      engine.expect(resolveProfile({ deviceId: 'LONE-1', kind: 'home_gas_alarm', reportIntervalS: 30 }), T0);
      expect(check(T0 + 90 * S)).toEqual([]);
      expect(edges(check(T0 + 91 * S))).toEqual(['raise NO_SIGNAL LONE-1']);
    });
  });

  describe('issue 11: a check touches only the devices whose deadline passed', () => {
    it('leaves devices that report regularly alone: no device is judged before its first deadline, and then about once per silence window', () => {
      const { feed, check, watch } = setup();
      const devices = Array.from({ length: 1000 }, (_, i) => `HA-${i}`);
      let checksRun = 0;
      for (let t = 0; t <= 600; t += 5) {
        if (t % 30 === 0) for (let g = 0; g < 10; g++) feed(T0 + t * S, `GW-${g}`, ...devices.slice(g * 100, g * 100 + 100));
        expect(check(T0 + t * S + 1)).toEqual([]);
        checksRun++;
        // Deadlines are 90 s after the first reading: nothing before.
        if (t < 90) expect(watch.devicesJudged).toBe(0);
      }
      // A pass over every device at every check would be 121 × 1000; each is looked at once per 60–90 s here.
      expect(checksRun * devices.length).toBe(121_000);
      expect(watch.devicesJudged).toBeLessThanOrEqual(devices.length * 9);
    });

    it('judges a storm of 5,000 silent devices over several turns, each raised exactly once', () => {
      const { feed, check, watch } = setup();
      const gateways = Array.from({ length: 50 }, (_, g) => `GW-${g}`);
      const behind = (g: number) => Array.from({ length: 100 }, (_, i) => `HA-${g}-${i}`);
      for (let t = 0; t <= 60; t += 30) gateways.forEach((gw, g) => feed(T0 + t * S, gw, `KEEP-${g}`, ...behind(g)));
      // From 90 s on only the keepers report: the gateways are alive, 5,000 devices are silent from 150 s.
      for (let t = 90; t <= 150; t += 30) gateways.forEach((gw, g) => feed(T0 + t * S, gw, `KEEP-${g}`));
      expect(check(T0 + 150 * S)).toEqual([]);
      const before = watch.devicesJudged;
      const raised: AlertEvent[] = [];
      let turns = 0;
      let done = false;
      while (!done) {
        const out: AlertEvent[] = [];
        done = watch.check(T0 + 151 * S, out, 1_000);
        expect(watch.devicesJudged - before).toBeLessThanOrEqual(1_000 * (turns + 1));
        raised.push(...out);
        turns++;
        // A device that speaks between turns is not raised.
        if (turns === 2) feed(T0 + 151 * S, 'GW-49', 'HA-49-99');
      }
      expect(turns).toBeGreaterThanOrEqual(5);
      expect(raised.every((e) => e.type === 'raise' && e.condition === 'NO_SIGNAL')).toBe(true);
      const ids = raised.map((e) => e.subjectId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(4_999);
      expect(ids).not.toContain('HA-49-99');
      expect(check(T0 + 200 * S)).toEqual([]);
    });

    it('follows registry edits: a shorter report interval brings the deadline forward; a forgotten device is neither raised nor listed', () => {
      let fast = false;
      const { engine, feed, check, watch } = setup({}, (id) => (id === 'HA-2' && fast ? 10 : 30));
      for (let t = 0; t <= 60; t += 30) feed(T0 + t * S, 'GW-1', 'HA-1', ...(t === 0 ? ['HA-2', 'HA-3'] : []));
      fast = true;
      engine.updateProfile('HA-2');
      engine.forget('HA-3');
      // HA-2 is due 30 s after its reading at 0 now, HA-3 is no longer this engine's.
      expect(edges(check(T0 + 31 * S))).toEqual(['raise NO_SIGNAL HA-2']);
      expect(check(T0 + 100 * S)).toEqual([]);
      const out: AlertEvent[] = [];
      watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + 101 * S }, out);
      const offline = check(T0 + 161 * S);
      expect(offline[0]!.detail).toMatchObject({ deviceCount: 2, devices: ['HA-1', 'HA-2'] });
    });
  });

  describe('issue 11: snapshots and restores rebuild the deadlines', () => {
    it('resumes after a restart: silence judged at the same times, an offline gateway stays folded until it is back', () => {
      const first = setup();
      for (let t = 0; t <= 60; t += 30) {
        first.feed(T0 + t * S, 'GW-1', 'HA-1', ...(t === 0 ? ['HA-2'] : []));
        first.feed(T0 + t * S, 'GW-2', 'HB-1', 'HB-2');
      }
      first.check(T0 + 61 * S);
      const gateways = JSON.parse(JSON.stringify(first.watch.snapshot()));
      const devices = [...first.engine.devices.values()].map((d) => JSON.parse(JSON.stringify(first.engine.snapshotDevice(d))));

      const second = setup();
      for (const d of devices) second.engine.restoreDevice(d);
      second.watch.restore(gateways);
      second.feed(T0 + 90 * S, 'GW-1', 'HA-1');
      // HA-2 (last heard at 0) is due at 90 s behind a live gateway; GW-2 went quiet with the restart (silent 90 s after 60 s).
      expect(edges(second.check(T0 + 91 * S))).toEqual(['raise NO_SIGNAL HA-2']);
      expect(second.check(T0 + 150 * S)).toEqual([]);
      const gw2 = second.check(T0 + 151 * S);
      expect(edges(gw2)).toEqual(['raise GATEWAY_OFFLINE GW-2']);
      expect(gw2[0]!.detail).toMatchObject({ deviceCount: 2 });

      // Restart while GW-2 is down: still down, its devices still folded; back, they are due afresh.
      const third = setup();
      for (const d of [...second.engine.devices.values()].map((x) => JSON.parse(JSON.stringify(second.engine.snapshotDevice(x))))) third.engine.restoreDevice(d);
      third.watch.restore(JSON.parse(JSON.stringify(second.watch.snapshot())));
      for (let t = 120; t <= 400; t += 30) third.feed(T0 + t * S, 'GW-1', 'HA-1', 'HA-2');
      expect(edges([...third.check(T0 + 200 * S), ...third.check(T0 + 400 * S)])).toEqual([]);
      expect(edges(third.feed(T0 + 401 * S, 'GW-2', 'HB-1'))).toEqual(['clear GATEWAY_OFFLINE GW-2']);
      for (let t = 420; t <= 491; t += 30) third.feed(T0 + t * S, 'GW-1', 'HA-1', 'HA-2');
      for (let t = 431; t <= 491; t += 30) third.feed(T0 + t * S, 'GW-2', 'HB-1');
      // HB-2 gets a full window from the gateway's return: 401 + 90 s.
      expect(third.check(T0 + 491 * S)).toEqual([]);
      expect(edges(third.check(T0 + 492 * S))).toEqual(['raise NO_SIGNAL HB-2']);
    });
  });
});

describe('issue 12 item 11: GATEWAY_OFFLINE is normal even with home gas alarms behind it', () => {
  it('counts the gas alarms and alarm controllers behind the gateway on its GATEWAY_OFFLINE (blind while it is down), beyond the devices listed', () => {
    const kindOf = (id: string): DeviceKind => (id.startsWith('HA') ? 'home_gas_alarm' : id.startsWith('AC') ? 'alarm_controller' : 'household_meter');
    const engine = new DeviceEngine([], { profileOf: (id) => resolveProfile({ deviceId: id, kind: kindOf(id), reportIntervalS: 30 }) }, { onJudged() {} });
    const watch = new SilenceWatch(engine, Value.Default(SilenceSettingsSchema, { maxDevicesInDetail: 1 }) as never);
    const feed = (gatewayId: string, ...deviceIds: string[]) => {
      const readings = deviceIds.map((deviceId) => ({ deviceId, kind: kindOf(deviceId), gatewayId, at: new Date(T0).toISOString(), atMs: T0, receivedAtMs: T0, ...(kindOf(deviceId) === 'household_meter' ? { volumeM3: 1, batteryV: 3.6 } : kindOf(deviceId) === 'home_gas_alarm' ? { lelPct: 0 } : { detectors: [] }) })) as Reading[];
      const out: AlertEvent[] = [];
      watch.onReadings(readings, out);
      engine.process(readings, out);
    };
    feed('GW-M', 'HM-1', 'HM-2');
    feed('GW-A', 'HM-3', 'HA-1', 'AC-1');
    const out: AlertEvent[] = [];
    watch.check(T0 + 3_600 * S, out);
    const detailOf = (gw: string) => out.find((e) => e.condition === 'GATEWAY_OFFLINE' && e.subjectId === gw)!.detail;
    expect(detailOf('GW-M')).toMatchObject({ deviceCount: 2, gasAlarms: 0 });
    expect(detailOf('GW-A')).toMatchObject({ deviceCount: 3, gasAlarms: 2, devices: ['HM-3'] });
  });
});
