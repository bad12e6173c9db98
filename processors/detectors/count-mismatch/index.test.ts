import { describe, expect, it } from 'vitest';
import { reading, runDetector } from '../testing.ts';
import { CountMismatchDetector } from './index.ts';

const counts = (atS: number, volumeM3: number | undefined, flowMeterVolumeM3: number | undefined) =>
  reading({ kind: 'industrial_controller', atS, flowMeterId: 'FM-7', ...(volumeM3 !== undefined ? { volumeM3 } : {}), ...(flowMeterVolumeM3 !== undefined ? { flowMeterVolumeM3 } : {}) });
const mismatch = (s: { present: string[] }) => s.present.includes('COUNT_MISMATCH');
const detailOf = (s: { findings: Array<{ detail?: Record<string, unknown> }> }) => s.findings[0]?.detail;

/** Minute by minute from cumulative totals: the controller counts `ctrlPerMin`, the flow meter `fmPerMin`. */
function run(minutes: number, ctrl0: number, fm0: number, ctrlPerMin: number, fmPerMin: number, fromMin = 0) {
  return Array.from({ length: minutes + 1 }, (_, i) => counts((fromMin + i) * 60, ctrl0 + i * ctrlPerMin, fm0 + i * fmPerMin));
}

describe('CountMismatchDetector (increments since a sync point)', () => {
  it('raises for 22 m³ counted against 5.5 m³ in 22 minutes (75 % drift) with totals in the thousands, and says the controller is ahead', () => {
    const { steps } = runDetector(CountMismatchDetector, run(22, 4_000, 3_987.2, 1, 0.25));
    expect(steps.some(mismatch)).toBe(true);
    const last = steps[steps.length - 1]!;
    // Findings are reported on every judged reading; the detail of the last one covers the whole 22 minutes.
    expect(detailOf(last)).toMatchObject({ controllerDeltaM3: 22, flowMeterDeltaM3: 5.5, diffM3: 16.5, driftPct: 75, ahead: 'controller', flowMeterId: 'FM-7' });
  });

  it('names the flow meter as the side ahead when it counts more', () => {
    const { steps } = runDetector(CountMismatchDetector, run(10, 4_000, 4_000, 0.5, 1));
    expect(detailOf(steps[10]!)).toMatchObject({ ahead: 'flow_meter', controllerDeltaM3: 5, flowMeterDeltaM3: 10 });
  });

  it('holds the absolute floor: a 0.9 m³ difference on tiny increments raises nothing', () => {
    const { steps } = runDetector(CountMismatchDetector, run(9, 100, 100, 0.2, 0.1));
    expect(steps.some(mismatch)).toBe(false);
  });

  it.each([
    { ctrlPerMin: 1, fmPerMin: 0.99, present: false }, // 1 % < 2 %
    { ctrlPerMin: 1, fmPerMin: 0.9, present: true }, // 10 %, 6 m³ over an hour
  ])('judges the share on the increments, not the totals: $ctrlPerMin vs $fmPerMin m³/min → $present', ({ ctrlPerMin, fmPerMin, present }) => {
    const { steps } = runDetector(CountMismatchDetector, run(60, 20_000, 19_500, ctrlPerMin, fmPerMin));
    expect(steps.some(mismatch)).toBe(present);
  });

  it('does not raise for an old constant offset between the totals (the cumulative rule raised it)', () => {
    const { steps } = runDetector(CountMismatchDetector, run(30, 1_000, 1_050, 1, 1));
    expect(steps.some(mismatch)).toBe(false);
  });

  it('stays raised while the counts stay apart, and clears once they are back in step', () => {
    const inStep = run(5, 1_000, 1_000, 1, 1);
    const apart = Array.from({ length: 5 }, (_, i) => counts((6 + i) * 60, 1_006 + i, 1_026 + i)); // the flow meter jumped 20 m³ ahead
    const back = Array.from({ length: 5 }, (_, i) => counts((11 + i) * 60, 1_011 + i, 1_011 + i));
    const { steps } = runDetector(CountMismatchDetector, [...inStep, ...apart, ...back]);
    // The flow meter stepping back is a count going backwards: counting starts afresh there (no evidence), and the next reading clears.
    const seen = steps.map((s) => (s.findings.length === 0 ? 'held' : mismatch(s)));
    expect(seen).toEqual(['held', ...Array(5).fill(false), ...Array(5).fill(true), 'held', false, false, false, false]);
  });

  it('clears after the technician re-syncs the totals (a leap no flow could count): the increments from there are in step', () => {
    // The case, then the flow meter's total set to the controller's: 12.8 + 16.5 m³ in one minute.
    const drift = run(22, 4_000, 3_987.2, 1, 0.25);
    const resynced = Array.from({ length: 3 }, (_, i) => counts((23 + i) * 60, 4_023 + i, 4_023 + i));
    const { steps } = runDetector(CountMismatchDetector, [...drift, ...resynced]);
    expect(mismatch(steps[22]!)).toBe(true);
    expect(steps[23]!.findings).toEqual([]);
    expect(mismatch(steps[24]!)).toBe(false);
  });

  it('slides the sync point while the counts agree: a slow 1 % skew over a day never adds up to a raise', () => {
    const { steps } = runDetector(CountMismatchDetector, Array.from({ length: 24 * 12 + 1 }, (_, i) => counts(i * 300, 5_000 + i * 2, 5_000 + i * 1.98)));
    expect(steps.some(mismatch)).toBe(false);
  });

  it('starts afresh at a reset or rollover instead of reading it as drift, holding the level meanwhile', () => {
    const before = run(5, 99_990, 99_990, 1, 1);
    // The flow meter rolls over at 100 000 m³; the controller keeps counting.
    const after = Array.from({ length: 5 }, (_, i) => counts((6 + i) * 60, 99_996 + i, 1 + i));
    const { steps } = runDetector(CountMismatchDetector, [...before, ...after]);
    expect(steps.some(mismatch)).toBe(false);
    expect(steps[6]!.findings).toEqual([]); // the reset reading itself is no evidence
  });

  it('waits for readings missing the partner count and judges the increments across the gap', () => {
    const rs = [counts(0, 100, 100), counts(600, 105, undefined), counts(1200, undefined, 100.2), counts(1800, 108, 100.3), counts(2400, 110, 100.4)];
    const { steps } = runDetector(CountMismatchDetector, rs);
    expect(steps.map((s) => s.findings.length)).toEqual([0, 0, 0, 1, 1]);
    expect(steps.map(mismatch)).toEqual([false, false, false, true, true]);
    expect(detailOf(steps[4]!)).toMatchObject({ controllerDeltaM3: 10, flowMeterDeltaM3: 0.4 });
  });

  it('ignores a duplicated reading and an out-of-order one handed in after a newer one', () => {
    const base = run(3, 100, 100, 1, 1);
    const dup = counts(180, 103, 103);
    const older = counts(90, 200, 100); // would be a 100 m³ drift if judged
    const { steps, state } = runDetector(CountMismatchDetector, [...base, dup, older]);
    expect(steps[4]!.findings).toEqual([]);
    expect(steps[5]!.findings).toEqual([]);
    expect(state.last).toMatchObject({ controllerM3: 103, flowMeterM3: 103 });
  });

  it('judges a backfill of thousands of buffered readings in event time: one raise, one clear, at the device times', () => {
    // 3 000 minutes: in step, then 40 minutes at 75 % drift, then re-synced by the technician (counts equal again).
    const rs = [
      ...run(1_000, 8_000, 8_000, 0.5, 0.5),
      ...Array.from({ length: 40 }, (_, i) => counts((1_001 + i) * 60, 8_500 + (i + 1), 8_500 + (i + 1) * 0.25)),
      ...Array.from({ length: 1_959 }, (_, i) => counts((1_041 + i) * 60, 8_540 + i * 0.5, 8_540 + i * 0.5)),
    ];
    const { steps } = runDetector(CountMismatchDetector, rs);
    const on = steps.map(mismatch);
    const edges = on.flatMap((v, i) => (i > 0 && v !== on[i - 1] ? [{ i, v }] : []));
    expect(edges.length).toBe(2);
    expect(edges[0]!.v).toBe(true);
    expect(edges[0]!.i).toBeGreaterThan(1_000);
    expect(edges[1]!.v).toBe(false);
    expect(edges[1]!.i).toBeGreaterThanOrEqual(1_041);
  });

  it('holds a raise for raiseAfterMs when configured', () => {
    const rs = run(10, 100, 100, 1, 0);
    const { steps } = runDetector(CountMismatchDetector, rs, { settings: { raiseAfterMs: 300_000 } });
    const first = steps.findIndex(mismatch);
    const unheld = runDetector(CountMismatchDetector, rs).steps.findIndex(mismatch);
    expect(first - unheld).toBe(5);
  });

  it('restores a snapshot from before increments (level only) and starts counting from its next reading', () => {
    const { steps } = runDetector(CountMismatchDetector, run(5, 100, 100, 1, 0), { state: { level: { on: true, pendingSinceMs: null } } });
    expect(steps[0]!.findings).toEqual([]);
    expect(steps.slice(1).every(mismatch)).toBe(true);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const all = run(20, 100, 100, 1, 0.2);
    const whole = runDetector(CountMismatchDetector, all).steps.map(mismatch);
    const first = runDetector(CountMismatchDetector, all.slice(0, 8));
    const resumed = runDetector(CountMismatchDetector, all.slice(8), { state: JSON.parse(JSON.stringify(first.state)) });
    expect([...first.steps, ...resumed.steps].map(mismatch)).toEqual(whole);
  });
});
