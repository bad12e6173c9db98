import { describe, expect, it } from 'vitest';
import { reading, runDetector } from '../testing.ts';
import { CountMismatchDetector } from './index.ts';

const counts = (atS: number, volumeM3: number | undefined, flowMeterVolumeM3: number | undefined) =>
  reading({ kind: 'industrial_controller', atS, flowMeterId: 'FM-7', ...(volumeM3 !== undefined ? { volumeM3 } : {}), ...(flowMeterVolumeM3 !== undefined ? { flowMeterVolumeM3 } : {}) });
const mismatch = (s: { present: string[] }) => s.present.includes('COUNT_MISMATCH');

describe('CountMismatchDetector', () => {
  it.each([
    { a: 50, b: 50, present: false },
    { a: 50, b: 51, present: false }, // 1 m³ is within the 1 m³ floor
    { a: 50, b: 51.5, present: true },
    { a: 1000, b: 1009, present: false }, // 1 % of 1009 = 10.09 m³
    { a: 1000, b: 1011, present: true },
    { a: 1011, b: 1000, present: true },
  ])('controller $a m³ vs flow meter $b m³ → $present', ({ a, b, present }) => {
    const { steps } = runDetector(CountMismatchDetector, [counts(0, a, b)]);
    expect(mismatch(steps[0]!)).toBe(present);
  });

  it('names both counts, the difference and the flow meter', () => {
    const { steps } = runDetector(CountMismatchDetector, [counts(0, 120, 100)]);
    expect(steps[0]!.findings[0]!.detail).toEqual({ controllerM3: 120, flowMeterM3: 100, diffM3: 20, toleranceM3: 1.2, flowMeterId: 'FM-7' });
  });

  it('stays on until the difference is within half the tolerance (hysteresis)', () => {
    const pairs: Array<[number, number]> = [[100, 102], [100, 100.8], [100, 100.6], [100, 100.5], [100, 100.9]];
    const { steps } = runDetector(CountMismatchDetector, pairs.map(([a, b], i) => counts(i * 3600, a, b)));
    expect(steps.map(mismatch)).toEqual([true, true, true, false, false]);
  });

  it('holds a raise for raiseAfterMs when configured', () => {
    const { steps } = runDetector(CountMismatchDetector, [counts(0, 100, 105), counts(1800, 100, 105), counts(3600, 100, 105)], { settings: { raiseAfterMs: 3_600_000 } });
    expect(steps.map(mismatch)).toEqual([false, false, true]);
  });

  it('reports nothing unless both counts are present', () => {
    const { steps } = runDetector(CountMismatchDetector, [counts(0, 100, undefined), counts(60, undefined, 100)]);
    expect(steps.map((s) => s.findings)).toEqual([[], []]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(CountMismatchDetector, [counts(0, 100, 103)]);
    const resumed = runDetector(CountMismatchDetector, [counts(3600, 100, 100.7), counts(7200, 100, 100.2)], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps.map(mismatch)).toEqual([true, false]);
  });
});
