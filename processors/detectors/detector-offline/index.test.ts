import { describe, expect, it } from 'vitest';
import type { DetectorChannel, Reading } from '../../../contracts/messages.ts';
import { reading, runDetector } from '../testing.ts';
import { DetectorOfflineDetector } from './index.ts';

const controller = (atS: number, fields: Partial<Reading>) => reading({ kind: 'alarm_controller', atS, ...fields });
const verdict = (s: { findings: Array<{ present: boolean }> }) => (s.findings.length === 0 ? undefined : s.findings[0]!.present);
const ch = (channel: number, lelPct: number | null, status?: string | string[]): DetectorChannel => ({ channel, lelPct, ...(status !== undefined ? { status } : {}) });

describe('DetectorOfflineDetector', () => {
  it.each([
    { name: 'all channels live', fields: { detectors: [ch(1, 0), ch(2, 3, 'ok')] }, present: false, channels: [] },
    { name: '--F as a string', fields: { detectors: [ch(1, 0), ch(2, null, '--F')] }, present: true, channels: [2] },
    { name: '--F in a status array', fields: { detectors: [ch(1, 4, ['fault', ' --f '])] }, present: true, channels: [1] },
    { name: 'no concentration', fields: { detectors: [ch(1, null), ch(3, null)] }, present: true, channels: [1, 3] },
    { name: "the controller's own status", fields: { status: ['--F'] }, present: true, channels: [] },
    { name: 'an empty status', fields: { status: [] }, present: false, channels: [] },
  ] as Array<{ name: string; fields: Partial<Reading>; present: boolean; channels: number[] }>)('$name → $present', ({ fields, present, channels }) => {
    const { steps } = runDetector(DetectorOfflineDetector, [controller(0, fields)]);
    expect(steps[0]!.findings).toHaveLength(1);
    expect(steps[0]!.findings[0]).toMatchObject({ condition: 'DETECTOR_OFFLINE', present, detail: { channels } });
  });

  it('clears when the detector is back', () => {
    const { steps } = runDetector(DetectorOfflineDetector, [controller(0, { detectors: [ch(1, null, '--F')] }), controller(30, { detectors: [ch(1, 2)] })]);
    expect(steps.map(verdict)).toEqual([true, false]);
  });

  it('keeps the offline channels while readings omit the detector list', () => {
    const { steps } = runDetector(DetectorOfflineDetector, [controller(0, { detectors: [ch(1, null, '--F')] }), controller(30, { status: [] })]);
    expect(steps.map(verdict)).toEqual([true, true]);
  });

  it('reports nothing when the reading carries neither detectors nor status', () => {
    const { steps } = runDetector(DetectorOfflineDetector, [controller(0, { mainPowerV: 220 })]);
    expect(steps[0]!.findings).toEqual([]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(DetectorOfflineDetector, [controller(0, { detectors: [ch(4, null, '--F')] })]);
    const resumed = runDetector(DetectorOfflineDetector, [controller(30, { status: [] }), controller(60, { detectors: [ch(4, 1)] })], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps.map(verdict)).toEqual([true, false]);
  });
});
