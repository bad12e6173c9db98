import { describe, expect, it } from 'vitest';
import type { Reading } from '../../../contracts/messages.ts';
import type { LinkedFacts } from '../../detector.ts';
import { reading, runDetector } from '../testing.ts';
import { ValveNotCutDetector } from './index.ts';

const home = (atS: number, fields: Partial<Reading>) => reading({ kind: 'home_gas_alarm', atS, ...fields });
const verdict = (s: { findings: Array<{ present: boolean }> }) => (s.findings.length === 0 ? undefined : s.findings[0]!.present);

describe('ValveNotCutDetector', () => {
  it.each([
    { name: 'gas over L1, valve open', fields: { lelPct: 30, valve: 'open' }, present: true },
    { name: 'gas over L1, valve closed', fields: { lelPct: 30, valve: 'closed' }, present: false },
    { name: 'gas exactly at L1, valve open', fields: { lelPct: 25, valve: 'open' }, present: true },
    { name: 'gas under L1, valve open', fields: { lelPct: 10, valve: 'open' }, present: false },
    { name: 'red lamp, valve open', fields: { lamps: { alarm: true }, valve: 'open' }, present: true },
    { name: 'intermittent buzzer, valve open', fields: { buzzer: 'intermittent', valve: 'open' }, present: true },
    { name: 'continuous buzzer (a fault, not an alarm), valve open', fields: { buzzer: 'continuous', valve: 'open' }, present: false },
    { name: 'gas over L1, valve unknown', fields: { lelPct: 30 }, present: undefined },
    { name: 'no alarm, valve unknown', fields: { lelPct: 0 }, present: false },
    { name: 'nothing about the alarm', fields: { valve: 'open', lamps: { power: true } }, present: undefined },
  ] as Array<{ name: string; fields: Partial<Reading>; present: boolean | undefined }>)('$name → $present', ({ fields, present }) => {
    const { steps } = runDetector(ValveNotCutDetector, [home(0, fields)]);
    expect(verdict(steps[0]!)).toBe(present);
  });

  it.each([
    { linked: { linkedValve: 'open' }, present: true },
    { linked: { linkedValve: 'closed' }, present: false },
    { linked: {}, present: undefined },
  ] as Array<{ linked: LinkedFacts; present: boolean | undefined }>)('judges the linked valve $linked when the reading has none', ({ linked, present }) => {
    const { steps } = runDetector(ValveNotCutDetector, [home(0, { lelPct: 40 })], { linked, record: { valveId: 'SV-1' } });
    expect(verdict(steps[0]!)).toBe(present);
    if (present) expect(steps[0]!.findings[0]!.detail).toMatchObject({ valve: 'open', valveSource: 'linked', valveId: 'SV-1', lelPct: 40 });
  });

  it("prefers the reading's own valve to the linked one", () => {
    const { steps } = runDetector(ValveNotCutDetector, [home(0, { lelPct: 40, valve: 'closed' })], { linked: { linkedValve: 'open' } });
    expect(verdict(steps[0]!)).toBe(false);
  });

  it('judges an alarm controller on any live channel at or over L1', () => {
    const { steps } = runDetector(ValveNotCutDetector, [
      reading({ kind: 'alarm_controller', detectors: [{ channel: 1, lelPct: 2 }, { channel: 2, lelPct: 26 }, { channel: 3, lelPct: null, status: '--F' }] }),
    ], { linked: { linkedValve: 'open' } });
    expect(steps[0]!.findings[0]).toMatchObject({ present: true, detail: { channels: [2], lelPct: 26 } });
  });

  it('tolerates an open valve for cutGraceMs after the alarm began, on device time', () => {
    const { steps } = runDetector(ValveNotCutDetector, [home(0, { lelPct: 30, valve: 'open' }), home(5, { lelPct: 30, valve: 'open' }), home(10, { lelPct: 30, valve: 'open' })], { settings: { cutGraceMs: 10_000 } });
    expect(steps.map(verdict)).toEqual([false, false, true]);
  });

  it('clears when the valve closes and raises again if it reopens during the alarm', () => {
    const { steps } = runDetector(ValveNotCutDetector, [
      home(0, { lelPct: 30, valve: 'open' }),
      home(30, { lelPct: 30, valve: 'closed' }),
      home(60, { lelPct: 30, valve: 'open' }),
      home(90, { lelPct: 0, valve: 'open' }),
    ]);
    expect(steps.map(verdict)).toEqual([true, false, true, false]);
  });

  it('does not flap while the concentration hovers at L1 (hysteresis)', () => {
    const values = [26, 24, 22, 26, 19];
    const { steps } = runDetector(ValveNotCutDetector, values.map((v, i) => home(i * 30, { lelPct: v, valve: 'open' })));
    expect(steps.map(verdict)).toEqual([true, true, true, true, false]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(ValveNotCutDetector, [home(0, { lelPct: 30, valve: 'closed' })], { settings: { cutGraceMs: 60_000 } });
    expect(first.state.alarmSinceMs).toBe(home(0, {}).atMs);
    const resumed = runDetector(ValveNotCutDetector, [home(30, { lelPct: 30, valve: 'open' }), home(60, { lelPct: 30, valve: 'open' })], {
      settings: { cutGraceMs: 60_000 },
      state: JSON.parse(JSON.stringify(first.state)),
    });
    expect(resumed.steps.map(verdict)).toEqual([false, true]);
  });
});

describe('ValveNotCutDetector on a two-detector alarm controller (issue 15 #6)', () => {
  const controller = (atS: number, ...lel: number[]) => reading({ kind: 'alarm_controller', atS, detectors: lel.map((lelPct, i) => ({ channel: i + 1, lelPct })) });
  const open: LinkedFacts = { linkedValve: 'open' };
  const record = { valveId: 'VALVE-1', alarmConfirmRule: 'two-detector' as const };

  it('expects no cut for one channel over L1 (the controller cuts only on a confirmed alarm), and raises once a second channel confirms', () => {
    const { steps } = runDetector(ValveNotCutDetector, [controller(0, 60, 0), controller(30, 60, 30)], { record, linked: open });
    expect(steps.map(verdict)).toEqual([false, true]);
    expect(steps[1]!.findings[0]!.detail).toMatchObject({ rule: 'two-detector', channels: [1, 2], valveSource: 'linked' });
  });

  it('keeps a single-rule controller as before: one channel over L1 with the valve open is VALVE_NOT_CUT', () => {
    const { steps } = runDetector(ValveNotCutDetector, [controller(0, 60, 0)], { record: { valveId: 'VALVE-1' }, linked: open });
    expect(steps.map(verdict)).toEqual([true]);
    expect(steps[0]!.findings[0]!.detail).toMatchObject({ rule: 'single' });
  });

  it('judges a duplicated reading as the first, and a backfill of 1,000 confirmed readings as one alarm', () => {
    const r = controller(0, 60, 40);
    const backfill = Array.from({ length: 1000 }, (_, i) => controller(30 + i * 30, 60, 40));
    const { steps } = runDetector(ValveNotCutDetector, [r, r, ...backfill], { record, linked: open });
    expect(steps.every((s) => verdict(s) === true)).toBe(true);
  });
});
