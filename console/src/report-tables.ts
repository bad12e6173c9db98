import { clockName, COMPLAINT_CLASS_NAMES } from '../../alerts/catalog/messages.ts';
import { PRIORITIES, type DailyReport, type FollowUpCoverage, type Lang, type MonthlyReport, type ReportCounts, type WeeklyReport } from './api.ts';
import type { Cell } from './csv.ts';
import { message, type MessageKey } from './messages.ts';

/**
 * The reports as tables: what the 报表 page shows and what its CSV downloads hold are the same
 * rows, in the console's language.
 */

export type ReportKind = 'daily' | 'weekly' | 'monthly';
export const REPORT_KINDS: readonly ReportKind[] = ['daily', 'weekly', 'monthly'];

/** The report and period on the page, kept in the URL (`#/reports/weekly?week=2026-11-23`); no period: the current one. */
export interface ReportRoute {
  kind: ReportKind;
  period?: string;
}

/** The query parameter each report route takes (alerts/api/routes/reports.ts). */
export const PERIOD_PARAM: Readonly<Record<ReportKind, 'date' | 'week' | 'month'>> = { daily: 'date', weekly: 'week', monthly: 'month' };
const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const PERIOD_PATTERN: Readonly<Record<ReportKind, RegExp>> = { daily: DATE, weekly: DATE, monthly: /^(\d{4}-(0[1-9]|1[0-2])|previous)$/ };

export function reportRouteFromHash(hash: string): ReportRoute {
  const [path, query = ''] = hash.replace(/^#\/?/, '').split('?');
  const name = path!.split('/')[1];
  const kind = (REPORT_KINDS as readonly string[]).includes(name ?? '') ? (name as ReportKind) : 'daily';
  // A period the API would refuse (a mistyped link) is dropped: the current one is shown instead.
  const period = new URLSearchParams(query).get(PERIOD_PARAM[kind])?.trim();
  return period && PERIOD_PATTERN[kind].test(period) ? { kind, period } : { kind };
}

export function hashOfReport(route: ReportRoute): string {
  return `#/reports/${route.kind}${route.period ? `?${PERIOD_PARAM[route.kind]}=${route.period}` : ''}`;
}

export interface ReportTable {
  /** Stable: the CSV file's name ends with it, and tests find the table by it. */
  id: string;
  title: string;
  columns: Array<{ label: string; numeric?: boolean }>;
  rows: Cell[][];
}

type Report = { kind: 'daily'; report: DailyReport } | { kind: 'weekly'; report: WeeklyReport } | { kind: 'monthly'; report: MonthlyReport };

/** The period a report covers, as its CSV files are named. */
export function periodOf(r: Report): string {
  return r.kind === 'daily' ? r.report.date : r.kind === 'weekly' ? r.report.weekStart : r.report.month;
}

export const csvFileName = (r: Report, table: Pick<ReportTable, 'id'>): string => `${r.kind}-${periodOf(r)}-${table.id}.csv`;

/** A time in the report's own time zone, so every desk reads the same day whatever its clock says. */
export function reportTime(iso: string, lang: Lang, timeZone: string): string {
  return new Date(iso).toLocaleString(lang, { timeZone, hour12: false });
}

const COUNT_KEYS = ['opened', 'dispatched', 'acknowledged', 'onSite', 'resolved', 'followedUp', 'closed', 'cancelled', 'reopened', 'breaches'] as const satisfies ReadonlyArray<keyof ReportCounts>;

const num = (label: string) => ({ label, numeric: true });

function followUpTables(f: FollowUpCoverage, lang: Lang, timeZone: string): ReportTable[] {
  const t = (key: MessageKey) => message(lang, key);
  return [
    {
      id: 'follow-up',
      title: t('report.t.followUp'),
      columns: [num(t('report.col.resolved')), num(t('report.col.followedUp')), num(t('report.col.withinLimit')), num(t('report.col.coveragePct')), num(t('report.col.withinLimitPct')), num(t('report.col.limitHours'))],
      rows: [[f.resolved, f.followedUp, f.followedUpWithinLimit, f.coveragePct, f.withinLimitPct, f.followUpWithinHours]],
    },
    {
      id: 'not-followed-up',
      title: t('report.t.notFollowedUp'),
      columns: [{ label: t('report.col.ticket') }, { label: t('col.priority') }, { label: t('report.col.subject') }, { label: t('col.address') }, { label: t('col.assignee') }, { label: t('report.col.resolvedAt') }, { label: t('report.col.dueAt') }, { label: t('report.col.overdue') }],
      rows: f.notFollowedUp.map((m) => [m.ticketId, message(lang, `priority.${m.priority}`), m.subjectId, m.address, m.assignee, reportTime(m.resolvedAt, lang, timeZone), reportTime(m.dueAt, lang, timeZone), t(m.overdue ? 'report.yes' : 'report.no')]),
    },
  ];
}

/** 值班日报: the day's ticket counts per priority with a total, and SLA breaches per clock. */
export function dailyTables(r: DailyReport, lang: Lang): ReportTable[] {
  const t = (key: MessageKey) => message(lang, key);
  const keys = [...COUNT_KEYS, 'openAtEndOfDay'] as const;
  const row = (label: string, c: DailyReport['counts']): Cell[] => [label, ...keys.map((k) => c[k])];
  return [
    {
      id: 'by-priority',
      title: t('report.t.byPriority'),
      columns: [{ label: t('col.priority') }, ...keys.map((k) => num(t(`report.col.${k}`)))],
      rows: [...PRIORITIES.map((p) => row(message(lang, `priority.${p}`), r.byPriority[p])), row(t('report.total'), r.counts)],
    },
    {
      id: 'breaches-by-clock',
      title: t('report.t.breachesByClock'),
      columns: [{ label: t('report.col.clock') }, num(t('report.col.count'))],
      rows: Object.entries(r.breachesByClock).map(([clock, n]) => [clockName(clock)[lang], n]),
    },
  ];
}

/** 周报: taken, dispatched, resolved, followed up, reopened, breaches; the 回访 coverage and the jobs still waiting for one. */
export function weeklyTables(r: WeeklyReport, lang: Lang): ReportTable[] {
  const t = (key: MessageKey) => message(lang, key);
  return [
    {
      id: 'counts',
      title: t('report.t.weekCounts'),
      columns: (['taken', 'dispatched', 'resolved', 'followedUp', 'reopened', 'breaches'] as const).map((k) => num(t(`report.col.${k}`))),
      rows: [[r.taken, r.dispatched, r.resolved, r.followedUp, r.reopened, r.breaches]],
    },
    ...followUpTables(r.followUp, lang, r.timeZone),
  ];
}

/** The monthly service-quality report: counts, 故障现象统计分类, 回访, repair and complaint rates, recurring faults. */
export function monthlyTables(r: MonthlyReport, lang: Lang): ReportTable[] {
  const t = (key: MessageKey) => message(lang, key);
  const rates = r.repairRates;
  return [
    {
      id: 'counts',
      title: t('report.t.monthCounts'),
      columns: [...COUNT_KEYS.map((k) => num(t(`report.col.${k}`))), num(t('report.col.repeatFaults'))],
      rows: [[...COUNT_KEYS.map((k) => r.counts[k]), r.repeatFaults]],
    },
    {
      id: 'by-condition',
      title: t('report.t.byCondition'),
      columns: [{ label: t('col.condition') }, num(t('report.col.alerts')), num(t('report.col.tickets'))],
      rows: r.byCondition.map((c) => [c.name[lang], c.alerts, c.tickets]),
    },
    {
      id: 'by-condition-and-district',
      title: t('report.t.byConditionAndDistrict'),
      columns: [{ label: t('col.condition') }, { label: t('col.district') }, num(t('report.col.alerts')), num(t('report.col.tickets'))],
      rows: r.byConditionAndDistrict.map((c) => [c.name[lang], c.district || t('report.noDistrict'), c.alerts, c.tickets]),
    },
    ...followUpTables(r.followUp, lang, r.timeZone),
    {
      id: 'repair-by-kind',
      title: t('report.t.repairByKind'),
      columns: [{ label: t('report.col.kind') }, num(t('report.col.tickets')), num(t('report.col.devices')), num(t('report.col.per1000'))],
      rows: rates.byKind.map((k) => [k.kindName?.[lang] ?? t('report.noKind'), k.tickets, k.devices, k.per1000Devices]),
    },
    {
      id: 'repair-by-condition',
      title: t('report.t.repairByCondition'),
      columns: [{ label: t('col.condition') }, { label: t('report.col.kind') }, num(t('report.col.tickets')), num(t('report.col.devices')), num(t('report.col.per1000'))],
      rows: rates.byCondition.map((c) => [c.name[lang], c.kindName?.[lang] ?? t('report.noKind'), c.tickets, c.devices, c.per1000Devices]),
    },
    {
      id: 'complaints',
      title: t('report.t.complaints'),
      columns: [{ label: t('report.col.class') }, num(t('report.col.tickets')), num(t('report.col.per1000'))],
      rows: [
        ...rates.complaints.byClass.map((c): Cell[] => [c.class && c.class in COMPLAINT_CLASS_NAMES ? COMPLAINT_CLASS_NAMES[c.class as keyof typeof COMPLAINT_CLASS_NAMES][lang] : t('report.noClass'), c.tickets, null]),
        [t('report.total'), rates.complaints.tickets, rates.complaints.per1000Devices],
      ],
    },
    {
      id: 'recurring-faults',
      title: `${t('report.t.recurring')} (≥ ${r.recurringFaults.minCount})`,
      columns: [{ label: t('col.device') }, { label: t('col.condition') }, num(t('report.col.alerts')), num(t('report.col.tickets')), num(t('report.col.repeatTickets')), { label: t('report.col.lastAt') }, { label: t('col.address') }, { label: t('col.district') }],
      rows: r.recurringFaults.items.map((f) => [f.deviceId, f.name[lang], f.alerts, f.tickets, f.repeatTickets, reportTime(f.lastAt, lang, r.timeZone), f.address, f.district]),
    },
  ];
}

/** 故障现象统计 as a bar chart: alerts and tickets per condition, most alerts first. */
export function faultsChart(r: MonthlyReport, lang: Lang): { categories: string[]; series: Array<{ name: string; data: number[] }> } {
  return {
    categories: r.byCondition.map((c) => c.name[lang]),
    series: [
      { name: message(lang, 'report.col.alerts'), data: r.byCondition.map((c) => c.alerts) },
      { name: message(lang, 'report.col.tickets'), data: r.byCondition.map((c) => c.tickets) },
    ],
  };
}
