import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ApiClient, DailyReport, MonthlyReport, WeeklyReport } from '../api.ts';
import { useI18n } from '../i18n.ts';
import { csvFileName, dailyTables, faultsChart, monthlyTables, REPORT_KINDS, reportTime, weeklyTables, type ReportRoute } from '../report-tables.ts';
import { BarChart } from './bar-chart.tsx';
import { ReportTableView } from './report-table.tsx';

type Loaded = { kind: 'daily'; report: DailyReport } | { kind: 'weekly'; report: WeeklyReport } | { kind: 'monthly'; report: MonthlyReport };

function load(api: ApiClient, route: ReportRoute): Promise<Loaded> {
  if (route.kind === 'daily') return api.dailyReport(route.period).then((report) => ({ kind: 'daily', report }));
  if (route.kind === 'weekly') return api.weeklyReport(route.period).then((report) => ({ kind: 'weekly', report }));
  return api.monthlyReport(route.period).then((report) => ({ kind: 'monthly', report }));
}

/** What the period picker shows: the period the report covers (the API resolves "current" and "previous"). */
function pickerValue(l: Loaded): string {
  return l.kind === 'daily' ? l.report.date : l.kind === 'weekly' ? l.report.weekStart : l.report.month;
}

/**
 * 报表: the daily duty report, the weekly counts and the monthly service-quality report with its
 * 故障现象统计分类, as tables with CSV downloads and a chart of faults by class. Staff only, as the
 * API. Without a period in the URL each shows the current one in the reports' time zone.
 */
export function ReportsPage({ api, route, onRoute }: { api: ApiClient; route: ReportRoute; onRoute: (r: ReportRoute) => void }) {
  const { t, lang } = useI18n();
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stale = false;
    setLoaded(null);
    load(api, route).then(
      (l) => {
        if (stale) return;
        setLoaded(l);
        setError(null);
      },
      (err: unknown) => !stale && setError(String(err)),
    );
    return () => {
      stale = true;
    };
  }, [api, route.kind, route.period]);

  const tables = useMemo(() => {
    if (!loaded) return [];
    if (loaded.kind === 'daily') return dailyTables(loaded.report, lang);
    if (loaded.kind === 'weekly') return weeklyTables(loaded.report, lang);
    return monthlyTables(loaded.report, lang);
  }, [loaded, lang]);
  const chart = useMemo(() => (loaded?.kind === 'monthly' && loaded.report.byCondition.length > 0 ? faultsChart(loaded.report, lang) : null), [loaded, lang]);

  const setPeriod = (value: string) => value && onRoute({ kind: route.kind, period: value });
  const current = loaded?.kind === route.kind ? loaded : null;
  return (
    <section data-testid="reports" data-kind={route.kind}>
      <div class="toolbar">
        {REPORT_KINDS.map((k) => (
          <button key={k} type="button" class={route.kind === k ? 'active' : ''} data-testid={`report-kind-${k}`} onClick={() => onRoute({ kind: k })}>
            {t(`report.${k}`)}
          </button>
        ))}
        <label class="inline">
          {t(route.kind === 'daily' ? 'report.date' : route.kind === 'weekly' ? 'report.week' : 'report.month')}
          <input
            type={route.kind === 'monthly' ? 'month' : 'date'}
            data-testid="report-period"
            value={current ? pickerValue(current) : (route.period ?? '')}
            onChange={(e) => setPeriod((e.target as HTMLInputElement).value)}
          />
        </label>
        {route.kind === 'monthly' && (
          <button type="button" data-testid="report-previous-month" onClick={() => onRoute({ kind: 'monthly', period: 'previous' })}>{t('report.previousMonth')}</button>
        )}
        {route.period && <button type="button" class="link" onClick={() => onRoute({ kind: route.kind })}>{t('report.current')}</button>}
      </div>
      {error && <p class="error">{t('failed')}: {error}</p>}
      {!current && !error && <p class="muted">{t('loading')}</p>}
      {current && (
        <>
          <p class="muted" data-testid="report-period-shown">
            {t(`report.${current.kind}`)} · {t('report.period')}: {reportTime(current.report.from, lang, current.report.timeZone)} – {reportTime(current.report.to, lang, current.report.timeZone)} ({current.report.timeZone})
            {current.kind === 'monthly' && !current.report.complete && <> · {t('report.incomplete')}</>}
            {current.kind === 'monthly' && current.report.snapshot && <> · {t('report.snapshot')} {reportTime(current.report.generatedAt, lang, current.report.timeZone)}</>}
          </p>
          {chart && (
            <section class="card">
              <h3>{t('report.faultsChart')}</h3>
              <BarChart data={chart} />
            </section>
          )}
          {tables.map((table) => (
            <ReportTableView key={table.id} table={table} fileName={csvFileName(current, table)} />
          ))}
        </>
      )}
    </section>
  );
}
