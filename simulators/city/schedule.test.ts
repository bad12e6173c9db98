import { describe, expect, it } from 'vitest';
import type { DeviceKind } from '../../contracts/messages.ts';
import { City } from './city.ts';
import { burstTime, lastMeterReportAt, PhaseSet, ReportSchedule, type ScheduleOptions } from './schedule.ts';

const city = new City({ meters: 1_000, gateways: 20, seed: 3, faultShare: 0, hourlyMeters: false });
const all = Array.from({ length: city.meters }, (_, i) => i);
/** Midnight in the city (UTC+8) on 22 November 2026. */
const MIDNIGHT = Date.UTC(2026, 10, 21, 16, 0);
const times: ScheduleOptions = { meterReportAtMin: 0, utcOffsetMin: 480, meterSpreadS: 60 };

function reports(schedule: ReportSchedule, fromMs: number, toMs: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  schedule.due(fromMs, toMs, (i, atMs) => out.push([i, atMs]));
  return out;
}

describe('the burst', () => {
  it('reads every device once within one minute, each gateway walking its devices in poll order', () => {
    for (let g = 0; g < city.gateways; g++) {
      const at = [...city.devicesOf(g)].map((i) => burstTime(city, i, MIDNIGHT));
      expect(at.length).toBe(50);
      for (let k = 0; k < at.length; k++) {
        expect(at[k]).toBeGreaterThanOrEqual(MIDNIGHT);
        expect(at[k]).toBeLessThan(MIDNIGHT + 60_000);
        if (k > 0) expect(at[k]).toBeGreaterThan(at[k - 1]!);
      }
    }
  });
});

describe('the schedule', () => {
  it('makes every household meter report in the same minute after local midnight, once a day', () => {
    const schedule = new ReportSchedule(city, all, times);
    const day = reports(schedule, MIDNIGHT - 3_600_000, MIDNIGHT + 23 * 3_600_000);
    const meters = day.filter(([i]) => city.kindOf(i) === 'household_meter');
    expect(meters).toHaveLength(700);
    expect(new Set(meters.map(([i]) => i)).size).toBe(700);
    for (const [, at] of meters) {
      expect(at).toBeGreaterThanOrEqual(MIDNIGHT);
      expect(at).toBeLessThan(MIDNIGHT + 60_000);
    }
  });

  it('spreads meters over the window given, and hourly meters over every hour', () => {
    const spread = new ReportSchedule(city, all, { ...times, meterSpreadS: 3_600 });
    const meters = reports(spread, MIDNIGHT - 1, MIDNIGHT + 86_400_000 - 1).filter(([i]) => city.kindOf(i) === 'household_meter');
    expect(Math.max(...meters.map(([, at]) => at)) - MIDNIGHT).toBeGreaterThan(3_000_000);
    const hourlyCity = new City({ ...city.options, hourlyMeters: true });
    const hourly = new ReportSchedule(hourlyCity, all, times);
    expect(reports(hourly, MIDNIGHT - 1, MIDNIGHT + 3 * 3_600_000 - 1).filter(([i]) => hourlyCity.kindOf(i) === 'household_meter')).toHaveLength(3 * 700);
  });

  it('reports gas alarms every 30 s and controllers and flow meters every hour, at their own phases', () => {
    const schedule = new ReportSchedule(city, all, times);
    const hour = reports(schedule, MIDNIGHT + 3_600_000, MIDNIGHT + 7_200_000);
    const per = (kind: DeviceKind) => hour.filter(([i]) => city.kindOf(i) === kind).length;
    expect(per('home_gas_alarm')).toBe(120 * 120);
    expect(per('alarm_controller')).toBe(60 * 120);
    expect(per('industrial_controller')).toBe(60);
    expect(per('flow_meter')).toBe(60);
    expect(per('household_meter')).toBe(0);
    const alarm = all.find((i) => city.kindOf(i) === 'home_gas_alarm')!;
    const at = hour.filter(([i]) => i === alarm).map(([, t]) => t);
    expect(at.slice(1).map((t, k) => t - at[k]!)).toEqual(new Array(119).fill(30_000));
  });

  it('emits each report once however the time is cut into steps', () => {
    const set = new PhaseSet(30_000, [[1, 0], [2, 10_000], [3, 29_999], [4, 10_000]]);
    const whole: Array<[number, number]> = [];
    set.due(-1, 90_000, (m, t) => whole.push([m, t]));
    expect(whole).toEqual([[1, 0], [2, 10_000], [4, 10_000], [3, 29_999], [1, 30_000], [2, 40_000], [4, 40_000], [3, 59_999], [1, 60_000], [2, 70_000], [4, 70_000], [3, 89_999], [1, 90_000]]);
    const steps: Array<[number, number]> = [];
    for (let from = -1; from < 90_000; from += 7_777) set.due(from, Math.min(90_000, from + 7_777), (m, t) => steps.push([m, t]));
    expect(steps).toEqual(whole);
  });

  it('finds the last meter report time before a moment', () => {
    expect(lastMeterReportAt(MIDNIGHT + 5_000, times, false)).toBe(MIDNIGHT);
    expect(lastMeterReportAt(MIDNIGHT - 5_000, times, false)).toBe(MIDNIGHT - 86_400_000);
    expect(lastMeterReportAt(MIDNIGHT + 90 * 60_000, times, true)).toBe(MIDNIGHT + 3_600_000);
  });
});
