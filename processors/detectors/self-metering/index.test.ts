import { describe, expect, it } from 'vitest';
import type { DeviceKind, Reading } from '../../../contracts/messages.ts';
import { reading, runDetector } from '../testing.ts';
import { SelfMeteringDetector } from './index.ts';

const at = (kind: DeviceKind, atS: number, fields: Partial<Reading>) => reading({ kind, atS, ...fields });
const verdict = (s: { findings: Array<{ present: boolean }> }) => (s.findings.length === 0 ? undefined : s.findings[0]!.present);

describe('SelfMeteringDetector', () => {
  it.each([
    { name: 'household meter, valve closed at both', kind: 'household_meter', a: { valve: 'closed', volumeM3: 10 }, b: { valve: 'closed', volumeM3: 10.5 }, present: true },
    { name: 'household meter, 关阀 shown at both', kind: 'household_meter', a: { status: ['关阀'], volumeM3: 10 }, b: { status: ['低电关阀'], volumeM3: 10.5 }, present: true },
    { name: 'increase within counter resolution', kind: 'household_meter', a: { valve: 'closed', volumeM3: 10 }, b: { valve: 'closed', volumeM3: 10.01 }, present: false },
    { name: 'no increase', kind: 'industrial_controller', a: { valve: 'closed', volumeM3: 10 }, b: { valve: 'closed', volumeM3: 10 }, present: false },
    { name: 'valve opened', kind: 'household_meter', a: { valve: 'closed', volumeM3: 10 }, b: { valve: 'open', volumeM3: 12 }, present: false },
    { name: 'valve closed only at the end', kind: 'household_meter', a: { valve: 'open', volumeM3: 10 }, b: { valve: 'closed', volumeM3: 12 }, present: undefined },
    { name: 'flow meter at zero flow', kind: 'flow_meter', a: { flowM3h: 0, volumeM3: 500 }, b: { flowM3h: 0, volumeM3: 501 }, present: true },
    { name: 'flow meter asleep', kind: 'flow_meter', a: { status: ['SLEEP'], volumeM3: 500 }, b: { status: ['sleep'], volumeM3: 503 }, present: true },
    { name: 'flow meter flowing', kind: 'flow_meter', a: { flowM3h: 0, volumeM3: 500 }, b: { flowM3h: 12, volumeM3: 501 }, present: false },
    { name: 'volume went backwards (meter replaced)', kind: 'household_meter', a: { valve: 'closed', volumeM3: 900 }, b: { valve: 'closed', volumeM3: 1 }, present: undefined },
  ] as Array<{ name: string; kind: DeviceKind; a: Partial<Reading>; b: Partial<Reading>; present: boolean | undefined }>)('$name → $present', ({ kind, a, b, present }) => {
    const { steps } = runDetector(SelfMeteringDetector, [at(kind, 0, a), at(kind, 3600, b)]);
    expect(verdict(steps[1]!)).toBe(present);
  });

  it('names the increase and the reason', () => {
    const { steps } = runDetector(SelfMeteringDetector, [at('flow_meter', 0, { flowM3h: 0, volumeM3: 500 }), at('flow_meter', 60, { flowM3h: 0, volumeM3: 500.5 })]);
    expect(steps[1]!.findings[0]).toEqual({ condition: 'SELF_METERING', present: true, detail: { increaseM3: 0.5, fromVolumeM3: 500, volumeM3: 500.5, reason: 'flow_zero' } });
  });

  it('clears on a pair under no flow without an increase', () => {
    const volumes = [10, 10.5, 10.5];
    const { steps } = runDetector(SelfMeteringDetector, volumes.map((v, i) => at('household_meter', i * 3600, { valve: 'closed', volumeM3: v })));
    expect(steps.map(verdict)).toEqual([undefined, true, false]);
  });

  it('does not compare across a reading at which gas could flow', () => {
    const { steps } = runDetector(SelfMeteringDetector, [
      at('household_meter', 0, { valve: 'closed', volumeM3: 10 }),
      at('household_meter', 60, { valve: 'open' }),
      at('household_meter', 120, { valve: 'closed', volumeM3: 11 }),
    ]);
    expect(steps.map(verdict)).toEqual([undefined, false, undefined]);
  });

  it('reports nothing when the reading says nothing about flow', () => {
    const { steps } = runDetector(SelfMeteringDetector, [
      at('household_meter', 0, { valve: 'closed', volumeM3: 10 }),
      at('household_meter', 60, { volumeM3: 11 }),
      at('household_meter', 120, { batteryV: 3.6 }),
    ]);
    expect(steps.map((s) => s.findings)).toEqual([[], [], []]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(SelfMeteringDetector, [at('household_meter', 0, { valve: 'closed', volumeM3: 10 })]);
    const resumed = runDetector(SelfMeteringDetector, [at('household_meter', 3600, { valve: 'closed', volumeM3: 10.2 })], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps.map(verdict)).toEqual([true]);
  });
});
