import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../contracts/device-record.ts';
import { resolveProfile } from '../device-profile.ts';
import { METER_SIZES, meterSizeIn, modelDefaults, qminOf } from './index.ts';

const profile = (record: Partial<DeviceRecord> & Pick<DeviceRecord, 'kind'>) => resolveProfile({ deviceId: 'DEV-1', ...record } as DeviceRecord);

describe('model profiles (issue 15 #5)', () => {
  it('gives Qmax per EN 1359 / OIML R137 size G1.6 … G100, and diaphragm Qmin at the standard ratio', () => {
    expect(METER_SIZES).toEqual({ 'G1.6': 2.5, 'G2.5': 4, G4: 6, G6: 10, G10: 16, G16: 25, G25: 40, G40: 65, G65: 100, G100: 160 });
    expect(qminOf('G1.6', 'diaphragm')).toBeCloseTo(0.016);
    expect(qminOf('G2.5', 'diaphragm')).toBeCloseTo(0.025);
    expect(qminOf('G100', 'diaphragm')).toBeCloseTo(1);
    expect(qminOf('G65', 'turbine')).toBeCloseTo(5);
    expect(qminOf('G65', 'roots')).toBeCloseTo(2);
  });

  it('reads a G designation out of a model name, and not out of a longer number', () => {
    expect(meterSizeIn('MHCG-DN-G65')).toBe('G65');
    expect(meterSizeIn('G1.6')).toBe('G1.6');
    expect(meterSizeIn('TBQM G100')).toBe('G100');
    expect(meterSizeIn('XG400')).toBeUndefined();
    expect(meterSizeIn('JS-J2.5')).toBe('G2.5');
    expect(meterSizeIn('MHCG-G')).toBeUndefined();
  });

  it('selects Qmax/Qmin by the size the model names, so overload judges a G4 meter at 6 m³/h, not the kind default 4', () => {
    expect(profile({ kind: 'household_meter', model: 'MH-NB-G4' })).toMatchObject({ qmaxM3h: 6, qminM3h: 0.04 });
    expect(profile({ kind: 'household_meter', model: 'acme-g6' })).toMatchObject({ qmaxM3h: 10, qminM3h: 0.06 });
    expect(profile({ kind: 'flow_meter', model: 'TBQM-G65' })).toMatchObject({ qmaxM3h: 100, qminM3h: 5 });
    expect(profile({ kind: 'flow_meter', model: 'LLQ-G40' })).toMatchObject({ qmaxM3h: 65, qminM3h: 1.3 });
    expect(profile({ kind: 'industrial_controller', model: 'MHCG—G' })).toMatchObject({ qmaxM3h: 40, qminM3h: 0.25 });
  });

  it('lets a registry value win over the model, the model over the vendor, the vendor over the kind', () => {
    expect(profile({ kind: 'household_meter', model: 'MH-NB-G4', qmaxM3h: 5 }).qmaxM3h).toBe(5);
    expect(profile({ kind: 'household_meter', model: 'QF-G2.5' }).lowBatteryV).toBe(4.0);
    expect(profile({ kind: 'household_meter', vendor: 'qianfeng', model: 'MH-G2.5' }).lowBatteryV).toBe(3.3);
    expect(profile({ kind: 'household_meter', vendor: 'qianfeng', model: 'MH-G2.5', lowBatteryV: 3.6 }).lowBatteryV).toBe(3.6);
    expect(profile({ kind: 'household_meter', vendor: 'qianfeng' }).lowBatteryV).toBe(4.0);
    expect(profile({ kind: 'household_meter', model: 'MH-NB-G2.5', reportIntervalS: 43_200 }).reportIntervalS).toBe(43_200);
  });

  it('carries the report schedule of an NB-IoT model, and a record slot wins field by field', () => {
    expect(profile({ kind: 'household_meter', model: 'MH-NB-G2.5' }).schedule).toEqual({ reportAt: '02:00', reportWindowMin: 240, reportTz: 'Asia/Shanghai' });
    expect(profile({ kind: 'household_meter', model: 'MH-NB-G2.5', reportWindowMin: 60 }).schedule).toEqual({ reportAt: '02:00', reportWindowMin: 60, reportTz: 'Asia/Shanghai' });
    expect(profile({ kind: 'household_meter', reportAt: '03:30' }).schedule).toEqual({ reportAt: '03:30', reportWindowMin: 0, reportTz: 'Asia/Shanghai' });
    expect(profile({ kind: 'household_meter', model: 'MH-G2.5' }).schedule).toBeUndefined();
  });

  it('selects nothing for an unknown model, or a model of another kind', () => {
    expect(modelDefaults('XYZ-9', 'household_meter')).toEqual({});
    expect(modelDefaults(undefined, 'household_meter')).toEqual({});
    expect(profile({ kind: 'flow_meter', model: 'MHCG-G' })).toMatchObject({ qmaxM3h: 160, lowBatteryV: 3.3 });
    expect(profile({ kind: 'flow_meter', model: 'MHCG-G' }).codes).toBeUndefined();
    expect(profile({ kind: 'alarm_controller', model: 'G4' }).qmaxM3h).toBe(0);
  });

  it('names what each model code means: ERR-1 is a magnet on a household meter, the battery on an MHCG controller', () => {
    expect(profile({ kind: 'household_meter', model: 'MH-G2.5' }).codes?.['ERR-1']).toMatchObject({ tamper: true });
    expect(profile({ kind: 'industrial_controller', model: 'MHCG-DN-G65' }).codes?.['ERR-1']).toMatchObject({ tamper: false });
  });
});
