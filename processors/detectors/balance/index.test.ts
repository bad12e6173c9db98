import { describe, expect, it } from 'vitest';
import type { Reading } from '../../../contracts/messages.ts';
import { reading, runDetector } from '../testing.ts';
import { BalanceDetector } from './index.ts';

const meter = (atS: number, fields: Partial<Reading> = {}) => reading({ kind: 'household_meter', atS, ...fields });

describe('BalanceDetector', () => {
  it.each([
    { fields: { balanceM3: 20 }, present: [] },
    { fields: { balanceM3: 5 }, present: [] },
    { fields: { balanceM3: 4.99 }, present: ['LOW_BALANCE'] },
    { fields: { balanceM3: 0.1 }, present: ['LOW_BALANCE'] },
    { fields: { balanceM3: 0 }, present: ['NO_BALANCE'] },
    { fields: { balanceM3: -0.3 }, present: ['NO_BALANCE'] },
    { fields: { status: ['欠量'] }, present: ['LOW_BALANCE'] },
    { fields: { status: ['请速购气', '关阀'] }, present: ['NO_BALANCE'] },
    { fields: { status: ['请购气'] }, present: ['NO_BALANCE'] },
    { fields: { status: ['欠量'], balanceM3: 0 }, present: ['NO_BALANCE'] },
    { fields: { status: ['欠量'], balanceM3: 12 }, present: ['LOW_BALANCE'] },
    { fields: { status: [] }, present: [] },
  ] as Array<{ fields: Partial<Reading>; present: string[] }>)('$fields → $present', ({ fields, present }) => {
    const { steps } = runDetector(BalanceDetector, [meter(0, fields)]);
    expect(steps[0]!.present).toEqual(present);
    expect(steps[0]!.findings.map((f) => f.condition)).toEqual(['LOW_BALANCE', 'NO_BALANCE']);
  });

  it('takes its set point from the settings', () => {
    const { steps } = runDetector(BalanceDetector, [meter(0, { balanceM3: 8 })], { settings: { lowBalanceM3: 10 } });
    expect(steps[0]!.present).toEqual(['LOW_BALANCE']);
    expect(steps[0]!.findings[0]!.detail).toEqual({ balanceM3: 8, lowBalanceM3: 10 });
  });

  it('follows a balance running down and a purchase', () => {
    const balances = [12, 4, 0, 30];
    const { steps } = runDetector(BalanceDetector, balances.map((b, i) => meter(i * 86_400, { balanceM3: b })));
    expect(steps.map((s) => s.present)).toEqual([[], ['LOW_BALANCE'], ['NO_BALANCE'], []]);
  });

  it('keeps the last balance while status-only readings omit it', () => {
    const { steps } = runDetector(BalanceDetector, [meter(0, { balanceM3: 3 }), meter(60, { status: [] })]);
    expect(steps[1]!.present).toEqual(['LOW_BALANCE']);
  });

  it('reports nothing when the reading carries neither status nor balance', () => {
    const { steps } = runDetector(BalanceDetector, [meter(0, { batteryV: 3.6, volumeM3: 100 })]);
    expect(steps[0]!.findings).toEqual([]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(BalanceDetector, [meter(0, { balanceM3: 2 })]);
    const resumed = runDetector(BalanceDetector, [meter(60, { status: [] }), meter(120, { balanceM3: 40 })], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps.map((s) => s.present)).toEqual([['LOW_BALANCE'], []]);
  });
});
