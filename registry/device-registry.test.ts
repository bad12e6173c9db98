import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../app/errors.ts';
import { DeviceRegistry, readRegistryFile, recordProblem } from './device-registry.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'registry-'));

describe('device registry', () => {
  it('loads a JSON array or a {"devices": [...]} document, keeping unknown fields', () => {
    const d = dir();
    writeFileSync(join(d, 'a.json'), JSON.stringify([{ deviceId: 'HM-1', kind: 'household_meter', vendor: 'qianfeng', meterSerial: 'S-1' }]));
    writeFileSync(join(d, 'b.json'), JSON.stringify({ devices: [{ deviceId: 'HA-1', kind: 'home_gas_alarm', valveId: 'HM-1', l1LelPct: 20 }] }));
    expect(readRegistryFile(join(d, 'a.json'))).toEqual([{ deviceId: 'HM-1', kind: 'household_meter', vendor: 'qianfeng', meterSerial: 'S-1' }]);
    expect(readRegistryFile(join(d, 'b.json'))[0]).toMatchObject({ valveId: 'HM-1', l1LelPct: 20 });
  });

  it('loads CSV with a header row, numbers as numbers and empty cells left out', () => {
    const d = dir();
    writeFileSync(join(d, 'r.csv'), '\ufeffdeviceId,kind,district,qmaxM3h,reportIntervalS,valveId\nFM-1,flow_meter,西城区,160,3600,\nHA-2,home_gas_alarm,西城区,,30,HM-1\n');
    expect(readRegistryFile(join(d, 'r.csv'))).toEqual([
      { deviceId: 'FM-1', kind: 'flow_meter', district: '西城区', qmaxM3h: 160, reportIntervalS: 3600 },
      { deviceId: 'HA-2', kind: 'home_gas_alarm', district: '西城区', reportIntervalS: 30, valveId: 'HM-1' },
    ]);
  });

  it('flow-meter service fields: dates as text, the interval as a number from CSV; bad dates and intervals refused by name', () => {
    const d = dir();
    writeFileSync(join(d, 'fm.csv'), 'deviceId,kind,installedAt,lastServiceAt,serviceIntervalDays\nFM-1,flow_meter,2026-03-01,2026-09-01T08:00:00+08:00,60\nFM-2,flow_meter,2026-03-01,,\n');
    expect(readRegistryFile(join(d, 'fm.csv'))).toEqual([
      { deviceId: 'FM-1', kind: 'flow_meter', installedAt: '2026-03-01', lastServiceAt: '2026-09-01T08:00:00+08:00', serviceIntervalDays: 60 },
      { deviceId: 'FM-2', kind: 'flow_meter', installedAt: '2026-03-01' },
    ]);
    writeFileSync(join(d, 'bad-date.csv'), 'deviceId,kind,lastServiceAt\nFM-1,flow_meter,last spring\n');
    expect(() => readRegistryFile(join(d, 'bad-date.csv'))).toThrow(/record 1: lastServiceAt/);
    writeFileSync(join(d, 'bad-interval.json'), JSON.stringify([{ deviceId: 'FM-1', kind: 'flow_meter', serviceIntervalDays: 0 }]));
    expect(() => readRegistryFile(join(d, 'bad-interval.json'))).toThrow(/record 1: serviceIntervalDays/);
  });

  it('coordinates: lat and lon as numbers from CSV, in range, and only together', () => {
    const d = dir();
    writeFileSync(join(d, 'pos.csv'), 'deviceId,kind,address,lat,lon\nHA-1,home_gas_alarm,人民路 1 号,31.2304,121.4737\nHA-2,home_gas_alarm,人民路 2 号,,\n');
    expect(readRegistryFile(join(d, 'pos.csv'))).toEqual([
      { deviceId: 'HA-1', kind: 'home_gas_alarm', address: '人民路 1 号', lat: 31.2304, lon: 121.4737 },
      { deviceId: 'HA-2', kind: 'home_gas_alarm', address: '人民路 2 号' },
    ]);
    for (const [record, field] of [
      [{ lat: 91, lon: 121 }, 'lat'],
      [{ lat: 31, lon: -180.5 }, 'lon'],
      [{ lat: '31.2', lon: 121.4 }, 'lat'],
      [{ lat: 31.2 }, 'lon'],
      [{ lon: 121.4 }, 'lat'],
    ] as const) {
      writeFileSync(join(d, 'bad-pos.json'), JSON.stringify([{ deviceId: 'HA-1', kind: 'home_gas_alarm', ...record }]));
      expect(() => readRegistryFile(join(d, 'bad-pos.json'))).toThrow(new RegExp(`record 1: ${field}`));
    }
    expect(recordProblem({ deviceId: 'HA-1', kind: 'home_gas_alarm', lat: 31.2 })).toBe('lon: lat and lon are given together');
  });

  it('refuses a file with a bad record, naming the record and the field', () => {
    const d = dir();
    writeFileSync(join(d, 'bad.json'), JSON.stringify([{ deviceId: 'HM-1', kind: 'household_meter' }, { deviceId: 'HM-2', kind: 'household_meter', qmaxM3h: 'four' }]));
    expect(() => readRegistryFile(join(d, 'bad.json'))).toThrow(ConfigError);
    expect(() => readRegistryFile(join(d, 'bad.json'))).toThrow(/record 2: qmaxM3h/);
    writeFileSync(join(d, 'kind.csv'), 'deviceId,kind\nX-1,water_meter\n');
    expect(() => readRegistryFile(join(d, 'kind.csv'))).toThrow(/record 1: kind/);
  });

  it('keeps API edits across restarts, over the file, and tells listeners', () => {
    const d = dir();
    const edits = join(d, 'edits.json');
    const first = new DeviceRegistry([{ deviceId: 'HM-1', kind: 'household_meter', qmaxM3h: 4 }], edits);
    const changed: string[] = [];
    first.onChange((id) => changed.push(id));
    first.put({ deviceId: 'HM-1', kind: 'household_meter', qmaxM3h: 6 });
    expect(changed).toEqual(['HM-1']);
    const second = new DeviceRegistry([{ deviceId: 'HM-1', kind: 'household_meter', qmaxM3h: 4 }], edits);
    expect(second.get('HM-1')?.qmaxM3h).toBe(6);
  });

  it('issue 13 #4: a record with a field 5,000 levels deep is refused (file, kept edits), so it can never break a later edit', () => {
    const d = dir();
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    writeFileSync(join(d, 'deep.json'), `[{"deviceId":"HM-1","kind":"household_meter","extra":${deep}}]`);
    expect(() => readRegistryFile(join(d, 'deep.json'))).toThrow(/record 1: extra\/a\/a.* is nested deeper than 8 levels/);
    // An edits file written before records were bounded: refused at start, naming the record.
    const edits = join(d, 'edits.json');
    writeFileSync(edits, `[{"deviceId":"HM-1","kind":"household_meter"},{"deviceId":"HM-2","kind":"household_meter","extra":${deep}}]`);
    expect(() => new DeviceRegistry([], edits)).toThrow(/record 2 \(HM-2\): extra\/a/);
    writeFileSync(edits, '[]');
    const registry = new DeviceRegistry([], edits);
    registry.put({ deviceId: 'HM-3', kind: 'household_meter', extra: { a: { b: 1 } } });
    expect(new DeviceRegistry([], edits).get('HM-3')).toMatchObject({ extra: { a: { b: 1 } } });
  });

  it('issue 13 #1: a record with NUL or a lone surrogate is refused, naming the field', () => {
    const d = dir();
    writeFileSync(join(d, 'nul.json'), '[{"deviceId":"HM-1","kind":"household_meter","address":"No. 5\\u0000"}]');
    expect(() => readRegistryFile(join(d, 'nul.json'))).toThrow(/record 1: address: contains NUL \(U\+0000\) at 5/);
    writeFileSync(join(d, 'half.csv'), 'deviceId,kind,customer\nHM-1,household_meter,\u001B[31m张\n');
    expect(() => readRegistryFile(join(d, 'half.csv'))).toThrow(/record 1: customer: contains a control character/);
  });
});

describe('device registry: model, schedule and confirmation fields (issue 15 #5, #6, #8)', () => {
  it('loads a report slot and a confirmation rule from CSV, the window as a number', () => {
    const d = dir();
    writeFileSync(join(d, 'r.csv'), 'deviceId,kind,model,reportAt,reportWindowMin,reportTz,alarmConfirmRule\nHM-1,household_meter,MH-NB-G2.5,02:00,240,Asia/Shanghai,\nAC-1,alarm_controller,,,,,two-detector\n');
    expect(readRegistryFile(join(d, 'r.csv'))).toEqual([
      { deviceId: 'HM-1', kind: 'household_meter', model: 'MH-NB-G2.5', reportAt: '02:00', reportWindowMin: 240, reportTz: 'Asia/Shanghai' },
      { deviceId: 'AC-1', kind: 'alarm_controller', alarmConfirmRule: 'two-detector' },
    ]);
  });

  it.each([
    [{ reportAt: '2:00' }, 'reportAt'],
    [{ reportAt: '24:00' }, 'reportAt'],
    [{ reportWindowMin: -1 }, 'reportWindowMin'],
    [{ reportTz: 'Asia/Shanghai; rm' }, 'reportTz'],
    [{ alarmConfirmRule: 'three' }, 'alarmConfirmRule'],
  ])('refuses %o, naming %s', (fields, field) => {
    const d = dir();
    writeFileSync(join(d, 'bad.json'), JSON.stringify([{ deviceId: 'HM-1', kind: 'household_meter', ...fields }]));
    expect(() => readRegistryFile(join(d, 'bad.json'))).toThrow(field);
  });
});
