import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../app/errors.ts';
import { DeviceRegistry, readRegistryFile } from './device-registry.ts';

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
});
