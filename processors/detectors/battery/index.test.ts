import { describe, expect, it } from 'vitest';
import type { Reading } from '../../../contracts/messages.ts';
import { reading, runDetector } from '../testing.ts';
import { BatteryDetector } from './index.ts';

const meter = (atS: number, fields: Partial<Reading> = {}) => reading({ kind: 'household_meter', atS, ...fields });
const controller = (atS: number, fields: Partial<Reading> = {}) => reading({ kind: 'industrial_controller', atS, ...fields });
const lowBattery = (s: { findings: Array<{ condition: string; present: boolean }> }) => s.findings.find((f) => f.condition === 'LOW_BATTERY')?.present;

describe('BatteryDetector', () => {
  it.each([
    { fields: { status: ['低电'] }, present: ['LOW_BATTERY'] },
    { fields: { status: ['欠压'] }, present: ['LOW_BATTERY'] },
    { fields: { status: [' 请换电池 '] }, present: ['LOW_BATTERY'] },
    { fields: { status: ['低电关阀'] }, present: ['LOW_BATTERY', 'VALVE_CLOSED_LOW_BATTERY'] },
    { fields: { status: ['低电', '关阀'] }, present: ['LOW_BATTERY', 'VALVE_CLOSED_LOW_BATTERY'] },
    { fields: { status: ['关阀'] }, present: [] },
    { fields: { status: [] }, present: [] },
    { fields: { batteryV: 3.6 }, present: [] },
    { fields: { batteryV: 3.3 }, present: [] },
    { fields: { batteryV: 3.29 }, present: ['LOW_BATTERY'] },
    { fields: { batteryV: 3.1, valve: 'closed' }, present: ['LOW_BATTERY', 'VALVE_CLOSED_LOW_BATTERY'] },
    { fields: { batteryV: 3.6, valve: 'closed' }, present: [] },
  ] as Array<{ fields: Partial<Reading>; present: string[] }>)('household meter $fields → $present', ({ fields, present }) => {
    const { steps } = runDetector(BatteryDetector, [meter(0, fields)]);
    expect(steps[0]!.present).toEqual(present);
  });

  it("uses the model's threshold: Qianfeng wants a new battery under 4.0 V", () => {
    const { steps } = runDetector(BatteryDetector, [meter(0, { batteryV: 3.9 })], { record: { vendor: 'qianfeng' } });
    expect(steps[0]!.present).toEqual(['LOW_BATTERY']);
    expect(steps[0]!.findings[0]!.detail).toMatchObject({ source: 'internal', batteryV: 3.9, lowBatteryV: 4 });
  });

  it('does not flap while the voltage hovers at the threshold (hysteresis)', () => {
    const volts = [3.25, 3.35, 3.29, 3.4, 3.41];
    const { steps } = runDetector(BatteryDetector, volts.map((v, i) => meter(i * 3600, { batteryV: v })));
    expect(steps.map(lowBattery)).toEqual([true, true, true, true, false]);
  });

  it('keeps a low voltage judged while later readings omit the voltage', () => {
    const { steps } = runDetector(BatteryDetector, [meter(0, { batteryV: 3.0 }), meter(60, { status: [] }), meter(120, { valve: 'open' }), meter(180, { batteryV: 3.6 })]);
    expect(steps.map(lowBattery)).toEqual([true, true, true, false]);
  });

  it('judges an industrial controller\'s external supply and names the source', () => {
    const { steps } = runDetector(BatteryDetector, [
      controller(0, { batteryV: 3.6, externalPowerV: 12 }),
      controller(60, { batteryV: 3.6, externalPowerV: 9 }),
      controller(120, { batteryV: 3.0, externalPowerV: 9 }),
      controller(180, { batteryV: 3.6, externalPowerV: 12 }),
    ]);
    expect(steps.map(lowBattery)).toEqual([false, true, true, false]);
    expect(steps[1]!.findings[0]!.detail).toMatchObject({ source: 'external', externalPowerV: 9, minExternalPowerV: 10 });
    expect(steps[2]!.findings[0]!.detail).toMatchObject({ source: 'internal+external' });
  });

  it.each([
    { fields: { status: ['低电', '关阀', 't'], externalPowerV: 12 }, source: 'internal' },
    { fields: { status: ['低电', '关阀'], externalPowerV: 12 }, source: 'external' },
    { fields: { status: ['低电', '关阀'] }, source: 'internal' },
    { fields: { status: ['低电', '关阀'], externalPowerV: 0 }, source: 'external' },
  ] as Array<{ fields: Partial<Reading>; source: string }>)('reads 低电 on a controller as the $source supply ($fields)', ({ fields, source }) => {
    const { steps } = runDetector(BatteryDetector, [controller(0, fields)]);
    expect(steps[0]!.present).toEqual(['LOW_BATTERY', 'VALVE_CLOSED_LOW_BATTERY']);
    expect(steps[0]!.findings[0]!.detail).toMatchObject({ source });
  });

  it('holds a raise for raiseAfterMs when configured', () => {
    const { steps } = runDetector(BatteryDetector, [meter(0, { batteryV: 3 }), meter(30, { batteryV: 3 }), meter(60, { batteryV: 3 })], { settings: { raiseAfterMs: 60_000 } });
    expect(steps.map(lowBattery)).toEqual([false, false, true]);
  });

  it('reports nothing when the reading carries no battery, supply, valve or status', () => {
    const { steps, state } = runDetector(BatteryDetector, [meter(0, { volumeM3: 12, balanceM3: 3 })]);
    expect(steps[0]!.findings).toEqual([]);
    expect(state).toEqual(BatteryDetector.initialState());
  });

  it('remembers the valve while a reading omits it, and clears when the battery is replaced', () => {
    const { steps } = runDetector(BatteryDetector, [meter(0, { status: ['低电关阀'] }), meter(60, { batteryV: 3.0 }), meter(120, { batteryV: 3.6 })]);
    expect(steps.map((s) => s.present)).toEqual([
      ['LOW_BATTERY', 'VALVE_CLOSED_LOW_BATTERY'],
      ['LOW_BATTERY', 'VALVE_CLOSED_LOW_BATTERY'],
      [],
    ]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(BatteryDetector, [meter(0, { batteryV: 3.2 })]);
    const resumed = runDetector(BatteryDetector, [meter(60, { batteryV: 3.35 }), meter(120, { batteryV: 3.45 })], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps.map(lowBattery)).toEqual([true, false]);
  });
});

describe('BatteryDetector with model profiles (issue 15 #5)', () => {
  it("judges the voltage against the model's threshold: a Qianfeng QF-G2.5 at 3.8 V is low, a Meihua MH-G2.5 is not", () => {
    expect(lowBattery(runDetector(BatteryDetector, [meter(0, { batteryV: 3.8 })], { record: { model: 'QF-G2.5' } }).steps[0]!)).toBe(true);
    expect(lowBattery(runDetector(BatteryDetector, [meter(0, { batteryV: 3.8 })], { record: { model: 'MH-G2.5' } }).steps[0]!)).toBe(false);
  });

  it("lets the registry's lowBatteryV win over the model's", () => {
    expect(lowBattery(runDetector(BatteryDetector, [meter(0, { batteryV: 3.8 })], { record: { model: 'QF-G2.5', lowBatteryV: 3.5 } }).steps[0]!)).toBe(false);
  });

  it('reports the threshold it judged with, and keeps the judgement across a duplicated reading and a backfill of a thousand', () => {
    const readings = [meter(0, { batteryV: 3.9 }), meter(0, { batteryV: 3.9 }), ...Array.from({ length: 1000 }, (_, i) => meter(60 + i * 60, { batteryV: 3.9 }))];
    const { steps } = runDetector(BatteryDetector, readings, { record: { model: 'QF-NB-G2.5' } });
    expect(steps.every((s) => lowBattery(s) === true)).toBe(true);
    expect(steps[0]!.findings.find((f) => f.condition === 'LOW_BATTERY')!.detail).toMatchObject({ batteryV: 3.9, lowBatteryV: 4 });
  });
});
