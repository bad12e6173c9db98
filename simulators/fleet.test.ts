import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { DeviceRecordSchema } from '../contracts/device-record.ts';
import { DEVICE_KINDS } from '../contracts/messages.ts';
import { createFleet, KIND_PREFIX, type Fleet, type WireReading } from './fleet.ts';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');

/** Advances every device `rounds` times and returns every reading, as a Simulation would. */
function drive(fleet: Fleet, rounds: number): WireReading[][] {
  const out: WireReading[][] = [];
  for (let r = 0; r < rounds; r++) {
    const at = new Date(T0 + r * fleet.options.stepMs).toISOString();
    out.push(fleet.devices.map((d) => {
      fleet.advance(d);
      return fleet.reading(d, at);
    }));
  }
  return out;
}

describe('createFleet', () => {
  it('is deterministic from the seed: devices, registry and every value', () => {
    const a = createFleet({ gateways: 4, devices: 60, seed: 42, stepMs: 30_000 });
    const b = createFleet({ gateways: 4, devices: 60, seed: 42, stepMs: 30_000 });
    expect(b.registry()).toEqual(a.registry());
    expect(drive(b, 20)).toEqual(drive(a, 20));

    const c = createFleet({ gateways: 4, devices: 60, seed: 43, stepMs: 30_000 });
    expect(c.registry()).not.toEqual(a.registry());
  });

  it('names gateways and devices, spreads devices evenly, mixes kinds realistically', () => {
    const fleet = createFleet({ gateways: 7, devices: 200, seed: 1, stepMs: 30_000 });
    expect(fleet.gatewayIds[0]).toBe('GW-000001');
    expect(fleet.gatewayIds[6]).toBe('GW-000007');
    const sizes = fleet.byGateway.map((l) => l.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    for (const d of fleet.devices) expect(d.deviceId).toMatch(new RegExp(`^${KIND_PREFIX[d.kind]}-\\d{8}$`));
    expect(new Set(fleet.devices.map((d) => d.deviceId)).size).toBe(200);

    const count = (kind: string) => fleet.devices.filter((d) => d.kind === kind).length;
    expect(count('household_meter')).toBeGreaterThan(100);
    for (const kind of DEVICE_KINDS) expect(count(kind)).toBeGreaterThan(0);
    const vendors = new Set(fleet.devices.filter((d) => d.kind === 'household_meter').map((d) => d.vendor));
    expect(vendors).toEqual(new Set(['meihua', 'qianfeng']));
  });

  it.each([5, 6, 9, 17])('has every kind at least once with %i devices', (devices) => {
    const fleet = createFleet({ gateways: 1, devices, seed: 3, stepMs: 30_000 });
    expect(new Set(fleet.devices.map((d) => d.kind))).toEqual(new Set(DEVICE_KINDS));
  });

  it('writes registry records the pipeline accepts, with range, set points, interval and one linked valve', () => {
    const fleet = createFleet({ gateways: 3, devices: 50, seed: 9, stepMs: 30_000 });
    const records = fleet.registry();
    expect(records).toHaveLength(50);
    for (const r of records) {
      expect(Value.Check(DeviceRecordSchema, r), JSON.stringify(r)).toBe(true);
      expect(r.reportIntervalS).toBe(30);
      expect(r.gatewayId).toMatch(/^GW-\d{6}$/);
      expect(r.district && r.address && r.customer).toBeTruthy();
    }
    const byKind = (kind: string) => records.filter((r) => r.kind === kind);
    for (const r of byKind('household_meter')) expect(r.qmaxM3h).toBe(4);
    for (const r of byKind('industrial_controller')) expect(r.qmaxM3h).toBe(40);
    for (const r of byKind('flow_meter')) expect(r.qmaxM3h).toBe(160);
    for (const r of [...byKind('home_gas_alarm'), ...byKind('alarm_controller')]) expect([r.l1LelPct, r.l2LelPct]).toEqual([25, 50]);

    const linked = records.filter((r) => r.valveId !== undefined);
    expect(linked).toHaveLength(1);
    expect(linked[0]!.kind).toBe('home_gas_alarm');
    const meter = records.find((r) => r.deviceId === linked[0]!.valveId);
    expect(meter?.kind).toBe('household_meter');
    expect(fleet.linkedAlarm).toEqual({ alarmId: linked[0]!.deviceId, valveId: meter!.deviceId });
  });

  it('keeps every device within its normal range round after round', () => {
    const fleet = createFleet({ gateways: 5, devices: 200, seed: 11, stepMs: 30_000 });
    const rounds = drive(fleet, 150);
    const stepH = 30 / 3600;
    for (let r = 0; r < rounds.length; r++) {
      for (let i = 0; i < rounds[r]!.length; i++) {
        const x = rounds[r]![i]!;
        const prev = r > 0 ? rounds[r - 1]![i]! : undefined;
        expect(x.status).toBeUndefined();
        switch (x.kind) {
          case 'household_meter': {
            const nominal = x.vendor === 'qianfeng' ? 4.5 : 3.6;
            expect(Math.abs(x.batteryV! - nominal)).toBeLessThanOrEqual(0.011);
            expect(x.balanceM3!).toBeGreaterThan(10);
            expect(x.valve).toBe('open');
            if (prev) expect((x.volumeM3! - prev.volumeM3!) / stepH).toBeLessThanOrEqual(4);
            if (prev) expect(x.volumeM3!).toBeGreaterThanOrEqual(prev.volumeM3!);
            break;
          }
          case 'industrial_controller':
            expect(x.flowMeterVolumeM3).toBe(x.volumeM3);
            expect(x.flowMeterId).toBe(`${x.deviceId}-FM`);
            if (prev) expect((x.volumeM3! - prev.volumeM3!) / stepH).toBeLessThanOrEqual(40);
            expect(x.externalPowerV!).toBeGreaterThan(10);
            break;
          case 'flow_meter':
            expect(x.flowM3h!).toBeGreaterThan(0);
            expect(x.flowM3h!).toBeLessThanOrEqual(160);
            expect(x.temperatureC!).toBeGreaterThan(0);
            expect(x.temperatureC!).toBeLessThan(40);
            expect(x.pressureKPa!).toBeGreaterThan(0);
            break;
          case 'home_gas_alarm':
            expect(x.lelPct!).toBeGreaterThanOrEqual(0);
            expect(x.lelPct!).toBeLessThanOrEqual(3);
            expect(x.lamps).toEqual({ power: true, fault: false, alarm: false });
            expect(x.buzzer).toBe('off');
            break;
          case 'alarm_controller':
            expect(Math.abs(x.mainPowerV! - 220)).toBeLessThanOrEqual(3);
            expect(x.mainLoadPct).toBe(40);
            expect(x.backup).toBe('ok');
            expect(x.detectors).toHaveLength(4);
            for (const c of x.detectors!) expect(c.lelPct!).toBeLessThanOrEqual(2);
            break;
        }
      }
    }
  });

  it.each([
    [{ gateways: 0, devices: 10 }, /gateways/],
    [{ gateways: 5, devices: 4 }, /devices/],
    [{ gateways: 1, devices: 10, stepMs: 500 }, /stepMs/],
    [{ gateways: 1, devices: 10, seed: 1.5 }, /seed/],
  ])('refuses %j', (options, message) => {
    expect(() => createFleet({ seed: 1, stepMs: 30_000, ...options })).toThrow(message);
  });
});
