import { describe, expect, it } from 'vitest';
import type { DailyReport, MonthlyReport, ReportCounts, WeeklyReport } from './api.ts';
import { csvFileName, dailyTables, faultsChart, hashOfReport, monthlyTables, reportRouteFromHash, weeklyTables } from './report-tables.ts';

const counts = (fields: Partial<ReportCounts> = {}): ReportCounts => ({ opened: 0, dispatched: 0, acknowledged: 0, onSite: 0, resolved: 0, followedUp: 0, closed: 0, cancelled: 0, reopened: 0, breaches: 0, ...fields });
const zone = { timeZone: 'Asia/Shanghai', from: '2026-11-22T16:00:00.000Z', to: '2026-11-23T16:00:00.000Z' };
const followUp = {
  resolved: 2, followedUp: 1, followedUpWithinLimit: 1, coveragePct: 50, withinLimitPct: 50, followUpWithinHours: 72,
  // Resolved at 23:30 UTC on the 22nd: the 23rd in Shanghai.
  notFollowedUp: [{ ticketId: 'T000007', resolvedAt: '2026-11-22T23:30:00.000Z', dueAt: '2026-11-25T23:30:00.000Z', overdue: false, priority: 'urgent' as const, assignee: 'tech-wang', subjectId: 'HA-1', address: '人民路 1 号' }],
};

describe('report tables and their CSV (issue 17 #5)', () => {
  it('keeps the report and its period in the URL, and drops a period the API would refuse', () => {
    expect(reportRouteFromHash(hashOfReport({ kind: 'weekly', period: '2026-11-23' }))).toEqual({ kind: 'weekly', period: '2026-11-23' });
    expect(hashOfReport({ kind: 'monthly', period: 'previous' })).toBe('#/reports/monthly?month=previous');
    expect(reportRouteFromHash('#/reports')).toEqual({ kind: 'daily' });
    expect(reportRouteFromHash('#/reports/daily?date=2026-13-01')).toEqual({ kind: 'daily' });
    // Each report reads its own parameter only.
    expect(reportRouteFromHash('#/reports/monthly?date=2026-11-23')).toEqual({ kind: 'monthly' });
    expect(reportRouteFromHash('#/reports/nonsense')).toEqual({ kind: 'daily' });
  });

  it('daily: one row per priority and a total, in the console language; breaches named by their clock', () => {
    const byPriority = { emergency: { ...counts({ opened: 2, breaches: 1 }), openAtEndOfDay: 1 }, urgent: { ...counts({ opened: 1 }), openAtEndOfDay: 1 }, normal: { ...counts(), openAtEndOfDay: 0 }, low: { ...counts(), openAtEndOfDay: 0 } };
    const report: DailyReport = { date: '2026-11-23', ...zone, counts: { ...counts({ opened: 3, breaches: 1 }), openAtEndOfDay: 2 }, byPriority, breachesByClock: { acknowledge: 1, reply: 2 } };
    const [prio, breaches] = dailyTables(report, 'zh-CN');
    expect(prio!.columns.map((c) => c.label)).toEqual(['优先级', '新开', '派工', '接单', '到场', '修复', '回访', '关闭', '取消', '退回重开', 'SLA 超时', '日终未结']);
    expect(prio!.rows.map((r) => [r[0], r[1], r[11]])).toEqual([['紧急', 2, 1], ['急', 1, 1], ['普通', 0, 0], ['低', 0, 0], ['合计', 3, 2]]);
    expect(breaches!.rows).toEqual([['接单', 1], ['答复客户', 2]]);
    expect(dailyTables(report, 'en')[0]!.rows.at(-1)![0]).toBe('Total');
    expect(csvFileName({ kind: 'daily', report }, prio!)).toBe('daily-2026-11-23-by-priority.csv');
  });

  it("weekly: counts, coverage, and the jobs not followed up with times in the report's time zone", () => {
    const report: WeeklyReport = { weekStart: '2026-11-23', ...zone, taken: 4, dispatched: 3, resolved: 2, followedUp: 1, reopened: 1, breaches: 0, followUp };
    const [c, cov, missing] = weeklyTables(report, 'en');
    expect(c!.rows).toEqual([[4, 3, 2, 1, 1, 0]]);
    expect(cov!.rows).toEqual([[2, 1, 1, 50, 50, 72]]);
    expect(missing!.rows[0]!.slice(0, 5)).toEqual(['T000007', 'Urgent', 'HA-1', '人民路 1 号', 'tech-wang']);
    expect(missing!.rows[0]![5]).toContain('11/23/2026');
    expect(missing!.rows[0]![7]).toBe('No');
  });

  it('monthly: the fault classes by condition and by district, rates, complaints with a total, recurring faults; the chart from the same figures', () => {
    const power = { 'zh-CN': '市电断电', en: 'Mains power lost' };
    const leak = { 'zh-CN': '燃气泄漏二级报警', en: 'Gas leak L2' };
    const report: MonthlyReport = {
      month: '2026-11', ...zone, complete: false, generatedAt: '2026-11-23T02:00:00.000Z', snapshot: false,
      counts: counts({ opened: 14 }), followUp,
      repairRates: {
        devices: 2000,
        byKind: [{ kind: 'home_gas_alarm', kindName: { 'zh-CN': '家用报警器', en: 'Home gas alarm' }, tickets: 13, devices: 1000, per1000Devices: 13 }, { kind: null, kindName: null, tickets: 1, devices: 0, per1000Devices: null }],
        byCondition: [],
        complaints: { tickets: 3, per1000Devices: 1.5, byClass: [{ class: 'justified', tickets: 2 }, { class: null, tickets: 1 }] },
      },
      recurringFaults: { minCount: 2, items: [{ deviceId: 'HA-1', condition: 'GAS_ALARM_L2', name: leak, alerts: 3, tickets: 2, repeatTickets: 1, lastAt: '2026-11-23T02:00:00.000Z', address: '人民路 1 号', district: '城东区' }] },
      byConditionAndDistrict: [{ condition: 'POWER_LOST', name: power, district: '', alerts: 12, tickets: 1 }, { condition: 'GAS_ALARM_L2', name: leak, district: '城东区', alerts: 3, tickets: 2 }],
      byCondition: [{ condition: 'POWER_LOST', name: power, alerts: 12, tickets: 1 }, { condition: 'GAS_ALARM_L2', name: leak, alerts: 3, tickets: 2 }],
      repeatFaults: 1,
    };
    const tables = new Map(monthlyTables(report, 'zh-CN').map((t) => [t.id, t]));
    expect(tables.get('counts')!.rows[0]!.at(-1)).toBe(1);
    expect(tables.get('by-condition')!.title).toBe('故障现象统计分类');
    expect(tables.get('by-condition')!.rows).toEqual([['市电断电', 12, 1], ['燃气泄漏二级报警', 3, 2]]);
    expect(tables.get('by-condition-and-district')!.rows[0]).toEqual(['市电断电', '未分区', 12, 1]);
    expect(tables.get('repair-by-kind')!.rows).toEqual([['家用报警器', 13, 1000, 13], ['网关 / 未分类', 1, 0, null]]);
    expect(tables.get('complaints')!.rows).toEqual([['有效投诉', 2, null], ['未分类', 1, null], ['合计', 3, 1.5]]);
    expect(tables.get('recurring-faults')!.rows[0]!.slice(0, 5)).toEqual(['HA-1', '燃气泄漏二级报警', 3, 2, 1]);
    expect(faultsChart(report, 'en')).toEqual({ categories: ['Mains power lost', 'Gas leak L2'], series: [{ name: 'Alerts', data: [12, 3] }, { name: 'Tickets', data: [1, 2] }] });
  });
});
