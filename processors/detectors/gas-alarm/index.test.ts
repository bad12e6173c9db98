import { describe, expect, it } from 'vitest';
import { reading, runDetector } from '../testing.ts';
import { GasAlarmDetector } from './index.ts';

const alarm = (atS: number, lelPct: number, extra = {}) => reading({ kind: 'home_gas_alarm', atS, lelPct, ...extra });

describe('GasAlarmDetector', () => {
  it.each([
    { lelPct: 0, present: [] },
    { lelPct: 24.9, present: [] },
    { lelPct: 25, present: ['GAS_ALARM_L1'] },
    { lelPct: 49, present: ['GAS_ALARM_L1'] },
    { lelPct: 50, present: ['GAS_ALARM_L1', 'GAS_ALARM_L2'] },
  ])('judges $lelPct %LEL against the default set points', ({ lelPct, present }) => {
    const { steps } = runDetector(GasAlarmDetector, [alarm(0, lelPct)]);
    expect(steps[0]!.present).toEqual(present);
  });

  it('uses the per-device set points from the registry', () => {
    const { steps } = runDetector(GasAlarmDetector, [alarm(0, 15)], { record: { l1LelPct: 10, l2LelPct: 15 } });
    expect(steps[0]!.present).toEqual(['GAS_ALARM_L1', 'GAS_ALARM_L2']);
  });

  it('does not flap while the value hovers at the set point (hysteresis)', () => {
    const values = [26, 24, 26, 23, 25, 22];
    const { steps } = runDetector(GasAlarmDetector, values.map((v, i) => alarm(i * 30, v)));
    expect(steps.every((s) => s.present.includes('GAS_ALARM_L1'))).toBe(true);
  });

  it('clears only after staying under the hysteresis band for clearAfterMs of device time', () => {
    const { steps } = runDetector(GasAlarmDetector, [alarm(0, 30), alarm(30, 10), alarm(60, 10), alarm(90, 10)]);
    expect(steps.map((s) => s.present.includes('GAS_ALARM_L1'))).toEqual([true, true, true, false]);
  });

  it('restarts the clear hold when the value rises again', () => {
    const { steps } = runDetector(GasAlarmDetector, [alarm(0, 30), alarm(30, 10), alarm(60, 26), alarm(90, 10), alarm(120, 10)]);
    expect(steps.map((s) => s.present.includes('GAS_ALARM_L1'))).toEqual([true, true, true, true, true]);
  });

  it('holds a raise for raiseAfterMs when configured', () => {
    const { steps } = runDetector(GasAlarmDetector, [alarm(0, 30), alarm(5, 30), alarm(10, 30)], { settings: { raiseAfterMs: 10_000 } });
    expect(steps.map((s) => s.present.includes('GAS_ALARM_L1'))).toEqual([false, false, true]);
  });

  it("takes the home alarm's red lamp or intermittent buzzer as a first-level alarm", () => {
    const { steps } = runDetector(GasAlarmDetector, [
      reading({ kind: 'home_gas_alarm', atS: 0, lamps: { power: true, alarm: true } }),
      reading({ kind: 'home_gas_alarm', atS: 60, buzzer: 'intermittent' }),
    ]);
    expect(steps.map((s) => s.present)).toEqual([['GAS_ALARM_L1'], ['GAS_ALARM_L1']]);
  });

  it('judges an alarm controller on its highest live channel and names the channels over L1', () => {
    const { steps } = runDetector(GasAlarmDetector, [
      reading({ kind: 'alarm_controller', detectors: [{ channel: 1, lelPct: 3 }, { channel: 2, lelPct: 55 }, { channel: 3, lelPct: null, status: '--F' }] }),
    ]);
    expect(steps[0]!.present).toEqual(['GAS_ALARM_L1', 'GAS_ALARM_L2']);
    expect(steps[0]!.findings[0]!.detail).toMatchObject({ lelPct: 55, channels: [2] });
  });

  it('reports nothing when the reading carries no concentration', () => {
    const { steps } = runDetector(GasAlarmDetector, [reading({ kind: 'alarm_controller', detectors: [{ channel: 1, lelPct: null, status: '--F' }] })]);
    expect(steps[0]!.findings).toEqual([]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(GasAlarmDetector, [alarm(0, 30), alarm(30, 10)]);
    const resumed = runDetector(GasAlarmDetector, [alarm(60, 10), alarm(90, 10)], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps.map((s) => s.present.includes('GAS_ALARM_L1'))).toEqual([true, false]);
  });
});
