import { describe, expect, it } from 'vitest';
import type { DeviceKind } from '../../../contracts/messages.ts';
import { reading, runDetector } from '../testing.ts';
import { DeviceCodesDetector } from './index.ts';

const shown = (kind: DeviceKind, status: string[] | undefined, extra = {}) => reading({ kind, ...(status ? { status } : {}), ...extra });

describe('DeviceCodesDetector', () => {
  it.each([
    { kind: 'household_meter', status: ['ERR-3'], present: ['ERR-3'] },
    { kind: 'household_meter', status: ['ERR—1'], present: ['ERR-1', 'TAMPER'] },
    { kind: 'household_meter', status: ['ERR--6'], present: ['ERR-6'] },
    { kind: 'household_meter', status: [' err-5 '], present: ['ERR-5'] },
    { kind: 'household_meter', status: ['ＥＲＲ－７'], present: ['ERR-7'] },
    { kind: 'household_meter', status: ['ERR-8'], present: [] },
    { kind: 'industrial_controller', status: ['关阀', '故障', 'ERR-1'], present: ['ERR-1'] },
    { kind: 'industrial_controller', status: ['故障', '关阀', 'ERR-4'], present: ['ERR-4'] },
    { kind: 'industrial_controller', status: ['故障', '关阀'], present: ['DEVICE_FAULT'] },
    { kind: 'industrial_controller', status: ['故障', '开盖'], present: ['DEVICE_FAULT', 'TAMPER'] },
    { kind: 'household_meter', status: ['安全保护'], present: ['DEVICE_FAULT'] },
    { kind: 'household_meter', status: ['磁干扰'], present: ['TAMPER'] },
    { kind: 'flow_meter', status: ['tamper'], present: ['TAMPER'] },
    { kind: 'flow_meter', status: ['SLEEP'], present: [] },
  ] as const)('$kind showing $status raises $present', ({ kind, status, present }) => {
    const { steps } = runDetector(DeviceCodesDetector, [shown(kind, [...status])]);
    expect(steps[0]!.present).toEqual(present);
    expect(steps[0]!.findings).toHaveLength(9);
  });

  it('raises DEVICE_FAULT as high when the valve is closed (customer without gas)', () => {
    const { steps } = runDetector(DeviceCodesDetector, [
      shown('industrial_controller', ['故障', '关阀']),
      shown('household_meter', ['安全保护'], { valve: 'closed' }),
      shown('household_meter', ['安全保护'], { valve: 'open', atS: 60 }),
    ]);
    const fault = steps.map((s) => s.findings.find((f) => f.condition === 'DEVICE_FAULT')!);
    expect(fault.map((f) => f.severity)).toEqual(['high', 'high', undefined]);
    expect(fault[0]!.detail).toEqual({ tokens: ['故障', '关阀'], valveClosed: true });
  });

  it('judges every condition absent when the reading shows no tokens', () => {
    const { steps } = runDetector(DeviceCodesDetector, [shown('household_meter', ['ERR-3']), shown('household_meter', undefined, { atS: 60, volumeM3: 10 })]);
    expect(steps[1]!.findings.map((f) => f.present)).toEqual(Array(9).fill(false));
  });

  it("does not take an industrial controller's ERR-1 (its own battery) as tampering", () => {
    const { steps } = runDetector(DeviceCodesDetector, [shown('industrial_controller', ['ERR-1'])]);
    expect(steps[0]!.present).toEqual(['ERR-1']);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(DeviceCodesDetector, [shown('household_meter', ['ERR-4'])]);
    const resumed = runDetector(DeviceCodesDetector, [shown('household_meter', [], { atS: 60 })], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps[0]!.present).toEqual([]);
    expect(resumed.state).toEqual({});
  });
});

describe('DeviceCodesDetector with model code tables (issue 15 #5)', () => {
  const meter = (atS: number, status: string[]) => reading({ kind: 'household_meter', atS, status });
  const controller = (atS: number, status: string[]) => reading({ kind: 'industrial_controller', atS, status });

  it("names the model's meaning of a code in the detail", () => {
    const { steps } = runDetector(DeviceCodesDetector, [controller(0, ['关阀', '故障', 'ERR-3'])], { record: { model: 'MHCG-DN' } });
    expect(steps[0]!.findings.find((f) => f.condition === 'ERR-3')!.detail).toMatchObject({ meaning: expect.stringContaining('流量计电池') });
  });

  it("takes a household meter's ERR-1 as tamper, but not an MHCG controller's (its internal battery)", () => {
    expect(runDetector(DeviceCodesDetector, [meter(0, ['ERR-1'])], { record: { model: 'MH-G2.5' } }).steps[0]!.present).toEqual(['ERR-1', 'TAMPER']);
    expect(runDetector(DeviceCodesDetector, [controller(0, ['关阀', '故障', 'ERR-1'])], { record: { model: 'MHCG-G' } }).steps[0]!.present).toEqual(['ERR-1']);
  });

  it('judges a duplicated reading exactly as the first (stateless: every reading is evidence)', () => {
    const r = meter(0, ['ERR-1']);
    const { steps } = runDetector(DeviceCodesDetector, [r, r, meter(60, ['ERR-1'])], { record: { model: 'MH-G2.5' } });
    expect(steps.map((s) => s.present)).toEqual([['ERR-1', 'TAMPER'], ['ERR-1', 'TAMPER'], ['ERR-1', 'TAMPER']]);
  });
});
