import { describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/messages.ts';
import { createFleet } from '../simulators/fleet.ts';
import { COMPACT_READINGS_FORMAT, CompactReadingsError, CompactReadingsWriter, readCompactReadings } from './compact-readings.ts';

const AT = '2026-12-06T08:00:00+08:00';
const base = { at: AT, atMs: Date.parse(AT), gatewayId: 'GW-1', receivedAtMs: Date.parse(AT) + 1234 };

function roundTrip(readings: readonly Reading[]): { back: Reading[]; record: Buffer } {
  const record = new CompactReadingsWriter().write(readings)!;
  expect(record[0]).toBe(COMPACT_READINGS_FORMAT);
  const back: Reading[] = [];
  expect(readCompactReadings(record, back)).toBe(readings.length);
  return { back, record };
}

describe('compact readings records', () => {
  it('give back every kind of the simulator fleet exactly, at under a third of the JSON', () => {
    const fleet = createFleet({ gateways: 4, devices: 400, seed: 7, stepMs: 30_000 });
    const readings: Reading[] = [];
    fleet.byGateway.forEach((members, g) => {
      for (const device of members) readings.push({ ...fleet.reading(device, AT), atMs: base.atMs, gatewayId: fleet.gatewayIds[g]!, receivedAtMs: base.receivedAtMs });
    });
    expect(new Set(readings.map((r) => r.kind)).size).toBe(5);
    const { back, record } = roundTrip(readings);
    // Strict, against what JSON carried: no key that was absent or undefined comes back as undefined.
    expect(back).toStrictEqual(JSON.parse(JSON.stringify(readings)));
    expect(record.length).toBeLessThan(JSON.stringify(readings).length / 3);
  });

  it('keep every optional field, texts in any script, partial lamps and each shape of controller channel', () => {
    const readings: Reading[] = [
      { deviceId: 'HM-1', kind: 'household_meter', ...base, status: ['故障', '关阀', 'ERR-4'], vendor: '梅花', volumeM3: 1572.981, balanceM3: -3.5, batteryV: 3.6, valve: 'closed' },
      { deviceId: 'IC-1', kind: 'industrial_controller', ...base, externalPowerV: 0, flowMeterId: 'FM-9', flowMeterVolumeM3: 1e10, valve: 'open', status: [] },
      { deviceId: 'FM-9', kind: 'flow_meter', ...base, flowM3h: 0.1 + 0.2, temperatureC: -273.15, pressureKPa: -101.325, volumeM3: 0 },
      { deviceId: 'HA-1', kind: 'home_gas_alarm', ...base, lelPct: 25, lamps: { alarm: true }, buzzer: 'intermittent' },
      { deviceId: 'HA-2', kind: 'home_gas_alarm', ...base, lamps: { power: true, fault: false, alarm: false }, buzzer: 'off' },
      {
        deviceId: 'AC-1', kind: 'alarm_controller', ...base, mainPowerV: 0, mainLoadPct: 130, backupV: 11.2, backup: 'open_circuit',
        detectors: [{ channel: 1, lelPct: 60.5 }, { channel: 'B-2', lelPct: null, status: '--F' }, { channel: 3, lelPct: 0, status: ['低报', 'FAULT'] }],
      },
      { deviceId: 'HM-1', kind: 'household_meter', ...base, at: '2026-12-06T00:00:30Z', atMs: base.atMs + 30_000, gatewayId: 'GW-2', receivedAtMs: base.receivedAtMs + 30_000 },
    ];
    expect(roundTrip(readings).back).toStrictEqual(readings);
  });

  it('carry a reading the layout cannot hold (an unknown field, a value of another type) whole as JSON', () => {
    const odd = [
      { deviceId: 'HM-1', kind: 'household_meter', ...base, volumeM3: 1, firmware: { version: '2.1' } },
      { deviceId: 'HA-1', kind: 'home_gas_alarm', ...base, lamps: { alarm: true, blink: 'fast' } },
      { deviceId: 'AC-1', kind: 'alarm_controller', ...base, detectors: [{ channel: 1, lelPct: 5, range: 100 }] },
      { deviceId: 'HM-2', kind: 'household_meter', ...base, volumeM3: '12.5' },
      { deviceId: 'HM-3', kind: 'gas_meter', ...base },
    ] as unknown as Reading[];
    const plain: Reading = { deviceId: 'HM-4', kind: 'household_meter', ...base, volumeM3: 2 };
    const { back } = roundTrip([...odd, plain]);
    expect(back).toStrictEqual([...odd, plain]);
    // A key left undefined is dropped, as JSON would.
    const withUndefined = { deviceId: 'HM-5', kind: 'household_meter', ...base, vendor: undefined, volumeM3: 3 } as Reading;
    expect(roundTrip([withUndefined]).back).toStrictEqual([{ deviceId: 'HM-5', kind: 'household_meter', ...base, volumeM3: 3 }]);
  });

  it('refuse a damaged record and add nothing from it', () => {
    const readings: Reading[] = [
      { deviceId: 'HM-1', kind: 'household_meter', ...base, volumeM3: 1 },
      { deviceId: 'HM-2', kind: 'household_meter', ...base, volumeM3: 2, valve: 'open' },
    ];
    const record = new CompactReadingsWriter().write(readings)!;
    const out: Reading[] = [];
    for (const cut of [1, 3, record.length - 1]) {
      expect(() => readCompactReadings(record.subarray(0, cut), out)).toThrow(CompactReadingsError);
    }
    expect(() => readCompactReadings(Buffer.concat([record, Buffer.from([0])]), out)).toThrow(/1 bytes after its 2 readings/);
    const badValve = Buffer.from(record);
    badValve[badValve.length - 9] = 7; // the second reading's valve code, before its volume
    expect(() => readCompactReadings(badValve, out)).toThrow(/valve code 7/);
    const badText = Buffer.from(record);
    const firstReading = record.length - (4 + 2 + 1 + 2 + 8 + 2 + 8 + 8) - (4 + 2 + 1 + 2 + 8 + 2 + 8 + 1 + 8);
    badText.writeUInt16LE(999, firstReading + 4);
    expect(() => readCompactReadings(badText, out)).toThrow(/names text 999/);
    expect(out).toEqual([]);
  });

  it('decline more readings or texts than a record counts, for the caller to write another way', () => {
    const many = Array.from({ length: 65_536 }, (_, i): Reading => ({ deviceId: `HM-${i}`, kind: 'household_meter', ...base }));
    const writer = new CompactReadingsWriter();
    expect(writer.write(many)).toBeUndefined();
    // Each id a text, with the time and gateway two more: 65,535 texts fit, 65,536 do not.
    expect(writer.write(many.slice(0, 65_534))).toBeUndefined();
    expect(roundTrip(many.slice(0, 65_533)).back).toStrictEqual(many.slice(0, 65_533));
  });

  it('read several records joined back to back as one, in order', () => {
    const writer = new CompactReadingsWriter();
    const first: Reading[] = [{ deviceId: 'HM-1', kind: 'household_meter', ...base, volumeM3: 1 }, { deviceId: 'HM-2', kind: 'household_meter', ...base, volumeM3: 2 }];
    const second: Reading[] = [{ deviceId: 'HA-1', kind: 'home_gas_alarm', ...base, gatewayId: 'GW-2', lelPct: 60 }];
    const joined = Buffer.concat([writer.write(first)!, writer.write(second)!, writer.write(first)!]);
    const back: Reading[] = [];
    expect(readCompactReadings(joined, back)).toBe(5);
    expect(back).toStrictEqual([...first, ...second, ...first]);
    // A damaged second segment: nothing of the record is added.
    const out: Reading[] = [];
    expect(() => readCompactReadings(joined.subarray(0, joined.length - 3), out)).toThrow(CompactReadingsError);
    expect(out).toEqual([]);
  });

  it('let one writer write records of any size one after another', () => {
    const writer = new CompactReadingsWriter();
    const big = Array.from({ length: 3000 }, (_, i): Reading => ({ deviceId: `AC-${i}`, kind: 'alarm_controller', ...base, detectors: Array.from({ length: 8 }, (_, c) => ({ channel: c + 1, lelPct: c, status: ['OK'] })) }));
    const small: Reading[] = [{ deviceId: 'HM-1', kind: 'household_meter', ...base, volumeM3: 1 }];
    for (const readings of [small, big, small]) {
      const back: Reading[] = [];
      readCompactReadings(writer.write(readings)!, back);
      expect(back).toStrictEqual(readings);
    }
  });
});
