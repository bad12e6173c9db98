import { describe, expect, it } from 'vitest';
import type { DeviceKind, Reading } from '../../../contracts/messages.ts';
import { reading, runDetector } from '../testing.ts';
import { SensorFaultDetector } from './index.ts';

const at = (kind: DeviceKind, atS: number, fields: Partial<Reading>) => reading({ kind, atS, ...fields });
const verdict = (s: { findings: Array<{ present: boolean }> }) => (s.findings.length === 0 ? undefined : s.findings[0]!.present);

describe('SensorFaultDetector', () => {
  it.each([
    { kind: 'home_gas_alarm', fields: { lamps: { power: true, fault: true }, buzzer: 'continuous' }, present: true },
    { kind: 'home_gas_alarm', fields: { lamps: { fault: true } }, present: true },
    { kind: 'home_gas_alarm', fields: { buzzer: 'continuous' }, present: true },
    { kind: 'home_gas_alarm', fields: { lamps: { power: true, fault: false }, buzzer: 'off' }, present: false },
    { kind: 'home_gas_alarm', fields: { buzzer: 'intermittent' }, present: false },
    { kind: 'home_gas_alarm', fields: { lelPct: 3, lamps: { power: true } }, present: undefined },
    { kind: 'flow_meter', fields: { temperatureC: 20, pressureKPa: 300 }, present: false },
    { kind: 'flow_meter', fields: { temperatureC: 70, pressureKPa: 0 }, present: false },
    { kind: 'flow_meter', fields: { temperatureC: 71 }, present: true },
    { kind: 'flow_meter', fields: { temperatureC: -41 }, present: true },
    { kind: 'flow_meter', fields: { pressureKPa: -5 }, present: true },
    { kind: 'flow_meter', fields: { pressureKPa: 1600.5 }, present: true },
    { kind: 'flow_meter', fields: { flowM3h: 12, volumeM3: 100 }, present: undefined },
  ] as Array<{ kind: DeviceKind; fields: Partial<Reading>; present: boolean | undefined }>)('$kind $fields → $present', ({ kind, fields, present }) => {
    const { steps } = runDetector(SensorFaultDetector, [at(kind, 0, fields)]);
    expect(verdict(steps[0]!)).toBe(present);
  });

  it('names the input at fault and the range', () => {
    const { steps } = runDetector(SensorFaultDetector, [at('flow_meter', 0, { temperatureC: 85, pressureKPa: 200 })], { settings: { maxTemperatureC: 80 } });
    expect(steps[0]!.findings[0]!.detail).toEqual({ sources: ['temperature'], temperatureC: 85, minTemperatureC: -40, maxTemperatureC: 80, pressureKPa: 200, minPressureKPa: 0, maxPressureKPa: 1600 });
  });

  it("does not let a reading without one input clear the other input's fault", () => {
    const { steps } = runDetector(SensorFaultDetector, [
      at('flow_meter', 0, { pressureKPa: 5000 }),
      at('flow_meter', 60, { temperatureC: 20 }),
      at('flow_meter', 120, { pressureKPa: 300 }),
    ]);
    expect(steps.map(verdict)).toEqual([true, true, false]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(SensorFaultDetector, [at('home_gas_alarm', 0, { lamps: { fault: true }, buzzer: 'continuous' })]);
    const resumed = runDetector(SensorFaultDetector, [at('home_gas_alarm', 30, { buzzer: 'off' }), at('home_gas_alarm', 60, { lamps: { fault: false } })], {
      state: JSON.parse(JSON.stringify(first.state)),
    });
    expect(resumed.steps.map(verdict)).toEqual([true, false]);
  });
});
