import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../contracts/device-record.ts';
import { resolveProfile } from '../processors/device-profile.ts';
import { createFleet } from './fleet.ts';
import { buildScenario, scenarioRegistry } from './scenarios.ts';

const fleet = () => createFleet({ gateways: 10, devices: 200, seed: 7, stepMs: 30_000 });

describe('scenarios that need registry fields (issue 15 #6, #8)', () => {
  it('two-detector puts its controller on the two-detector rule and expects L1 from one channel, then L2 once two confirm', () => {
    const f = fleet();
    const s = buildScenario('two-detector', f);
    const [one, two] = s.faults;
    expect(one!.kind).toBe('alarm_controller');
    expect(two!.deviceId).toBe(one!.deviceId);
    expect(two!.fromRound).toBe(one!.toRound);
    expect(one!.effect.fields!.detectors!.filter((c) => (c.lelPct ?? 0) >= 50).map((c) => c.channel)).toEqual([1]);
    expect(two!.effect.fields!.detectors!.filter((c) => (c.lelPct ?? 0) >= 50).map((c) => c.channel)).toEqual([1, 2]);
    expect(s.expected.map((e) => `${e.subjectId} ${e.condition}`)).toEqual([`${one!.deviceId} GAS_ALARM_L1`, `${one!.deviceId} GAS_ALARM_L2`]);
    expect(s.records).toEqual({ [one!.deviceId]: { alarmConfirmRule: 'two-detector' } });
    const record = scenarioRegistry(s, f).find((r) => r.deviceId === one!.deviceId)!;
    expect(resolveProfile(record).alarmConfirmRule).toBe('two-detector');
  });

  it('report-schedule silences one meter inside its slot + window (no alert) and one past it (NO_SIGNAL), both on a minute slot', () => {
    const f = fleet();
    const s = buildScenario('report-schedule', f);
    const [inWindow, missed] = s.faults;
    const stepMs = f.options.stepMs;
    expect((inWindow!.toRound - inWindow!.fromRound + 1) * stepMs).toBeLessThan(8 * 60_000);
    expect((missed!.toRound - missed!.fromRound) * stepMs).toBeGreaterThan(10 * 60_000);
    expect(s.expected).toEqual([{ subjectId: missed!.deviceId, condition: 'NO_SIGNAL', raised: 1, cleared: 1 }]);
    const registry = scenarioRegistry(s, f);
    for (const id of [inWindow!.deviceId, missed!.deviceId]) {
      const profile = resolveProfile(registry.find((r) => r.deviceId === id)!);
      expect(profile.schedule).toEqual({ reportAt: '00:00', reportWindowMin: 3, reportTz: 'Asia/Shanghai' });
      expect(profile.reportIntervalS).toBe(60);
    }
  });

  it('leaves every other record as the fleet has it', () => {
    const f = fleet();
    const s = buildScenario('all', f);
    const merged = scenarioRegistry(s, f);
    const plain = f.registry();
    expect(merged.filter((r, i) => JSON.stringify(r) !== JSON.stringify(plain[i])).map((r: DeviceRecord) => r.deviceId).sort()).toEqual(Object.keys(s.records).sort());
  });
});
