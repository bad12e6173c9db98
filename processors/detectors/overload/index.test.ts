import { describe, expect, it } from 'vitest';
import type { DeviceKind, Reading } from '../../../contracts/messages.ts';
import { reading, runDetector } from '../testing.ts';
import { OverloadDetector } from './index.ts';

const at = (kind: DeviceKind, atS: number, fields: Partial<Reading> = {}) => reading({ kind, atS, ...fields });
const flowMeter = (atS: number, flowM3h: number) => at('flow_meter', atS, { flowM3h });
const overloaded = (s: { present: string[] }) => s.present.includes('OVERLOAD');

describe('OverloadDetector', () => {
  it.each([
    { kind: 'household_meter', fields: { status: ['ERR-5'] }, present: true, source: 'code' },
    { kind: 'household_meter', fields: { status: ['ERR—5'] }, present: true, source: 'code' },
    { kind: 'industrial_controller', fields: { status: ['故障', 'ERR-4'] }, present: false, source: undefined },
    { kind: 'flow_meter', fields: { flowM3h: 160 }, present: false, source: undefined },
    { kind: 'flow_meter', fields: { flowM3h: 160.1 }, present: true, source: 'flow' },
    { kind: 'industrial_controller', fields: { flowM3h: 41 }, present: true, source: 'flow' },
    { kind: 'alarm_controller', fields: { mainLoadPct: 100 }, present: false, source: undefined },
    { kind: 'alarm_controller', fields: { mainLoadPct: 120 }, present: true, source: 'controller_load' },
    { kind: 'alarm_controller', fields: { status: ['主电过载'] }, present: true, source: 'controller_load' },
    { kind: 'alarm_controller', fields: { status: ['过载'] }, present: true, source: 'controller_load' },
    { kind: 'alarm_controller', fields: { status: ['ERR-5'] }, present: false, source: undefined },
    { kind: 'household_meter', fields: { status: [] }, present: false, source: undefined },
  ] as Array<{ kind: DeviceKind; fields: Partial<Reading>; present: boolean; source?: string }>)('$kind $fields → $present ($source)', ({ kind, fields, present, source }) => {
    const { steps } = runDetector(OverloadDetector, [at(kind, 0, fields)]);
    expect(steps[0]!.findings).toHaveLength(1);
    expect(steps[0]!.findings[0]).toMatchObject({ condition: 'OVERLOAD', present });
    expect(steps[0]!.findings[0]!.detail?.source).toBe(source);
  });

  it('keeps the overload on until flow drops under Qmax × (1 − hysteresisRatio)', () => {
    const flows = [170, 159, 152, 151.9, 158];
    const { steps } = runDetector(OverloadDetector, flows.map((f, i) => flowMeter(i * 60, f)));
    expect(steps.map(overloaded)).toEqual([true, true, true, false, false]);
  });

  it("uses the device's own Qmax from the registry", () => {
    const { steps } = runDetector(OverloadDetector, [flowMeter(0, 70)], { record: { qmaxM3h: 65 } });
    expect(steps[0]!.findings[0]!.detail).toMatchObject({ source: 'flow', value: 70, qmaxM3h: 65 });
  });

  it('computes the rate from volume deltas when the meter reports no flow rate', () => {
    // Qmax 4 m³/h; tolerance 10 % → over 4.4 m³/h.
    const volumes = [
      { atS: 0, volumeM3: 100 },
      { atS: 30, volumeM3: 100.1 }, // under minDeltaIntervalMs: no rate yet
      { atS: 3600, volumeM3: 104.3 }, // 4.3 m³/h over the hour: within tolerance
      { atS: 7200, volumeM3: 109 }, // 4.7 m³/h
      { atS: 10800, volumeM3: 112 }, // 3 m³/h
    ];
    const { steps } = runDetector(OverloadDetector, volumes.map(({ atS, volumeM3 }) => at('household_meter', atS, { volumeM3 })));
    expect(steps.map(overloaded)).toEqual([false, false, false, true, false]);
    expect(steps[3]!.findings[0]!.detail).toMatchObject({ source: 'volume_delta', qmaxM3h: 4 });
    expect(steps[3]!.findings[0]!.detail!.value as number).toBeCloseTo(4.7, 6);
  });

  it('restarts the volume baseline when the volume goes backwards (meter replaced)', () => {
    const { steps, state } = runDetector(OverloadDetector, [
      at('household_meter', 0, { volumeM3: 5000 }),
      at('household_meter', 3600, { volumeM3: 0.5 }),
      at('household_meter', 7200, { volumeM3: 2.5 }),
    ]);
    expect(steps.map(overloaded)).toEqual([false, false, false]);
    expect(state).toMatchObject({ lastVolumeM3: 2.5 });
  });

  it('skips the Qmax checks when the profile has no Qmax', () => {
    const { steps } = runDetector(OverloadDetector, [at('alarm_controller', 0, { flowM3h: 500, mainLoadPct: 50 })]);
    expect(steps[0]!.present).toEqual([]);
  });

  it('holds a raise for raiseAfterMs when configured', () => {
    const { steps } = runDetector(OverloadDetector, [flowMeter(0, 200), flowMeter(30, 200), flowMeter(60, 200)], { settings: { raiseAfterMs: 60_000 } });
    expect(steps.map(overloaded)).toEqual([false, false, true]);
  });

  it('reports nothing when the reading carries no code, flow, volume or load', () => {
    const { steps } = runDetector(OverloadDetector, [at('flow_meter', 0, { temperatureC: 20 }), at('alarm_controller', 0, { mainPowerV: 220 })]);
    expect(steps.map((s) => s.findings)).toEqual([[], []]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(OverloadDetector, [flowMeter(0, 140), flowMeter(60, 170)]);
    const resumed = runDetector(OverloadDetector, [flowMeter(120, 155), flowMeter(180, 150)], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps.map(overloaded)).toEqual([true, false]);
  });

  it('keeps the volume baseline across a restored snapshot', () => {
    const first = runDetector(OverloadDetector, [at('household_meter', 0, { volumeM3: 100 })]);
    const resumed = runDetector(OverloadDetector, [at('household_meter', 3600, { volumeM3: 105 })], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps.map(overloaded)).toEqual([true]);
  });
});

describe('OverloadDetector with model sizes (issue 15 #5)', () => {
  const meterFlow = (atS: number, volumeM3: number) => at('household_meter', atS, { volumeM3 });

  it('judges a G4 meter against its Qmax of 6 m³/h: 5 m³/h is in range (the kind default of 4 would call it overload), 7 is over', () => {
    const ok = runDetector(OverloadDetector, [meterFlow(0, 100), meterFlow(3600, 105)], { record: { model: 'MH-NB-G4' } });
    expect(ok.steps.map(overloaded)).toEqual([false, false]);
    const over = runDetector(OverloadDetector, [meterFlow(0, 100), meterFlow(3600, 107)], { record: { model: 'MH-NB-G4' } });
    expect(over.steps.map(overloaded)).toEqual([false, true]);
    expect(over.steps[1]!.findings[0]!.detail).toMatchObject({ source: 'volume_delta', qmaxM3h: 6 });
  });

  it('sizes a turbine flow meter from its G designation: TBQM-G65 overloads over 100 m³/h, a registry qmaxM3h still wins', () => {
    expect(runDetector(OverloadDetector, [flowMeter(0, 120)], { record: { model: 'TBQM-G65' } }).steps.map(overloaded)).toEqual([true]);
    expect(runDetector(OverloadDetector, [flowMeter(0, 120)], { record: { model: 'TBQM-G65', qmaxM3h: 160 } }).steps.map(overloaded)).toEqual([false]);
  });

  it('computes no rate from a duplicated reading (same time, same volume)', () => {
    const r = meterFlow(0, 100);
    expect(runDetector(OverloadDetector, [r, r, meterFlow(3600, 105)], { record: { model: 'MH-NB-G4' } }).steps.map(overloaded)).toEqual([false, false, false]);
  });
});
